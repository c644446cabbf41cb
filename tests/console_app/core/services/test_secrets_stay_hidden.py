"""A camera password never reaches a log record or an error text, whatever fails.

Real parts only: the simulated ONVIF camera, a GStreamer RTSP server, a real
device runtime over TLS (paired), the console's wizard and deployer. Every
log record of every logger (console and device run in this process) and
every error text the engineer would see is searched for the password, plain
and percent-encoded. The passwords hold '/', '@', ':' and '?' on purpose:
those are the characters the old copies of the redaction mishandled.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest

from console_app.core.gateways.device_client import DeviceClient, pair
from console_app.core.packaging import build_package_from_members
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.core.services.deployer import Deployer, Stage
from console_app.core.services.registration import AddCameraWizard, Step, device_probe_from_client
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from tests.peers.onnx_models import make_constant_detector
from tests.peers.rtsp_server import RtspServer

CAMERA_PASSWORD = "Kx7Qpw/Bz4Nmv@Jt8Lrc:Hy2Wsd?Fg6Tka"
TYPED_WRONG = "Wr0ngQ/Typ3dX@Vz9Pqm"
QUERY_TOKEN = "T0kenInQuery77"


def forms(secret: str) -> list[str]:
    """The ways a secret can show: as is, percent-encoded, and each piece between '/', '@', ':', '?'.

    A redaction that stops at one of those characters leaves the rest visible.
    """
    return [secret, quote(secret, safe=""), *re.split(r"[/@:?]", secret)]


def leaks(texts: list[str], records: list[logging.LogRecord], handler: logging.Handler,
          secrets: list[str]) -> list[str]:
    """Every text or formatted log record (traceback included) holding one of ``secrets``."""
    shown = list(texts) + [handler.format(record) for record in records]
    return [f"{form!r} in {text!r}" for text in shown for secret in secrets for form in forms(secret)
            if form and form in text]


class Inventory:
    """Records what the wizard would save."""

    def __init__(self) -> None:
        self.saved: list = []

    def add_camera(self, registration, password: str) -> None:
        self.saved.append((registration, password))


@pytest.fixture
def onvif_camera():
    started: list[SimulatedOnvifCamera] = []

    def start(**kwargs) -> SimulatedOnvifCamera:
        cam = SimulatedOnvifCamera(password=CAMERA_PASSWORD, discovery_interface=None, **kwargs).start()
        started.append(cam)
        return cam

    yield start
    for cam in started:
        cam.stop()


def test_failing_camera_registrations_keep_every_password_out_of_logs_and_errors(
        onvif_camera, start_device, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    runtime = start_device()
    credentials = pair("127.0.0.1", runtime.port, runtime.pairing.current_code(), "pytest")
    with RtspServer(path="/Streaming/Channels/101", user="admin", password=CAMERA_PASSWORD) as rtsp, \
            DeviceClient("127.0.0.1", runtime.port, credentials) as client:
        # 1. ONVIF with a wrong password typed.
        cam = onvif_camera()
        wizard = AddCameraWizard(Inventory().add_camera, timeout_s=4)
        wizard.set_address(cam.url)
        wizard.set_credentials("admin", TYPED_WRONG)
        wizard.probe()
        assert wizard.step is Step.FAILED
        errors += [wizard.error, repr(wizard)]

        # 2. An RTSP URL pasted with its password (and a token in the query), wrong path.
        pasted = f"rtsp://admin:{quote(CAMERA_PASSWORD, safe='')}@127.0.0.1:{rtsp.port}/nope?token={QUERY_TOKEN}"
        wizard = AddCameraWizard(Inventory().add_camera, timeout_s=4)
        wizard.set_address(pasted, mode="rtsp")
        wizard.set_credentials("admin", CAMERA_PASSWORD)
        wizard.probe()
        assert wizard.step is Step.FAILED and "404" in wizard.error, wizard.error
        errors += [wizard.error]

        # 3. RTSP host with the wrong password: every vendor path answers 401.
        wizard = AddCameraWizard(Inventory().add_camera, timeout_s=4)
        wizard.set_address("127.0.0.1", rtsp.port, mode="rtsp")
        wizard.set_credentials("admin", TYPED_WRONG)
        wizard.probe()
        assert wizard.step is Step.FAILED and "401" in wizard.error, wizard.error
        errors += [wizard.error]

        # 4. ONVIF works, its stream is dead: the console and the paired device both fail to open it.
        cam = onvif_camera(video_url="rtsp://127.0.0.1:9/Streaming/Channels/101")
        wizard = AddCameraWizard(Inventory().add_camera, device_probe=device_probe_from_client(client),
                                 timeout_s=3)
        wizard.set_address(cam.url)
        wizard.set_credentials("admin", CAMERA_PASSWORD)
        wizard.probe()
        assert wizard.step is Step.CHOOSE_PROFILE, wizard.error
        wizard.choose_profile("main")
        wizard.test_stream()
        assert wizard.step is Step.FAILED and "connection refused" in wizard.error, wizard.error
        errors += [wizard.error]

        # 5. The device is asked directly about a URL whose password has '/' and '@' in it.
        answer = client.probe_camera(f"rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:{rtsp.port}/x?pwd={QUERY_TOKEN}",
                                     timeout_ms=3000)
        assert not answer.ok
        errors += [answer.error]

    assert caplog.records, "the failures were logged"
    assert leaks(errors, caplog.records, caplog.handler, [CAMERA_PASSWORD, TYPED_WRONG, QUERY_TOKEN]) == []


def test_a_failing_deploy_keeps_camera_passwords_out_of_logs_and_errors(start_device, workers, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    runtime = start_device()
    service = ApplianceService(FilePairingStore(tmp_path / "pairings"), workers, ["127.0.0.1"], client_name="leak test")
    try:
        service.add_by_address("127.0.0.1", runtime.port)
        device_id = runtime.identity.device_id
        service.pair(device_id, runtime.pairing.current_code())
        model = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 60, 60, 0.9, 0)])
        manifest = {
            "schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
            "cameras": [
                # Mistyped scheme: the device refuses the manifest and names this URL.
                {"id": "cam-1", "url": f"rtsp//admin:{CAMERA_PASSWORD}@10.0.0.5/live"},
                {"id": "cam-2", "url": f"rtsp://10.0.0.6/live?user=admin&password={QUERY_TOKEN}"},
            ],
            "model": {"name": "det", "file": "models/det.onnx", "labels": ["part", "person", "helmet"]},
            "params": {"confidence": 0.5},
        }
        data = build_package_from_members(manifest, {"models/det.onnx": model})
        result = Deployer(service).deploy(data, [device_id])[device_id]
    finally:
        service.stop()

    assert result.stage == Stage.FAILED and not result.ok
    assert "cam-1" in result.message or "cameras[0]" in result.message, result.message
    assert leaks([result.message], caplog.records, caplog.handler, [CAMERA_PASSWORD, QUERY_TOKEN]) == []
