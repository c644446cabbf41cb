"""The Health page's device log: records as shown, a capped table model, and the level/text filter."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QSortFilterProxyModel, Qt

from console_app.ui import theme
from console_app.ui.models.table_model import AnyIndex, ItemTableModel

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@dataclass(frozen=True)
class LogLine:
    """One device log record, as shown."""

    time: float
    level: str
    logger: str
    message: str

    @property
    def levelno(self) -> int:
        return LEVELS.get(self.level.upper(), 20)


class LogTableModel(ItemTableModel):
    """Device log records, oldest first; past ``max_rows`` the oldest go."""

    columns = ("Time", "Level", "Source", "Message")

    def __init__(self, max_rows: int = 5000, parent=None):
        super().__init__(parent=parent)
        self.max_rows = max_rows

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        line = self.item_for(index)
        if line is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (time.strftime("%H:%M:%S", time.localtime(line.time)) + f".{int(line.time * 1000) % 1000:03d}",
                    line.level, line.logger, line.message)[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and line.levelno >= LEVELS["ERROR"]:
            return theme.danger_color()
        if role == Qt.ItemDataRole.UserRole:
            return line
        return None

    def append_lines(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        lines = lines[-self.max_rows:]
        overflow = len(self._items) + len(lines) - self.max_rows
        if overflow > 0:
            self.remove_rows(0, overflow - 1)
        self.insert_items(len(self._items), lines)

    def clear(self) -> None:
        self.reset_items([])

    def lines(self) -> list[LogLine]:
        return self.items()


class LogFilterProxy(QSortFilterProxyModel):
    """Shows records at or above a level whose logger or message contains a text (any case)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.min_level, self.text = LEVELS["INFO"], ""

    def set_min_level(self, level: str) -> None:
        self.beginFilterChange()
        self.min_level = LEVELS[level]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self.text = text.casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        line = self.sourceModel().index(source_row, 0, source_parent).data(Qt.ItemDataRole.UserRole)
        if line is None or line.levelno < self.min_level:
            return False
        return not self.text or self.text in f"{line.logger} {line.message}".casefold()
