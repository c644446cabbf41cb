"""The app builder's Outputs step: pick a kind, fill its form, send a test event.

The form is built from the device's own output model (``OUTPUT_MODELS``):
every field's title is its label and its description its tooltip, so the
form and the manifest documentation cannot drift apart. Fields named
``*_secret`` are password boxes: what is typed goes to
:class:`OutputDrafts.secret_values` (later the credential store), never to
the manifest. Structured fields (event filter, payload template, headers,
OPC UA writes) are edited as JSON. *Send test event* runs in the background
and shows what the broker, PLC or server answered.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.output_drafts import OUTPUT_MODELS, OutputDrafts
from console_app.ui.tasks import TaskRunner

#: (output entry, secret values) -> what the receiver answered; raises with the reason on failure.
TestSendFn = Callable[[dict, dict], str]

_MULTILINE = {"ca_cert", "client_cert", "certificate", "server_certificate"}


def _literal_values(annotation: Any) -> list[Any] | None:
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is typing.Literal else None


class OutputsPage(QWidget):
    """Edits ``drafts`` in place; calls ``on_changed`` after every edit (the wizard re-checks the step)."""

    def __init__(self, drafts_of: Callable[[], OutputDrafts], tasks: TaskRunner, on_changed: Callable[[], None],
                 test_send: TestSendFn | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._drafts_of = drafts_of
        self._tasks = tasks
        self._on_changed = on_changed
        self._test_send = test_send
        self._fields: dict[str, QWidget] = {}
        self.items = QListWidget()
        self.items.currentRowChanged.connect(self._show_form)
        self.kind = QComboBox()
        for kind, model in OUTPUT_MODELS.items():
            self.kind.addItem(f"{kind}: {(model.__doc__ or '').splitlines()[0]}", kind)
        self.add_button = add = QPushButton("&Add output")
        add.clicked.connect(self.on_add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.on_remove)
        self.test_button = QPushButton("Send &test event")
        self.test_button.setToolTip("A paired device sends one sample event to this output now and reports the answer.")
        self.test_button.clicked.connect(self.on_test)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)

        intro = QLabel("Where this app's events go besides the console. Each output has its own durable queue on "
                       "the device: nothing is lost while the broker, PLC or network is down. Optional.")
        intro.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.items, 1)
        row = QHBoxLayout()
        row.addWidget(self.kind, 1)
        row.addWidget(add)
        left.addLayout(row)
        left.addWidget(self.remove_button)
        right = QVBoxLayout()
        right.addWidget(self.form_host, 1)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        right.addLayout(test_row)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(body, 1)
        self.reload()

    @property
    def drafts(self) -> OutputDrafts:
        return self._drafts_of()

    # ------------------------------------------------------------ list

    def reload(self) -> None:
        """Show the drafts' outputs again (entering the step)."""
        current = max(self.items.currentRow(), 0)
        self.items.blockSignals(True)
        self.items.clear()
        for item in self.drafts.items:
            self.items.addItem(f"{item.get('name', '?')} ({item.get('kind', '?')})")
        self.items.blockSignals(False)
        if self.drafts.items:
            self.items.setCurrentRow(min(current, len(self.drafts.items) - 1))
            self._show_form(self.items.currentRow())
        else:
            self._show_form(-1)

    def on_add(self) -> None:
        index = self.drafts.add(self.kind.currentData())
        self.reload()
        self.items.setCurrentRow(index)
        self._on_changed()

    def on_remove(self) -> None:
        row = self.items.currentRow()
        if row >= 0:
            self.drafts.remove(row)
            self.reload()
            self._on_changed()

    # ------------------------------------------------------------ form

    def _clear_form(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._fields = {}

    def _show_form(self, row: int) -> None:
        self._clear_form()
        has = 0 <= row < len(self.drafts.items)
        self.remove_button.setEnabled(has)
        self.test_button.setEnabled(has and self._test_send is not None)
        self.test_result.setText("")
        if not has:
            return
        item = self.drafts.items[row]
        model = OUTPUT_MODELS[item["kind"]]
        defaults = {name: _plain(f.get_default(call_default_factory=True))
                    for name, f in model.model_fields.items() if not f.is_required()}
        for name, info in model.model_fields.items():
            if name == "kind":
                continue
            widget = self._field_widget(row, name, info.annotation, item.get(name, defaults.get(name)))
            widget.setToolTip(info.description or "")
            label = QLabel(info.title or name)
            label.setToolTip(info.description or "")
            self.form.addRow(label, widget)
            self._fields[name] = widget

    def _field_widget(self, row: int, name: str, annotation: Any, value: Any) -> QWidget:
        if name.endswith("_secret"):
            box = QLineEdit()
            box.setEchoMode(QLineEdit.EchoMode.Password)
            stored = value and value in self.drafts.secret_values
            box.setPlaceholderText("(entered)" if stored else "(kept in the console's credential store; empty: none)")
            box.textEdited.connect(lambda text, n=name: self._set_secret(row, n, text))
            return box
        choices = _literal_values(annotation)
        if choices is not None:
            combo = QComboBox()
            for choice in choices:
                combo.addItem(str(choice), choice)
            combo.setCurrentIndex(max(0, choices.index(value)) if value in choices else 0)
            combo.currentIndexChanged.connect(lambda _i, n=name, c=combo: self._set(row, n, c.currentData()))
            return combo
        if annotation is bool:
            check = QCheckBox()
            check.setChecked(bool(value))
            check.toggled.connect(lambda on, n=name: self._set(row, n, on))
            return check
        if annotation in (int, float):
            box = QLineEdit("" if value is None else str(value))
            box.textEdited.connect(lambda text, n=name, t=annotation: self._set(row, n, _number(text, t)))
            return box
        if annotation is str:
            if name in _MULTILINE:
                edit = QPlainTextEdit(value or "")
                edit.setMaximumHeight(70)
                edit.textChanged.connect(lambda n=name, e=edit: self._set(row, n, e.toPlainText()))
                return edit
            box = QLineEdit(value or "")
            box.textEdited.connect(lambda text, n=name: self._set(row, n, text))
            return box
        edit = QPlainTextEdit(json.dumps(value, indent=1) if value is not None else "")
        edit.setMaximumHeight(90)
        edit.textChanged.connect(lambda n=name, e=edit: self._set(row, n, _json_or_text(e.toPlainText())))
        return edit

    def _set(self, row: int, name: str, value: Any) -> None:
        self.drafts.update(row, **{name: value})
        if name == "name":
            self.items.item(row).setText(f"{value} ({self.drafts.items[row]['kind']})")
        self._on_changed()

    def _set_secret(self, row: int, name: str, text: str) -> None:
        if text:
            self.drafts.set_secret(row, name, text)
        else:
            self.drafts.update(row, **{name: None})
        self._on_changed()

    # ------------------------------------------------------------ test

    def on_test(self) -> None:
        row = self.items.currentRow()
        if row < 0 or self._test_send is None:
            return
        entry = dict(self.drafts.items[row])
        secrets = dict(self.drafts.secret_values)
        send = self._test_send
        self.test_button.setEnabled(False)
        self.test_result.setText("sending…")
        self._tasks.run_in_background(lambda _ctx: send(entry, secrets), on_success=self._on_tested,
                                      on_failure=self._on_test_failed, progress="Sending a test event")

    def _on_tested(self, answer: str) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #1e8449")
        self.test_result.setText(answer)

    def _on_test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setStyleSheet("color: #c0392b")
        self.test_result.setText(str(error))


def _plain(value: Any) -> Any:
    """A field default as JSON-ready data (nested models become dicts)."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        return text  # the device's model names the problem


def _json_or_text(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # reported as "not a valid ..." by the model
