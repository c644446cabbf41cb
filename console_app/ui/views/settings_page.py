"""Settings: where this console keeps things, what it browses on, and the editable sections.

The inventory and discovery settings are shown read-only (flags and the
environment set them). Two sections are edited here and saved together to the
settings file (other settings kept): Cloud (AWS profile, region, endpoint URL
for a private endpoint or an S3-compatible store), which the model library
reads for every S3/SageMaker import, and Python packages for Panorama apps
(wheelhouse folder, index URL, the Python that runs pip), which a Panorama
app's deploy reads to gather its wheels.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
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
    ConsoleSettings,
    PythonPackagesSettings,
    default_settings_path,
    load_settings,
    save_settings,
)
from console_app.ui import theme
from console_app.ui.context import ConsoleContext
from console_app.ui.widgets.elided_label import ElidedLabel


class SettingsPage(QWidget):
    """The effective settings, and the editable Cloud and Python packages sections."""

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
        layout.addWidget(self._packages_section())
        self.save_button = QPushButton("&Save settings")
        self.save_button.clicked.connect(self.save)
        self.save_action = QAction("Save settings", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.save_action.triggered.connect(self.save)
        self.addAction(self.save_action)
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.status, 1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.on_shown()

    def _section(self, title: str, model: type[BaseModel], rows: tuple[tuple[str, str, str], ...],
                 trailing: dict[str, QWidget] | None = None) -> tuple[QGroupBox, dict[str, QLineEdit]]:
        """A group of line edits for ``model``'s fields, (field, label, placeholder) per row, with an
        optional widget after a field's edit; the field's description is the tooltip, its title the
        accessible name, and Enter saves."""
        box = QGroupBox(title)
        form = QFormLayout()
        edits: dict[str, QLineEdit] = {}
        for key, label, placeholder in rows:
            edit = edits[key] = QLineEdit()
            edit.setToolTip(model.model_fields[key].description)
            edit.setAccessibleName(model.model_fields[key].title)
            edit.setPlaceholderText(placeholder)
            edit.returnPressed.connect(self.save)
            caption = QLabel(label)
            caption.setBuddy(edit)
            if trailing and key in trailing:
                row = QHBoxLayout()
                row.addWidget(edit, 1)
                row.addWidget(trailing[key])
                form.addRow(caption, row)
            else:
                form.addRow(caption, edit)
        QVBoxLayout(box).addLayout(form)
        return box, edits

    def _cloud_section(self) -> QGroupBox:
        box, edits = self._section("Cloud (model imports from S3 and SageMaker)", CloudSettings, (
            ("profile", "AWS &profile:", "default credential chain"),
            ("region", "&Region:", "the profile's region, e.g. eu-west-1"),
            ("endpoint_url", "&Endpoint URL:", "AWS; or e.g. http://minio.plant.local:9000"),
        ))
        self.profile_edit, self.region_edit, self.endpoint_edit = edits.values()
        note = QLabel("Keys are never stored here: boto3 takes them from the profile, the "
                      "environment or an instance role. Without a network, only S3 and SageMaker "
                      "imports fail, and they say so.")
        note.setWordWrap(True)
        box.layout().addWidget(note)
        return box

    def _packages_section(self) -> QGroupBox:
        self.browse_wheelhouse_button = QPushButton("&Browse…")
        self.browse_wheelhouse_button.setToolTip("Choose the wheelhouse folder")
        self.browse_wheelhouse_button.clicked.connect(self._browse_wheelhouse)
        box, edits = self._section("Python packages for Panorama apps", PythonPackagesSettings, (
            ("wheelhouse", "&Wheelhouse folder:", "none: a folder of .whl files, used offline"),
            ("index_url", "Package &index URL:", "none; or e.g. http://pypi.plant.local/simple"),
            ("python", "Python for pi&p:", "the console's own"),
        ), trailing={"wheelhouse": self.browse_wheelhouse_button})
        self.wheelhouse_edit, self.index_url_edit, self.pip_python_edit = edits.values()
        note = QLabel("A Panorama app's Dockerfile <code>pip install</code> lines are met from these when it "
                      "is deployed: the wheels its devices lack travel in the signed package. A site without "
                      "internet fills the wheelhouse with <code>pip download</code> on another machine.")
        note.setWordWrap(True)
        box.layout().addWidget(note)
        return box

    def _browse_wheelhouse(self) -> None:
        dialog = QFileDialog(self, "Wheelhouse folder", self.wheelhouse_edit.text() or str(Path.home()))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.wheelhouse_edit.setText)
        dialog.open()

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
        self.load()

    # ------------------------------------------------------------------ editable sections

    def load(self) -> None:
        """Read the editable sections from the settings file (in the background)."""
        path = self.settings_path()
        self._tasks.run_in_background(lambda ctx: load_settings(path), on_success=self._show,
                                      on_failure=self._on_failed)

    def _show(self, settings: ConsoleSettings) -> None:
        cloud, packages = settings.cloud, settings.python_packages
        for edit, value in ((self.profile_edit, cloud.profile), (self.region_edit, cloud.region),
                            (self.endpoint_edit, cloud.endpoint_url), (self.wheelhouse_edit, packages.wheelhouse),
                            (self.index_url_edit, packages.index_url), (self.pip_python_edit, packages.python)):
            edit.setText(value or "")

    def cloud_from_fields(self) -> CloudSettings:
        """The Cloud fields as :class:`CloudSettings`; raises ValidationError naming a wrong field."""
        return CloudSettings(profile=self.profile_edit.text(), region=self.region_edit.text(),
                             endpoint_url=self.endpoint_edit.text())

    def packages_from_fields(self) -> PythonPackagesSettings:
        """The Python packages fields; raises ValidationError naming a wrong field."""
        return PythonPackagesSettings(wheelhouse=self.wheelhouse_edit.text(), index_url=self.index_url_edit.text(),
                                      python=self.pip_python_edit.text())

    def save(self) -> None:
        """Check every field, then write both sections into the settings file (other settings kept);
        a wrong field is named and nothing is written (the typing stays)."""
        try:
            update = {"cloud": self.cloud_from_fields(), "python_packages": self.packages_from_fields()}
        except ValidationError as exc:
            self._on_failed(ValueError("; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())))
            return
        path = self.settings_path()

        def save(ctx) -> tuple[ConsoleSettings, str]:
            settings = load_settings(path).model_copy(update=update)
            save_settings(settings, path)
            wheelhouse = settings.python_packages.wheelhouse
            # Saved all the same: a wheelhouse on a USB stick may be mounted only when it is needed.
            missing = wheelhouse and not Path(wheelhouse).expanduser().is_dir()
            return settings, f" ⚠ The wheelhouse folder {wheelhouse} does not exist now." if missing else ""

        self._tasks.run_in_background(save, on_success=self._on_saved, on_failure=self._on_failed,
                                      progress="Saving settings")

    def _on_saved(self, saved: tuple[ConsoleSettings, str]) -> None:
        settings, warning = saved
        packages = settings.python_packages
        wheels = " and ".join(x for x in (packages.wheelhouse and f"wheelhouse {packages.wheelhouse}",
                                          packages.index_url and f"index {packages.index_url}") if x)
        self.status.setStyleSheet("")
        self.status.setText(f"Saved: imports use {settings.cloud.describe()}; Panorama apps' wheels come from "
                            f"{wheels or 'nowhere yet (apps without pip requirements still deploy)'}.{warning}")

    def _on_failed(self, error: BaseException) -> None:
        self.status.setStyleSheet(f"color: {theme.danger_color().name()};")
        self.status.setText(f"⚠ {error}")
