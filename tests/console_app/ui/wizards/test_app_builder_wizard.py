"""The builder wizard walked through with clicks and keys, against real parts: a paired device runtime takes
the snapshot of the synthetic camera, the real model library holds the model, the app library saves and
packages; the package's manifest passes the device's parser."""

from __future__ import annotations

import io
import json
import tarfile

from PySide6.QtCore import Qt

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import CameraOption, ModelOption, Step
from console_app.core.services.app_library import AppLibrary
from console_app.core.services.model_library import ModelLibrary
from console_app.core.services.snapshot_source import SnapshotSource
from console_app.ui.tasks import TaskRunner
from console_app.ui.wizards.app_builder_wizard import AppBuilderWizard
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
    tasks = TaskRunner(console_context.loop)
    builder = AppBuilder([CameraOption("sim", "Line 3", SIM)], [ModelOption.from_library(model)])
    wizard = AppBuilderWizard(builder, tasks, library.save_version, SnapshotSource(service))
    qtbot.addWidget(wizard)
    wizard.show()

    assert not wizard.next_button.isEnabled() and wizard.problem.text() == "cameras: choose at least one camera"
    wizard.camera_list.item(0).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert builder.step == Step.MODEL and not wizard.next_button.isEnabled()
    wizard.model_list.setCurrentRow(0)
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
    assert wizard.problem.text() == "name: give the app a name"
    qtbot.keyClicks(wizard.app_name, "Line 3 watch")
    assert wizard.app_id.text() == "line-3-watch" and wizard.save_button.isEnabled()
    qtbot.mouseClick(wizard.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.saved_version is not None, timeout=WAIT_MS)

    assert wizard.saved_version.version == "1.0.0"
    with tarfile.open(fileobj=io.BytesIO(library.package("line-3-watch")), mode="r:gz") as tar:
        manifest = parse_manifest(json.loads(tar.extractfile("app.json").read()))
        assert tar.getnames() == ["app.json", "models/det-v1.onnx"]
    assert manifest.params.classes == ["person"] and manifest.params.confidence == 0.4
    assert [round(x, 2) for p in manifest.params.zones[0].points for x in p] == [0.1, 0.5, 0.7, 0.5, 0.7, 0.95]
    assert manifest.cameras[0].url == SIM
