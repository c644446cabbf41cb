"""Settings: where this console keeps things and what it browses on (read-only for now)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from console_app.ui import theme
from console_app.ui.context import ConsoleContext


class SettingsPage(QWidget):
    """Shows the effective settings; they are set by flags and environment today."""

    title, icon_name = "Settings", "settings"

    def __init__(self, context: ConsoleContext, tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self.form = QFormLayout()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Settings</h2>"))
        layout.addLayout(self.form)
        note = QLabel("Change these with the command-line flags <code>--database</code> and "
                      "<code>--interfaces</code>, or the environment variable SIGHTLINE_DATABASE_URL.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        self.on_shown()

    def on_shown(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        c = self._context
        rows = {
            "Inventory database:": c.extras.get("database_display") or c.database_url or "not configured",
            "Discovery interfaces:": ", ".join(c.interfaces) if c.interfaces else "every IPv4 interface",
            "Data folder:": str(c.data_dir) if c.data_dir else "—",
            "Appearance:": "dark (follows the system)" if theme.is_dark() else "light (follows the system)",
        }
        for label, value in rows.items():
            text = QLabel(value)
            text.setTextInteractionFlags(text.textInteractionFlags() | text.textInteractionFlags().TextSelectableByMouse)
            self.form.addRow(label, text)
