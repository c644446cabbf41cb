"""Registered cameras' state and thumbnails, checked against real simulated ONVIF cameras and RTSP servers."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.gateways.onvif_client import OnvifProfile
from console_app.core.persistence import InventoryStore
from console_app.core.services.camera_status import Availability, CameraMonitor, check_camera
from console_app.core.services.registration import AddCameraWizard, CameraRegistration
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from tests.peers.rtsp_server import RtspServer

PASSWORD = "Stat-s3cret-pw"


@pytest.fixture
def store(tmp_path: Path):
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False)) as opened:
        yield opened


@pytest.fixture
def camera(sim_cameras):
    return functools.partial(sim_cameras, password=PASSWORD)


def register(store, cam: SimulatedOnvifCamera, password: str = PASSWORD):
    """Through the real wizard's ONVIF read (no stream test: sim:// needs a device)."""
    wizard = AddCameraWizard(store.cameras.add_camera, timeout_s=8)
    wizard.set_address(cam.url)
    wizard.set_credentials("admin", password)
    wizard.probe()
    assert wizard.camera is not None, wizard.error
    info, profile = wizard.camera, wizard.camera.profiles[0]
    return store.cameras.add_camera(CameraRegistration(
        name=cam.name, host=info.host, port=info.port, manufacturer=info.device.manufacturer,
        model=info.device.model, serial=info.device.serial, endpoint_reference=cam.endpoint_reference,
        profiles=info.profiles, profile_token=profile.token, stream_uri=profile.stream_uri,
        snapshot_uri=profile.snapshot_uri, auth_method=info.auth_method.value, clock_offset_s=0.0,
        username="admin"), PASSWORD)


def decoded(image: bytes):
    return cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)


def test_onvif_camera_is_online_with_its_png_snapshot_as_thumbnail(store, camera):
    record = register(store, camera(snapshot_format="png", name="Line 3 camera 1"))
    check = check_camera(record, store.cameras.camera_password(record.id))
    assert check.availability is Availability.ONLINE, check.detail
    assert check.image.startswith(b"\x89PNG") and decoded(check.image).shape == (720, 1280, 3)


def test_camera_whose_password_changed_is_auth_failed_and_one_that_stopped_is_offline(store, camera):
    cam = camera()
    record = register(store, cam)
    cam.password = "changed-on-the-camera"
    check = check_camera(record, store.cameras.camera_password(record.id))
    assert check.availability is Availability.AUTH_FAILED and "wrong password" in check.detail
    assert PASSWORD not in check.detail and check.image == b""
    cam.stop()
    check = check_camera(record, store.cameras.camera_password(record.id), timeout_s=2)
    assert check.availability is Availability.OFFLINE and "unreachable" in check.detail


def test_rtsp_only_camera_is_checked_by_describe_and_gets_a_decoded_frame(store):
    with RtspServer(path="/live", user="admin", password=PASSWORD, width=320, height=240) as server:
        stream = f"rtsp://127.0.0.1:{server.port}/live"
        record = store.cameras.add_camera(CameraRegistration(
            name="Gate", host="127.0.0.1", port=server.port, manufacturer="", model="", serial="",
            endpoint_reference="", profiles=(OnvifProfile("rtsp", "RTSP", "", 0, 0, 0.0, stream),),
            profile_token="rtsp", stream_uri=stream, snapshot_uri="", auth_method="rtsp", clock_offset_s=0.0,
            username="admin", onvif=False), PASSWORD)
        check = check_camera(record, PASSWORD)
        assert check.availability is Availability.ONLINE, check.detail
        assert decoded(check.image).shape == (240, 320, 3)
        check = check_camera(record, "not-the-password")
        assert check.availability is Availability.AUTH_FAILED and "401" in check.detail
    assert check_camera(record, PASSWORD, timeout_s=1).availability is Availability.OFFLINE


def test_monitor_reports_every_camera_from_its_own_thread_and_stops(store, camera):
    records = [register(store, camera(serial=f"SN-M{i}", name=f"Line 3 camera {i}",
                                      video_url=f"sim://production-line?seed={i}")) for i in (1, 2)]
    results, threads, done = [], set(), threading.Event()

    def on_result(check) -> None:
        results.append(check)
        threads.add(threading.current_thread().name)
        if len({r.camera_id for r in results}) == 2:
            done.set()

    monitor = CameraMonitor(store.cameras.camera_password, on_result, interval_s=60).start()
    try:
        monitor.set_cameras(records)
        assert done.wait(30)
        # Hidden and shown again at once (the engineer flips pages): the checks go on.
        monitor.stop(timeout_s=0)
        assert not monitor.running
        done.clear()
        results.clear()
        monitor.start()
        assert monitor.running
        assert done.wait(30)
    finally:
        monitor.stop()
    assert not monitor.running
    assert {r.camera_id for r in results} == {r.id for r in records}
    assert all(r.availability is Availability.ONLINE and r.image for r in results)
    assert threads == {"camera-monitor"}
