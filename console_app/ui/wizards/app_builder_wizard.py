"""The "New app" / "Edit app" dialog: a thin Qt host for :class:`~console_app.core.services.app_builder.AppBuilder`.

Every rule lives in the builder: this dialog forwards each edit to it, shows
``can_advance()``'s reason under the page, and enables Next only when the
builder says so. Snapshots and the final save run as background tasks.

It speaks plainly: settings have everyday labels with the technical name in
brackets and the manifest's own field description as a tooltip; what keeps a
step from being complete is a neutral hint until the engineer has worked on
that step (only then is it shown as an error); the review is a summary in
words, with the manifest JSON behind *Details*. Closing it (Cancel, Esc, the
window's close button) with work in it asks first: keep a draft (reopened by
the next *New app…*), discard, or go on editing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QImage
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_summary import summary_rows
from console_app.core.services.app_builder_types import BuilderError, Step
from console_app.core.services.app_drafts import NEW_APP, builder_to_draft
from console_app.core.services.output_drafts import save_output_secrets
from console_app.ui.tasks import TaskRunner
from console_app.ui.widgets.zone_editor import LINE, ZONE, ZoneEditor
from console_app.ui.wizards.builder_settings import DIRECTIONS, explain, parameters_page
from console_app.ui.wizards.close_guard import CloseGuard
from console_app.ui.wizards.outputs_page import OutputsPage, TestSendFn
from device_runtime.protocol.apps.params import DetectorParams, Zone

SaveFn = Callable[[dict, str], Any]          # (manifest, model_id) -> AppVersion
SnapshotFn = Callable[[str], bytes]          # stream URL -> JPEG


ERROR_STYLE = "color: #c0392b"
HINT_STYLE = "color: palette(mid)"


def _checked(items: QListWidget) -> list[int]:
    return [i for i in range(items.count()) if items.item(i).checkState() == Qt.CheckState.Checked]


class AppBuilderWizard(QDialog):
    """Cameras → model → classes → zones and lines → parameters → review → save."""

    def __init__(self, builder: AppBuilder, tasks: TaskRunner, save: SaveFn, snapshot: SnapshotFn | None = None,
                 parent: QWidget | None = None, drafts: Any = None, draft_key: str = NEW_APP,
                 reopened_draft: bool = False, test_output: TestSendFn | None = None,
                 credentials: Any = None):
        super().__init__(parent)
        self.builder, self._tasks, self._save, self._snapshot = builder, tasks, save, snapshot
        self.draft_key, self.reopened_draft = draft_key, reopened_draft
        self._test_output, self._credentials = test_output, credentials
        self.guard = CloseGuard(self, tasks, lambda: builder_to_draft(builder), drafts, draft_key, self._close_now)
        self._touched: set[Step] = set()
        self.saved_version: Any = None
        self._images: dict[str, QImage] = {}
        self._shown: list[tuple[str, int]] = []  # (kind, builder index) of the shapes in the list
        self._id_typed = False
        editing = builder.base_version is not None
        self.setWindowTitle(f"Edit {builder.name} (saves a new version)" if editing else "New application")
        self.resize(900, 680)
        self.header = QLabel()
        self.stack = QStackedWidget()
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(HINT_STYLE)
        if reopened_draft:
            self.header.setToolTip("Reopened from the draft you kept when you last closed the builder.")
        self.back_button = QPushButton("< &Back")
        self.next_button = QPushButton("&Next >")
        self.save_button = QPushButton("&Save")
        self.cancel_button = cancel = QPushButton("Cancel")
        self.back_button.clicked.connect(self.on_back)
        self.next_button.clicked.connect(self.on_next)
        self.save_button.clicked.connect(self.on_save)
        cancel.clicked.connect(self.reject)
        for build in (self._cameras_page, self._model_page, self._classes_page, self._zones_page,
                      self._parameters_page, self._outputs_page, self._review_page):
            self.stack.addWidget(build())
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.back_button, self.next_button, self.save_button, cancel):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.problem)
        layout.addLayout(buttons)
        self._show_step()

    # ------------------------------------------------------------ navigation

    def on_next(self) -> None:
        try:
            self.builder.next()
        except BuilderError as error:
            self._touch()
            self._say(error.problems[0].message, error=True)
            return
        self._show_step()

    def _touch(self) -> None:
        """The engineer has worked on this step: from now on what is missing here is an error, in red."""
        self._touched.add(self.builder.step)

    def _say(self, text: str, error: bool) -> None:
        self.problem.setText(text[:1].upper() + text[1:] if text else "")
        self.problem.setStyleSheet(ERROR_STYLE if error else HINT_STYLE)

    def on_back(self) -> None:
        self.builder.back()
        self._show_step()

    def _show_step(self) -> None:
        step = self.builder.step
        reopened = " (reopened draft)" if self.reopened_draft else ""
        self.header.setText(f"<h3>Step {step + 1} of {len(Step)}: {step.title}{reopened}</h3>")
        self.stack.setCurrentIndex(int(step))
        {Step.CLASSES: self._load_classes, Step.ZONES: self._enter_zones,
         Step.OUTPUTS: lambda: self.outputs_page.reload(),
         Step.REVIEW: self._load_review}.get(step, lambda: None)()
        self.back_button.setEnabled(step > Step.CAMERAS)
        self.next_button.setVisible(step < Step.REVIEW)
        self.save_button.setVisible(step == Step.REVIEW)
        self._refresh()

    def _refresh(self) -> None:
        """Re-ask the builder after any edit: Next/Save enabled, the reason shown."""
        step = self.builder.step
        problems = self.builder.all_problems() if step == Step.REVIEW else self.builder.problems()
        self._say(problems[0].message if problems else "", error=step in self._touched)
        if step == Step.REVIEW:
            self.save_button.setEnabled(not problems)
            self._show_summary()
            return
        self.next_button.setEnabled(not problems)

    # ------------------------------------------------------------ cameras

    def _cameras_page(self) -> QWidget:
        page = QWidget()
        self.camera_list = QListWidget()
        self.camera_list.setAccessibleName("Cameras")
        chosen = {c.key for c in self.builder.cameras}
        for option in self.builder.camera_options:
            self._add_camera_item(option, option.key in chosen)
        self.camera_list.itemChanged.connect(self._on_cameras_changed)
        self.camera_url = QLineEdit()
        self.camera_url.setPlaceholderText("rtsp://host:554/stream1 or sim://production-line")
        add = QPushButton("&Add by URL")
        add.clicked.connect(self._on_add_camera_url)
        row = QHBoxLayout()
        row.addWidget(self.camera_url, 1)
        row.addWidget(add)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Tick the cameras the app reads (registered cameras are listed):"))
        layout.addWidget(self.camera_list, 1)
        layout.addLayout(row)
        return page

    def _add_camera_item(self, option, checked: bool) -> None:
        item = QListWidgetItem(f"{option.name}  ({option.url})")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.camera_list.addItem(item)

    def _on_cameras_changed(self, _item: QListWidgetItem) -> None:
        self._touch()
        self.builder.set_cameras([self.builder.camera_options[i] for i in _checked(self.camera_list)])
        self._refresh()

    def _on_add_camera_url(self) -> None:
        try:
            option = self.builder.add_camera_url(self.camera_url.text())
        except BuilderError as error:
            self._touch()
            self._say(error.problems[0].message, error=True)
            return
        self.camera_list.blockSignals(True)
        self._add_camera_item(option, True)
        self.camera_list.blockSignals(False)
        self.camera_url.clear()
        self._refresh()

    # ------------------------------------------------------------ model

    def _model_page(self) -> QWidget:
        page = QWidget()
        self.model_list = QListWidget()
        self.model_list.setAccessibleName("Models")
        for option in self.builder.model_options:
            self.model_list.addItem(f"{option.name} v{option.version}  ({option.decoder or 'auto'}; "
                                    f"{len(option.labels)} classes)")
        if self.builder.model in self.builder.model_options:  # the only model comes preselected
            self.model_list.setCurrentRow(self.builder.model_options.index(self.builder.model))
        self.model_list.currentRowChanged.connect(self._on_model_chosen)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Choose the model from the library (import models on the Models page):"))
        layout.addWidget(self.model_list, 1)
        return page

    def _on_model_chosen(self, row: int) -> None:
        self._touch()
        self.builder.choose_model(self.builder.model_options[row] if row >= 0 else None)
        self._refresh()

    # ------------------------------------------------------------ classes

    def _classes_page(self) -> QWidget:
        page = QWidget()
        self.class_list = QListWidget()
        self.class_list.setAccessibleName("Classes")
        self.class_list.itemChanged.connect(self._on_classes_changed)
        self.confidence = QDoubleSpinBox()
        self.confidence.setRange(0.0, 1.0)
        self.confidence.setSingleStep(0.05)
        self.confidence.setValue(self.builder.confidence)
        self.confidence.valueChanged.connect(lambda v: (self._touch(), self.builder.set_confidence(v),
                                                        self._refresh()))
        self.confidence.setToolTip(explain(DetectorParams, "confidence"))
        form = QFormLayout()
        label = QLabel("Report only when the model is at least this sure (&confidence):")
        label.setBuddy(self.confidence)
        label.setToolTip(self.confidence.toolTip())
        form.addRow(label, self.confidence)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Classes the app reports (none ticked: all of the model's classes):"))
        layout.addWidget(self.class_list, 1)
        layout.addLayout(form)
        return page

    def _load_classes(self) -> None:
        labels = list(self.builder.model.labels) if self.builder.model else []
        labels += [c for c in self.builder.classes if c not in labels]  # keep typed-in ones visible
        self.class_list.blockSignals(True)
        self.class_list.clear()
        for label in labels:
            item = QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if label in self.builder.classes else Qt.CheckState.Unchecked)
            self.class_list.addItem(item)
        self.class_list.blockSignals(False)

    def _on_classes_changed(self, _item: QListWidgetItem) -> None:
        self._touch()
        self.builder.set_classes([self.class_list.item(i).text() for i in _checked(self.class_list)])
        self._refresh()

    # ------------------------------------------------------------ zones and lines

    def _zones_page(self) -> QWidget:
        page = QWidget()
        self.zone_camera = QComboBox()
        self.zone_camera.setAccessibleName("Camera to draw on")
        self.zone_camera.currentIndexChanged.connect(lambda _i: self._on_zone_camera())
        self.snapshot_button = QPushButton("Take &snapshot")
        self.snapshot_button.clicked.connect(self.load_snapshot)
        self.zone_mode = QRadioButton("&Zone (polygon)")
        self.line_mode = QRadioButton("Counting &line")
        self.zone_mode.setChecked(True)
        modes = QButtonGroup(page)
        modes.addButton(self.zone_mode)
        modes.addButton(self.line_mode)
        self.zone_mode.toggled.connect(lambda on: self.editor.set_mode(ZONE if on else LINE))
        self.shape_name = QLineEdit()
        self.shape_name.setPlaceholderText("name of the next zone or line (default: zone-1, line-1, …)")
        self.editor = ZoneEditor()
        self.editor.zone_closed.connect(self._on_zone_closed)
        self.editor.line_drawn.connect(self._on_line_drawn)
        self.editor.remove_requested.connect(self._on_remove)
        self.shape_list = QListWidget()
        self.shape_list.setAccessibleName("Zones and lines")
        self.shape_list.setMaximumWidth(240)
        self.shape_list.currentRowChanged.connect(lambda _row: self._show_shape_settings())
        self.dwell_limit = QDoubleSpinBox()
        self.dwell_limit.setRange(0, 86_400)
        self.dwell_limit.setDecimals(1)
        self.dwell_limit.setSuffix(" s")
        self.dwell_limit.setSpecialValueText("no limit")
        self.dwell_limit.setAccessibleName("Dwell limit of the selected zone")
        self.dwell_limit.setToolTip(explain(Zone, "dwell_limit_s"))
        self.dwell_limit.valueChanged.connect(self._on_dwell_limit)
        self.line_direction = QComboBox()
        self.line_direction.setAccessibleName("Counted direction of the selected line")
        for text, value in DIRECTIONS:
            self.line_direction.addItem(text, value)
        self.line_direction.setToolTip("Which crossings the selected line counts. The arrow drawn on the line "
                                       "points the 'in' way; draw the line the other way round to flip it.")
        self.line_direction.currentIndexChanged.connect(self._on_line_direction)
        remove = QPushButton("&Remove")
        remove.clicked.connect(self._on_remove_selected)
        self.copy_from = QComboBox()
        self.copy_from.setAccessibleName("Camera to copy zones and lines from")
        self.copy_from.setToolTip("Every camera sees its own scene: zones and lines are drawn per camera. "
                                  "Copy another camera's shapes here as a start, then move them to fit.")
        self.copy_button = QPushButton("&Copy here")
        self.copy_button.setToolTip(self.copy_from.toolTip())
        self.copy_button.clicked.connect(self._on_copy_geometry)
        top = QHBoxLayout()
        for widget in (QLabel("Camera:"), self.zone_camera, self.snapshot_button, self.zone_mode,
                       self.line_mode, self.shape_name):
            top.addWidget(widget)
        side = QVBoxLayout()
        side.addWidget(self.shape_list, 1)
        side.addWidget(remove)
        dwell_label = QLabel("Alarm when something stays longer than (&dwell limit):")
        dwell_label.setWordWrap(True)
        dwell_label.setBuddy(self.dwell_limit)
        dwell_label.setToolTip(self.dwell_limit.toolTip())
        side.addWidget(dwell_label)
        side.addWidget(self.dwell_limit)
        direction_label = QLabel("Count crossings (line &direction):")
        direction_label.setWordWrap(True)
        direction_label.setBuddy(self.line_direction)
        direction_label.setToolTip(self.line_direction.toolTip())
        side.addWidget(direction_label)
        side.addWidget(self.line_direction)
        side.addWidget(QLabel("Copy zones and lines from:"))
        side.addWidget(self.copy_from)
        side.addWidget(self.copy_button)
        middle = QHBoxLayout()
        middle.addWidget(self.editor, 1)
        middle.addLayout(side)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(QLabel("Click points; Enter or double-click closes a zone; Backspace removes the "
                                "last point; select a shape and press Delete to remove it."))
        layout.addLayout(middle, 1)
        return page

    def _enter_zones(self) -> None:
        self.zone_camera.blockSignals(True)
        self.zone_camera.clear()
        for camera in self.builder.cameras:
            self.zone_camera.addItem(camera.name, camera.key)
        self.zone_camera.blockSignals(False)
        self._on_zone_camera()

    def _current_camera_key(self) -> str | None:
        return self.zone_camera.currentData()

    def _on_zone_camera(self) -> None:
        key = self._current_camera_key()
        self.copy_from.clear()
        for camera in self.builder.cameras:
            if camera.key != key:
                self.copy_from.addItem(camera.name, camera.key)
        self.copy_from.setEnabled(self.copy_from.count() > 0)
        self.copy_button.setEnabled(self.copy_from.count() > 0)
        self.editor.set_image(self._images.get(key, QImage()))
        self._show_shapes()
        if key is not None and key not in self._images and self._snapshot is not None:
            self.load_snapshot()

    def load_snapshot(self) -> None:
        """Fetch a still of the chosen camera in the background and draw on it."""
        key = self._current_camera_key()
        if key is None or self._snapshot is None:
            return
        url = next(c.url for c in self.builder.cameras if c.key == key)
        fetch = self._snapshot
        self.snapshot_button.setEnabled(False)
        self.editor.show_message("taking a snapshot…")
        self._tasks.run_in_background(lambda _ctx: fetch(url), on_success=lambda jpeg: self._on_snapshot(key, jpeg),
                                      on_failure=self._on_snapshot_failed, progress="Taking a snapshot")

    def _on_snapshot(self, key: str, jpeg: bytes) -> None:
        self.snapshot_button.setEnabled(True)
        image = QImage.fromData(jpeg)
        self._images[key] = image
        if key == self._current_camera_key():
            self.editor.set_image(image)
            self.editor.show_message("")

    def _on_snapshot_failed(self, error: BaseException) -> None:
        self.snapshot_button.setEnabled(True)
        self.editor.show_message(str(error))

    def _on_copy_geometry(self) -> None:
        source, target = self.copy_from.currentData(), self._current_camera_key()
        if source is None or target is None:
            return
        copied = self.builder.copy_geometry(source, target)
        self._show_shapes()
        self.editor.show_message(f"copied {copied} shape(s) from {self.copy_from.currentText()}; "
                                 "move them to fit this camera" if copied else
                                 f"nothing to copy: {self.copy_from.currentText()} has no shapes this camera lacks")

    def _next_name(self, prefix: str) -> str:
        typed = self.shape_name.text().strip()
        return typed or self.builder.next_free_name(prefix, self._current_camera_key())

    def _on_zone_closed(self, points: list) -> None:
        self._touch()
        try:
            self.builder.add_zone(self._next_name("zone"), points, camera_key=self._current_camera_key())
        except BuilderError as error:
            self.editor.show_message(str(error.problems[0].message))
            return
        self.shape_name.clear()
        self._show_shapes(select=(ZONE, len(self.builder.zones) - 1))

    def _on_line_drawn(self, a: tuple, b: tuple) -> None:
        self._touch()
        try:
            self.builder.add_line(self._next_name("line"), a, b, camera_key=self._current_camera_key())
        except BuilderError as error:
            self.editor.show_message(str(error.problems[0].message))
            return
        self.shape_name.clear()
        self._show_shapes(select=(LINE, len(self.builder.lines) - 1))

    def selected_shape(self) -> tuple[str, int] | None:
        """``(kind, builder index)`` of the shape selected in the list, if any."""
        row = self.shape_list.currentRow()
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def _show_shape_settings(self) -> None:
        """The dwell limit and direction controls follow the selected zone or line."""
        chosen = self.selected_shape()
        zone = self.builder.zones[chosen[1]] if chosen and chosen[0] == ZONE else None
        line = self.builder.lines[chosen[1]] if chosen and chosen[0] == LINE else None
        for widget, value in ((self.dwell_limit, zone), (self.line_direction, line)):
            widget.blockSignals(True)
            widget.setEnabled(value is not None)
        self.dwell_limit.setValue(zone.dwell_limit_s or 0 if zone else 0)
        self.line_direction.setCurrentIndex(max(0, self.line_direction.findData(line.count if line else "both")))
        for widget in (self.dwell_limit, self.line_direction):
            widget.blockSignals(False)

    def _on_dwell_limit(self, value: float) -> None:
        chosen = self.selected_shape()
        if chosen and chosen[0] == ZONE:
            self._touch()
            self.builder.update_zone(chosen[1], dwell_limit_s=value or None)
            self._show_shapes(select=chosen)

    def _on_line_direction(self, _index: int) -> None:
        chosen = self.selected_shape()
        if chosen and chosen[0] == LINE:
            self._touch()
            self.builder.update_line(chosen[1], count=self.line_direction.currentData())
            self._show_shapes(select=chosen)

    def _on_remove(self, kind: str, shown_index: int) -> None:
        self._touch()
        # The editor numbers only the shapes of the camera on screen.
        on_camera = [(k, i) for k, i in self._shown if k == kind]
        _, index = on_camera[shown_index]
        (self.builder.remove_zone if kind == ZONE else self.builder.remove_line)(index)
        self._show_shapes()

    def _on_remove_selected(self) -> None:
        self._touch()
        row = self.shape_list.currentRow()
        if 0 <= row < len(self._shown):
            kind, index = self._shown[row]
            (self.builder.remove_zone if kind == ZONE else self.builder.remove_line)(index)
            self._show_shapes()

    def _show_shapes(self, select: tuple[str, int] | None = None) -> None:
        key = self._current_camera_key()
        camera_id = self.builder.camera_id_of(key) if key in [c.key for c in self.builder.cameras] else ""
        zones = self.builder.zones_on(camera_id)
        lines = self.builder.lines_on(camera_id)
        self._shown = [(ZONE, i) for i, _ in zones] + [(LINE, i) for i, _ in lines]
        self.editor.set_shapes([(z.name, z.points) for _, z in zones], [(ln.name, ln.a, ln.b) for _, ln in lines])
        self.shape_list.blockSignals(True)
        self.shape_list.clear()
        for _, zone in zones:
            limit = f", alarm after {zone.dwell_limit_s:g} s" if zone.dwell_limit_s else ""
            self.shape_list.addItem(f"zone {zone.name} ({len(zone.points)} points{limit})")
        for _, line in lines:
            self.shape_list.addItem(f"line {line.name} ({line.count})")
        self.shape_list.setCurrentRow(self._shown.index(select) if select in self._shown else -1)
        self.shape_list.blockSignals(False)
        self._show_shape_settings()
        self._refresh()

    # ------------------------------------------------------------ parameters

    def _parameters_page(self) -> QWidget:
        page, self.iou = parameters_page(self.builder, lambda: (self._touch(), self._refresh()))
        return page

    # ------------------------------------------------------------ review

    def _outputs_page(self) -> QWidget:
        self.outputs_page = OutputsPage(lambda: self.builder.outputs, self._tasks, self._refresh, self._test_output)
        return self.outputs_page

    def _review_page(self) -> QWidget:
        page = QWidget()
        self.app_name = QLineEdit(self.builder.name)
        self.app_id = QLineEdit(self.builder.app_id)
        self.app_id.setEnabled(self.builder.base_version is None)
        self.description = QPlainTextEdit(self.builder.description)
        self.description.setMaximumHeight(60)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.summary.setAccessibleName("What the app will do")
        self.details_button = QPushButton("Show &details (manifest JSON)")
        self.details_button.setCheckable(True)
        self.manifest_view = QPlainTextEdit()
        self.manifest_view.setReadOnly(True)
        self.manifest_view.setAccessibleName("Manifest JSON")
        self.manifest_view.setVisible(False)
        self.details_button.toggled.connect(self._on_details)
        self.app_name.textEdited.connect(self._on_identity)
        self.app_id.textEdited.connect(self._on_identity)
        self.description.textChanged.connect(self._on_identity)
        form = QFormLayout()
        form.addRow("&Name:", self.app_name)
        form.addRow("App &id:", self.app_id)
        form.addRow("&Description:", self.description)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>What the app will do</b> (camera passwords never go into the app; "
                                "they are sent to the device at deploy):"))
        layout.addWidget(self.summary)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.manifest_view, 1)
        layout.addStretch(0)
        return page

    def _show_summary(self) -> None:
        cells = "".join(f"<tr><td valign='top'><b>{html.escape(head)}</b>&nbsp;&nbsp;</td>"
                        f"<td>{html.escape(text)}</td></tr>" for head, text in summary_rows(self.builder))
        self.summary.setText(f"<table>{cells}</table>")
        if self.manifest_view.isVisible():
            self.manifest_view.setPlainText(json.dumps(self.builder.manifest(), indent=2))

    def _on_details(self, shown: bool) -> None:
        self.manifest_view.setVisible(shown)
        self.details_button.setText("Hide &details" if shown else "Show &details (manifest JSON)")
        if shown:
            self.manifest_view.setPlainText(json.dumps(self.builder.manifest(), indent=2))

    def _load_review(self) -> None:
        self.app_name.setText(self.builder.name)
        self.app_id.setText(self.builder.app_id)

    def _on_identity(self, *_: object) -> None:
        self._touch()
        if self.sender() is self.app_id:
            self._id_typed = True
        typed_id = self.app_id.text() if self._id_typed else None  # else: derived from the name
        self.builder.set_identity(self.app_name.text(), typed_id, self.description.toPlainText())
        if self.app_id.text() != self.builder.app_id:
            self.app_id.setText(self.builder.app_id)
        self._refresh()

    def on_save(self) -> None:
        try:
            result = self.builder.result()
        except BuilderError as error:
            self._touch()
            self._say(error.problems[0].message, error=True)
            return
        save, credentials, secrets = self._save, self._credentials, self.builder.outputs.secrets()

        def store_and_save(_ctx: Any) -> Any:
            if credentials is not None and secrets:
                save_output_secrets(credentials, secrets)  # the keyring may block: not on the GUI thread
            return save(result.manifest, result.model_id)

        self.save_button.setEnabled(False)
        self._tasks.run_in_background(store_and_save,
                                      on_success=self._on_saved, on_failure=self._on_save_failed,
                                      progress="Saving the app")

    def _on_saved(self, version: Any) -> None:
        self.saved_version = version
        self._forget_draft()
        self.accept()

    def _on_save_failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self._say(f"Could not save: {error}", error=True)

    # ------------------------------------------------------------ closing

    def has_work(self) -> bool:
        """Whether the engineer has entered anything since the builder opened."""
        return self.guard.has_work()

    @property
    def close_question(self) -> QMessageBox | None:
        """The "keep a draft?" question while it is open."""
        return self.guard.question

    @property
    def draft_kept(self) -> bool:
        return self.guard.draft_kept

    def reject(self) -> None:
        """Cancel, Esc and the close button: ask before throwing work away."""
        if self.guard.may_close():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.guard.may_close():
            super().closeEvent(event)
        else:
            event.ignore()

    def _close_now(self) -> None:
        super().reject()

    def _forget_draft(self) -> None:
        self.guard.forget()
