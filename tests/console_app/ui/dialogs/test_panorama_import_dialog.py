"""The Applications page imports a Panorama project, shows its graph, binds a camera and deploys it."""

from __future__ import annotations

import json
import zipfile

from PySide6.QtCore import Qt

from console_app.ui.tasks import TaskRunner
from console_app.ui.views.applications_page import ApplicationsPage
from tests.device_runtime.panorama.fixture_apps import app_source, write_project

WAIT_MS = 30_000
SIM = "sim://production-line?seed=7&width=160&height=120&fps=5"


def test_import_a_zipped_panorama_app_bind_a_camera_set_a_parameter_and_deploy(qtbot, console_context, start_device, tmp_path):
    device = start_device()
    service = console_context.appliances
    service.add_by_address("127.0.0.1", device.port)
    service.pair(device.identity.device_id, device.pairing.current_code())
    root = write_project(tmp_path / "people_counter", app_source())
    archive = tmp_path / "people_counter.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, "people_counter/" + path.relative_to(root).as_posix())
    page = ApplicationsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(page)
    page.show()

    qtbot.mouseClick(page.panorama_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.panorama_dialog is not None, timeout=WAIT_MS)
    dialog = page.panorama_dialog
    dialog.load(archive)
    qtbot.waitUntil(lambda: dialog.deploy_button.isEnabled(), timeout=WAIT_MS)

    sections = {dialog.graph.topLevelItem(i).text(0): dialog.graph.topLevelItem(i) for i in range(dialog.graph.topLevelItemCount())}
    assert sections["Code nodes"].child(0).text(0) == "counter_code"
    assert sections["Model nodes"].child(0).text(1) == "images [1, 3, 64, 64]"
    assert dialog.app_id.text() == "counter_app"
    dialog.deploy()
    assert dialog.status.text() == "Choose a camera for camera_node."  # nothing was lost: the form stays
    dialog.param_edits["zone_name"].setText("yard")
    dialog.add_camera_url(SIM)
    dialog.bind("camera_node", ["production-line"])
    dialog.deploy()
    qtbot.waitUntil(lambda: "does not match the constraint" in dialog.status.text(), timeout=WAIT_MS)
    dialog.param_edits["zone_name"].setText("dock-6")
    dialog.deploy()
    qtbot.waitUntil(lambda: page.dialog is not dialog and page.dialog is not None, timeout=WAIT_MS)
    deploy = page.dialog
    assert deploy.windowTitle() == "Deploy counter app 1.0.0"
    qtbot.mouseClick(deploy.deploy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(deploy.results) and not deploy.running, timeout=WAIT_MS)
    result = deploy.results[device.identity.device_id]
    assert result.ok, result.message
    with service.connect(device.identity.device_id) as client:
        [app] = client.list_apps()
    assert (app.app_id, app.kind, app.state) == ("counter_app", "panorama", "running")
    page.reload_devices()
    qtbot.waitUntil(lambda: page.device_model.rowCount() == 1, timeout=WAIT_MS)
    assert page.device_model.rows()[0][6] == "counter_code running"

    page.device_view.selectRow(0)
    assert page.params_button.isEnabled()
    qtbot.mouseClick(page.params_button, Qt.MouseButton.LeftButton)
    tuning = page.dialog
    assert tuning.edits["zone_name"].text() == "dock-6" and tuning.edits["min_score"].text() == "0.5"
    tuning.edits["zone_name"].setText("yard")
    tuning.apply()
    qtbot.waitUntil(lambda: tuning.status.text().startswith("Not applied"), timeout=WAIT_MS)
    assert "does not match the constraint" in tuning.status.text() and tuning.edits["zone_name"].text() == "yard"
    tuning.edits["zone_name"].setText("dock-9")
    tuning.edits["min_score"].setText("0.75")
    tuning.apply()
    qtbot.waitUntil(lambda: tuning.status.text().startswith("Applied"), timeout=WAIT_MS)
    with service.connect(device.identity.device_id) as client:
        [app] = client.list_apps()
    assert json.loads(app.params_json) == {"min_score": 0.75, "zone_name": "dock-9"}
    camera_id = app.camera_ids[0]
    qtbot.mouseClick(tuning.camera_buttons[camera_id][0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tuning.status.text() == f"Camera {camera_id} paused.", timeout=WAIT_MS)
    qtbot.mouseClick(tuning.camera_buttons[camera_id][1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tuning.status.text() == f"Camera {camera_id} resumed.", timeout=WAIT_MS)


def test_an_app_whose_dockerfile_pip_installs_a_package_deploys_with_wheels_from_the_settings_wheelhouse(
    qtbot, console_context, start_device, tmp_path,
):
    from pathlib import Path

    from console_app.ui.views.settings_page import SettingsPage
    from tests.device_runtime.panorama.fixture_apps import WHEEL_APP, pip_wheel

    device = start_device()
    service = console_context.appliances
    service.add_by_address("127.0.0.1", device.port)
    service.pair(device.identity.device_id, device.pairing.current_code())
    wheelhouse = tmp_path / "wheelhouse"
    pip_wheel(wheelhouse, tmp_path)
    console_context.settings_path = tmp_path / "console.json"
    settings = SettingsPage(console_context, TaskRunner(console_context.workers))  # the engineer sets it there
    qtbot.addWidget(settings)
    settings.wheelhouse_edit.setText(str(wheelhouse))
    qtbot.mouseClick(settings.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settings.status.text().startswith("Saved"), timeout=WAIT_MS)
    assert f"wheels come from wheelhouse {wheelhouse}." in settings.status.text()
    dockerfile = "FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\nRUN pip3 install tinylib==1.0\n"
    root = write_project(tmp_path / "people_counter", WHEEL_APP, dockerfile=dockerfile)
    page = ApplicationsPage(console_context, TaskRunner(console_context.workers))
    qtbot.addWidget(page)
    page.show()

    qtbot.mouseClick(page.panorama_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.panorama_dialog is not None, timeout=WAIT_MS)
    dialog = page.panorama_dialog
    dialog.load(root)
    qtbot.waitUntil(lambda: dialog.deploy_button.isEnabled(), timeout=WAIT_MS)
    assert "pip requirements: tinylib==1.0" in dialog.warnings.text()
    dialog.add_camera_url(SIM)
    dialog.bind("camera_node", ["production-line"])
    dialog.deploy()
    qtbot.waitUntil(lambda: page.dialog is not dialog and page.dialog is not None, timeout=WAIT_MS)
    deploy = page.dialog
    qtbot.mouseClick(deploy.deploy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(deploy.results) and not deploy.running, timeout=WAIT_MS)
    assert deploy.results[device.identity.device_id].ok, deploy.results[device.identity.device_id].message

    report = Path(device.config.data_dir) / "app-data" / "counter_app" / "storage" / "wheel.json"

    def seen() -> dict | None:
        try:
            return json.loads(report.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    qtbot.waitUntil(lambda: seen() is not None, timeout=WAIT_MS)
    assert seen()["value"] == 42
