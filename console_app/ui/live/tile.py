"""LiveTile: one camera of one device, its frame and overlays, fps, latency, provider and state."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from console_app.core.services.live_frame import AppInfo, Box, FeedState, LiveFrame
from console_app.ui.live.overlay import OverlayToggles, image_rect, paint_overlays

STATE_COLORS = {
    FeedState.LIVE: QColor("#43a047"),
    FeedState.WAITING: QColor("#fdd835"),
    FeedState.CONNECTING: QColor("#fb8c00"),
    FeedState.RECONNECTING: QColor("#e53935"),
    FeedState.STOPPED: QColor("#9e9e9e"),
}
OVERLAY_NAMES = {"boxes": "&Boxes", "labels": "&Labels and confidence", "track_ids": "&Track ids",
                 "zones": "&Zones", "lines": "Counting l&ines", "counts": "&Counts"}
LATENCY_SAMPLES = 2000


class SnapshotError(OSError):
    """A snapshot could not be written; the message names the file and why."""


class LiveTile(QWidget):
    """Paints the newest frame of one camera with its overlays.

    Double-click (or Enter) asks to be enlarged; Ctrl+S asks for a snapshot;
    the context menu (or the Menu key) switches overlay kinds on and off.
    ``frames_painted`` counts distinct frames actually painted;
    ``paint_latencies_ms`` keeps capture-to-paint times of the last frames.
    """

    enlarge_requested = Signal(object)
    snapshot_requested = Signal(object)
    toggles_changed = Signal(object)
    resized = Signal(object)

    def __init__(self, device_id: str, camera_id: str, device_name: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.device_id, self.camera_id = device_id, camera_id
        self.device_name = device_name or device_id
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(f"Live view of {camera_id or 'device'} on {self.device_name}")
        self.state = FeedState.CONNECTING
        self.state_reason = ""
        self.provider = ""
        self.app: AppInfo | None = None
        self.toggles = OverlayToggles()
        self.last_frame: LiveFrame | None = None
        self.last_detections: tuple[Box, ...] = ()
        self.frames_received = 0
        self.frames_painted = 0
        self.overlays_painted = 0
        #: (kind, text) of the chips the last paint drew: captions, then the zone and line counts.
        self.chips_painted: list[tuple[str, str]] = []
        self.paint_latencies_ms: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._painted: LiveFrame | None = None

    # ------------------------------------------------------------------ inputs

    @property
    def title(self) -> str:
        return f"{self.camera_id or 'waiting for cameras'} · {self.device_name}"

    def set_frame(self, frame: LiveFrame) -> None:
        """Show ``frame`` at the next paint (GUI thread)."""
        self.last_frame = frame
        self.last_detections = frame.detections
        self.frames_received += 1
        if frame.provider:
            self.provider = frame.provider
        self.update()

    def set_state(self, state: str, reason: str = "") -> None:
        self.state, self.state_reason = state, reason
        self.update()

    def set_app(self, app: AppInfo | None) -> None:
        """The app whose zones and lines are drawn on this camera."""
        self.app = app
        self.update()

    def set_toggles(self, toggles: OverlayToggles) -> None:
        if toggles != self.toggles:
            self.toggles = toggles
            self.toggles_changed.emit(toggles)
            self.update()

    # ------------------------------------------------------------------ text

    def status_text(self) -> str:
        """The bottom bar, e.g. ``LIVE · 15.0 fps · 48 ms · CPUExecutionProvider``."""
        state = self.state
        frame = self.last_frame
        if state == FeedState.LIVE and frame is not None and frame.stream_state not in ("", "live"):
            state = f"camera {frame.stream_state}"  # the device is up, the camera is not
        parts = [state.upper()]
        if self.state == FeedState.LIVE and frame is not None:
            # No rate until one is measured (the first half second of a stream): "—", never a false 0.0.
            parts.append(f"{frame.fps:.1f} fps" if frame.fps > 0 else "— fps")
            parts.append(f"{'≈' if frame.clock_offset_s else ''}{frame.latency_ms:.0f} ms")
        elif self.state_reason:
            parts.append(self.state_reason)
        if self.provider:
            parts.append(self.provider.removesuffix("ExecutionProvider") or self.provider)
        return " · ".join(parts)

    def video_rect(self) -> QRectF:
        """Where the current frame is drawn in the tile (the whole tile before the first frame)."""
        frame = self.last_frame
        if frame is None or frame.image is None or frame.image.isNull():
            return QRectF(self.rect())
        return image_rect(frame.image.width(), frame.image.height(), QRectF(self.rect()))

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111214"))
        frame = self.last_frame
        if frame is not None and frame.image is not None and not frame.image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            target = image_rect(frame.image.width(), frame.image.height(), QRectF(self.rect()))
            painter.drawImage(target, frame.image)
            bar = self._bar_height()
            clear = QRectF(self.rect()).adjusted(0, bar, 0, -bar)  # chips stay off the title and status bars
            chips: list[tuple[str, QRectF, str]] = []
            self.overlays_painted = paint_overlays(painter, target, frame.detections, self.app,
                                                   self.camera_id, frame.counts, self.toggles, clear, chips,
                                                   labels=frame.labels)
            self.chips_painted = [(kind, text) for kind, _, text in chips]
            if frame is not self._painted:
                self._painted = frame
                self.frames_painted += 1
                self.paint_latencies_ms.append(frame.age_ms(time.time()))
        else:
            painter.setPen(QColor("#bdbdbd"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Waiting for the first frame…" if self.state != FeedState.STOPPED else "Stopped")
        self._paint_bars(painter)
        if self.hasFocus():
            painter.setPen(self.palette().highlight().color())
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    def _bar_height(self) -> int:
        font = QFont(self.font())
        font.setBold(True)
        return QFontMetrics(font).height() + 8

    def _paint_bars(self, painter: QPainter) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        height = metrics.height() + 8
        top = QRect(0, 0, self.width(), height)
        painter.fillRect(top, QColor(0, 0, 0, 140))
        painter.setPen(QColor("#ffffff"))
        painter.drawText(top.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, top.width() - 16))
        bar = QRect(0, self.height() - height, self.width(), height)
        painter.fillRect(bar, QColor(0, 0, 0, 160))
        dot = metrics.height() // 2
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(STATE_COLORS.get(self.state, QColor("#9e9e9e")))
        painter.drawEllipse(8, bar.center().y() - dot // 2, dot, dot)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(bar.adjusted(16 + dot, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText(self.status_text(), Qt.TextElideMode.ElideRight, bar.width() - 24 - dot))

    def render_snapshot(self) -> QImage:
        """The current frame at its own resolution with the enabled overlays painted over it."""
        frame = self.last_frame
        if frame is None or frame.image is None or frame.image.isNull():
            raise SnapshotError(f"no frame from {self.camera_id or 'this device'} yet; nothing to save")
        image = frame.image.convertToFormat(QImage.Format.Format_RGB32)
        painter = QPainter(image)
        paint_overlays(painter, QRectF(0, 0, image.width(), image.height()), frame.detections, self.app,
                       self.camera_id, frame.counts, self.toggles, labels=frame.labels)
        painter.end()
        return image

    def save_snapshot(self, path: str | Path) -> Path:
        """Write the current frame with its overlays as a PNG at ``path``; the path written."""
        path = Path(path)
        image = self.render_snapshot()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SnapshotError(f"cannot create the folder {path.parent} for the snapshot: {exc}") from exc
        if not image.save(str(path), "PNG"):
            raise SnapshotError(f"could not write the snapshot {path} (is the folder writable?)")
        return path

    # ------------------------------------------------------------------ input

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit(self)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.enlarge_requested.emit(self)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Save):
            self.snapshot_requested.emit(self)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enlarge_requested.emit(self)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def overlay_menu(self) -> QMenu:
        """Checkable actions for every overlay kind (the context menu)."""
        menu = QMenu(self)
        for kind in OverlayToggles.kinds():
            action = menu.addAction(OVERLAY_NAMES.get(kind, kind))
            action.setCheckable(True)
            action.setChecked(getattr(self.toggles, kind))
            action.toggled.connect(lambda on, k=kind: self.set_toggles(self.toggles.with_kind(k, on)))
        menu.addSeparator()
        menu.addAction("&Save snapshot\tCtrl+S", lambda: self.snapshot_requested.emit(self))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.overlay_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos())
