"""The Devices table: one row per appliance, updated in place as adverts come and go."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from console_app.core.services.appliances import DeviceEntry
from console_app.ui import theme
from console_app.ui.icons import icon
from console_app.ui.models.table_model import AnyIndex, ItemTableModel

COLUMNS = ("Name", "Address", "Version", "Paired", "Reachable", "Fingerprint")
NAME, ADDRESS, VERSION, PAIRED, REACHABLE, FINGERPRINT = range(len(COLUMNS))

#: ``data(index, ENTRY_ROLE)`` gives the row's :class:`DeviceEntry`.
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


def short_fingerprint(fingerprint: str) -> str:
    """First 16 hex digits in groups of four: enough to compare by eye."""
    head = fingerprint[:16]
    return " ".join(head[i:i + 4] for i in range(0, len(head), 4)) + ("…" if len(fingerprint) > 16 else "")


class DevicesTableModel(ItemTableModel):
    """Rows keyed by device id; :meth:`set_entries` applies a new snapshot as row changes."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent=parent)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        entry, column = self.item_for(index), index.column()
        if entry is None:
            return None
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
        return self.items()

    def entry_at(self, row: int) -> DeviceEntry:
        return self._items[row]

    def row_of(self, device_id: str) -> int:
        return self.row_where(lambda entry: entry.device_id == device_id)

    def set_entries(self, entries: list[DeviceEntry]) -> None:
        """Make the rows equal ``entries``: removes, updates in place, appends (selection survives)."""
        wanted = {e.device_id: e for e in entries}
        for row in range(len(self._items) - 1, -1, -1):
            if self._items[row].device_id not in wanted:
                self.remove_rows(row, row)
        for row, entry in enumerate(self._items):
            new = wanted.pop(entry.device_id)
            if new != entry:
                self.replace_item(row, new)
        self.insert_items(len(self._items), [e for e in entries if e.device_id in wanted])
