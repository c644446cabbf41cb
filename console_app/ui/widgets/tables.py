"""The console's table views: how every page shows a list of records."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def record_table(model: QAbstractItemModel, accessible_name: str, *, single_selection: bool = False) -> QTableView:
    """A table of ``model``: whole rows selected, no row numbers, the last column stretched,
    alternating row colours, named for screen readers."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if single_selection:
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setAlternatingRowColors(True)
    table.setAccessibleName(accessible_name)
    return table


#: The narrowest a column other than the ones that must be read gets: an elided "…" that says
#: there is more (in the tooltip), instead of a column pushed out of sight behind a scrollbar.
ELIDED_COLUMN_WIDTH = 28


class ColumnFitter(QObject):
    """Keeps every column of ``table`` inside its width, so it never scrolls sideways.

    ``priority`` columns (names, addresses, models) get the width their text
    needs, in that order, as long as the room lasts; the other columns get what
    they need when there is room, else share what is left, eliding on one line
    (the models give the full text as a tooltip). Refits when the table is
    resized and when rows arrive or change.
    """

    def __init__(self, table: QTableView, priority: Sequence[int], minimum: int = ELIDED_COLUMN_WIDTH):
        super().__init__(table)
        self.table, self.priority, self.minimum = table, list(priority), minimum
        header = table.horizontalHeader()
        header.setMinimumSectionSize(min(header.minimumSectionSize(), minimum))
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._timer = QTimer(self, singleShot=True, interval=0, timeout=self.refit)
        table.viewport().installEventFilter(self)
        model = table.model()
        for signal in (model.rowsInserted, model.rowsRemoved, model.dataChanged, model.modelReset,
                       model.layoutChanged):
            signal.connect(self._timer.start)
        self.refit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._timer.start()
        return False

    def wanted(self, column: int) -> int:
        """The width ``column``'s text and header need (Qt's own measure)."""
        return max(self.table.sizeHintForColumn(column), self.table.horizontalHeader().sectionSizeHint(column))

    def refit(self) -> None:
        """Give the columns their widths for the table's current width."""
        header = self.table.horizontalHeader()
        columns = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        if not columns:
            return
        room = self.table.viewport().width()
        wanted = {c: self.wanted(c) for c in columns}
        if sum(wanted.values()) <= room:
            sizes = wanted  # everything fits: the last column stretches over the rest
        else:
            sizes = {c: min(wanted[c], self.minimum) for c in columns}
            spare = room - sum(sizes.values())
            order = [c for c in self.priority if c in sizes] + [c for c in columns if c not in self.priority]
            for column in order:
                grow = max(0, min(wanted[column] - sizes[column], spare))
                sizes[column] += grow
                spare -= grow
        for column, size in sizes.items():
            if header.sectionSize(column) != size:
                header.resizeSection(column, size)
