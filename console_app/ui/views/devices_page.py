"""The Devices page: appliances found on the LAN or added by address; pairing; the pinning warning."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.appliances import DeviceEntry
from console_app.ui import theme
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.add_device_dialog import AddDeviceDialog
from console_app.ui.dialogs.audit_dialog import AuditDialog
from console_app.ui.dialogs.deploy_dialog import DeployDialog
from console_app.ui.dialogs.pair_dialog import PairDialog
from console_app.ui.dialogs.provision_dialog import ProvisionDialog
from console_app.ui.dialogs.site_dialog import SiteDialog
from console_app.ui.icons import icon
from console_app.ui.models.devices_model import ENTRY_ROLE, NAME, DevicesTableModel
from console_app.ui.tasks import TaskRunner
from console_app.ui.widgets.tables import record_table


class DevicesPage(QWidget):
    """Table of devices with Pair…, Add by address…, Check again and Forget."""

    title = "Devices"
    icon_name = "devices"
    dialog_opened = Signal(object)  # the dialog, so tests and the window can reach it
    adopted = Signal(object, object)  # DeviceEntry or exception, report; from a provisioning worker

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self.model = DevicesTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.table = record_table(self.proxy, "Devices", single_selection=True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _: self.pair_selected())

        self.warning = QLabel()
        self.warning.setObjectName("fingerprintWarning")
        self.warning.setWordWrap(True)
        self.warning.setVisible(False)

        # What just happened (paired, or why Pair did nothing): a line under the toolbar.
        self.notice = QLabel()
        self.notice.setObjectName("devicesNotice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)

        self.empty_hint = QLabel(
            "No devices yet. Devices on this subnet appear here by themselves as soon as they "
            "start; use <b>Add by address…</b> for devices on other subnets.")
        self.empty_hint.setWordWrap(True)

        self.pair_action = self._action("&Pair…", "pair", "Ctrl+P", self.pair_selected,
                                        "Pair the selected device using the code it printed")
        self.add_action = self._action("&Add by address…", "add", "Ctrl+Shift+A", self.add_by_address,
                                       "Add a device on another subnet by its address")
        self.check_action = self._action("&Check again", "refresh", QKeySequence.StandardKey.Refresh,
                                         self.check_all, "Contact every device again")
        self.forget_action = self._action("&Forget pairing", "remove", None, self.forget_selected,
                                          "Drop this console's pairing with the selected device")
        self.audit_action = self._action("A&udit log…", "events", None, self.show_audit,
                                         "Who did what on the selected device, exportable as CSV")
        self.provision_action = self._action("Pro&vision new device…", "add", None, self.provision_new,
                                             "Write a bundle that sets up a new device from a USB stick")
        self.report_action = self._action("&Read provisioning report…", "pair", None, self.choose_report,
                                          "Add and pair a device from the report it wrote on the stick")
        self.update_action = self._action("&Update device software…", "refresh", None, self.choose_update,
                                          "Push a signed sightline-device .deb to paired devices")
        self.export_site_action = self._action("&Export site…", "devices", None, lambda: self.open_site(True),
                                               "Write devices, cameras, models and apps to one file")
        self.import_site_action = self._action("&Import site…", "devices", None, lambda: self.open_site(False),
                                               "Add a site file's devices, cameras, models and apps here")
        self._provisioning = None
        self.adopted.connect(self._on_adopted)

        toolbar = QHBoxLayout()
        for action in (self.pair_action, self.add_action, self.check_action, self.forget_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            toolbar.addWidget(button)
        # One button for the rest keeps the page narrow enough for small screens.
        self.provision_button = QToolButton()
        self.provision_button.setText("More")
        self.provision_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.provision_button)
        menu.addAction(self.audit_action)
        menu.addAction(self.provision_action)
        menu.addAction(self.report_action)
        menu.addSeparator()
        menu.addAction(self.update_action)
        menu.addSeparator()
        menu.addAction(self.export_site_action)
        menu.addAction(self.import_site_action)
        self.provision_button.setMenu(menu)
        toolbar.addWidget(self.provision_button)
        toolbar.addStretch(1)

        layout = QVBoxLayout(self)
        heading = QLabel("<h2>Devices</h2>")
        layout.addWidget(heading)
        layout.addLayout(toolbar)
        layout.addWidget(self.warning)
        layout.addWidget(self.notice)
        self.provision_status = QLabel()
        self.provision_status.setWordWrap(True)
        self.provision_status.setVisible(False)
        layout.addWidget(self.provision_status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_hint)

        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        context.bridge.devices_changed.connect(self.on_devices_changed)
        self.on_devices_changed(context.appliances.entries())

    def _action(self, text, icon_name, shortcut, slot, tip) -> QAction:
        action = QAction(icon(icon_name), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        action.setData(icon_name)
        return action

    def actions_for_menu(self) -> list[QAction]:
        return [self.pair_action, self.add_action, self.check_action, self.forget_action, self.audit_action,
                self.provision_action, self.report_action, self.update_action, self.export_site_action,
                self.import_site_action]

    def refresh_icons(self) -> None:
        for action in self.actions_for_menu():
            action.setIcon(icon(action.data()))

    # ---------------------------------------------------------------- state

    def on_devices_changed(self, entries: list[DeviceEntry]) -> None:
        self.model.set_entries(entries)
        self.empty_hint.setVisible(not entries)
        changed = [e for e in entries if e.fingerprint_changed]
        if changed:
            names = ", ".join(f"{e.name} ({e.address})" for e in changed)
            self.warning.setText(
                f"⚠ CERTIFICATE CHANGED: {names} now present(s) a certificate other than the one "
                "pinned at pairing. The console refuses to connect. This happens when a device is "
                "reinstalled — or when something is impersonating it. Check the device, then "
                "forget and re-pair it.")
            color = theme.danger_color().name()
            self.warning.setStyleSheet(
                f"QLabel {{ color: white; background: {color}; padding: 8px; border-radius: 4px; font-weight: bold; }}")
        self.warning.setVisible(bool(changed))
        self._update_actions()

    def selected_entry(self) -> DeviceEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.proxy.data(rows[0], ENTRY_ROLE)

    def select_device(self, device_id: str) -> None:
        row = self.model.row_of(device_id)
        if row >= 0:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

    def _update_actions(self) -> None:
        entry = self.selected_entry()
        # Enabled with nothing selected too: Ctrl+P then says what to do instead of nothing.
        self.pair_action.setEnabled(entry is None or not entry.fingerprint_changed)
        self.forget_action.setEnabled(entry is not None and entry.paired)
        self.audit_action.setEnabled(entry is not None and entry.paired and not entry.fingerprint_changed)

    # ---------------------------------------------------------------- actions

    def show_notice(self, text: str, success: bool = False) -> None:
        """A line under the toolbar saying what just happened; empty hides it."""
        self.notice.setText(text)
        self.notice.setStyleSheet(f"color: {theme.ok_color().name()}; font-weight: bold;" if success else "")
        self.notice.setVisible(bool(text))
        window = self.window()
        if text and not self.isVisible() and hasattr(window, "show_page"):
            window.show_page(window.page_row(self.title))  # Ctrl+P pressed on another page: say it here

    def pair_selected(self) -> PairDialog | None:
        """The Pair dialog for the selected device; with none selected, the only unpaired device,
        else a notice saying what to select (Ctrl+P never does nothing silently)."""
        entry = self.selected_entry()
        if entry is None:
            unpaired = [e for e in self.model.entries() if not e.paired and not e.fingerprint_changed]
            if len(unpaired) == 1:
                entry = unpaired[0]
                self.select_device(entry.device_id)
            elif not self.model.entries():
                self.show_notice("No device to pair yet: devices on this subnet appear here by themselves; "
                                 "use Add by address… for others.")
                return None
            else:
                self.show_notice("Select a device in the list first, then press Pair (Ctrl+P).")
                self.table.setFocus()
                return None
        if entry.fingerprint_changed:
            self.show_notice(f"{entry.name} presents a changed certificate: forget it, check the device, then pair again.")
            return None
        self.show_notice("")
        dialog = PairDialog(self._context.appliances, self._tasks, entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._on_paired(dialog.paired_entry or entry))
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def _on_paired(self, entry: DeviceEntry) -> None:
        fingerprint = entry.pinned_fingerprint or entry.fingerprint
        self.show_notice(f"✓ Paired with {entry.name}. Its certificate ({fingerprint[:16]}…) is pinned; its "
                         "cameras, health and events are now available. The device shows a new code for "
                         "the next console: this one needs no other.", success=True)
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(f"Paired with {entry.name}", 10_000)

    def add_by_address(self) -> AddDeviceDialog:
        dialog = AddDeviceDialog(self._context.appliances, self._tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: dialog.added_entry and self.select_device(dialog.added_entry.device_id))
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def show_audit(self) -> AuditDialog | None:
        entry = self.selected_entry()
        if entry is None or not entry.paired:
            return None
        dialog = AuditDialog(self._context.appliances, self._tasks, entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    # ---------------------------------------------------------------- provisioning

    @property
    def provisioning(self):
        """The console's provisioning service (made on first use: it needs the signing key)."""
        if self._provisioning is None:
            from console_app.core.credentials import CredentialStore
            from console_app.core.services.provisioning import ProvisioningService

            credentials = self._context.credentials or CredentialStore(self._context.data_dir)
            self._provisioning = ProvisioningService(self._context.appliances, credentials,
                                                     cameras=self._inventory_cameras, model_library=self._model_library)
            self._provisioning.on_adopted = self.adopted.emit
        return self._provisioning

    def _inventory_cameras(self):
        inventory = self._context.inventory
        return inventory.cameras if inventory is not None else None

    def _model_library(self):
        """The context's model library, else the one in the data folder (from a worker thread)."""
        if self._context.model_library is None:
            from console_app.core.services.model_library import ModelLibrary

            return ModelLibrary(self._context.data_dir)
        return self._context.model_library

    def provision_new(self) -> ProvisionDialog:
        dialog = ProvisionDialog(self.provisioning, self._tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def choose_report(self) -> QFileDialog:
        dialog = QFileDialog(self, "Read a provisioning report", "", "Provisioning reports (*.report.json)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.adopt_report(Path(path)))
        dialog.open()
        return dialog

    def adopt_report(self, path: Path, hosts: tuple[str, ...] = (), port: int | None = None):
        """Read the report, add the device and pair it by its bundle's secret, in the background."""
        from console_app.core.services.provisioning import read_report, summarize

        def adopt(ctx):
            report = read_report(path)
            return report, self.provisioning.adopt(report, hosts=hosts, port=port, on_progress=lambda text: ctx.report(None, text))

        def done(result) -> None:
            report, entry = result
            self._show_provision_status(f"{entry.name} is paired and pinned.\n{summarize(report)}")
            self.select_device(entry.device_id)

        def failed(error: BaseException) -> None:
            from console_app.core.services.provisioning import NotReachableYet

            if isinstance(error, NotReachableYet):
                self.provisioning.adopt_when_seen(read_report(path))
                self._show_provision_status(f"{error}. It is paired as soon as it appears on the LAN.")
                return
            self._show_provision_status(f"Could not add the provisioned device: {error}")

        return self._tasks.run_in_background(adopt, on_success=done, on_failure=failed,
                                             progress=f"Reading {path.name}…")

    def _on_adopted(self, result, report) -> None:
        from console_app.core.services.provisioning import summarize

        if isinstance(result, BaseException):
            self._show_provision_status(f"Could not pair {report.device_name or report.device_id}: {result}")
            return
        self._show_provision_status(f"{result.name} appeared on the LAN and is paired and pinned.\n"
                                    f"{summarize(report)}")
        self.select_device(result.device_id)

    def _show_provision_status(self, text: str) -> None:
        self.provision_status.setText(text)
        self.provision_status.setVisible(True)

    # ---------------------------------------------------------------- software and site

    def choose_update(self) -> QFileDialog:
        dialog = QFileDialog(self, "Device software to install", "", "Debian packages (*.deb)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.open_update(Path(path)))
        dialog.open()
        return dialog

    def open_update(self, deb: Path) -> DeployDialog:
        """The deploy dialog, sending device software: per-device progress, cancel, retry."""
        from console_app.core.services.software_update import SoftwareUpdater

        selected = self.selected_entry()
        dialog = DeployDialog(f"device software {deb.name}", deb.read_bytes, SoftwareUpdater(self._context.appliances),
                              self._context.appliances.paired_entries(), self._tasks, self,
                              preselected=[selected.device_id] if selected is not None else [])
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def open_site(self, export: bool) -> SiteDialog:
        dialog = SiteDialog(self._context, self._tasks, export=export, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def check_all(self) -> None:
        self._context.appliances.refresh()

    def forget_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or not entry.paired:
            return
        self._tasks.run_in_background(lambda ctx: self._context.appliances.forget(entry.device_id),
                                      progress=f"Forgetting {entry.name}…")
