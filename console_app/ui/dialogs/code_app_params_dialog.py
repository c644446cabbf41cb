"""Tune a running code (Panorama) app's parameters: one field per parameter node, sent live.

The values are sent in the background with ``SetParams``; the device checks
them against the graph (type, constraint) and the dialog shows its answer.
A refused value leaves the dialog open with what was typed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.ui.tasks import TaskRunner


def parse_value(text: str, current: Any) -> Any:
    """The typed text as the current value's type (true/false, a number, else the text)."""
    text = text.strip()
    if isinstance(current, bool):
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text
    if isinstance(current, (int, float)):
        try:
            return int(text) if isinstance(current, int) and text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text
    return text


class CodeAppParamsDialog(QDialog):
    """``send(params) -> AppStatus`` runs in the background (it calls the device)."""

    def __init__(self, app_name: str, params: dict[str, Any], send: Callable[[dict[str, Any]], Any],
                 tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Parameters of {app_name}")
        self._params, self._send, self._tasks = dict(params), send, tasks
        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name, value in self._params.items():
            edit = QLineEdit(str(value).lower() if isinstance(value, bool) else str(value))
            self.edits[name] = edit
            form.addRow(name, edit)
        self.status = QLabel("" if params else "This app has no parameters.")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton("&Apply")
        self.apply_button.setEnabled(bool(params))
        self.apply_button.clicked.connect(self.apply)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def values(self) -> dict[str, Any]:
        return {name: parse_value(edit.text(), self._params[name]) for name, edit in self.edits.items()}

    def apply(self) -> None:
        """Send the values; the device's answer (or refusal) shows under the form."""
        values = self.values()
        self.apply_button.setEnabled(False)
        self.status.setText("Sending…")

        def done(status: Any) -> None:
            self.apply_button.setEnabled(True)
            self._params = json.loads(status.params_json) or self._params
            self.status.setText("Applied: the app uses the new values from its next get().")

        def failed(exc: BaseException) -> None:
            self.apply_button.setEnabled(True)
            self.status.setText(f"Not applied: {exc}")

        self._tasks.run_in_background(lambda _ctx: self._send(values), on_success=done, on_failure=failed)
