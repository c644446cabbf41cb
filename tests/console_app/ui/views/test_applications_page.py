"""The Applications page against a real paired device: deploy through the dialog, roll back with one click."""

from __future__ import annotations

from PySide6.QtCore import Qt

from console_app.core.services.app_library import AppLibrary
from console_app.core.services.model_library import ModelLibrary
from console_app.ui.tasks import TaskRunner
from console_app.ui.views.applications_page import ApplicationsPage
from tests.peers.onnx_models import make_constant_detector

WAIT_MS = 30_000
SIM = "sim://production-line?seed=7&width=160&height=120&fps=5"


def gate_manifest(confidence: float) -> dict:
    return {
        "schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
        "cameras": [{"id": "cam-1", "url": SIM}],
        "model": {"name": "det-v1", "labels": ["part", "person", "helmet"]},
        "params": {"confidence": confidence},
    }


def select_row(view, row: int) -> None:
    view.selectRow(row)


def test_deploy_from_the_library_then_roll_back_on_the_device_with_one_click(
        qtbot, console_context, start_device, tmp_path):
    device = start_device()
    device_id = device.identity.device_id
    service = console_context.appliances
    service.add_by_address("127.0.0.1", device.port)
    service.pair(device_id, device.pairing.current_code())
    models = ModelLibrary(tmp_path / "console")
    model = models.import_file(make_constant_detector(tmp_path / "det.onnx", "yolov8", [(1, 1, 9, 9, 0.9, 0)]),
                               name="det", labels=["part", "person", "helmet"])
    library = AppLibrary(tmp_path / "console", model_library=models)
    library.save_version(gate_manifest(0.5), model.id)
    console_context.model_library, console_context.app_library = models, library
    page = ApplicationsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(page)
    page.show()
    page.deployer.deploy(library.package("gate", "1.0.0"), [device_id])  # 1.0.0 is running
    library.save_version(gate_manifest(0.6))  # 1.1.0, in the library only

    page.reload()
    qtbot.waitUntil(lambda: page.library_model.rowCount() == 1 and page.device_model.rowCount() == 1, timeout=WAIT_MS)
    assert page.library_model.rows()[0][:4] == ["Gate", "gate", "1.1.0", "1.0.0, 1.1.0"]
    assert page.device_model.rows()[0][2:4] == ["1.0.0", "running"]

    select_row(page.library_view, 0)
    qtbot.mouseClick(page.deploy_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog.windowTitle() == "Deploy Gate 1.1.0" and dialog.chosen_devices() == [device_id]
    qtbot.mouseClick(dialog.deploy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialog.results) and not dialog.running, timeout=WAIT_MS)
    assert dialog.results[device_id].ok, dialog.results[device_id].message
    assert dialog.table.item(0, 1).text() == "running" and "gate 1.1.0 running" in dialog.table.item(0, 3).text()
    assert not dialog.retry_button.isEnabled()
    dialog.close()
    qtbot.waitUntil(lambda: page.device_model.rowCount() == 1 and page.device_model.rows()[0][2] == "1.1.0",
                    timeout=WAIT_MS)

    select_row(page.device_view, 0)
    assert page.rollback_button.isEnabled() and page.stop_button.isEnabled()
    qtbot.mouseClick(page.rollback_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.device_model.rowCount() == 1 and page.device_model.rows()[0][2] == "1.0.0",
                    timeout=WAIT_MS)
    assert page.device_status.text().startswith("gate on ") and "is now 1.0.0" in page.device_status.text()
    with service.connect(device_id) as client:
        assert [(a.app_id, a.version) for a in client.list_apps()] == [("gate", "1.0.0")]


def test_edit_opens_the_builder_on_the_latest_version_and_saves_the_next_one(qtbot, console_context, tmp_path):
    models = ModelLibrary(tmp_path / "console")
    model = models.import_file(make_constant_detector(tmp_path / "det.onnx", "yolov8", [(1, 1, 9, 9, 0.9, 0)]),
                               name="det", labels=["part", "person", "helmet"])
    library = AppLibrary(tmp_path / "console", model_library=models)
    library.save_version(gate_manifest(0.5), model.id)
    console_context.model_library, console_context.app_library = models, library
    page = ApplicationsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(page)
    page.show()
    page.reload()
    qtbot.waitUntil(lambda: page.library_model.rowCount() == 1, timeout=WAIT_MS)
    assert not page.edit_button.isEnabled()
    select_row(page.library_view, 0)
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is not None, timeout=WAIT_MS)
    wizard = page.dialog
    assert wizard.windowTitle() == "Edit Gate (saves a new version)"
    assert wizard.camera_list.item(0).checkState() == Qt.CheckState.Checked
    for _ in range(5):
        qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert wizard.app_id.text() == "gate" and not wizard.app_id.isEnabled()
    wizard.app_name.clear()
    qtbot.keyClicks(wizard.app_name, "Gate north")
    qtbot.mouseClick(wizard.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.library_model.rowCount() == 1 and page.library_model.rows()[0][2] == "1.1.0",
                    timeout=WAIT_MS)
    latest = library.get("gate")
    assert latest.name == "Gate north" and latest.model_id == model.id
    assert latest.manifest["params"]["confidence"] == 0.5


def test_new_app_reopens_the_draft_kept_when_the_builder_was_closed(qtbot, console_context, tmp_path):
    models = ModelLibrary(tmp_path / "console")
    models.import_file(make_constant_detector(tmp_path / "det.onnx", "yolov8", [(1, 1, 9, 9, 0.9, 0)]),
                       name="det", labels=["part", "person", "helmet"])
    console_context.model_library = models
    console_context.app_library = AppLibrary(tmp_path / "console", model_library=models)
    page = ApplicationsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(page)
    page.show()

    page.new_app()
    qtbot.waitUntil(lambda: page.dialog is not None, timeout=WAIT_MS)
    wizard = page.dialog
    qtbot.keyClicks(wizard.camera_url, SIM)
    next(b for b in wizard.findChildren(type(wizard.next_button)) if b.text() == "&Add by URL").click()
    assert wizard.builder.cameras and wizard.has_work()
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    question = wizard.close_question
    assert question is not None
    qtbot.mouseClick(next(b for b in question.buttons() if b.text() == "&Keep draft"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: (console_context.data_dir / "app-drafts" / "new.json").is_file(), timeout=WAIT_MS)

    page.new_app()
    qtbot.waitUntil(lambda: page.dialog is not None, timeout=WAIT_MS)
    again = page.dialog
    assert "(reopened draft)" in again.header.text()
    assert [c.url for c in again.builder.cameras] == [SIM]
    assert again.builder.model is not None  # the library's only model, preselected
