"""TuningPanel: change an app's confidence, classes, and one camera's zones and lines while it runs.

Shown beside an enlarged tile. Every change restarts a short debounce timer
(:data:`DEBOUNCE_MS`); when it fires, the whole tuned parameter set goes to
the device with ``SetParams`` off the GUI thread (through the feed's
connection). One send at a time: changes made while a send is in flight go
out when it returns. "Save as new version" hands the parameters to the
application library (``AppLibrary.save_tuned_version``), which makes them a
new, deployable version.

Zones and lines belong to a camera: the panel lists, switches off and
redraws those of the enlarged tile's camera only, and what it sends
(``geometry.<camera id>``) leaves the app's other cameras alone.
"Edit zones and lines…" (:data:`EDIT_GEOMETRY_SHORTCUT`) opens the zone
editor on the enlarged tile's current frame with the camera's zones and lines
(:class:`~console_app.ui.live.geometry_dialog.GeometryDialog`); Apply makes
the redrawn shapes part of the tuned parameters and sends them like any other
change, Cancel changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (
    QBoxLayout,
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
from console_app.core.services.live_geometry import GeometryEdit
from console_app.ui.live.geometry_dialog import GeometryDialog
from console_app.ui.tasks import TaskRunner

DEBOUNCE_MS = 200
# Not Ctrl+E (Export on the Events page: pages are separate, but one key for one meaning reads better).
# Ctrl+Shift+Z is Redo in text fields; the enlarged tile's page has none, so it is free there.
EDIT_GEOMETRY_SHORTCUT = "Ctrl+Shift+Z"
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
        self._camera_id = ""
        self._snapshot: Callable[[], QImage | None] | None = None
        self.geometry_dialog: GeometryDialog | None = None
        self._all_zones: list[dict] = []
        self._all_lines: list[dict] = []
        self._in_flight = False
        self._dirty = False
        self.sends = 0
        self.last_error = ""
        self._saved_versions: dict[str, str] = {}  # app id -> the version "Save as new version" made last

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
        self.edit_action = QAction("&Edit zones and lines…", self)
        self.edit_action.setShortcut(QKeySequence(EDIT_GEOMETRY_SHORTCUT))
        self.edit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.edit_action.triggered.connect(self.edit_geometry)
        self.addAction(self.edit_action)
        self.edit_button = QPushButton(self.edit_action.text())
        shortcut_text = self.edit_action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.edit_button.setToolTip(f"Redraw the zones and counting lines on this camera's picture ({shortcut_text})")
        self.edit_button.clicked.connect(self.edit_action.trigger)
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
        self.classes.setMinimumHeight(60)
        self.rules.setMinimumHeight(60)
        # Three blocks, stacked beside the video or side by side below it (set_orientation).
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addLayout(form)
        controls_layout.addWidget(self.edit_button)
        controls_layout.addWidget(self.status)
        controls_layout.addStretch(1)
        controls_layout.addWidget(self.save_button)
        classes_box = QWidget()
        classes_layout = QVBoxLayout(classes_box)
        classes_layout.setContentsMargins(0, 0, 0, 0)
        classes_layout.addWidget(classes_label)
        classes_layout.addWidget(self.classes, 1)
        rules_box = QWidget()
        rules_layout = QVBoxLayout(rules_box)
        rules_layout.setContentsMargins(0, 0, 0, 0)
        rules_layout.addWidget(rules_label)
        rules_layout.addWidget(self.rules, 1)
        self._blocks = (controls, classes_box, rules_box)
        self._layout = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        for block in self._blocks:
            self._layout.addWidget(block, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(self.title)
        outer.addLayout(self._layout, 1)
        self.orientation = Qt.Orientation.Vertical

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._send)
        self.confidence.valueChanged.connect(self._on_confidence)
        self.classes.itemChanged.connect(lambda item: self._changed())
        self.rules.itemChanged.connect(lambda item: self._changed())
        self._set_enabled(False)

    def set_orientation(self, orientation: Qt.Orientation) -> None:
        """``Vertical``: one column (the panel beside the video); ``Horizontal``: three columns (below it)."""
        self.orientation = orientation
        vertical = orientation == Qt.Orientation.Vertical
        self._layout.setDirection(QBoxLayout.Direction.TopToBottom if vertical else QBoxLayout.Direction.LeftToRight)
        self._layout.setStretch(0, 0 if vertical else 1)  # in a column, the lists take the height

    # ------------------------------------------------------------------ binding

    @property
    def app(self) -> AppInfo | None:
        return self._app

    def bind(self, feed: LiveFeed | None, app: AppInfo | None, camera_id: str = "",
             snapshot: Callable[[], QImage | None] | None = None) -> None:
        """Show ``app`` (running on ``feed``'s device); None clears the panel.

        ``camera_id`` is the enlarged tile's camera and ``snapshot`` returns its
        current frame: zones and lines are redrawn on that picture.
        """
        self._timer.stop()
        self._feed, self._app = feed, app
        self._camera_id, self._snapshot = camera_id, snapshot
        if self.geometry_dialog is not None:
            self.geometry_dialog.reject()  # it edits the app this panel no longer shows
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
            self._show_title()
            self.confidence.setValue(round(float(params.get("confidence", 0.5)) * 100))
            chosen = set(params.get("classes", []))
            for label in app.labels or sorted(chosen):
                item = QListWidgetItem(label)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if label in chosen else Qt.CheckState.Unchecked)
                self.classes.addItem(item)
            drawn = app.geometry_for(camera_id)
            self._all_zones, self._all_lines = drawn["zones"], drawn["lines"]
            self._fill_rules(switched_off=set())
        for widget in widgets:
            widget.blockSignals(False)
        self._show_confidence()
        self._set_enabled(app is not None)

    @property
    def saved_version(self) -> str:
        """The version last saved from this panel for the app shown ("" when none)."""
        return self._saved_versions.get(self._app.app_id, "") if self._app is not None else ""

    def _show_title(self) -> None:
        app = self._app
        if app is None:
            return
        name = f"<b>{app.name or app.app_id}</b>"
        on = f" on <b>{self._camera_id}</b>" if self._camera_id else ""
        if self.saved_version and self.saved_version != app.version:
            self.title.setText(f"{name} {self.saved_version} ({app.app_id}; saved, the device runs "
                               f"{app.version} until you deploy it){on}")
        else:
            self.title.setText(f"{name} {app.version} ({app.app_id}){on}")

    def _fill_rules(self, switched_off: set[tuple[str, str]]) -> None:
        """List every zone and line, ticked unless its ``(kind, name)`` is in ``switched_off``."""
        self.rules.clear()
        for kind, rules in (("zone", self._all_zones), ("line", self._all_lines)):
            for rule in rules:
                item = QListWidgetItem(f"{kind}: {rule.get('name', '?')}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                off = (kind, rule.get("name")) in switched_off
                item.setCheckState(Qt.CheckState.Unchecked if off else Qt.CheckState.Checked)
                item.setToolTip(f"Untick to switch this {kind} off while tuning")
                self.rules.addItem(item)

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.confidence, self.classes, self.rules, self.edit_button):
            widget.setEnabled(on)
        self.edit_action.setEnabled(on)
        self.save_button.setEnabled(on and self._library is not None)

    # ------------------------------------------------------------------ editing

    def tuned_params(self) -> dict[str, Any]:
        """The parameter object the controls describe (what is sent and saved)."""
        classes = [self.classes.item(i).text() for i in range(self.classes.count())
                   if self.classes.item(i).checkState() == Qt.CheckState.Checked]
        on = [self.rules.item(i).checkState() == Qt.CheckState.Checked for i in range(self.rules.count())]
        zones = [z for z, keep in zip(self._all_zones, on[:len(self._all_zones)], strict=False) if keep]
        lines = [ln for ln, keep in zip(self._all_lines, on[len(self._all_zones):], strict=False) if keep]
        return {"confidence": self.confidence.value() / 100.0, "classes": classes,
                "geometry": {self._camera_id: {"zones": copy.deepcopy(zones), "lines": copy.deepcopy(lines)}}}

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

    @property
    def send_pending(self) -> bool:
        """Whether a change waits for the debounce timer or a send is under way."""
        return self._dirty or self._in_flight or self._timer.isActive()

    # ------------------------------------------------------------------ zones and lines

    def edit_geometry(self) -> GeometryDialog | None:
        """Open the zone editor (non-modal for the event loop, modal for the window) on the tile's frame.

        It shows this camera's zones and lines as the panel has them (those
        switched off included); None when no app is shown.
        """
        if self._app is None:
            return None
        if self.geometry_dialog is not None:
            self.geometry_dialog.raise_()
            self.geometry_dialog.activateWindow()
            return self.geometry_dialog
        edit = GeometryEdit(self._camera_id, copy.deepcopy(self._all_zones), copy.deepcopy(self._all_lines),
                            self._app.camera_ids)
        image = self._snapshot() if self._snapshot is not None else None
        title = f"Zones and lines of {self._app.name or self._app.app_id} on {self._camera_id or 'this camera'}"
        dialog = GeometryDialog(edit, image, title, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(lambda: self._apply_geometry(dialog.edit))
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.geometry_dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: GeometryDialog) -> None:
        if self.geometry_dialog is dialog:
            self.geometry_dialog = None
        dialog.deleteLater()

    def _apply_geometry(self, edit: GeometryEdit) -> None:
        """The redrawn shapes become the tuned ones (ticks kept by name) and go out with the next send."""
        if self._app is None:
            return
        shown = [("zone", z.get("name")) for z in self._all_zones] + [("line", ln.get("name")) for ln in self._all_lines]
        switched_off = {rule for i, rule in enumerate(shown)
                        if i < self.rules.count() and self.rules.item(i).checkState() != Qt.CheckState.Checked}
        drawn = edit.camera_params()
        self._all_zones, self._all_lines = drawn["zones"], drawn["lines"]
        self.rules.blockSignals(True)
        self._fill_rules(switched_off)
        self.rules.blockSignals(False)
        self._changed()

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
            self._show_title()
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
        # The running app's other settings (iou, tracking, …) as the device has them; the
        # library keeps the other cameras' zones and lines of the latest version.
        kept = {k: v for k, v in self._app.params.items() if k not in ("zones", "lines", "geometry")}
        params = {**kept, **self.tuned_params()}
        self.save_button.setEnabled(False)
        self.status.setText("Saving a new version…")

        def saved(version: Any) -> None:
            self.save_button.setEnabled(True)
            number = getattr(version, "version", version)
            self.status.setText(f"Saved {app_id} as version {number}; deploy it from Applications.")
            if self._app is not None and self._app.app_id == app_id:
                self._saved_versions[app_id] = str(number)
                self._show_title()
            self.saved.emit(version)

        def failed(error: BaseException) -> None:
            self.save_button.setEnabled(True)
            self.last_error = str(error) or type(error).__name__
            self.status.setText(f"Not saved: {self.last_error}")

        self._tasks.run_in_background(lambda ctx: library.save_tuned_version(app_id, params),
                                      on_success=saved, on_failure=failed, progress=f"Saving {app_id}")
