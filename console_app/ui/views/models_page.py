"""The Models page: the console's model library, and what a paired device holds.

Library tab: every stored model version with its tensors, opset, size, decoder,
labels and source; import from a file, S3 or a SageMaker job (in the
background, with progress and Cancel), override the decoder, attach a labels
file, test on a snapshot, remove (refused while deployed apps use it, unless
the engineer confirms). "On a device" tab: the models a paired device has.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.model_inspection import DECODER_FAMILIES
from console_app.core.services.model_library import (
    AmbiguousArchive,
    LibraryModel,
    ModelInUse,
    ModelLibrary,
    device_usage_lookup,
)
from console_app.core.settings import SettingsError, default_settings_path, load_settings
from console_app.ui.context import ConsoleContext
from console_app.ui.dialogs.model_import_dialog import ModelImportDialog
from console_app.ui.dialogs.model_test_dialog import ModelTestDialog
from console_app.ui.icons import icon
from console_app.ui.models.rows_model import RowsTableModel
from console_app.ui.tasks import TaskContext, TaskRunner
from console_app.ui.views.device_pages import DeviceTablePage, human_size
from console_app.ui.widgets.tables import record_table

COLUMNS = ("Name", "Version", "Decoder", "Inputs", "Outputs", "Opset", "Size", "Labels", "Source",
           "Imported")
AUTOMATIC = "automatic (detected)"


class DeviceModelsView(DeviceTablePage):
    """The models one paired device holds, and which of its apps use them."""

    title, icon_name = "On a device", "models"
    columns = ("Model", "Decoder", "Size", "Labels", "Used by", "SHA-256")
    empty_text = "No models on this device yet."

    def fetch_rows(self, client) -> list[list[object]]:
        return [[m.name, m.decoder, human_size(m.size), _short_labels(m.labels), ", ".join(m.used_by),
                 m.sha256[:16]] for m in client.list_models()]


def _short_labels(labels) -> str:
    labels = list(labels)
    return ", ".join(labels[:8]) + ("…" if len(labels) > 8 else "")


def model_row(model: LibraryModel) -> list[str]:
    decoder = model.decoder + (" (set)" if model.decoder_overridden else "")
    imported = model.imported_at.astimezone().strftime("%Y-%m-%d %H:%M")
    return [model.name if model.available else f"{model.name} (file not on this workstation)",
            str(model.version), decoder, "; ".join(t.describe() for t in model.inputs),
            "; ".join(t.describe() for t in model.outputs), str(model.opset or "?"),
            human_size(model.size), _short_labels(model.labels) or "—", model.source, imported]


class ModelsPage(QWidget):
    """The model library (first tab) and a paired device's models (second tab)."""

    title, icon_name = "Models", "models"

    def __init__(self, context: ConsoleContext, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks = context, tasks
        self._library: ModelLibrary | None = None
        self._library_lock = threading.Lock()
        self.models: list[LibraryModel] = []
        #: The latest dialog or message box this page opened (tests drive them).
        self.active_dialog: QWidget | None = None
        self.test_dialog: ModelTestDialog | None = None

        self.model = RowsTableModel(COLUMNS, parent=self)
        self.table = record_table(self.model, "Model library", single_selection=True)
        self.table.doubleClicked.connect(lambda _index: self.open_test_dialog())
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.import_file_action = self._action("&Import file…", "add", "Ctrl+O", self.choose_file,
                                               "Import an .onnx file (or a model.tar.gz)")
        self.import_s3_action = self._action("Import from &S3…", "add", "Ctrl+Shift+S",
                                             lambda: self.open_import_dialog("s3"),
                                             "Import s3://bucket/…/model.onnx or model.tar.gz")
        self.import_sagemaker_action = self._action(
            "Import from Sage&Maker…", "add", "Ctrl+Shift+M", lambda: self.open_import_dialog("sagemaker"),
            "Import the model.tar.gz a SageMaker training job produced")
        self.decoder_action = self._action("Set &decoder…", "settings", "Ctrl+D", self.choose_decoder,
                                           "Override how the model's outputs are read")
        self.labels_action = self._action("Attach &labels…", "add", "Ctrl+L", self.choose_labels_file,
                                          "Name the classes from a text file (one name per line)")
        self.test_action = self._action("&Test on snapshot…", "play", "Ctrl+T", self.open_test_dialog,
                                        "Run the model on a snapshot here and draw its boxes")
        self.remove_action = self._action("&Remove", "remove", QKeySequence.StandardKey.Delete,
                                          lambda: self.remove_selected(), "Remove this model version")
        self.reload_action = self._action("Re&load", "refresh", QKeySequence.StandardKey.Refresh,
                                          self.reload, "Read the library again")

        library_tab = QWidget()
        library_layout = QVBoxLayout(library_tab)
        actions = self.actions_for_menu()
        # Two rows (getting models in; working on the selected one) keep the page narrow.
        for row in (actions[:3] + actions[-1:], actions[3:-1]):
            toolbar = QHBoxLayout()
            for action in row:
                button = QToolButton()
                button.setDefaultAction(action)
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
                toolbar.addWidget(button)
            toolbar.addStretch(1)
            library_layout.addLayout(toolbar)
        library_layout.addWidget(self.status)
        library_layout.addWidget(self.table, 1)

        self.device_view = DeviceModelsView(context, tasks)
        self.tabs = QTabWidget()
        self.tabs.addTab(library_tab, "&Library")
        self.tabs.addTab(self.device_view, "On a &device")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Models</h2>"))
        layout.addWidget(self.tabs, 1)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self._update_actions()

    def _action(self, text, icon_name, shortcut, slot, tip) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.setStatusTip(tip)
        action.setData(icon_name)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def actions_for_menu(self) -> list[QAction]:
        return [self.import_file_action, self.import_s3_action, self.import_sagemaker_action,
                self.decoder_action, self.labels_action, self.test_action, self.remove_action,
                self.reload_action]

    def refresh_icons(self) -> None:
        for action in self.actions_for_menu():
            action.setIcon(icon(action.data()))
        self.device_view.refresh_icons()

    # ------------------------------------------------------------------ service

    def library(self) -> ModelLibrary:
        """The context's model library, or one built here (and shared through the context)."""
        with self._library_lock:  # first use may come from any worker thread
            if self._context.model_library is not None:
                return self._context.model_library
            if self._library is None:
                inventory = self._context.inventory
                data_dir = Path(self._context.data_dir or ".")
                self._library = ModelLibrary(data_dir, getattr(inventory, "sessions", None))
                self._library.set_usage_lookup(device_usage_lookup(self._context.appliances))
                self._context.model_library = self._library
            return self._library

    def settings_path(self) -> Path:
        return Path(self._context.settings_path or default_settings_path())

    def _cloud_summary(self) -> str:
        try:
            return load_settings(self.settings_path()).cloud.describe()
        except SettingsError as exc:
            return f"the default AWS settings (the settings file has a problem: {exc})"

    def _with_cloud(self, library: ModelLibrary) -> ModelLibrary:
        library.cloud = load_settings(self.settings_path()).cloud  # SettingsError names the problem
        return library

    # ------------------------------------------------------------------ listing

    def on_shown(self) -> None:
        if self.tabs.currentWidget() is self.device_view:
            self.device_view.reload()
        self.reload()

    def _on_tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.device_view:
            self.device_view.reload()

    def reload(self, select_id: str | None = None) -> None:
        """Read the library in the background and refill the table."""
        self._tasks.run_in_background(lambda ctx: self.library().list(),
                                      on_success=lambda models: self._on_models(models, select_id),
                                      on_failure=self._on_failed)

    def _on_models(self, models: list[LibraryModel], select_id: str | None = None) -> None:
        current = select_id or (self.selected_model().id if self.selected_model() else None)
        self.models = list(models)
        self.model.set_rows([model_row(m) for m in self.models])
        self.table.resizeColumnsToContents()
        ids = [m.id for m in self.models]
        if current in ids:
            self.table.selectRow(ids.index(current))
        if not models and not self.status.text():
            self._show_status("The library is empty: import an .onnx file, an S3 object or a "
                              "SageMaker job's output.")
        self._update_actions()

    def selected_model(self) -> LibraryModel | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.models):
            return None
        return self.models[rows[0].row()]

    def _update_actions(self) -> None:
        chosen = self.selected_model() is not None
        for action in (self.decoder_action, self.labels_action, self.test_action, self.remove_action):
            action.setEnabled(chosen)

    def _show_status(self, text: str) -> None:
        self.status.setText(text)

    def _on_failed(self, error: BaseException) -> None:
        self._show_status(f"⚠ {error}")

    # ------------------------------------------------------------------ importing

    def choose_file(self) -> QFileDialog:
        dialog = QFileDialog(self, "Import a model", "", "ONNX models (*.onnx *.tar.gz *.tgz);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(lambda path: self.start_import("file", path))
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def open_import_dialog(self, kind: str, previous: dict | None = None,
                           candidates: tuple[str, ...] = (), message: str = "") -> ModelImportDialog:
        dialog = ModelImportDialog(kind, self._cloud_summary(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if previous:
            dialog.source_edit.setText(previous.get("source") or "")
            dialog.name_edit.setText(previous.get("name") or "")
        if candidates:
            dialog.set_candidates(candidates, message)
        dialog.accepted.connect(lambda: self.start_import(kind, **dialog.values()))
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def start_import(self, kind: str, source: str, name: str | None = None, member: str | None = None):
        """Import from ``kind`` ("file", "s3", "sagemaker") in the background, with progress and Cancel."""
        known = {m.sha256: m.id for m in self.models}
        shown = Path(source).name if kind == "file" else source
        self._show_status(f"Importing {shown}…")

        def work(ctx: TaskContext) -> LibraryModel:
            library = self.library()
            options = {"name": name, "progress": ctx.report, "cancel": ctx.cancelled}
            if kind == "file":
                return library.import_file(source, **options)
            self._with_cloud(library)
            if kind == "s3":
                return library.import_s3(source, member=member, **options)
            return library.import_sagemaker(source, member=member, **options)

        def done(model: LibraryModel) -> None:
            if model.sha256 in known:
                self._show_status(f"{shown} is already in the library as {known[model.sha256]}.")
            else:
                self._show_status(f"Imported {model.id}: decoder {model.decoder}, "
                                  f"{len(model.labels)} label(s), {human_size(model.size)}.")
            self.reload(select_id=model.id)

        def failed(error: BaseException) -> None:
            if isinstance(error, AmbiguousArchive) and kind != "file":
                self._show_status(f"⚠ {error}")
                self.open_import_dialog(kind, {"source": source, "name": name}, error.candidates, str(error))
                return
            self._on_failed(error)
            self._tasks.show_error(f"Importing {shown}", error)

        return self._tasks.run_in_background(work, on_success=done, on_failure=failed,
                                             progress=f"Importing {shown}", cancellable=True)

    # ------------------------------------------------------------------ editing

    def choose_decoder(self) -> QInputDialog | None:
        model = self.selected_model()
        if model is None:
            return None
        dialog = QInputDialog(self)
        dialog.setWindowTitle(f"Decoder of {model.id}")
        dialog.setLabelText(f"How to read the outputs of {model.id} (detected: "
                            f"{model.detected_decoder or 'none'}):")
        dialog.setComboBoxItems([AUTOMATIC, *DECODER_FAMILIES])
        dialog.setTextValue(model.decoder if model.decoder_overridden else AUTOMATIC)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda text: self.set_decoder(model.id, None if text == AUTOMATIC else text))
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def set_decoder(self, model_id: str, decoder: str | None) -> None:
        """Check the decoder with a real load (background) and store it."""
        self._edit(lambda library: library.set_decoder(model_id, decoder),
                   f"Setting the decoder of {model_id}", lambda m: f"{m.id} now uses decoder {m.decoder}.")

    def choose_labels_file(self) -> QFileDialog | None:
        model = self.selected_model()
        if model is None:
            return None
        dialog = QFileDialog(self, f"Labels for {model.id}", "", "Labels (*.labels *.txt *.names);;All files (*)")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(lambda path: self.attach_labels(model.id, path))
        dialog.open()
        self.active_dialog = dialog
        return dialog

    def attach_labels(self, model_id: str, path: str) -> None:
        self._edit(lambda library: library.attach_labels(model_id, path),
                   f"Attaching labels to {model_id}", lambda m: f"{m.id}: {len(m.labels)} class names attached.")

    def _edit(self, change, label: str, message) -> None:
        def done(model: LibraryModel) -> None:
            self._show_status(message(model))
            self.reload(select_id=model.id)

        def failed(error: BaseException) -> None:
            self._on_failed(error)
            self._tasks.show_error(label, error)

        self._tasks.run_in_background(lambda ctx: change(self.library()), on_success=done,
                                      on_failure=failed, progress=label)

    # ------------------------------------------------------------------ removing

    def remove_selected(self, force: bool = False) -> None:
        """Remove the selected version; asks first when deployed apps use it (or that is unknown)."""
        model = self.selected_model()
        if model is None:
            return

        def failed(error: BaseException) -> None:
            if isinstance(error, ModelInUse):
                self._confirm_forced_removal(model, error)
                return
            self._on_failed(error)
            self._tasks.show_error(f"Removing {model.id}", error)

        def done(removed: LibraryModel) -> None:
            self._show_status(f"Removed {removed.id}.")
            self.reload()

        self._tasks.run_in_background(lambda ctx: self.library().remove(model.id, force=force),
                                      on_success=done, on_failure=failed, progress=f"Removing {model.id}")

    def _confirm_forced_removal(self, model: LibraryModel, error: ModelInUse) -> None:
        self._show_status(f"⚠ {error}")
        box = QMessageBox(QMessageBox.Icon.Warning, "Model in use", f"{model.id} was not removed",
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(str(error))
        anyway = box.addButton("Remove &anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._forced(model) if button is anyway else None)
        box.open()
        self.active_dialog = box

    def _forced(self, model: LibraryModel) -> None:
        ids = [m.id for m in self.models]
        if model.id in ids:
            self.table.selectRow(ids.index(model.id))
            self.remove_selected(force=True)

    # ------------------------------------------------------------------ testing

    def open_test_dialog(self) -> ModelTestDialog | None:
        model = self.selected_model()
        if model is None:
            return None
        dialog = ModelTestDialog(model, self._tasks, self._context, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.test_dialog = dialog
        self.active_dialog = dialog
        return dialog
