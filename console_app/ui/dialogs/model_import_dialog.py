"""Asking where to import a model from: an S3 URI, or a SageMaker training job."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)


class ModelImportDialog(QDialog):
    """The source (``kind`` "s3" or "sagemaker"), an optional library name, and which model inside.

    ``cloud_summary`` says which profile, region and endpoint will be used (set
    in Settings → Cloud). When an archive turned out to hold several models,
    :meth:`set_candidates` shows them to choose from. Opened with ``open()``:
    the GUI thread never blocks; ``accepted`` fires with :meth:`values` ready.
    """

    def __init__(self, kind: str, cloud_summary: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        sagemaker = kind == "sagemaker"
        self.setWindowTitle("Import from SageMaker" if sagemaker else "Import from S3")
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText(
            "training job name, its ARN, or s3://…/model.tar.gz" if sagemaker
            else "s3://bucket/path/model.onnx or s3://bucket/path/model.tar.gz")
        self.source_edit.setAccessibleName("Training job" if sagemaker else "S3 URI")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("from the file or job name")
        self.name_edit.setAccessibleName("Library name")
        self.member_combo = QComboBox()
        self.member_combo.setAccessibleName("Model inside the archive")
        self.member_label = QLabel("&Model in the archive:")
        self.member_label.setBuddy(self.member_combo)
        self.member_label.setVisible(False)
        self.member_combo.setVisible(False)
        self._choosing_member = False  # the dialog is hidden once accepted: keep our own flag
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)

        form = QFormLayout()
        source_label = QLabel("Training &job:" if sagemaker else "S3 &URI:")
        source_label.setBuddy(self.source_edit)
        form.addRow(source_label, self.source_edit)
        name_label = QLabel("Library &name:")
        name_label.setBuddy(self.name_edit)
        form.addRow(name_label, self.name_edit)
        form.addRow(self.member_label, self.member_combo)
        where = QLabel(f"Using {cloud_summary}. Change it in Settings → Cloud.")
        where.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Import")
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(where)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())

    def set_candidates(self, candidates: tuple[str, ...] | list[str], message: str = "") -> None:
        """Show the archive's models to choose from (after an ambiguous import)."""
        self.member_combo.clear()
        self.member_combo.addItems(list(candidates))
        self.member_label.setVisible(True)
        self.member_combo.setVisible(True)
        self._choosing_member = True
        self.show_problem(message or "The archive holds several models: choose one.")

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def values(self) -> dict[str, str | None]:
        """``source``, ``name`` (None: automatic) and ``member`` (None: the only one)."""
        return {
            "source": self.source_edit.text().strip(),
            "name": self.name_edit.text().strip() or None,
            "member": self.member_combo.currentText() if self._choosing_member else None,
        }

    def _on_ok(self) -> None:
        if not self.source_edit.text().strip():
            self.show_problem("Enter an S3 URI." if self.kind == "s3" else "Enter a training job name.")
            self.source_edit.setFocus()
            return
        self.accept()
