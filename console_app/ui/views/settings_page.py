"""Settings: where this console keeps things, what it browses on, and the Cloud section.

The inventory and discovery settings are shown read-only (flags and the
environment set them). The Cloud section (AWS profile, region, endpoint URL
for a private endpoint or an S3-compatible store) is edited here and saved to
the settings file; the model library reads it for every S3/SageMaker import.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.settings import (
    CloudSettings,
    default_settings_path,
    load_settings,
    save_settings,
)
from console_app.ui import theme
from console_app.ui.context import ConsoleContext
from console_app.ui.widgets.elided_label import ElidedLabel


class SettingsPage(QWidget):
    """The effective settings, and the editable Cloud section."""

    title, icon_name = "Settings", "settings"

    def __init__(self, context: ConsoleContext, tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self._tasks = tasks
        self.form = QFormLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Settings</h2>"))
        layout.addLayout(self.form)
        note = QLabel("Change these with the command-line flags <code>--database</code> and "
                      "<code>--interfaces</code>, or the environment variable SIGHTLINE_DATABASE_URL.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self._cloud_section())
        layout.addStretch(1)
        self.on_shown()

    def _cloud_section(self) -> QGroupBox:
        box = QGroupBox("Cloud (model imports from S3 and SageMaker)")
        fields = CloudSettings.model_fields
        self.profile_edit = QLineEdit()
        self.region_edit = QLineEdit()
        self.endpoint_edit = QLineEdit()
        form = QFormLayout()
        for edit, key, label in ((self.profile_edit, "profile", "AWS &profile:"),
                                 (self.region_edit, "region", "&Region:"),
                                 (self.endpoint_edit, "endpoint_url", "&Endpoint URL:")):
            edit.setToolTip(fields[key].description)
            edit.setAccessibleName(fields[key].title)
            caption = QLabel(label)
            caption.setBuddy(edit)
            form.addRow(caption, edit)
            edit.returnPressed.connect(self.save_cloud)
        self.profile_edit.setPlaceholderText("default credential chain")
        self.region_edit.setPlaceholderText("the profile's region, e.g. eu-west-1")
        self.endpoint_edit.setPlaceholderText("AWS; or e.g. http://minio.plant.local:9000")
        self.save_cloud_button = QPushButton("&Save cloud settings")
        self.save_cloud_button.clicked.connect(self.save_cloud)
        self.save_action = QAction("Save cloud settings", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.save_action.triggered.connect(self.save_cloud)
        self.addAction(self.save_action)
        self.cloud_status = QLabel()
        self.cloud_status.setWordWrap(True)
        note = QLabel("Keys are never stored here: boto3 takes them from the profile, the "
                      "environment or an instance role. Without a network, only S3 and SageMaker "
                      "imports fail, and they say so.")
        note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_cloud_button)
        buttons.addWidget(self.cloud_status, 1)
        layout = QVBoxLayout(box)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(note)
        return box

    def settings_path(self) -> Path:
        return Path(self._context.settings_path or default_settings_path())

    def on_shown(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        c = self._context
        rows = {
            "Inventory database:": c.database_display or c.database_url or "not configured",
            "Discovery interfaces:": ", ".join(c.interfaces) if c.interfaces else "every IPv4 interface",
            "Data folder:": str(c.data_dir) if c.data_dir else "—",
            "Appearance:": "dark (follows the system)" if theme.is_dark() else "light (follows the system)",
        }
        for label, value in rows.items():
            # Elided, never wider than the window leaves (a demo's database URL is a long path);
            # the whole value is in the tooltip.
            self.form.addRow(label, ElidedLabel(value))
        self.load_cloud()

    # ------------------------------------------------------------------ cloud

    def load_cloud(self) -> None:
        """Read the Cloud section from the settings file (in the background)."""
        path = self.settings_path()
        self._tasks.run_in_background(lambda ctx: load_settings(path).cloud,
                                      on_success=self._show_cloud, on_failure=self._on_cloud_failed)

    def _show_cloud(self, cloud: CloudSettings) -> None:
        self.profile_edit.setText(cloud.profile or "")
        self.region_edit.setText(cloud.region or "")
        self.endpoint_edit.setText(cloud.endpoint_url or "")

    def cloud_from_fields(self) -> CloudSettings:
        """The fields as :class:`CloudSettings`; raises ValidationError naming a wrong field."""
        return CloudSettings(profile=self.profile_edit.text(), region=self.region_edit.text(),
                             endpoint_url=self.endpoint_edit.text())

    def save_cloud(self) -> None:
        """Check the fields, then write them into the settings file (other settings kept)."""
        try:
            cloud = self.cloud_from_fields()
        except ValidationError as exc:
            self._on_cloud_failed(ValueError("; ".join(err["msg"].removeprefix("Value error, ")
                                                       for err in exc.errors())))
            return
        path = self.settings_path()

        def save(ctx) -> CloudSettings:
            settings = load_settings(path)
            save_settings(settings.model_copy(update={"cloud": cloud}), path)
            return cloud

        self._tasks.run_in_background(save, on_success=self._on_cloud_saved,
                                      on_failure=self._on_cloud_failed, progress="Saving settings")

    def _on_cloud_saved(self, cloud: CloudSettings) -> None:
        self.cloud_status.setStyleSheet("")
        self.cloud_status.setText(f"Saved: imports use {cloud.describe()}.")

    def _on_cloud_failed(self, error: BaseException) -> None:
        self.cloud_status.setStyleSheet(f"color: {theme.danger_color().name()};")
        self.cloud_status.setText(f"⚠ {error}")
