"""The builder's Outputs step with clicks and keys: a paired device sends the test event to a real HTTP server."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from console_app.core.credentials import CredentialStore
from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import CameraOption, ModelOption, Step
from console_app.core.services.output_drafts import output_secrets, send_test_event
from console_app.ui.tasks import TaskRunner
from console_app.ui.wizards.app_builder_wizard import AppBuilderWizard
from tests.peers.plant_servers import HttpReceiver

WAIT_MS = 20_000
SIM = "sim://production-line?seed=7&width=320&height=240&fps=5"
MODEL = ModelOption("m-1", "det", ("part", "person"), "yolov8", "ab" * 32)


def builder_at_outputs() -> AppBuilder:
    builder = AppBuilder([CameraOption("sim", "Line 3", SIM)], [MODEL])
    builder.set_cameras(builder.camera_options)
    builder.next()
    builder.choose_model(MODEL)
    while builder.step < Step.OUTPUTS:
        builder.next()
    return builder


def test_an_engineer_adds_a_webhook_sends_a_test_event_and_saves_its_key_in_the_credential_store(
        qtbot, console_context, start_device, tmp_path: Path) -> None:
    device = start_device()
    service = console_context.appliances
    service.add_by_address("127.0.0.1", device.port)
    service.pair(device.identity.device_id, device.pairing.current_code())
    credentials = CredentialStore(tmp_path / "creds", use_keyring=False)
    saved = []
    builder = builder_at_outputs()
    wizard = AppBuilderWizard(
        builder, TaskRunner(console_context.workers), lambda manifest, model_id: saved.append(manifest) or manifest,
        credentials=credentials, test_output=lambda entry, secrets: send_test_event(service, entry, secrets),
    )
    qtbot.addWidget(wizard)
    wizard._show_step()
    wizard.show()
    page = wizard.outputs_page
    with HttpReceiver() as receiver:
        page.kind.setCurrentIndex(page.kind.findData("webhook"))
        qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
        url = page._fields["url"]
        assert isinstance(url, QLineEdit)
        url.clear()
        qtbot.keyClicks(url, "ftp://nowhere")
        assert "expected an http:// or https:// url" in wizard.problem.text().lower()
        assert not wizard.next_button.isEnabled()
        url.clear()
        qtbot.keyClicks(url, f"{receiver.url}/hooks/line3")
        qtbot.keyClicks(page._fields["hmac_secret"], "shared-k3y")
        assert wizard.next_button.isEnabled(), wizard.problem.text()

        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "HTTP 200" in page.test_result.text(), timeout=WAIT_MS)
        assert page.test_result.text() == f'{device.config.name}: HTTP 200 OK: {{"ok": true}}'
        [request] = receiver.requests
        expected = "sha256=" + hmac.new(b"shared-k3y", request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Sightline-Signature"] == expected

        receiver.status = 503
        qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "503" in page.test_result.text(), timeout=WAIT_MS)
        assert "answered HTTP 503 Service Unavailable" in page.test_result.text()

    qtbot.mouseClick(wizard.next_button, Qt.MouseButton.LeftButton)
    assert builder.step == Step.REVIEW
    qtbot.keyClicks(wizard.app_name, "Line 3 hooks")
    qtbot.mouseClick(wizard.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(saved), timeout=WAIT_MS)
    [manifest] = saved
    assert manifest["outputs"][0]["hmac_secret"] == "output/webhook-1/hmac"
    assert "shared-k3y" not in repr(manifest)
    assert output_secrets(manifest, credentials) == {"output/webhook-1/hmac": "shared-k3y"}
