"""The deploy dialog: per-device rows, a device that is gone fails with a message, Retry failed sends again."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from console_app.core.packaging import build_package_from_members
from console_app.core.services.deployer import Deployer
from console_app.ui.dialogs.deploy_dialog import DeployDialog
from console_app.ui.tasks import TaskRunner
from tests.peers.onnx_models import make_constant_detector

WAIT_MS = 30_000


def test_failed_device_is_reported_and_retry_deploys_to_it_only_after_it_is_back(
        qtbot, console_context, start_device, tmp_path):
    service = console_context.appliances
    up, going = start_device(), start_device()
    for runtime in (up, going):
        service.add_by_address("127.0.0.1", runtime.port)
        service.pair(runtime.identity.device_id, runtime.pairing.current_code())
    model = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(1, 1, 9, 9, 0.9, 0)])
    manifest = {"schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": "2.0.0", "kind": "detector",
                "cameras": [{"id": "c", "url": "sim://production-line?seed=1&width=160&height=120&fps=5"}],
                "model": {"name": "det", "file": "models/det.onnx"}}
    package = build_package_from_members(manifest, {"models/det.onnx": model, "pad.bin": os.urandom(300_000)})
    builds = []

    def build() -> bytes:
        builds.append(1)
        return package

    going_port, going_dir, going_name = going.port, going.config.data_dir, going.config.name
    going.stop(grace=0)
    devices = service.paired_entries()
    dialog = DeployDialog("Gate 2.0.0", build, Deployer(service), devices, TaskRunner(console_context.workers))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.deploy_button.isEnabled()
    for i in range(dialog.device_list.count()):
        dialog.device_list.item(i).setCheckState(Qt.CheckState.Checked)
    qtbot.mouseClick(dialog.deploy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.results) == 2 and not dialog.running, timeout=WAIT_MS)

    rows = {dialog.table.item(r, 0).text(): (dialog.table.item(r, 1).text(), dialog.table.item(r, 3).text())
            for r in range(dialog.table.rowCount())}
    assert rows[up.config.name][0] == "running"
    stage, message = rows[going_name]
    assert stage == "failed" and message.startswith(f"could not connect to {going_name}")
    assert "1 did not get the app" in dialog.status.text() and "Retry failed" in dialog.status.text()
    assert dialog.retry_button.isEnabled()

    start_device(port=going_port, data_dir=going_dir, name=going_name)
    qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running and all(r.ok for r in dialog.results.values()), timeout=WAIT_MS)
    assert dialog.results[going.identity.device_id].version == "2.0.0"
    assert dialog.status.text() == "Deployed to 2 device(s)." and not dialog.retry_button.isEnabled()
    assert builds == [1], "the package is built once and reused for the retry"
