"""Shared parts of the pages that show one paired device at a time: the device picker and a table page."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import DeviceEntry
from console_app.ui.context import ConsoleContext
from console_app.ui.icons import icon
from console_app.ui.models.rows_model import RowsTableModel
from console_app.ui.tasks import TaskContext, TaskRunner
from console_app.ui.widgets.tables import record_table


class DevicePicker(QWidget):
    """A combo box of paired devices, kept in step with the appliance service."""

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumWidth(260)
        self.combo.setAccessibleName("Device")
        label = QLabel("De&vice:")
        label.setBuddy(self.combo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        context.bridge.devices_changed.connect(self.on_devices_changed)
        self.on_devices_changed(context.appliances.entries())

    def on_devices_changed(self, entries: list[DeviceEntry]) -> None:
        current = self.current_device_id()
        paired = [e for e in entries if e.paired]
        ids = [e.device_id for e in paired]
        if ids == [self.combo.itemData(i) for i in range(self.combo.count())]:
            return
        self.combo.blockSignals(True)
        self.combo.clear()
        for e in paired:
            self.combo.addItem(f"{e.name}  ({e.address})", e.device_id)
        if current in ids:
            self.combo.setCurrentIndex(ids.index(current))
        self.combo.blockSignals(False)
        if current not in ids:
            self.combo.currentIndexChanged.emit(self.combo.currentIndex())

    def current_device_id(self) -> str | None:
        return self.combo.currentData()


class DeviceTablePage(QWidget):
    """A page listing rows fetched from the chosen paired device (subclasses say which)."""

    title = ""
    icon_name = ""
    columns: tuple[str, ...] = ()
    empty_text = ""

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self.picker = DevicePicker(context)
        self.reload_button = QPushButton(icon("refresh"), "&Reload")
        self.reload_button.clicked.connect(self.reload)
        self.model = RowsTableModel(self.columns, parent=self)
        self.table = record_table(self.model, self.title)
        self.status = QLabel()
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.picker)
        top.addWidget(self.reload_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h2>{self.title}</h2>"))
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self.picker.combo.currentIndexChanged.connect(self._on_device_picked)
        self._show_status()

    def refresh_icons(self) -> None:
        self.reload_button.setIcon(icon("refresh"))

    def on_shown(self) -> None:
        self.reload()

    def _on_device_picked(self, _index: int) -> None:
        # Only the page on screen talks to devices; the others load when shown.
        if self.isVisible():
            self.reload()

    def _show_status(self, text: str = "") -> None:
        if not text and self.picker.current_device_id() is None:
            text = f"Pair a device on the Devices page to see its {self.title.lower()} here."
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def reload(self) -> None:
        device_id = self.picker.current_device_id()
        if device_id is None:
            self.model.set_rows([])
            self._show_status()
            return
        self._show_status("Loading…")
        service = self._context.appliances

        def fetch(ctx: TaskContext) -> list[list[object]]:
            with service.connect(device_id) as client:
                return self.fetch_rows(client)

        self._tasks.run_in_background(fetch, on_success=self._on_rows, on_failure=self._on_failed)

    def _on_rows(self, rows: list[list[object]]) -> None:
        self.model.set_rows(rows)
        self._show_status("" if rows else self.empty_text)
        self.table.resizeColumnsToContents()

    def _on_failed(self, error: BaseException) -> None:
        self.model.set_rows([])
        self._show_status(f"Could not read {self.title.lower()}: {error}")

    def fetch_rows(self, client) -> list[list[object]]:  # runs off the GUI thread
        raise NotImplementedError


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


