"""LiveWall: a reflowing grid of live tiles, one per camera of every device added.

Each device has one :class:`~console_app.core.services.live_feed.LiveFeed`
(its own thread: connect, reconnect with backoff, JPEG decoding into QImages).
The feed's callbacks arrive here as queued signals, so tiles are touched on
the GUI thread only, and only to take the newest frame and repaint.

Double-click (or Enter) on a tile enlarges it with the tuning panel beside
it; Escape (or another double-click) returns to the grid. Ctrl+S on a tile
saves a PNG snapshot with its overlays into ``snapshot_dir``; Ctrl+Shift+Z on
an enlarged tile redraws its zones and lines (the tuning panel's editor).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.live_feed import LiveFeed
from console_app.core.services.live_frame import AppInfo, FeedState
from console_app.ui.live.overlay import OverlayToggles
from console_app.ui.live.tile import OVERLAY_NAMES, LiveTile
from console_app.ui.live.tuning import TuningPanel
from console_app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)
QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum"

TILE_ASPECT = 4 / 3
WALL_FPS = 15.0
#: The wall's layouts: (label, columns); 0 fits the tiles to the area automatically.
LAYOUTS = (("Fit automatically", 0), ("1×1", 1), ("2×2", 2), ("3×3", 3))
#: The tuning panel's width beside an enlarged video, and its height below one.
PANEL_WIDTH, PANEL_HEIGHT = 300, 260


def decode_jpeg(data: bytes, fit: tuple[int, int] | None = None) -> QImage:
    """JPEG bytes to a QImage, scaled down to fit ``fit`` (width, height) when given.

    Runs in a feed's thread (QImage is safe off the GUI thread). OpenCV
    decodes about twice as fast as ``QImage.fromData`` here and lets go of
    the GIL while it works; scaling to the tile's size here (INTER_AREA, the
    sharpest way down) leaves the GUI thread a 1:1 copy to paint instead of
    a smooth rescale of every frame. Never scales up.
    """
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ValueError(f"the device sent {len(data)} bytes that are not a JPEG image")
    height, width = pixels.shape[:2]
    if fit is not None and fit[0] > 0 and fit[1] > 0:
        scale = min(fit[0] / width, fit[1] / height)
        if scale < 0.95:  # close to 1:1 a rescale costs more than it saves
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
            pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    return QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_BGR888).copy()


def panel_beside(width: float, height: float, aspect: float = TILE_ASPECT) -> bool:
    """Whether the tuning panel beside the enlarged video (not below it) leaves the video larger."""
    def video_area(w: float, h: float) -> float:
        w, h = max(0.0, w), max(0.0, h)
        fitted = min(w, h * aspect)
        return fitted * fitted / aspect
    return video_area(width - PANEL_WIDTH, height) >= video_area(width, height - PANEL_HEIGHT)


def grid_columns(count: int, width: float, height: float, aspect: float = TILE_ASPECT) -> int:
    """How many columns show ``count`` tiles of ``aspect`` largest in a ``width`` × ``height`` area."""
    if count <= 1 or width <= 0 or height <= 0:
        return 1
    best, best_size = 1, -1.0
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        size = min(width / columns / aspect, height / rows)  # tile height that fits both ways
        if size > best_size + 1e-9:
            best, best_size = columns, size
    return best


class _FeedSignals(QObject):
    """Carries feed callbacks (feed threads) to the wall (GUI thread) as queued signals."""

    frame = Signal(str, str)
    state = Signal(str, str, str)
    apps = Signal(str, object)


class LiveWall(QWidget):
    """Tiles for every camera of every device added with :meth:`add_device`.

    ``connect(device_id)`` returns a paired device client (it runs in the
    feed's thread). ``app_library`` (or None) saves tuned versions.
    """

    snapshot_saved = Signal(str)
    tiles_changed = Signal()
    enlarged_changed = Signal(bool)  # True when a tile is enlarged, False back on the grid

    def __init__(self, tasks: TaskRunner, connect: Callable[[str], Any], *,
                 device_name: Callable[[str], str] | None = None, app_library: Any = None,
                 snapshot_dir: Path | None = None, fps: float = WALL_FPS, max_width: int = 640,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks, self._connect = tasks, connect
        self._device_name = device_name or (lambda device_id: device_id)
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else Path.home() / "Sightline snapshots"
        self.fps, self.max_width = fps, max_width
        self._feeds: dict[str, LiveFeed] = {}
        self._tiles: dict[tuple[str, str], LiveTile] = {}
        # Each tile's size in device pixels, read by the feeds' threads to decode to fit
        # (a plain dict: single reads and writes are atomic under the GIL).
        self._display_sizes: dict[tuple[str, str], tuple[int, int]] = {}
        self.toggles = OverlayToggles()
        self.enlarged_tile: LiveTile | None = None
        self.last_snapshot: Path | None = None
        self._signals = _FeedSignals(self)
        self._signals.frame.connect(self._on_frame)
        self._signals.state.connect(self._on_state)
        self._signals.apps.connect(self._on_apps)

        # A menu button rather than a row of check boxes: the wall must fit narrow screens.
        self.overlay_button = QToolButton()
        self.overlay_button.setText("&Overlays")
        self.overlay_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.overlay_button.setToolTip("Choose what is drawn over every tile")
        menu = QMenu(self.overlay_button)
        self.toggle_actions: dict[str, QAction] = {}
        for kind in OverlayToggles.kinds():
            action = menu.addAction(OVERLAY_NAMES[kind])
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(lambda on, k=kind: self.set_toggles(self.toggles.with_kind(k, on)))
            self.toggle_actions[kind] = action
        self.overlay_button.setMenu(menu)
        self.message = QLabel("Double-click a tile (or press Enter) to enlarge and tune it; Ctrl+S saves a snapshot.")
        self.message.setWordWrap(True)
        self.layout_combo = QComboBox()
        self.layout_combo.setAccessibleName("Wall layout")
        self.layout_combo.setToolTip("How many tiles side by side: fit automatically, or a fixed grid")
        for label, columns in LAYOUTS:
            self.layout_combo.addItem(label, columns)
        self.layout_combo.currentIndexChanged.connect(lambda _i: self._relayout())
        bar = QHBoxLayout()
        bar.addWidget(self.overlay_button)
        bar.addWidget(self.layout_combo)
        bar.addWidget(self.message, 1)

        self._grid_page = QWidget()
        self._grid = QGridLayout(self._grid_page)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(4)
        self.tuning = TuningPanel(tasks, app_library)
        # The enlarged video gets the room; the panel goes beside it or below it, whichever
        # leaves the video larger (see _arrange_enlarged), and scrolls rather than squeezing it.
        self._enlarged_page = QWidget()
        self._enlarged_holder = QWidget()
        QVBoxLayout(self._enlarged_holder).setContentsMargins(0, 0, 0, 0)
        self.tuning_area = QScrollArea()
        self.tuning_area.setWidget(self.tuning)
        self.tuning_area.setWidgetResizable(True)
        self.tuning_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self._enlarged_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, self._enlarged_page)
        self._enlarged_layout.setContentsMargins(0, 0, 0, 0)
        self._enlarged_layout.addWidget(self._enlarged_holder, 1)
        self._enlarged_layout.addWidget(self.tuning_area)
        # The panel's "Edit zones and lines" shortcut works while the enlarged tile has the focus too.
        self._enlarged_page.addAction(self.tuning.edit_action)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._grid_page)
        self.stack.addWidget(self._enlarged_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.restore)
        self._columns = 0

    # ------------------------------------------------------------------ devices

    def add_device(self, device_id: str) -> LiveFeed:
        """Start showing ``device_id``'s cameras (idempotent); its feed."""
        feed = self._feeds.get(device_id)
        if feed is not None:
            return feed
        signals = self._signals
        sizes = self._display_sizes

        def decode(jpeg: bytes, camera_id: str) -> QImage:
            return decode_jpeg(jpeg, sizes.get((device_id, camera_id)))

        feed = LiveFeed(
            device_id, lambda: self._connect(device_id), decode=decode,
            on_frame=lambda camera_id: signals.frame.emit(device_id, camera_id),
            on_state=lambda state, reason: signals.state.emit(device_id, state, reason),
            on_apps=lambda apps: signals.apps.emit(device_id, apps),
            fps=self.fps, max_width=self.max_width,
        )
        self._feeds[device_id] = feed
        self._ensure_tile(device_id, "")
        feed.start()
        return feed

    def remove_device(self, device_id: str) -> None:
        """Stop the device's feed and remove its tiles."""
        feed = self._feeds.pop(device_id, None)
        if feed is not None:
            feed.request_stop()
        for key in [k for k in self._tiles if k[0] == device_id]:
            self._remove_tile(key)
        self._reflow()

    def devices(self) -> list[str]:
        return list(self._feeds)

    def feed(self, device_id: str) -> LiveFeed:
        return self._feeds[device_id]

    def tiles(self) -> list[LiveTile]:
        """Every tile, in grid order."""
        return [self._tiles[k] for k in sorted(self._tiles)]

    def tile(self, device_id: str, camera_id: str) -> LiveTile | None:
        return self._tiles.get((device_id, camera_id))

    def shutdown(self) -> None:
        """Stop every feed and wait for their threads (closing the page or the window)."""
        feeds = list(self._feeds.values())
        self._feeds.clear()
        for feed in feeds:
            feed.request_stop()
        for feed in feeds:
            if not feed.stop(timeout=5.0):
                log.warning("the live feed of %s did not stop within 5 s", feed.device_id)

    # ------------------------------------------------------------------ overlays, snapshots

    def set_toggles(self, toggles: OverlayToggles) -> None:
        """Switch overlay kinds on every tile."""
        self.toggles = toggles
        for kind, action in self.toggle_actions.items():
            action.blockSignals(True)
            action.setChecked(getattr(toggles, kind))
            action.blockSignals(False)
        for tile in self._tiles.values():
            tile.set_toggles(toggles)

    def save_snapshot(self, tile: LiveTile) -> Path | None:
        """Save ``tile``'s frame with overlays into :attr:`snapshot_dir`; the file, or None (message shown)."""
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
        name = f"{tile.device_id}-{tile.camera_id or 'device'}-{stamp}.png".replace("/", "_")
        try:
            path = tile.save_snapshot(self.snapshot_dir / name)
        except OSError as exc:
            self.message.setText(f"Snapshot not saved: {exc}")
            return None
        self.last_snapshot = path
        self.message.setText(f"Snapshot saved to {path}")
        self.snapshot_saved.emit(str(path))
        return path

    # ------------------------------------------------------------------ enlarge

    def enlarge(self, tile: LiveTile) -> None:
        """Show ``tile`` alone with the tuning panel beside it."""
        if self.enlarged_tile is tile:
            return
        self.restore()
        self._grid.removeWidget(tile)
        self._enlarged_holder.layout().addWidget(tile)
        self.enlarged_tile = tile
        self._arrange_enlarged()
        feed = self._feeds.get(tile.device_id)
        self.tuning.bind(feed, feed.app_for_camera(tile.camera_id) if feed else None, tile.camera_id,
                         lambda: tile.last_frame.image if tile.last_frame is not None else None)
        self.stack.setCurrentWidget(self._enlarged_page)
        tile.setFocus()
        self.enlarged_changed.emit(True)

    def restore(self) -> None:
        """Back to the grid (Escape)."""
        tile, self.enlarged_tile = self.enlarged_tile, None
        if tile is None:
            return
        self._enlarged_holder.layout().removeWidget(tile)
        self.tuning.bind(None, None)
        self.stack.setCurrentWidget(self._grid_page)
        self._columns = 0
        self._reflow()
        tile.setFocus()
        self.enlarged_changed.emit(False)

    def _arrange_enlarged(self) -> None:
        """Panel beside the video on wide areas, below it on narrow ones (the video stays the largest)."""
        room = self.stack.size()
        beside = panel_beside(room.width(), room.height())
        self._enlarged_layout.setDirection(QBoxLayout.Direction.LeftToRight if beside
                                           else QBoxLayout.Direction.TopToBottom)
        self.tuning.set_orientation(Qt.Orientation.Vertical if beside else Qt.Orientation.Horizontal)
        area = self.tuning_area
        if beside:
            area.setMinimumSize(PANEL_WIDTH, 0)
            area.setMaximumSize(PANEL_WIDTH, QWIDGETSIZE_MAX)
        else:
            area.setMinimumSize(0, PANEL_HEIGHT)
            area.setMaximumSize(QWIDGETSIZE_MAX, PANEL_HEIGHT)

    def _on_enlarge_requested(self, tile: LiveTile) -> None:
        if self.enlarged_tile is tile:
            self.restore()
        else:
            self.enlarge(tile)

    # ------------------------------------------------------------------ tiles

    def _ensure_tile(self, device_id: str, camera_id: str) -> LiveTile:
        tile = self._tiles.get((device_id, camera_id))
        if tile is not None:
            return tile
        if camera_id:
            placeholder = (device_id, "")
            if placeholder in self._tiles:
                self._remove_tile(placeholder)
        tile = LiveTile(device_id, camera_id, self._device_name(device_id))
        tile.set_toggles(self.toggles)
        feed = self._feeds.get(device_id)
        if feed is not None:
            tile.set_state(feed.state, feed.reason)
            tile.provider = feed.provider
            tile.set_app(feed.app_for_camera(camera_id))
        tile.resized.connect(self._on_tile_resized)
        tile.enlarge_requested.connect(self._on_enlarge_requested)
        tile.snapshot_requested.connect(self.save_snapshot)
        self._tiles[(device_id, camera_id)] = tile
        self._columns = 0
        self._reflow()
        self.tiles_changed.emit()
        return tile

    def _on_tile_resized(self, tile: LiveTile) -> None:
        ratio = tile.devicePixelRatioF()
        self._display_sizes[(tile.device_id, tile.camera_id)] = (
            round(tile.width() * ratio), round(tile.height() * ratio))

    def _remove_tile(self, key: tuple[str, str]) -> None:
        self._display_sizes.pop(key, None)
        tile = self._tiles.pop(key)
        if tile is self.enlarged_tile:
            self.restore()
        self._grid.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        self._columns = 0
        self.tiles_changed.emit()

    def set_layout(self, columns: int) -> None:
        """Show the tiles ``columns`` across (1, 2 or 3: a 1×1, 2×2 or 3×3 grid), or 0 to fit them."""
        index = self.layout_combo.findData(columns)
        if index < 0:
            raise ValueError(f"no wall layout with {columns} columns; choose one of "
                             f"{', '.join(str(c) for _, c in LAYOUTS)}")
        self.layout_combo.setCurrentIndex(index)

    @property
    def columns(self) -> int:
        """The columns the tiles are laid out in now."""
        return self._columns

    def _relayout(self) -> None:
        self._columns = 0
        self._reflow()

    def _reflow(self) -> None:
        tiles = [t for t in self.tiles() if t is not self.enlarged_tile]
        area = self.stack.size()
        fixed = self.layout_combo.currentData() or 0
        columns = fixed or grid_columns(len(tiles), area.width(), area.height())
        if columns == self._columns and all(self._grid.indexOf(t) >= 0 for t in tiles):
            return
        self._columns = columns
        for tile in tiles:
            self._grid.removeWidget(tile)
        for index, tile in enumerate(tiles):
            self._grid.addWidget(tile, index // columns, index % columns)
            tile.show()
        # A fixed N×N grid keeps its cells the same size however few tiles there are.
        rows = max(fixed, math.ceil(len(tiles) / columns)) if tiles else 0
        for n in range(max(self._grid.rowCount(), rows)):
            self._grid.setRowStretch(n, 1 if n < rows else 0)
        for n in range(max(self._grid.columnCount(), columns)):
            self._grid.setColumnStretch(n, 1 if n < columns else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.enlarged_tile is not None:
            self._arrange_enlarged()
        self._reflow()

    # ------------------------------------------------------------------ feed events (GUI thread)

    def _on_frame(self, device_id: str, camera_id: str) -> None:
        feed = self._feeds.get(device_id)
        if feed is None:
            return
        frame = feed.take(camera_id)
        if frame is None:
            return
        self._ensure_tile(device_id, camera_id).set_frame(frame)

    def _on_state(self, device_id: str, state: str, reason: str) -> None:
        if device_id not in self._feeds and state != FeedState.STOPPED:
            return
        feed = self._feeds.get(device_id)
        for (dev, _camera), tile in self._tiles.items():
            if dev == device_id:
                tile.set_state(state, reason)
                if feed is not None and feed.provider:
                    tile.provider = feed.provider

    def _on_apps(self, device_id: str, apps: dict[str, AppInfo]) -> None:
        feed = self._feeds.get(device_id)
        if feed is None:
            return
        for app in apps.values():
            if app.state != "running":
                continue  # a stopped app's cameras send nothing
            for camera_id in app.camera_ids:
                self._ensure_tile(device_id, camera_id)
        for (dev, camera_id), tile in self._tiles.items():
            if dev == device_id:
                tile.set_app(feed.app_for_camera(camera_id))
