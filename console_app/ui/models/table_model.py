"""The base of the console's table models: fixed column titles over a list of items, one item per row."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

AnyIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()  # the invalid index: the parent of every row in a table


class ItemTableModel(QAbstractTableModel):
    """Rows are the items of a list; columns are ``columns`` (a class attribute or given here).

    Subclasses write only ``data`` (with :meth:`item_for` to get the row's
    item) and change rows through the helpers below, which emit the matching
    begin/end signals so views and proxies stay in step.
    """

    columns: Sequence[str] = ()

    def __init__(self, columns: Sequence[str] | None = None, parent=None):
        super().__init__(parent)
        if columns is not None:
            self.columns = tuple(columns)
        self._items: list[Any] = []

    # ---------------------------------------------------------------- Qt API

    def rowCount(self, parent: AnyIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: AnyIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.columns):
            return self.columns[section]
        return None

    # ---------------------------------------------------------------- reading

    def item_for(self, index: AnyIndex) -> Any | None:
        """The item of ``index``'s row; None for an invalid or stale index."""
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        return self._items[index.row()]

    def item_at(self, row: int) -> Any | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def items(self) -> list[Any]:
        """The items, top to bottom (a copy)."""
        return list(self._items)

    def row_where(self, predicate: Callable[[Any], bool]) -> int:
        """The first row whose item satisfies ``predicate``; -1 when none does."""
        return next((row for row, item in enumerate(self._items) if predicate(item)), -1)

    # ---------------------------------------------------------------- changing rows

    def reset_items(self, items: Iterable[Any]) -> None:
        """Replace every row (views lose their selection)."""
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def insert_items(self, row: int, items: Sequence[Any]) -> None:
        """Insert ``items`` before ``row`` (``row == len``: append)."""
        if not items:
            return
        self.beginInsertRows(ROOT, row, row + len(items) - 1)
        self._items[row:row] = items
        self.endInsertRows()

    def remove_rows(self, first: int, last: int) -> None:
        """Remove rows ``first`` to ``last``, both included."""
        if last < first:
            return
        self.beginRemoveRows(ROOT, first, last)
        del self._items[first:last + 1]
        self.endRemoveRows()

    def replace_item(self, row: int, item: Any) -> None:
        """Put ``item`` in ``row`` and tell views the whole row changed."""
        self._items[row] = item
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def upsert_item(self, item: Any, key: Callable[[Any], object]) -> None:
        """Replace the row whose item has ``item``'s key in place, or append ``item``."""
        wanted = key(item)
        row = self.row_where(lambda old: key(old) == wanted)
        if row >= 0:
            self.replace_item(row, item)
        else:
            self.insert_items(len(self._items), [item])
