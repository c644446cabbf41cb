"""The Applications page: the app library (new, edit → new version, deploy) and the apps on every paired device
(their installed versions; roll back, start, stop)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import CameraOption, ModelOption
from console_app.core.services.app_drafts import NEW_APP, DraftStore, builder_from_draft
from console_app.core.services.app_library import AppLibrary, InventoryCameraCredentials
from console_app.core.services.deployer import Deployer
from console_app.core.services.output_drafts import send_test_event
from console_app.core.services.panorama_wheels import WheelTarget
from console_app.core.services.snapshot_source import SnapshotSource
from console_app.core.settings import PythonPackagesSettings, default_settings_path, load_settings
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.code_app_params_dialog import CodeAppParamsDialog
from console_app.ui.dialogs.deploy_dialog import DeployDialog
from console_app.ui.dialogs.panorama_import_dialog import PanoramaImportDialog
from console_app.ui.icons import icon
from console_app.ui.models.rows_model import RowsTableModel
from console_app.ui.tasks import TaskRunner
from console_app.ui.widgets.tables import ColumnFitter, record_table
from console_app.ui.wizards.app_builder_wizard import AppBuilderWizard

log = logging.getLogger(__name__)

LIBRARY_COLUMNS = ("Application", "Id", "Latest version", "Versions", "Model")
DEVICE_COLUMNS = ("Device", "Application", "Active version", "State", "Installed versions", "Error", "Code nodes")


def code_nodes_text(app: Any) -> str:
    """A Panorama code app's processes, e.g. ``counter_code running, 2 crashes: RuntimeError: boom``."""
    parts = []
    for node in app.nodes:
        text = f"{node.name} {node.state}"
        if node.crashes:
            last = node.last_traceback.strip().splitlines()
            text += f", {node.crashes} crash{'es' if node.crashes != 1 else ''}" + (f": {last[-1]}" if last else "")
        parts.append(text)
    return "; ".join(parts)


class ApplicationsPage(QWidget):
    """Library on top, devices below. Every device and disk call runs in the background."""

    title, icon_name = "Applications", "applications"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self._app_library: AppLibrary | None = None
        self._model_library: Any = None
        self.deployer = Deployer(context.appliances)
        self.dialog: QDialog | None = None  # the open wizard or deploy dialog (tests drive it)
        self.library_model = RowsTableModel(LIBRARY_COLUMNS, parent=self)
        self.library_view = record_table(self.library_model, "Application library", single_selection=True)
        self.device_model = RowsTableModel(DEVICE_COLUMNS, parent=self)
        self.device_view = record_table(self.device_model, "Applications on devices", single_selection=True)
        # Whole headers and names first, errors and code nodes elide (full text in the tooltip): never sideways.
        self._fitters = [ColumnFitter(self.library_view, (0, 1, 2, 4)), ColumnFitter(self.device_view, (0, 1, 2, 3, 4))]
        self._library_rows: list[Any] = []
        self._device_rows: list[tuple[str, Any]] = []  # (device_id, AppStatus)
        self._paired_ids: list[str] = []
        self._note = ""  # the outcome of the last roll back / start / stop, shown after the reload
        self.new_button = QPushButton(icon("add"), "&New app…")
        self.edit_button = QPushButton("&Edit (new version)…")
        self.panorama_button = QPushButton("Import &Panorama app…")
        self.panorama_button.setToolTip("Run an AWS Panorama application folder (or zip) unchanged on your devices")
        self.panorama_dialog: PanoramaImportDialog | None = None
        self.deploy_button = QPushButton(icon("play"), "&Deploy…")
        self.rollback_button = QPushButton("Roll &back")
        self.start_button = QPushButton(icon("play"), "S&tart")
        self.stop_button = QPushButton(icon("stop"), "St&op")
        self.params_button = QPushButton("&Parameters…")
        self.params_button.setToolTip("Tune a running code (Panorama) app's parameters live")
        self.reload_button = QPushButton(icon("refresh"), "&Reload")
        self.rollback_button.setToolTip("Go back to the version installed before the active one")
        self.new_button.clicked.connect(self.new_app)
        self.edit_button.clicked.connect(self.edit_app)
        self.panorama_button.clicked.connect(self.import_panorama_app)
        self.deploy_button.clicked.connect(self.deploy_app)
        self.rollback_button.clicked.connect(lambda: self._device_action("rollback"))
        self.start_button.clicked.connect(lambda: self._device_action("start"))
        self.stop_button.clicked.connect(lambda: self._device_action("stop"))
        self.params_button.clicked.connect(self.tune_code_app)
        self.reload_button.clicked.connect(self.reload)
        self.library_view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.device_view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.library_status = QLabel()
        self.device_status = QLabel()
        for label in (self.library_status, self.device_status):
            label.setWordWrap(True)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        row = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.deploy_button, self.panorama_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.reload_button)
        top_layout.addWidget(QLabel("<b>Application library</b>"))
        top_layout.addLayout(row)
        top_layout.addWidget(self.library_view, 1)
        top_layout.addWidget(self.library_status)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        row = QHBoxLayout()
        for button in (self.rollback_button, self.start_button, self.stop_button, self.params_button):
            row.addWidget(button)
        row.addStretch(1)
        bottom_layout.addWidget(QLabel("<b>On the paired devices</b>"))
        bottom_layout.addLayout(row)
        bottom_layout.addWidget(self.device_view, 1)
        bottom_layout.addWidget(self.device_status)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h2>{self.title}</h2>"))
        layout.addWidget(splitter, 1)
        context.bridge.devices_changed.connect(self._on_devices_changed)
        self._update_buttons()

    # ------------------------------------------------------------ services

    def model_library(self) -> Any:
        """The context's model library, else one over ``data_dir`` (no database)."""
        if self._context.model_library is not None:
            return self._context.model_library
        if self._model_library is None:
            from console_app.core.services.model_library import ModelLibrary

            self._model_library = ModelLibrary(self._context.data_dir)
        return self._model_library

    def app_library(self) -> AppLibrary:
        """The context's app library, else one over ``data_dir`` (JSON files)."""
        if self._context.app_library is not None:
            return self._context.app_library
        if self._app_library is None:
            self._app_library = AppLibrary(self._context.data_dir, model_library=self.model_library(),
                                           camera_credentials=self._camera_credentials(),
                                           output_secret_store=self._context.credentials)
            if hasattr(self.model_library(), "set_usage_lookup"):
                # A model an app version bundles is not deleted by accident.
                self.model_library().set_usage_lookup(self._app_library.models_in_use)
        return self._app_library

    def _inventory(self) -> Any:
        return self._context.inventory

    def _camera_credentials(self) -> Any:
        inventory = self._inventory()
        return InventoryCameraCredentials(inventory.cameras) if inventory is not None else None

    def _options(self) -> tuple[list[CameraOption], list[ModelOption]]:
        """Registered cameras and library models (runs in the background)."""
        inventory = self._inventory()
        cameras = [CameraOption(f"camera:{c.id}", c.name, c.stream_uri)
                   for c in (inventory.cameras.list_cameras() if inventory is not None else [])]
        models = [ModelOption.from_library(m) for m in self.model_library().list()]
        return cameras, models

    # ------------------------------------------------------------ loading

    def on_shown(self) -> None:
        self.reload()

    def refresh_icons(self) -> None:
        for button, name in ((self.new_button, "add"), (self.deploy_button, "play"), (self.start_button, "play"),
                             (self.stop_button, "stop"), (self.reload_button, "refresh")):
            button.setIcon(icon(name))

    def reload(self) -> None:
        """Re-read the library and every paired device's apps."""
        library = self.app_library()
        self._tasks.run_in_background(lambda _ctx: library.list(), on_success=self._on_library,
                                      on_failure=lambda e: self.library_status.setText(f"Could not read the library: {e}"))
        self.reload_devices()

    def reload_devices(self) -> None:
        service = self._context.appliances
        paired = service.paired_entries()
        if not paired:
            self.device_model.set_rows([])
            self._device_rows = []
            self.device_status.setText("Pair a device on the Devices page to see its applications here.")
            self._update_buttons()
            return
        self.device_status.setText("Loading…")

        def fetch(_ctx) -> tuple[list[tuple[str, str, Any]], list[str]]:
            rows, problems = [], []
            for entry in paired:
                try:
                    with service.connect(entry.device_id) as client:
                        rows += [(entry.device_id, entry.name, app) for app in client.list_apps()]
                except Exception as exc:  # one unreachable device must not hide the others
                    problems.append(f"{entry.name}: {exc}")
            return rows, problems

        self._tasks.run_in_background(fetch, on_success=self._on_device_apps,
                                      on_failure=lambda e: self.device_status.setText(str(e)))

    def _on_library(self, apps: list[Any]) -> None:
        self._library_rows = apps
        self.library_model.set_rows([[a.name, a.app_id, a.latest, ", ".join(a.versions), a.model_id] for a in apps])
        self.library_status.setText("" if apps else "No apps yet: New app… builds one.")
        self.library_view.resizeColumnsToContents()
        self._update_buttons()

    def _on_device_apps(self, result: tuple[list[tuple[str, str, Any]], list[str]]) -> None:
        rows, problems = result
        self._device_rows = [(device_id, app) for device_id, _, app in rows]
        self.device_model.set_rows([[name, app.name or app.app_id, app.version, app.state, ", ".join(app.versions),
                                     app.error, code_nodes_text(app)] for _, name, app in rows])
        text = self._note if rows else "No applications installed on the paired devices yet."
        self._note = ""
        if problems:
            text = "Not reachable: " + "; ".join(problems)
        self.device_status.setText(text)
        self.device_view.resizeColumnsToContents()
        self._update_buttons()

    def _on_devices_changed(self, entries: list) -> None:
        # Adverts and reachability checks change the list often; only a new set of paired devices matters here.
        paired = sorted(e.device_id for e in entries if e.paired)
        if paired != self._paired_ids:
            self._paired_ids = paired
            if self.isVisible():
                self.reload_devices()

    # ------------------------------------------------------------ selection

    def selected_app(self) -> Any:
        rows = self.library_view.selectionModel().selectedRows()
        return self._library_rows[rows[0].row()] if rows else None

    def selected_device_app(self) -> tuple[str, Any] | None:
        rows = self.device_view.selectionModel().selectedRows()
        return self._device_rows[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        app = self.selected_app()
        self.edit_button.setEnabled(app is not None)
        self.deploy_button.setEnabled(app is not None)
        device_app = self.selected_device_app()
        self.rollback_button.setEnabled(device_app is not None and len(device_app[1].versions) > 1)
        self.start_button.setEnabled(device_app is not None and device_app[1].state != "running")
        self.stop_button.setEnabled(device_app is not None and device_app[1].state == "running")
        self.params_button.setEnabled(device_app is not None and device_app[1].kind == "panorama")

    # ------------------------------------------------------------ actions

    def new_app(self) -> None:
        self._open_builder(None)

    def edit_app(self) -> None:
        app = self.selected_app()
        if app is not None:
            self._open_builder(app.app_id)

    def drafts(self) -> DraftStore | None:
        """Where the builder keeps drafts (the console's data folder), if it has one."""
        data_dir = getattr(self._context, "data_dir", None)
        return DraftStore(data_dir) if data_dir is not None else None

    def _open_builder(self, app_id: str | None) -> None:
        library, drafts = self.app_library(), self.drafts()
        key = app_id or NEW_APP

        def load(_ctx):
            cameras, models = self._options()
            version = library.get(app_id) if app_id else None
            draft = drafts.load(key) if drafts is not None else None
            return cameras, models, version, draft

        self._tasks.run_in_background(load, on_success=lambda loaded: self._show_builder(key, loaded),
                                      progress="Opening the app builder")

    def _show_builder(self, key: str, loaded) -> None:
        cameras, models, version, draft = loaded
        builder = None
        if draft is not None:
            try:
                builder = builder_from_draft(draft, cameras, models)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("the app draft %s does not fit this console: %s", key, exc)
        reopened = builder is not None
        if builder is None:
            builder = (AppBuilder(cameras, models) if version is None
                       else AppBuilder.from_version(version.manifest, version.model_id, cameras, models))
        library = self.app_library()
        snapshot = SnapshotSource(self._context.appliances, self._camera_credentials())
        appliances = self._context.appliances
        wizard = AppBuilderWizard(builder, self._tasks, lambda manifest, model_id: library.save_version(manifest, model_id),
                                  snapshot, self, drafts=self.drafts(), draft_key=key, reopened_draft=reopened,
                                  credentials=self._context.credentials,
                                  test_output=lambda entry, secrets: send_test_event(appliances, entry, secrets))
        wizard.accepted.connect(self.reload)
        self._show_dialog(wizard)

    def deploy_app(self) -> None:
        app = self.selected_app()
        if app is None:
            return
        library = self.app_library()
        version = app.latest
        devices = self._context.appliances.paired_entries()
        dialog = DeployDialog(f"{app.name} {version}", lambda: library.deploy_package(app.app_id, version), self.deployer,
                              devices, self._tasks, self,
                              preselected=[d.device_id for d in devices] if len(devices) == 1 else ())
        dialog.finished_deploy.connect(lambda _results: self.reload_devices())
        self._show_dialog(dialog)

    def import_panorama_app(self) -> None:
        """Open the Panorama import dialog once the registered cameras are loaded."""
        self._tasks.run_in_background(lambda _ctx: self._options()[0], on_success=self._show_panorama_import,
                                      progress="Loading the registered cameras")

    def _show_panorama_import(self, cameras: list[CameraOption]) -> None:
        dialog = PanoramaImportDialog(cameras, self._tasks, self._deploy_package, self._camera_credentials(), self,
                                      wheel_context=self._wheel_context)
        self.panorama_dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(self, "panorama_dialog", None))
        self._show_dialog(dialog)

    def _wheel_context(self) -> tuple[list[WheelTarget | None], PythonPackagesSettings]:
        """The paired devices' Pythons and the settings' wheel sources (worker thread: device calls)."""
        service = self._context.appliances
        targets: list[WheelTarget | None] = []
        for entry in service.paired_entries():
            try:
                with service.connect(entry.device_id) as client:
                    targets.append(WheelTarget.from_device_info(client.info()))
            except Exception as exc:  # noqa: BLE001 - an offline device gets no wheels; it names what it lacks at deploy
                log.warning("cannot ask %s for its Python, so no wheels are gathered for it: %s", entry.name, exc)
        settings = load_settings(Path(self._context.settings_path or default_settings_path()))
        return targets, settings.python_packages

    def _deploy_package(self, title: str, package: bytes) -> None:
        devices = self._context.appliances.paired_entries()
        dialog = DeployDialog(title, lambda: package, self.deployer, devices, self._tasks, self,
                              preselected=[d.device_id for d in devices] if len(devices) == 1 else ())
        dialog.finished_deploy.connect(lambda _results: self.reload_devices())
        self._show_dialog(dialog)

    def _show_dialog(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: setattr(self, "dialog", None))
        dialog.open()  # window-modal, non-blocking: the GUI thread keeps running

    def tune_code_app(self) -> None:
        """Open the parameter form of the selected code app on its device."""
        selected = self.selected_device_app()
        if selected is None:
            return
        device_id, app = selected
        service = self._context.appliances

        def send(params: dict) -> Any:
            with service.connect(device_id) as client:
                return client.set_params(app.app_id, json.dumps(params))

        def pause(camera: str, paused: bool) -> Any:
            with service.connect(device_id) as client:
                return client.set_camera_paused(app.app_id, camera, paused)

        params = json.loads(app.params_json) if app.params_json else {}
        self._show_dialog(CodeAppParamsDialog(app.name or app.app_id, params, send, self._tasks, self,
                                              cameras=list(app.camera_ids), pause=pause))

    def _device_action(self, action: str) -> None:
        """Roll back, start or stop the selected app on its device (one click; no confirmation)."""
        selected = self.selected_device_app()
        if selected is None:
            return
        device_id, app = selected
        service = self._context.appliances
        verbs = {"rollback": "Rolling back", "start": "Starting", "stop": "Stopping"}

        def work(_ctx):
            with service.connect(device_id) as client:
                call = {"rollback": client.rollback_app, "start": client.start_app, "stop": client.stop_app}[action]
                return call(app.app_id)

        def done(status) -> None:
            self._note = f"{status.app_id} on {service.entry(device_id).name} is now {status.version} ({status.state})."
            self.reload_devices()

        self._tasks.run_in_background(work, on_success=done, progress=f"{verbs[action]} {app.name or app.app_id}")
