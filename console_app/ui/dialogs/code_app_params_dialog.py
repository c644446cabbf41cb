"""Tune a running code (Panorama) app: its parameters (one field per parameter node) and its cameras.

The values are sent in the background with ``SetParams``; the device checks
them against the graph (type, constraint) and the dialog shows its answer.
A refused value leaves the dialog open with what was typed. Each camera can
be paused and resumed (Panorama's ``onSignal`` cameras start paused).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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
                 tasks: TaskRunner, parent: QWidget | None = None, cameras: Sequence[str] = (),
                 pause: Callable[[str, bool], Any] | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Parameters of {app_name}")
        self._params, self._send, self._tasks = dict(params), send, tasks
        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name, value in self._params.items():
            edit = QLineEdit(str(value).lower() if isinstance(value, bool) else str(value))
            self.edits[name] = edit
            form.addRow(name, edit)
        self._pause = pause
        self.camera_buttons: dict[str, tuple[QPushButton, QPushButton]] = {}
        for camera in cameras if pause is not None else ():
            pause_button, resume_button = QPushButton("Pause"), QPushButton("Resume")
            pause_button.clicked.connect(lambda _=False, c=camera: self.set_paused(c, True))
            resume_button.clicked.connect(lambda _=False, c=camera: self.set_paused(c, False))
            row = QHBoxLayout()
            row.addWidget(pause_button)
            row.addWidget(resume_button)
            row.addStretch(1)
            form.addRow(f"camera {camera}", row)
            self.camera_buttons[camera] = (pause_button, resume_button)
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

    def set_paused(self, camera: str, paused: bool) -> None:
        """Pause or resume one camera of the app on its device."""
        pause = self._pause
        if pause is None:
            return
        verb = "paused" if paused else "resumed"
        self._tasks.run_in_background(
            lambda _ctx: pause(camera, paused),
            on_success=lambda _status: self.status.setText(f"Camera {camera} {verb}."),
            on_failure=lambda exc: self.status.setText(f"Camera {camera} not {verb}: {exc}"),
        )
