"""Registered cameras at a glance: thumbnails and online / offline / wrong-password per camera,
checked in the background against real simulated ONVIF cameras."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import CameraRegistration
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from console_app.ui.models import registered_cameras_model
from console_app.ui.models.registered_cameras_model import NAME, STATE
from console_app.ui.views import cameras_page

WAIT_MS = 20_000
PASSWORD = "State-s3cret-pw"


@pytest.fixture
def store(tmp_path: Path):
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False)) as opened:
        yield opened


@pytest.fixture
def cameras():
    cams = [SimulatedOnvifCamera(password=PASSWORD, discovery_interface=None, name=f"Line 3 camera {i}",
                                 serial=f"SN-ST-{i}", snapshot_format="png" if i == 1 else "jpeg",
                                 video_url=f"sim://production-line?seed={i}").start() for i in (1, 2)]
    yield cams
    for cam in cams:
        cam.stop()


def registration_of(cam: SimulatedOnvifCamera) -> CameraRegistration:
    from console_app.core.gateways.onvif_client import read_camera

    info = read_camera(cam.url, username="admin", password=PASSWORD)
    profile = info.profiles[1]
    return CameraRegistration(
        name=cam.name, host=info.host, port=info.port, manufacturer=info.device.manufacturer,
        model=info.device.model, serial=info.device.serial, endpoint_reference=cam.endpoint_reference,
        profiles=info.profiles, profile_token=profile.token, stream_uri=profile.stream_uri,
        snapshot_uri=profile.snapshot_uri, auth_method=info.auth_method.value, clock_offset_s=0.0,
        username="admin")


def state_of(page, row: int) -> str:
    return page.registered_model.index(row, STATE).data()


def test_each_registered_camera_shows_its_state_and_a_thumbnail_refreshed_off_the_gui_thread(
        qtbot, window, store, cameras, monkeypatch):
    decoded_on: list[str] = []
    real = registered_cameras_model.thumbnail_image

    def recording(data: bytes):  # the real decoder, noting the thread it runs on
        decoded_on.append(threading.current_thread().name)
        return real(data)

    monkeypatch.setattr(cameras_page, "thumbnail_image", recording)
    for cam in cameras:
        store.cameras.add_camera(registration_of(cam), PASSWORD)
    page = window.page("Cameras")
    page.check_interval_s = 0.2
    page.set_inventory(store)
    window.show_page(window.page_row("Cameras"))
    model = page.registered_model
    qtbot.waitUntil(lambda: model.rowCount() == 2 and [state_of(page, r) for r in (0, 1)] == ["Online"] * 2,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(model.index(r, NAME).data(registered_cameras_model.Qt.ItemDataRole.DecorationRole)
                                is not None for r in (0, 1)), timeout=WAIT_MS)
    thumbnail = model.index(0, NAME).data(registered_cameras_model.Qt.ItemDataRole.DecorationRole)
    assert 0 < thumbnail.width() <= 96 and 0 < thumbnail.height() <= 54
    assert decoded_on and threading.main_thread().name not in decoded_on

    # Camera 1's password is changed on the camera; camera 2 is switched off.
    first, second = cameras
    first.password = "changed-on-the-camera"
    second.stop()
    page.monitor.refresh()
    qtbot.waitUntil(lambda: [state_of(page, r) for r in (0, 1)] == ["Wrong password", "Offline"],
                    timeout=WAIT_MS)
    tooltip = model.index(0, STATE).data(registered_cameras_model.Qt.ItemDataRole.ToolTipRole)
    assert "wrong password" in tooltip and PASSWORD not in tooltip

    # Checks run only while the page is shown.
    window.show_page(window.page_row("Devices"))
    qtbot.waitUntil(lambda: not page.monitor.running, timeout=WAIT_MS)
