"""The builder wizard walked through with clicks and keys, against real parts: a paired device runtime takes
the snapshot of the synthetic camera, the real model library holds the model, the app library saves and
packages; the package's manifest passes the device's parser."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import CameraOption, ModelOption, Step
from console_app.core.services.app_library import AppLibrary
from console_app.core.services.model_library import ModelLibrary
from console_app.core.services.snapshot_source import SnapshotSource
from console_app.ui.tasks import TaskRunner
from console_app.ui.wizards.app_builder_wizard import ERROR_STYLE, HINT_STYLE, AppBuilderWizard
from device_runtime.protocol.apps.manifest import parse_manifest
from tests.peers.onnx_models import make_constant_detector

WAIT_MS = 20_000
SIM = "sim://production-line?seed=7&width=320&height=240&fps=5"


def click_at(qtbot, editor, x: float, y: float) -> None:
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=editor.to_widget((x, y)).toPoint())


def test_wizard_walk_through_draws_on_a_device_snapshot_and_saves_a_deployable_package(
        qtbot, console_context, start_device, tmp_path):
    device = start_device()
    service = console_context.appliances
    service.add_by_address("127.0.0.1", device.port)
    service.pair(device.identity.device_id, device.pairing.current_code())
    models = ModelLibrary(tmp_path / "console")
    source = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 50, 50, 0.9, 1)])
    model = models.import_file(source, name="det", labels=["part", "person", "helmet"])
    library = AppLibrary(tmp_path / "console", model_library=models)
    tasks = TaskRunner(console_context.workers)
    builder = AppBuilder([CameraOption("sim", "Line 3", SIM)], [ModelOption.from_library(model)])
    wizard = AppBuilderWizard(builder, tasks, library.save_version, SnapshotSource(service))
    qtbot.addWidget(wizard)
    wizard.show()

    # Before the engineer did anything: a hint, not a red error.
    assert not wizard.next_button.isEnabled() and wizard.problem.text() == "Choose at least one camera"
    assert wizard.problem.styleSheet() == HINT_STYLE
    wizard.camera_list.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    # The library's only model is chosen already.
    assert builder.step == Step.MODEL and wizard.next_button.isEnabled() and wizard.model_list.currentRow() == 0
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert builder.step == Step.CLASSES
    wizard.class_list.item(1).setCheckState(Qt.CheckState.Checked)
    wizard.confidence.setValue(0.4)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)

    assert builder.step == Step.ZONES
    editor = wizard.editor
    qtbot.waitUntil(lambda: not editor.image.isNull(), timeout=WAIT_MS)
    assert (editor.image.width(), editor.image.height()) == (320, 240)
    click_at(qtbot, editor, 0.1, 0.5)
    click_at(qtbot, editor, 0.7, 0.5)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert builder.zones == [] and "at least 3 points" in editor.message
    click_at(qtbot, editor, 0.7, 0.95)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert [z.name for z in builder.zones] == ["zone-1"]
    wizard.line_mode.setChecked(True)
    click_at(qtbot, editor, 0.8, 0.1)
    click_at(qtbot, editor, 0.8, 0.4)
    assert [ln.name for ln in builder.lines] == ["line-1"]
    assert wizard.shape_list.count() == 2

    qtbot.mouseClick(wizard.back_button, Qt.MouseButton.LeftButton)  # back keeps everything
    assert builder.step == Step.CLASSES and wizard.class_list.item(1).checkState() == Qt.CheckState.Checked
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert len(builder.zones) == 1 and wizard.shape_list.count() == 2
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert builder.step == Step.OUTPUTS and wizard.next_button.isEnabled()
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)

    assert builder.step == Step.REVIEW and not wizard.save_button.isEnabled()
    assert wizard.problem.text() == "Give the app a name" and wizard.problem.styleSheet() == HINT_STYLE
    qtbot.keyClicks(wizard.app_name, "Line 3 watch")
    assert wizard.app_id.text() == "line-3-watch" and wizard.save_button.isEnabled()
    qtbot.mouseClick(wizard.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.saved_version is not None, timeout=WAIT_MS)

    assert wizard.saved_version.version == "1.0.0"
    with tarfile.open(fileobj=io.BytesIO(library.package("line-3-watch")), mode="r:gz") as tar:
        manifest = parse_manifest(json.loads(tar.extractfile("app.json").read()))
        assert tar.getnames() == ["app.json", "models/det-v1.onnx"]
    assert manifest.params.classes == ["person"] and manifest.params.confidence == 0.4
    zone = manifest.params.for_camera(manifest.camera_ids()[0]).zones[0]
    assert [round(x, 2) for p in zone.points for x in p] == [0.1, 0.5, 0.7, 0.5, 0.7, 0.95]
    assert manifest.cameras[0].url == SIM


DOCK_SIM = "sim://production-line?seed=31&width=320&height=240&fps=5"
LABELS = ("part", "person", "helmet")


@pytest.fixture
def tasks():
    from console_app.core.workers import WorkerPool

    with WorkerPool(name="wizard-test") as workers:
        yield TaskRunner(workers)


def offline_wizard(qtbot, tasks, drafts=None, builder=None) -> AppBuilderWizard:
    """A wizard on two cameras, without snapshots (drawing works on an empty picture)."""
    builder = builder or AppBuilder([CameraOption("a", "Line 3", SIM), CameraOption("b", "Dock", DOCK_SIM)],
                                    [ModelOption("m-1", "det", LABELS, "yolov8", "ab" * 32, 1)])
    wizard = AppBuilderWizard(builder, tasks, lambda manifest, model_id: None, None, drafts=drafts)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def to_zones_step(qtbot, wizard: AppBuilderWizard) -> None:
    for row in range(wizard.camera_list.count()):
        wizard.camera_list.item(row).setCheckState(Qt.CheckState.Checked)
    for _ in range(3):
        qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert wizard.builder.step == Step.ZONES


def draw_zone(qtbot, wizard: AppBuilderWizard, points) -> None:
    for x, y in points:
        click_at(qtbot, wizard.editor, x, y)
    qtbot.keyClick(wizard.editor, Qt.Key.Key_Return)


def test_each_camera_gets_its_own_zones_and_can_start_from_a_copy(qtbot, tasks):
    wizard = offline_wizard(qtbot, tasks)
    to_zones_step(qtbot, wizard)
    wizard.editor.resize(400, 300)
    draw_zone(qtbot, wizard, [(0.1, 0.5), (0.7, 0.5), (0.7, 0.95)])
    assert wizard.shape_list.count() == 1

    wizard.zone_camera.setCurrentIndex(1)  # the dock camera: nothing drawn here yet
    assert wizard.shape_list.count() == 0 and wizard.copy_from.currentText() == "Line 3"
    qtbot.mouseClick(wizard.copy_button, Qt.MouseButton.LeftButton)
    assert wizard.shape_list.count() == 1 and "copied 1 shape" in wizard.editor.message
    wizard.builder.update_zone(1, points=[(0.3, 0.4), (0.9, 0.4), (0.9, 0.9)])  # moved to fit the dock

    manifest = parse_manifest(wizard.builder.manifest() | {"id": "x", "name": "x"})
    line3, dock = (manifest.params.for_camera(c) for c in manifest.camera_ids())
    assert [z.name for z in line3.zones] == [z.name for z in dock.zones] == ["zone-1"]
    assert line3.zones[0].points != dock.zones[0].points


def test_the_builder_speaks_plainly_and_sets_dwell_limits_and_directions(qtbot, tasks):
    from device_runtime.protocol.apps.params import DetectorParams

    wizard = offline_wizard(qtbot, tasks)
    assert wizard.problem.styleSheet() == HINT_STYLE  # nothing done yet: no red
    wizard.camera_list.item(0).setCheckState(Qt.CheckState.Checked)
    wizard.camera_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert wizard.problem.text() == "Choose at least one camera" and wizard.problem.styleSheet() == ERROR_STYLE
    to_zones_step(qtbot, wizard)
    wizard.zone_camera.setCurrentIndex(0)
    draw_zone(qtbot, wizard, [(0.1, 0.5), (0.7, 0.5), (0.7, 0.95)])
    assert wizard.dwell_limit.isEnabled() and not wizard.line_direction.isEnabled()  # the new zone is selected
    wizard.dwell_limit.setValue(20)
    wizard.line_mode.setChecked(True)
    click_at(qtbot, wizard.editor, 0.8, 0.1)
    click_at(qtbot, wizard.editor, 0.8, 0.4)
    assert wizard.line_direction.isEnabled() and not wizard.dwell_limit.isEnabled()
    wizard.line_direction.setCurrentIndex(wizard.line_direction.findData("in"))
    assert wizard.builder.zones[0].dwell_limit_s == 20 and wizard.builder.lines[0].count == "in"

    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)  # parameters
    labels = [w.text() for w in wizard.stack.currentWidget().findChildren(QLabel)]
    assert any(text.endswith("(&dead band):") for text in labels)
    assert any("(NMS &overlap, IoU)" in text for text in labels)
    assert wizard.iou.toolTip() == DetectorParams.model_fields["iou"].description

    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)  # outputs (none)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)  # review
    qtbot.keyClicks(wizard.app_name, "Line 3 watch")
    summary = wizard.summary.text()
    assert "alarm when something stays longer than 20 s" in summary
    assert "in the arrow&#x27;s direction only (in)" in summary or "in the arrow's direction only (in)" in summary
    assert "{" not in summary and not wizard.manifest_view.isVisible()
    qtbot.mouseClick(wizard.details_button, Qt.MouseButton.LeftButton)
    assert wizard.manifest_view.isVisible()
    assert json.loads(wizard.manifest_view.toPlainText())["id"] == "line-3-watch"


def test_closing_with_work_asks_and_a_kept_draft_reopens(qtbot, tasks, tmp_path):
    from console_app.core.services.app_drafts import NEW_APP, DraftStore, builder_from_draft

    drafts = DraftStore(tmp_path / "console")
    wizard = offline_wizard(qtbot, tasks, drafts=drafts)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)  # nothing entered yet: closes without asking
    assert not wizard.isVisible() and wizard.close_question is None

    wizard = offline_wizard(qtbot, tasks, drafts=drafts)
    to_zones_step(qtbot, wizard)
    wizard.zone_camera.setCurrentIndex(1)
    draw_zone(qtbot, wizard, [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6)])
    qtbot.mouseClick(wizard.cancel_button, Qt.MouseButton.LeftButton)
    question = wizard.close_question
    assert question is not None and wizard.isVisible()
    buttons = {b.text(): b for b in question.buttons()}
    assert set(buttons) == {"&Keep draft", "&Discard", "Continue &editing"}
    qtbot.mouseClick(buttons["Continue &editing"], Qt.MouseButton.LeftButton)
    assert wizard.isVisible() and len(wizard.builder.zones) == 1  # nothing lost

    wizard.close()  # the window's close button (Alt+F4) asks the same
    question = wizard.close_question
    assert question is not None and wizard.isVisible()
    keep = next(b for b in question.buttons() if b.text() == "&Keep draft")
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    assert not wizard.isVisible() and wizard.draft_kept
    qtbot.waitUntil(lambda: drafts.load(NEW_APP) is not None, timeout=WAIT_MS)

    reopened = builder_from_draft(drafts.load(NEW_APP), wizard.builder.camera_options, wizard.builder.model_options)
    again = offline_wizard(qtbot, tasks, drafts=drafts, builder=reopened)
    assert again.builder.step == Step.ZONES
    assert [(z.name, z.camera) for z in again.builder.zones] == [("zone-1", "Dock")]
    assert again.camera_list.item(1).checkState() == Qt.CheckState.Checked
