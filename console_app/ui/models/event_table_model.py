"""The Events page's table: events newest first, with snapshot thumbnails fetched as rows are painted."""

from __future__ import annotations

import time
from collections import OrderedDict

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap

from console_app.core.services.event_log import EventFilter, EventLog, EventRecord, ThumbnailCache
from console_app.ui.models.table_model import AnyIndex, ItemTableModel

RECORD_ROLE = Qt.ItemDataRole.UserRole
THUMBNAIL_SIZE = QSize(96, 72)


def thumbnail_image(jpeg: bytes) -> QImage:
    """A snapshot decoded and scaled to the table's thumbnail size (safe off the GUI thread)."""
    image = QImage.fromData(jpeg)
    if image.isNull():
        return image
    return image.scaled(THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class EventTableModel(ItemTableModel):
    """The events a filter selects, newest first, with a thumbnail in the first column.

    ``thumbnails`` (a :class:`ThumbnailCache`) is asked for a row's snapshot
    when the view paints it; :meth:`on_thumbnail` (GUI thread) stores the
    decoded image and repaints the rows that show it.
    """

    columns = ("Snapshot", "Time", "Application", "Camera", "Event", "Detail")

    def __init__(self, thumbnails: ThumbnailCache | None = None, capacity: int = 10_000,
                 max_pixmaps: int = 400, parent=None):
        super().__init__(parent=parent)
        self.thumbnails = thumbnails
        self.capacity, self.max_pixmaps = capacity, max_pixmaps
        self.event_filter = EventFilter()
        self._keys: set[tuple] = set()  # of the records shown
        self._pixmaps: OrderedDict[tuple[str, str], QPixmap | None] = OrderedDict()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        r, column = self.item_for(index), index.column()
        if r is None:
            return None
        if role == RECORD_ROLE:
            return r
        if column == 0:
            return self._snapshot_data(r, role)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.time))
            return (stamp, r.app_id, r.camera_id, r.type, r.detail)[column - 1]
        return None

    def _snapshot_data(self, r: EventRecord, role: int):
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap(r)
        if role == Qt.ItemDataRole.DisplayRole:
            key = (r.device_id, r.snapshot_id)
            if not r.snapshot_id or (key in self._pixmaps and self._pixmaps[key] is None):
                return "no snapshot"
            return "" if self._pixmaps.get(key) is not None else "loading…"
        if role == Qt.ItemDataRole.ToolTipRole and r.snapshot_id:
            return "Double-click to open the snapshot"
        if role == Qt.ItemDataRole.SizeHintRole:
            return THUMBNAIL_SIZE
        return None

    def pixmap(self, r: EventRecord) -> QPixmap | None:
        """The row's thumbnail when it is here; otherwise asks for it (never blocks)."""
        key = (r.device_id, r.snapshot_id)
        if not r.snapshot_id:
            return None
        if key in self._pixmaps:
            self._pixmaps.move_to_end(key)
            return self._pixmaps[key]
        if self.thumbnails is None:
            return None
        jpeg = self.thumbnails.request(*key)
        if jpeg is not None:  # in the core's cache already (our pixmap was evicted): small, decode here
            image = thumbnail_image(jpeg) if jpeg else QImage()
            self._store(key, image)
            return self._pixmaps[key]
        return None

    def _store(self, key: tuple[str, str], image: QImage) -> None:
        self._pixmaps[key] = QPixmap.fromImage(image) if not image.isNull() else None
        self._pixmaps.move_to_end(key)
        while len(self._pixmaps) > self.max_pixmaps:
            self._pixmaps.popitem(last=False)

    def on_thumbnail(self, device_id: str, snapshot_id: str, image: QImage) -> None:
        """A thumbnail arrived (GUI thread): keep it and repaint the rows showing it."""
        self._store((device_id, snapshot_id), image)
        rows = [n for n, r in enumerate(self._items) if r.snapshot_id == snapshot_id and r.device_id == device_id]
        if rows:
            roles = [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.DisplayRole]
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], 0), roles)

    def has_thumbnail(self, r: EventRecord) -> bool:
        return self._pixmaps.get((r.device_id, r.snapshot_id)) is not None

    # ------------------------------------------------------------------ rows

    def set_filter(self, event_filter: EventFilter, log: EventLog) -> None:
        """Show what ``event_filter`` selects from ``log``."""
        self.event_filter = event_filter
        records = log.records(event_filter)[: self.capacity]
        self._keys = {r.key for r in records}
        self.reset_items(records)

    def clear(self) -> None:
        self._keys = set()
        self.reset_items([])

    def add_records(self, records: list[EventRecord]) -> int:
        """New events (oldest first, as they came): those the filter takes go on top; how many.

        Events already shown (a filter change read them from the log first) are skipped.
        """
        taken = [r for r in reversed(records)
                 if r.key not in self._keys and self.event_filter.matches(r)][: self.capacity]
        if not taken:
            return 0
        overflow = len(self._items) + len(taken) - self.capacity
        if overflow > 0:
            first = len(self._items) - overflow
            for r in self._items[first:]:
                self._keys.discard(r.key)
            self.remove_rows(first, len(self._items) - 1)
        self._keys.update(r.key for r in taken)
        self.insert_items(0, taken)
        return len(taken)

    def records(self) -> list[EventRecord]:
        """The rows shown, top to bottom."""
        return self.items()
