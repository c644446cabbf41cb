"""A read-only table model over plain rows (lists of strings), for the simple pages."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt

from console_app.ui.models.table_model import AnyIndex, ItemTableModel


class RowsTableModel(ItemTableModel):
    """Columns fixed at construction; :meth:`set_rows` replaces, :meth:`prepend_row` adds (capped)."""

    def __init__(self, columns: Sequence[str], max_rows: int = 2000, parent=None):
        super().__init__(columns, parent)
        self.max_rows = max_rows

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row = self.item_for(index)
        if row is not None and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[index.column()] if index.column() < len(row) else ""
        return None

    def rows(self) -> list[list[str]]:
        return [list(r) for r in self._items]

    def set_rows(self, rows: Sequence[Sequence[object]]) -> None:
        self.reset_items([[str(v) for v in r] for r in rows][: self.max_rows])

    def prepend_row(self, row: Sequence[object]) -> None:
        """Newest first; the oldest row drops off past ``max_rows``."""
        if len(self._items) >= self.max_rows:
            self.remove_rows(len(self._items) - 1, len(self._items) - 1)
        self.insert_items(0, [[str(v) for v in row]])
