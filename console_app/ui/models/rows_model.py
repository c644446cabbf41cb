"""A read-only table model over plain rows (lists of strings), for the simple pages."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invalid index: the parent of every row in a table


class RowsTableModel(QAbstractTableModel):
    """Columns fixed at construction; :meth:`set_rows` replaces, :meth:`append_row` adds (capped)."""

    def __init__(self, columns: Sequence[str], max_rows: int = 2000, parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self.max_rows = max_rows
        self._rows: list[list[str]] = []

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.columns):
            return self.columns[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            row = self._rows[index.row()]
            return row[index.column()] if index.column() < len(row) else ""
        return None

    def rows(self) -> list[list[str]]:
        return [list(r) for r in self._rows]

    def set_rows(self, rows: Sequence[Sequence[object]]) -> None:
        self.beginResetModel()
        self._rows = [[str(v) for v in r] for r in rows][: self.max_rows]
        self.endResetModel()

    def prepend_row(self, row: Sequence[object]) -> None:
        """Newest first; the oldest row drops off past ``max_rows``."""
        if len(self._rows) >= self.max_rows:
            last = len(self._rows) - 1
            self.beginRemoveRows(QModelIndex(), last, last)
            self._rows.pop()
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._rows.insert(0, [str(v) for v in row])
        self.endInsertRows()
