"""TuningPanel: change an app's confidence, classes, zones and lines while it runs.

Shown beside an enlarged tile. Every change restarts a short debounce timer
(:data:`DEBOUNCE_MS`); when it fires, the whole tuned parameter set goes to
the device with ``SetParams`` off the GUI thread (through the feed's
connection). One send at a time: changes made while a send is in flight go
out when it returns. "Save as new version" hands the parameters to the
application library (``AppLibrary.save_tuned_version``), which makes them a
new, deployable version.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.live_feed import LiveFeed
from console_app.core.services.live_frame import AppInfo
from console_app.ui.tasks import TaskRunner

DEBOUNCE_MS = 200
NO_LIBRARY = "The application library is not available in this console, so tuned parameters cannot be saved."


class TuningPanel(QWidget):
    """Live parameters of the app running on one camera; ``bind`` picks the feed and app."""

    params_sent = Signal(object)  # AppInfo as the device now has it
    saved = Signal(object)        # what the app library returned

    def __init__(self, tasks: TaskRunner, app_library: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks, self._library = tasks, app_library
        self._feed: LiveFeed | None = None
        self._app: AppInfo | None = None
        self._all_zones: list[dict] = []
        self._all_lines: list[dict] = []
        self._in_flight = False
        self._dirty = False
        self.sends = 0
        self.last_error = ""
        self.setMinimumWidth(260)

        self.title = QLabel("No app on this camera")
        self.title.setWordWrap(True)
        self.confidence = QSlider(Qt.Orientation.Horizontal)
        self.confidence.setRange(1, 100)
        self.confidence.setPageStep(5)
        self.confidence.setAccessibleName("Minimum confidence")
        self.confidence_value = QLabel("")
        self.confidence_value.setMinimumWidth(36)
        self.classes = QListWidget()
        self.classes.setAccessibleName("Classes reported")
        self.rules = QListWidget()
        self.rules.setAccessibleName("Zones and counting lines")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save as new &version")
        self.save_button.clicked.connect(self.save_as_new_version)
        if app_library is None:
            self.save_button.setEnabled(False)
            self.save_button.setToolTip(NO_LIBRARY)

        row = QHBoxLayout()
        row.addWidget(self.confidence, 1)
        row.addWidget(self.confidence_value)
        form = QFormLayout()
        confidence_label = QLabel("&Confidence:")
        confidence_label.setBuddy(self.confidence)
        form.addRow(confidence_label, row)
        classes_label = QLabel("C&lasses (none ticked: all):")
        classes_label.setBuddy(self.classes)
        rules_label = QLabel("&Zones and lines:")
        rules_label.setBuddy(self.rules)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(classes_label)
        layout.addWidget(self.classes, 1)
        layout.addWidget(rules_label)
        layout.addWidget(self.rules, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.save_button)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._send)
        self.confidence.valueChanged.connect(self._on_confidence)
        self.classes.itemChanged.connect(lambda item: self._changed())
        self.rules.itemChanged.connect(lambda item: self._changed())
        self._set_enabled(False)

    # ------------------------------------------------------------------ binding

    @property
    def app(self) -> AppInfo | None:
        return self._app

    def bind(self, feed: LiveFeed | None, app: AppInfo | None) -> None:
        """Show ``app`` (running on ``feed``'s device); None clears the panel."""
        self._timer.stop()
        self._feed, self._app = feed, app
        self._dirty = False
        self.status.setText("")
        widgets = (self.confidence, self.classes, self.rules)
        for widget in widgets:
            widget.blockSignals(True)
        self.classes.clear()
        self.rules.clear()
        if app is None:
            self.title.setText("No app runs on this camera: nothing to tune.")
            self._all_zones, self._all_lines = [], []
        else:
            params = app.params
            self.title.setText(f"<b>{app.name or app.app_id}</b> {app.version} ({app.app_id})")
            self.confidence.setValue(round(float(params.get("confidence", 0.5)) * 100))
            chosen = set(params.get("classes", []))
            for label in app.labels or sorted(chosen):
                item = QListWidgetItem(label)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if label in chosen else Qt.CheckState.Unchecked)
                self.classes.addItem(item)
            self._all_zones = copy.deepcopy(params.get("zones", []))
            self._all_lines = copy.deepcopy(params.get("lines", []))
            for kind, rules in (("zone", self._all_zones), ("line", self._all_lines)):
                for rule in rules:
                    item = QListWidgetItem(f"{kind}: {rule.get('name', '?')}")
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked)
                    item.setToolTip(f"Untick to switch this {kind} off while tuning")
                    self.rules.addItem(item)
        for widget in widgets:
            widget.blockSignals(False)
        self._show_confidence()
        self._set_enabled(app is not None)

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.confidence, self.classes, self.rules):
            widget.setEnabled(on)
        self.save_button.setEnabled(on and self._library is not None)

    # ------------------------------------------------------------------ editing

    def tuned_params(self) -> dict[str, Any]:
        """The parameter object the controls describe (what is sent and saved)."""
        classes = [self.classes.item(i).text() for i in range(self.classes.count())
                   if self.classes.item(i).checkState() == Qt.CheckState.Checked]
        on = [self.rules.item(i).checkState() == Qt.CheckState.Checked for i in range(self.rules.count())]
        zones = [z for z, keep in zip(self._all_zones, on[:len(self._all_zones)], strict=False) if keep]
        lines = [ln for ln, keep in zip(self._all_lines, on[len(self._all_zones):], strict=False) if keep]
        return {"confidence": self.confidence.value() / 100.0, "classes": classes, "zones": zones, "lines": lines}

    def set_confidence(self, value: float) -> None:
        """Move the slider to ``value`` (0.01..1.0), as the engineer would."""
        self.confidence.setValue(round(value * 100))

    def _on_confidence(self, value: int) -> None:
        self._show_confidence()
        self._changed()

    def _show_confidence(self) -> None:
        self.confidence_value.setText(f"{self.confidence.value() / 100:.2f}")

    def _changed(self) -> None:
        if self._app is None:
            return
        self._dirty = True
        self.status.setText("Changed; sending…")
        self._timer.start()  # restarts: a burst of changes is one send

    # ------------------------------------------------------------------ sending

    def _send(self) -> None:
        if self._in_flight or self._app is None or self._feed is None or not self._dirty:
            return
        self._dirty = False
        self._in_flight = True
        feed, app_id, params = self._feed, self._app.app_id, self.tuned_params()
        self._tasks.run_in_background(lambda ctx: feed.set_params(app_id, params),
                                      on_success=self._on_sent, on_failure=self._on_send_failed)

    def _on_sent(self, info: AppInfo) -> None:
        self._in_flight = False
        self.sends += 1
        self.last_error = ""
        if self._app is not None and info.app_id == self._app.app_id:
            self._app = info
        self.status.setText(f"Applied on the device (confidence {info.params.get('confidence', '?')}).")
        self.params_sent.emit(info)
        if self._dirty:
            self._send()

    def _on_send_failed(self, error: BaseException) -> None:
        self._in_flight = False
        self.last_error = str(error) or type(error).__name__
        self.status.setText(f"Not applied: {self.last_error}")
        if self._dirty:
            self._send()

    # ------------------------------------------------------------------ saving

    def save_as_new_version(self) -> None:
        """Ask the application library for a new version with the tuned parameters (in the background)."""
        if self._library is None or self._app is None:
            return
        library, app_id = self._library, self._app.app_id
        params = {**self._app.params, **self.tuned_params()}
        self.save_button.setEnabled(False)
        self.status.setText("Saving a new version…")

        def saved(version: Any) -> None:
            self.save_button.setEnabled(True)
            number = getattr(version, "version", version)
            self.status.setText(f"Saved {app_id} as version {number}; deploy it from Applications.")
            self.saved.emit(version)

        def failed(error: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.last_error = str(error) or type(error).__name__
            self.status.setText(f"Not saved: {self.last_error}")

        self._tasks.run_in_background(lambda ctx: library.save_tuned_version(app_id, params),
                                      on_success=saved, on_failure=failed, progress=f"Saving {app_id}")
