"""Export site… / Import site… : the inventory as one file, for preparing a laptop in the office."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.site_transfer import (
    SITE_SUFFIX,
    SiteSummary,
    export_site,
    import_site,
)
from console_app.ui.tasks import BackgroundTask, TaskRunner


def describe(summary: SiteSummary, verb: str) -> str:
    lines = [f"{verb} {summary.devices} device(s), {summary.cameras} camera(s), {summary.models} model(s), "
             f"{summary.app_versions} app version(s)."]
    lines += [f"Skipped: {s}" for s in summary.skipped] + summary.notes
    return "\n".join(lines)


class SiteDialog(QDialog):
    """``export=True``: write the site file; else read one. The passphrase protects passwords and pairings."""

    def __init__(self, context: Any, tasks: TaskRunner, *, export: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._tasks, self.export = context, tasks, export
        self.setWindowTitle("Export site" if export else "Import site")
        self.summary: SiteSummary | None = None
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText(f"plant{SITE_SUFFIX}")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_path)
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        # Children of the dialog even when only exporting shows them, so nothing outlives it.
        self.passphrase_again_edit = QLineEdit(self)
        self.passphrase_again_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.models_check = QCheckBox("Include the model files", self)
        self.models_check.setChecked(True)
        self.passphrase_again_edit.setVisible(export)
        self.models_check.setVisible(export)
        self.status = QLabel(
            "With a passphrase, camera passwords and this console's pairings travel too (encrypted); "
            "without one, cameras go without passwords and devices unpaired.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("File:", row)
        form.addRow("Passphrase:", self.passphrase_edit)
        if export:
            form.addRow("Passphrase again:", self.passphrase_again_edit)
            form.addRow("", self.models_check)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.go_button = self.buttons.addButton("&Export" if export else "&Import",
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def choose_path(self) -> QFileDialog:
        dialog = QFileDialog(self, self.windowTitle(), "", f"Sightline site files (*{SITE_SUFFIX})")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if self.export:
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.path_edit.setText)
        dialog.open()
        return dialog

    def start(self) -> BackgroundTask | None:
        inventory = self._context.inventory
        text = self.path_edit.text().strip()
        if inventory is None:
            self.status.setText("No inventory is open; open one in Settings first.")
            return None
        if not text:
            self.status.setText("Choose the file first.")
            return None
        if self.export and self.passphrase_edit.text() != self.passphrase_again_edit.text():
            self.status.setText("The two passphrases differ.")
            return None
        path = Path(text)
        if self.export and not path.name.endswith(SITE_SUFFIX):
            path = path.with_name(path.name + SITE_SUFFIX)
        passphrase = self.passphrase_edit.text()
        models, apps = self._context.model_library, self._context.app_library
        include = self.models_check.isChecked()

        def work(_ctx) -> SiteSummary:
            if self.export:
                return export_site(path, inventory, model_library=models, app_library=apps, passphrase=passphrase,
                                   include_models=include)
            summary = import_site(path, inventory, model_library=models, app_library=apps, passphrase=passphrase)
            # The Devices list shows them now, not after a restart: the paired ones from the
            # inventory (their pairings were just written there), the others by address.
            appliances = self._context.appliances
            appliances.load_stored()
            for device_id, name, host, port, paired in summary.device_list:
                if not paired:
                    appliances.remember(device_id, name, host, port)
            return summary

        self.go_button.setEnabled(False)
        return self._tasks.run_in_background(work, on_success=self._on_done, on_failure=self._on_failed,
                                             progress="Exporting the site…" if self.export else "Importing…")

    def _on_done(self, summary: SiteSummary) -> None:
        self.summary = summary
        self.go_button.setEnabled(True)
        self.status.setText(describe(summary, "Exported" if self.export else "Imported"))

    def _on_failed(self, error: BaseException) -> None:
        self.go_button.setEnabled(True)
        self.status.setText(str(error))
