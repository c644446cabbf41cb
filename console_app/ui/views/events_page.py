"""The Events page: the picked device's events, filterable, with snapshot thumbnails, exportable to CSV.

Events are followed from the first time the page is shown and keep coming
while other pages are on screen (an event missed is an event lost; the
device only replays its recent ones). The stream reconnects by itself after
a device restart or a network cut. Thumbnails are fetched only for rows the
table paints, in worker threads, and decoded there; double-click opens the
full snapshot. "Export CSV…" (Ctrl+E) writes exactly the rows the filter
shows.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QRectF, QSettings, QSize, QStandardPaths, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPainter,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.event_log import (
    EventFilter,
    EventLog,
    EventRecord,
    ThumbnailCache,
    write_csv,
)
from console_app.core.services.live_frame import AppInfo, Box, app_info_from_status
from console_app.core.services.reconnect import LIVE, StreamFollower
from console_app.ui.context import ConsoleContext
from console_app.ui.live.overlay import OverlayToggles, paint_overlays
from console_app.ui.models.event_table_model import (
    RECORD_ROLE,
    THUMBNAIL_SIZE,
    EventTableModel,
    thumbnail_image,
)
from console_app.ui.tasks import BackgroundTask, TaskRunner
from console_app.ui.views.device_pages import DevicePicker
from console_app.ui.widgets.tables import record_table

EXPORT_FOLDER_KEY = "events/export_folder"
SINCE_CHOICES = (("Any time", None), ("Last 5 minutes", 300), ("Last hour", 3600), ("Last 24 hours", 86400))
DRAIN_MS = 250


class SnapshotDialog(QDialog):
    """One event's snapshot at full size, with the boxes, zones and lines of that moment drawn on it.

    ``detections`` and ``counts`` are what the device kept with the snapshot;
    ``app`` (an :class:`AppInfo`, or None) gives the zones and lines: those kept
    with the snapshot (:func:`snapshot_app_info`), so a zone changed later does
    not redraw the past.
    """

    def __init__(self, record: EventRecord, jpeg: bytes, parent: QWidget | None = None, *,
                 detections: tuple[Box, ...] = (), counts: dict[str, int] | None = None,
                 app: AppInfo | None = None):
        super().__init__(parent)
        self.record, self.app = record, app
        self.setWindowTitle(f"{record.type} · {record.camera_id} · "
                            f"{time.strftime('%H:%M:%S', time.localtime(record.time))}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.image = QImage.fromData(jpeg)
        self.overlays_painted = 0
        self.annotated = self.image.convertToFormat(QImage.Format.Format_RGB32) if not self.image.isNull() else QImage()
        if not self.annotated.isNull() and (detections or app is not None):
            painter = QPainter(self.annotated)
            self.overlays_painted = paint_overlays(
                painter, QRectF(0, 0, self.annotated.width(), self.annotated.height()), detections, app,
                record.camera_id, counts or {}, OverlayToggles())
            painter.end()
        picture = QLabel()
        shown = self.annotated
        screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableGeometry()
        room = QSize(max(200, screen.width() - 80), max(150, screen.height() - 160))  # caption, buttons, frame
        if not shown.isNull() and (shown.width() > room.width() or shown.height() > room.height()):
            # A 960 px snapshot must not make the dialog taller than a 1024x768 screen.
            shown = shown.scaled(room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        picture.setPixmap(QPixmap.fromImage(shown))
        picture.setAccessibleName("Snapshot")
        caption = QLabel(record.detail)
        caption.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(picture)
        layout.addWidget(caption)
        layout.addWidget(buttons)


class EventsPage(QWidget):
    """Events of the device picked at the top."""

    title, icon_name = "Events", "events"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self.events = EventLog()
        self._follower: StreamFollower | None = None
        self._device_id: str | None = None
        self._arrived: deque[list[EventRecord]] = deque()  # filled by the follower's thread
        self.thumbnails = ThumbnailCache(context.appliances.connect, on_ready=self._on_thumbnail_fetched,
                                         transform=thumbnail_image)
        self.snapshot_dialog: SnapshotDialog | None = None
        self.export_dialog: QFileDialog | None = None
        self.last_export: tuple[Path, int] | None = None
        #: Where the last export folder is remembered (default: the main window's settings).
        self.settings: QSettings | None = None
        self.events.add_listener(self._arrived.append)

        self.picker = DevicePicker(context)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.app_combo = self._filter_combo("All applications", "Application filter")
        self.camera_combo = self._filter_combo("All cameras", "Camera filter")
        self.type_combo = self._filter_combo("All events", "Event type filter")
        self.since_combo = QComboBox()
        self.since_combo.setAccessibleName("Time range")
        for label, seconds in SINCE_CHOICES:
            self.since_combo.addItem(label, seconds)
        self.counts_check = QCheckBox("Count &updates")
        self.counts_check.setToolTip(
            "Also list the device's separate \"count changed\" events. Each crossing, entry and exit "
            "already shows the new count, so they are hidden unless ticked.")
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Filter by text…")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.setAccessibleName("Text filter")
        self.export_action = QAction("&Export CSV…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.export_action.setToolTip("Write the events shown to a CSV file (Ctrl+E)")
        self.export_action.triggered.connect(self.ask_export_path)
        self.addAction(self.export_action)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setToolTip(self.export_action.toolTip())
        self.export_button.clicked.connect(self.export_action.trigger)

        self.model = EventTableModel(self.thumbnails, parent=self)
        self.table = record_table(self.model, "Events")
        self.table.setIconSize(THUMBNAIL_SIZE)
        self.table.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIZE.height() + 6)
        self.table.setColumnWidth(0, THUMBNAIL_SIZE.width() + 12)
        # The detail (what happened) takes the room left; every column wraps in the tall rows, so
        # the table never scrolls sideways on a 1024 px screen, with the demo guide open too.
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(40)
        for column, width in ((1, 84), (2, 84), (3, 96), (4, 92)):
            self.table.setColumnWidth(column, width)
        # Stretched as a stretch section, not as the "last section", which Qt keeps at least
        # defaultSectionSize (100 px) wide: that pushed the table past a narrow page.
        header.setStretchLastSection(False)
        header.setSectionResizeMode(len(self.model.columns) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.doubleClicked.connect(self.open_snapshot)
        self.table.activated.connect(self.open_snapshot)  # Enter, for keyboard users

        top = QHBoxLayout()
        top.addWidget(self.picker)
        top.addStretch(1)
        top.addWidget(self.export_button)
        # Two rows: one row of four combos and a text field is wider than a 1024 px screen leaves.
        filters = QGridLayout()
        for column, combo in enumerate((self.app_combo, self.camera_combo, self.type_combo)):
            filters.addWidget(combo, 0, column)
        filters.addWidget(self.since_combo, 1, 0)
        filters.addWidget(self.text_filter, 1, 1)
        filters.addWidget(self.counts_check, 1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h2>{self.title}</h2>"))
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        self.drain_timer = QTimer(self, interval=DRAIN_MS, timeout=self.drain)
        self.picker.combo.currentIndexChanged.connect(self._on_device_picked)
        for combo in (self.app_combo, self.camera_combo, self.type_combo, self.since_combo):
            combo.currentIndexChanged.connect(self.apply_filter)
        self.text_filter.textChanged.connect(self.apply_filter)
        self.counts_check.toggled.connect(self.apply_filter)
        self._show_status()

    @staticmethod
    def _filter_combo(everything: str, name: str) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        combo.addItem(everything, "")
        combo.setMinimumContentsLength(12)
        return combo

    # ------------------------------------------------------------------ following

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.follow(self.picker.current_device_id())

    def on_shown(self) -> None:
        self.follow(self.picker.current_device_id())

    def _on_device_picked(self, _index: int) -> None:
        if self.isVisible() or self._follower is not None:
            self.follow(self.picker.current_device_id())

    def follow(self, device_id: str | None) -> None:
        """Follow ``device_id``'s events (no-op when already following it)."""
        if device_id == self._device_id and self._follower is not None:
            return
        self.stop_following()
        self._device_id = device_id
        self.apply_filter()
        if device_id is None:
            self._show_status()
            return
        bridge, appliances = self._context.bridge, self._context.appliances
        self._follower = self.events.follow(
            device_id, lambda: appliances.connect(device_id), replay=200,
            on_state=lambda state, detail: bridge.call_in_gui(self._on_stream_state, device_id, state, detail))
        self._show_status("Connecting…")
        self.drain_timer.start()

    def stop_following(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()
        self.drain_timer.stop()

    @property
    def following(self) -> StreamFollower | None:
        return self._follower

    def shutdown(self) -> None:
        self.stop_following()
        self.thumbnails.close()

    def _on_stream_state(self, device_id: str, state: str, detail: str) -> None:
        if device_id != self._device_id or self._follower is None:
            return
        if state == LIVE:
            self._show_status("")
        elif detail:
            self._show_status(f"Reconnecting: {detail}")

    def _show_status(self, text: str = "") -> None:
        if not text and self.picker.current_device_id() is None:
            text = "Pair a device on the Devices page to see its events here."
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def drain(self) -> None:
        """Show the events the follower added since the last call (GUI thread, on a timer)."""
        batch: list[EventRecord] = []
        while self._arrived:
            batch.extend(self._arrived.popleft())
        if batch:
            bar = self.table.verticalScrollBar()
            # Reading (scrolled down) or holding a row selected: new rows must not move what is on screen.
            hold = bar.value() > 0 or self.table.selectionModel().hasSelection()
            position = bar.value()
            added = self.model.add_records(batch)
            if hold and added:
                step = 1 if self.table.verticalScrollMode() == QTableView.ScrollMode.ScrollPerItem \
                    else self.table.verticalHeader().defaultSectionSize()
                bar.setValue(position + added * step)
            self._refresh_choices()

    # ------------------------------------------------------------------ filtering

    def current_filter(self) -> EventFilter:
        seconds = self.since_combo.currentData()
        return EventFilter(
            device_id=self._device_id or "",
            app_id=self.app_combo.currentData() or "",
            camera_id=self.camera_combo.currentData() or "",
            type=self.type_combo.currentData() or "",
            text=self.text_filter.text().strip(),
            since=time.time() - seconds if seconds else None,
            count_updates=self.counts_check.isChecked(),
        )

    def apply_filter(self, *_: object) -> None:
        """Show what the filter controls select (from the events already received)."""
        if self._device_id is None:
            self.model.clear()
        else:
            self.model.set_filter(self.current_filter(), self.events)
        self._refresh_choices()

    def _refresh_choices(self) -> None:
        device = self._device_id or ""
        for combo, field in ((self.app_combo, "app_id"), (self.camera_combo, "camera_id"), (self.type_combo, "type")):
            values = self.events.values(field, device_id=device) if device else []
            have = [combo.itemData(i) for i in range(1, combo.count())]
            if values == have:
                continue
            current = combo.currentData()
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for value in values:
                combo.addItem(value, value)
            if current and current not in values:
                combo.addItem(current, current)  # keep the engineer's choice even if it has no events now
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)

    # ------------------------------------------------------------------ thumbnails and snapshots

    def _on_thumbnail_fetched(self, device_id: str, snapshot_id: str, jpeg: bytes, image: QImage | None) -> None:
        # A worker thread: the JPEG is already decoded; only the pixmap is made on the GUI thread.
        self._context.bridge.call_in_gui(self.model.on_thumbnail, device_id, snapshot_id, image or QImage())

    def open_snapshot(self, index: QModelIndex) -> BackgroundTask | None:
        """Fetch the row's snapshot at full size and show it in a dialog."""
        record = self.model.data(index, RECORD_ROLE)
        if record is None or not record.snapshot_id:
            return None
        cache, connect = self.thumbnails, self._context.appliances.connect

        def fetch(_ctx) -> tuple[Any, AppInfo | None]:
            frame = cache.fetch_full_frame(record.device_id, record.snapshot_id)
            at_event = snapshot_app_info(frame, record)
            if at_event is not None:
                return frame, at_event
            # A snapshot stored without its zones and lines (an older device): the app's current ones.
            return frame, _app_info(connect, record.device_id, record.app_id)

        return self._tasks.run_in_background(
            fetch, on_success=lambda got: self._show_snapshot(record, *got), progress="Fetching snapshot…")

    def _show_snapshot(self, record: EventRecord, frame: Any, app: AppInfo | None = None) -> None:
        if self.snapshot_dialog is not None:
            self.snapshot_dialog.close()
        boxes = tuple(Box(d.x1, d.y1, d.x2, d.y2, d.score, d.class_id, d.label, d.track_id) for d in frame.detections)
        self.snapshot_dialog = SnapshotDialog(record, frame.jpeg, self, detections=boxes,
                                              counts=dict(frame.counts), app=app)
        self.snapshot_dialog.finished.connect(lambda _r: setattr(self, "snapshot_dialog", None))
        self.snapshot_dialog.open()

    # ------------------------------------------------------------------ export

    def ask_export_path(self) -> QFileDialog:
        """A (non-blocking) save dialog; the chosen file gets what the filter shows."""
        dialog = QFileDialog(self, "Export events to CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.setDirectory(str(self.export_folder()))
        dialog.selectFile(f"events-{time.strftime('%Y%m%d-%H%M%S')}.csv")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.export_csv(Path(path)))
        dialog.open()
        self.export_dialog = dialog
        return dialog

    def _settings(self) -> QSettings:
        if self.settings is not None:
            return self.settings
        window = self.window()
        settings = getattr(window, "settings", None)
        return settings if isinstance(settings, QSettings) else QSettings("Sightline", "Console")

    def export_folder(self) -> Path:
        """Where the export dialog opens: the last folder exported to, else the user's documents."""
        last = self._settings().value(EXPORT_FOLDER_KEY)
        if last and Path(str(last)).is_dir():
            return Path(str(last))
        documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return Path(documents) if documents and Path(documents).is_dir() else Path.home()

    def export_csv(self, path: Path) -> BackgroundTask:
        """Write the rows shown to ``path`` in the background; the status line says how it went."""
        records = self.model.records()
        names = {e.device_id: e.name for e in self._context.appliances.entries()}

        def write(_ctx) -> int:
            return write_csv(path, records, names)

        def done(count: int) -> None:
            self.last_export = (path, count)
            self._settings().setValue(EXPORT_FOLDER_KEY, str(path.parent))
            self._show_status(f"Exported {count} event(s) to {path}")

        def failed(error: BaseException) -> None:
            self._show_status(f"Export failed: {error}")
            self._tasks.show_error("Export CSV", error)

        return self._tasks.run_in_background(write, on_success=done, on_failure=failed, progress="Exporting events…")


def snapshot_app_info(frame: Any, record: EventRecord) -> AppInfo | None:
    """The zones and lines the device kept with an event's snapshot (``geometry_json``), as an
    :class:`AppInfo` to draw them; None when the snapshot was stored without them."""
    try:
        geometry = json.loads(getattr(frame, "geometry_json", "") or "null")
    except ValueError:
        return None
    if not isinstance(geometry, dict):
        return None
    return AppInfo(record.app_id, record.app_id, "", "", (record.camera_id,), "", (),
                   {"geometry": {record.camera_id: geometry}})


def _app_info(connect: Callable[[str], Any], device_id: str, app_id: str) -> AppInfo | None:
    """The app's zones and lines as the device has them now (None when it is gone or unreachable)."""
    try:
        client = connect(device_id)
    except Exception:
        return None
    try:
        status = next((a for a in client.list_apps() if a.app_id == app_id), None)
        return app_info_from_status(status) if status is not None else None
    except Exception:
        return None
    finally:
        client.close()
