"""The Health page: per device and per stream, live plots of the last ten minutes, and the device log."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from console_app.ui.context import ConsoleContext
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.device_pages import DevicePicker


class HealthPage(QWidget):
    """Health of the device picked at the top."""

    title, icon_name = "Health", "health"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self.picker = DevicePicker(context)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Health</h2>"))
        layout.addWidget(self.picker)
        layout.addStretch(1)

    def refresh_icons(self) -> None:
        pass
