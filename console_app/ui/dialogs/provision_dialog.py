"""Provision new device… : write a signed bundle for a fresh appliance onto a stick or into a folder.

Besides name, network, time and app packages, the engineer picks models from
the model library, registered cameras to bind to the camera ids the apps use
(their passwords are read from the credential store when the bundle is
written and travel only as encrypted secrets; the form never shows them),
and how the secrets are protected: a passphrase, or the key of a device this
console is paired with (the bundle is then for that device only). The
choices are loaded in the background when the dialog opens.

The form keeps what was typed when the bundle cannot be made (a wrong address,
passphrases that differ, a camera id no app uses, a folder that is not there)
and says why. Building runs in the background (app packages and models can be
large).
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.provisioning import (
    BuiltBundle,
    BundleRequest,
    ProvisionChoices,
    ProvisioningService,
)
from console_app.ui.tasks import BackgroundTask, TaskRunner
from device_runtime.protocol.apps.validation import describe_validation_error
from device_runtime.protocol.provisioning.manifest import InterfaceSettings, NetworkSettings


class InterfaceRow(QWidget):
    """One interface: name, DHCP or static, address/prefix, gateway, DNS."""

    def __init__(self, name: str = "eth0", parent: QWidget | None = None):
        super().__init__(parent)
        self.name_edit = QLineEdit(name)
        self.name_edit.setAccessibleName("Interface")
        self.name_edit.setMaximumWidth(110)
        self.method_combo = QComboBox()
        self.method_combo.addItem("DHCP", "dhcp")
        self.method_combo.addItem("Static", "static")
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("192.168.10.20/24")
        self.gateway_edit = QLineEdit()
        self.gateway_edit.setPlaceholderText("gateway (optional)")
        self.dns_edit = QLineEdit()
        self.dns_edit.setPlaceholderText("DNS, comma-separated")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.name_edit, self.method_combo, self.address_edit, self.gateway_edit, self.dns_edit):
            layout.addWidget(widget)
        self.method_combo.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        static = self.method_combo.currentData() == "static"
        for edit in (self.address_edit, self.gateway_edit, self.dns_edit):
            edit.setEnabled(static)

    def settings(self) -> InterfaceSettings:
        if self.method_combo.currentData() == "dhcp":
            return InterfaceSettings(name=self.name_edit.text().strip(), method="dhcp")
        dns = [d.strip() for d in self.dns_edit.text().split(",") if d.strip()]
        return InterfaceSettings(name=self.name_edit.text().strip(), method="static",
                                 address=self.address_edit.text().strip(), gateway=self.gateway_edit.text().strip(),
                                 dns=dns)


class ProvisionDialog(QDialog):
    """Collects the settings, then writes ``NAME.sightline-provision.zip`` into the chosen folder."""

    def __init__(self, service: ProvisioningService, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Provision new device")
        self._service, self._tasks = service, tasks
        self.built: BuiltBundle | None = None

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. line3-box")
        self.interfaces: list[InterfaceRow] = [InterfaceRow()]
        self.interfaces_box = QVBoxLayout()
        self.interfaces_box.addWidget(self.interfaces[0])
        self.add_interface_button = QPushButton("Add interface")
        self.add_interface_button.clicked.connect(lambda: self.add_interface())
        self.ntp_edit = QLineEdit()
        self.ntp_edit.setPlaceholderText("time servers, comma-separated; empty: none")
        self.keep_ntp_check = QCheckBox("Leave the time servers as they are")
        self.keep_ntp_check.setChecked(True)
        self.keep_ntp_check.toggled.connect(lambda keep: self.ntp_edit.setEnabled(not keep))
        self.ntp_edit.setEnabled(False)
        self.timezone_edit = QLineEdit()
        self.timezone_edit.setPlaceholderText("e.g. Europe/Berlin; empty: leave as is")
        self.allow_cut_check = QCheckBox("Allow replacing addresses the device is reachable at now")
        self.apps_list = QListWidget()
        self.apps_list.setMaximumHeight(80)
        self.add_app_button = QPushButton("Add app package…")
        self.add_app_button.clicked.connect(self.choose_app)
        self.models_list = QListWidget()
        self.models_list.setAccessibleName("Models from the library")
        self.models_list.setMaximumHeight(80)
        self.cameras_table = QTableWidget(0, 3)
        self.cameras_table.setAccessibleName("Cameras to bind")
        self.cameras_table.setHorizontalHeaderLabels(["Registered camera", "Stream", "Camera id in the apps"])
        self.cameras_table.horizontalHeader().setStretchLastSection(True)
        self.cameras_table.verticalHeader().setVisible(False)
        self.cameras_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.cameras_table.setMaximumHeight(110)
        self.choices_label = QLabel("Loading the registered cameras, library models and paired devices…")
        self.choices_label.setWordWrap(True)
        self.secrets_edit = QPlainTextEdit()
        self.secrets_edit.setPlaceholderText(
            "name=value, one per line (output tokens); bound cameras bring their passwords themselves")
        self.secrets_edit.setMaximumHeight(70)
        self.protect_combo = QComboBox()
        self.protect_combo.setAccessibleName("Protect the secrets with")
        self.protect_combo.addItem("a passphrase (typed again on the device)", "")
        self.protect_combo.currentIndexChanged.connect(self._update_protection)
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_again_edit = QLineEdit()
        self.passphrase_again_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.choices: ProvisionChoices | None = None
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("the USB stick, or any folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_folder)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.setVisible(False)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)

        network = QGroupBox("Network")
        net_form = QFormLayout(network)
        net_rows = QVBoxLayout()
        net_rows.addLayout(self.interfaces_box)
        net_rows.addWidget(self.add_interface_button)
        net_form.addRow("Interfaces:", net_rows)
        net_form.addRow("", self.keep_ntp_check)
        net_form.addRow("Time servers:", self.ntp_edit)
        net_form.addRow("Time zone:", self.timezone_edit)
        net_form.addRow("", self.allow_cut_check)
        form = QFormLayout()
        form.addRow("Device &name:", self.name_edit)
        apps_row = QVBoxLayout()
        apps_row.addWidget(self.apps_list)
        apps_row.addWidget(self.add_app_button)
        form.addRow("Apps:", apps_row)
        form.addRow("Models:", self.models_list)
        form.addRow("Cameras to bind:", self.cameras_table)
        form.addRow("", self.choices_label)
        form.addRow("Secrets:", self.secrets_edit)
        form.addRow("Protect secrets with:", self.protect_combo)
        form.addRow("&Passphrase:", self.passphrase_edit)
        form.addRow("Passphrase again:", self.passphrase_again_edit)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form.addRow("Write to:", folder_row)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.write_button = self.buttons.addButton("&Write bundle", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start_writing)
        self.buttons.rejected.connect(self.reject)
        intro = QLabel(
            "The device applies this bundle from a USB stick (or <tt>sightline-device provision FILE</tt>) "
            "and writes a report next to it. Bring the stick back and use <b>Read provisioning report…</b>: "
            "the device is then paired and pinned without typing its code.")
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(network)
        layout.addWidget(self.error_label)
        layout.addWidget(self.result_label)
        layout.addWidget(self.buttons)
        self._tasks.run_in_background(lambda _ctx: service.choices(), on_success=self._fill_choices,
                                      on_failure=self._on_choices_failed)

    # ---------------------------------------------------------------- choices

    def _fill_choices(self, choices: ProvisionChoices) -> None:
        if not shiboken6.isValid(self):
            return  # closed before the choices arrived
        self.choices = choices
        for model in choices.models:
            labels = f", {len(model.labels)} labels" if model.labels else ""
            item = QListWidgetItem(f"{model.name} v{model.version}{labels}")
            item.setData(Qt.ItemDataRole.UserRole, model.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.models_list.addItem(item)
        for camera in choices.cameras:
            row = self.cameras_table.rowCount()
            self.cameras_table.insertRow(row)
            name = QTableWidgetItem(camera.name)
            name.setData(Qt.ItemDataRole.UserRole, camera.camera_id)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            name.setCheckState(Qt.CheckState.Unchecked)
            url = QTableWidgetItem(camera.url)
            url.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.cameras_table.setItem(row, 0, name)
            self.cameras_table.setItem(row, 1, url)
            self.cameras_table.setItem(row, 2, QTableWidgetItem(camera.bind_as))
        self.cameras_table.resizeColumnsToContents()
        for entry in choices.devices:
            self.protect_combo.addItem(f"the key of {entry.name} (paired; the bundle is for it only)", entry.device_id)
        completer = QCompleter(choices.timezones, self.timezone_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone_edit.setCompleter(completer)
        missing = [what for what, items in (("registered cameras", choices.cameras), ("library models", choices.models))
                   if not items]
        self.choices_label.setText(f"No {' or '.join(missing)} in this console." if missing else "")
        self.choices_label.setVisible(bool(missing))

    def _on_choices_failed(self, error: BaseException) -> None:
        if shiboken6.isValid(self):
            self.choices_label.setText(f"Could not list the registered cameras and library models: {error}")

    def _update_protection(self) -> None:
        by_passphrase = not self.protect_combo.currentData()
        for edit in (self.passphrase_edit, self.passphrase_again_edit):
            edit.setEnabled(by_passphrase)

    def chosen_models(self) -> list[str]:
        """Library ids of the ticked models."""
        items = [self.models_list.item(i) for i in range(self.models_list.count())]
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def chosen_cameras(self) -> list[tuple[int, str]]:
        """(inventory camera id, camera id in the apps) of the ticked cameras; ``ValueError`` for a missing id."""
        chosen = []
        for row in range(self.cameras_table.rowCount()):
            name = self.cameras_table.item(row, 0)
            if name.checkState() != Qt.CheckState.Checked:
                continue
            bind_as = (self.cameras_table.item(row, 2).text() if self.cameras_table.item(row, 2) else "").strip()
            if not bind_as:
                raise ValueError(f"Camera {name.text()}: type the camera id the apps use for it.")
            chosen.append((int(name.data(Qt.ItemDataRole.UserRole)), bind_as))
        return chosen

    def set_camera_checked(self, name: str, checked: bool = True, bind_as: str | None = None) -> None:
        """Tick (or untick) the registered camera ``name``, optionally with the id apps use (tests, automation)."""
        for row in range(self.cameras_table.rowCount()):
            if self.cameras_table.item(row, 0).text() == name:
                self.cameras_table.item(row, 0).setCheckState(
                    Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                if bind_as is not None:
                    self.cameras_table.item(row, 2).setText(bind_as)
                return
        raise KeyError(name)

    def add_interface(self, name: str = "") -> InterfaceRow:
        row = InterfaceRow(name or f"eth{len(self.interfaces)}")
        self.interfaces.append(row)
        self.interfaces_box.addWidget(row)
        return row

    def choose_app(self) -> QFileDialog:
        dialog = QFileDialog(self, "Add an app package", "", "App packages (*.tar.gz);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(self.apps_list.addItem)
        dialog.open()
        return dialog

    def choose_folder(self) -> QFileDialog:
        dialog = QFileDialog(self, "Write the bundle to")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(self.folder_edit.setText)
        dialog.open()
        return dialog

    def request(self) -> BundleRequest:
        """The form as a request; raises ``ValueError`` with a readable message."""
        if not self.name_edit.text().strip():
            raise ValueError("Give the device a name.")
        if not self.protect_combo.currentData() and self.passphrase_edit.text() != self.passphrase_again_edit.text():
            raise ValueError("The two passphrases differ.")
        secrets = {}
        for number, line in enumerate(self.secrets_edit.toPlainText().splitlines(), 1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"Secrets line {number}: expected name=value.")
            secrets[name.strip()] = value
        try:
            interfaces = [row.settings() for row in self.interfaces if row.name_edit.text().strip()]
            ntp = None if self.keep_ntp_check.isChecked() else [
                s.strip() for s in self.ntp_edit.text().split(",") if s.strip()]
            network = NetworkSettings(interfaces=interfaces, ntp_servers=ntp,
                                      timezone=self.timezone_edit.text().strip(),
                                      allow_address_change=self.allow_cut_check.isChecked())
        except ValidationError as exc:
            raise ValueError(describe_validation_error(exc, "network")) from None
        apps = [Path(self.apps_list.item(i).text()) for i in range(self.apps_list.count())]
        return BundleRequest(device_name=self.name_edit.text().strip(), network=network, apps=apps,
                             secrets=secrets, passphrase=self.passphrase_edit.text())

    def start_writing(self) -> BackgroundTask | None:
        try:
            request = self.request()
        except ValueError as exc:
            self._show_error(str(exc))
            return None
        try:
            cameras = self.chosen_cameras()
        except ValueError as exc:
            self._show_error(str(exc))
            return None
        models, device = self.chosen_models(), self.protect_combo.currentData() or ""
        folder = Path(self.folder_edit.text().strip() or ".")
        self.write_button.setEnabled(False)
        self.error_label.setVisible(False)
        return self._tasks.run_in_background(
            lambda ctx: self._service.build(request, folder, registered_cameras=cameras, library_models=models,
                                            for_device=device),
            on_success=self._on_built, on_failure=self._on_failed, progress="Writing the provisioning bundle…")

    def _on_built(self, built: BuiltBundle) -> None:
        if not shiboken6.isValid(self):
            return
        self.built = built
        self.write_button.setEnabled(True)
        lines = [f"Written: {built.path}", f"The device's report will appear as {built.report_path.name}."]
        lines += [f"Camera {camera_id} bound in {', '.join(apps)}" for camera_id, apps in built.bound_cameras.items()]
        self.result_label.setText("\n".join(lines))

    def _on_failed(self, error: BaseException) -> None:
        if not shiboken6.isValid(self):
            return
        self.write_button.setEnabled(True)
        self._show_error(str(error))

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)
