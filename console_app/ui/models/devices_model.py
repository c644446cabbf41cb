"""The Devices table: one row per appliance, updated in place as adverts come and go."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from console_app.core.services.appliances import DeviceEntry
from console_app.ui import theme
from console_app.ui.icons import icon

COLUMNS = ("Name", "Address", "Version", "Paired", "Reachable", "Fingerprint")
NAME, ADDRESS, VERSION, PAIRED, REACHABLE, FINGERPRINT = range(len(COLUMNS))

#: ``data(index, ENTRY_ROLE)`` gives the row's :class:`DeviceEntry`.
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invalid index: the parent of every row in a table


def short_fingerprint(fingerprint: str) -> str:
    """First 16 hex digits in groups of four: enough to compare by eye."""
    head = fingerprint[:16]
    return " ".join(head[i:i + 4] for i in range(0, len(head), 4)) + ("…" if len(fingerprint) > 16 else "")


class DevicesTableModel(QAbstractTableModel):
    """Rows keyed by device id; :meth:`set_entries` applies a new snapshot as row changes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[DeviceEntry] = []

    # ---------------------------------------------------------------- Qt API

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        entry, column = self._rows[index.row()], index.column()
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.problem:
                return entry.problem
            if column == FINGERPRINT:
                return entry.fingerprint or None
            return None
        if role == Qt.ItemDataRole.ForegroundRole and entry.fingerprint_changed:
            return theme.danger_color()
        if role == Qt.ItemDataRole.FontRole and entry.fingerprint_changed:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            if entry.fingerprint_changed:
                return icon("warning", theme.danger_color())
            if entry.reachable is False:
                return icon("offline")
            return icon("devices")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._display(entry, column)
        return None

    @staticmethod
    def _display(entry: DeviceEntry, column: int) -> str:
        if column == NAME:
            return entry.name
        if column == ADDRESS:
            return entry.address
        if column == VERSION:
            return entry.version or "—"
        if column == PAIRED:
            return "Yes" if entry.paired else "No"
        if column == REACHABLE:
            if entry.fingerprint_changed:
                return "REFUSED: certificate changed"
            return {None: "Checking…", True: "Yes", False: "No"}[entry.reachable]
        if column == FINGERPRINT:
            return short_fingerprint(entry.fingerprint) if entry.fingerprint else "—"
        return ""

    # ---------------------------------------------------------------- updates

    def entries(self) -> list[DeviceEntry]:
        return list(self._rows)

    def entry_at(self, row: int) -> DeviceEntry:
        return self._rows[row]

    def row_of(self, device_id: str) -> int:
        for row, entry in enumerate(self._rows):
            if entry.device_id == device_id:
                return row
        return -1

    def set_entries(self, entries: list[DeviceEntry]) -> None:
        """Make the rows equal ``entries``: removes, updates in place, appends (selection survives)."""
        wanted = {e.device_id: e for e in entries}
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].device_id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        for row, entry in enumerate(self._rows):
            new = wanted.pop(entry.device_id)
            if new != entry:
                self._rows[row] = new
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        if wanted:
            ordered = [e for e in entries if e.device_id in wanted]
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(ordered) - 1)
            self._rows.extend(ordered)
            self.endInsertRows()
