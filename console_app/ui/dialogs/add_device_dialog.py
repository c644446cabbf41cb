"""Add by address… : for devices on other subnets, which mDNS does not reach."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import ApplianceService, DeviceEntry
from console_app.ui import theme
from console_app.ui.tasks import TaskRunner

DEFAULT_PORT = 7443


class AddDeviceDialog(QDialog):
    """Contacts host:port as a guest (GetInfo) and adds the device to the list."""

    def __init__(self, service: ApplianceService, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add device by address")
        self._service, self._tasks = service, tasks
        self.added_entry: DeviceEntry | None = None
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("IP address or host name, e.g. 10.20.0.15")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(DEFAULT_PORT)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.error_label.setStyleSheet(f"color: {theme.danger_color().name()};")
        form = QFormLayout()
        host_label, port_label = QLabel("&Host:"), QLabel("P&ort:")
        host_label.setBuddy(self.host_edit)
        port_label.setBuddy(self.port_spin)
        form.addRow(host_label, self.host_edit)
        form.addRow(port_label, self.port_spin)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.addButton("&Add", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setDefault(True)
        # Return must always mean "add", even after a failure moved the focus.
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAutoDefault(False)
        self.buttons.accepted.connect(self.start_adding)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        hint = QLabel("Devices on this subnet appear by themselves; add the ones on other subnets here.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def start_adding(self) -> None:
        host, port = self.host_edit.text().strip(), self.port_spin.value()
        if not host:
            self._show_error("Type the device's IP address or host name.")
            return
        self.add_button.setEnabled(False)
        self.error_label.setVisible(False)
        self._tasks.run_in_background(
            lambda ctx: self._service.add_by_address(host, port),
            on_success=self._on_added, on_failure=self._on_failed,
            progress=f"Contacting {host}:{port}…")

    def _on_added(self, entry: DeviceEntry) -> None:
        self.added_entry = entry
        self.accept()

    def _on_failed(self, error: BaseException) -> None:
        self.add_button.setEnabled(True)
        self._show_error(str(error))

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)
