"""The add-camera wizard driven end to end against real simulated cameras, RTSP servers and a device."""

from __future__ import annotations

import functools
import socket
import threading

import cv2
import numpy as np
import pytest

from console_app.core.gateways.device_client import DeviceClient, pair
from console_app.core.services.registration import (
    AddCameraWizard,
    CameraRegistration,
    Mode,
    Step,
    WizardStepError,
    device_probe_from_client,
)
from tests.peers.rtsp_server import RtspServer

PASSWORD = "Reg-s3cret-pw"


class Inventory:
    """Stands in for the inventory's add_camera (another engineer's): records, or refuses duplicates."""

    def __init__(self) -> None:
        self.saved: list[tuple[CameraRegistration, str]] = []

    def add_camera(self, registration: CameraRegistration, password: str) -> None:
        for existing, _ in self.saved:
            if existing.serial and existing.serial == registration.serial:
                raise ValueError(f"a camera with serial {registration.serial} is already registered "
                                 f"as {existing.name!r}")
        self.saved.append((registration, password))


@pytest.fixture
def camera(sim_cameras):
    return functools.partial(sim_cameras, password=PASSWORD)


@pytest.fixture(scope="module")
def rtsp_camera():
    with RtspServer(path="/Streaming/Channels/101", user="admin", password=PASSWORD, width=320, height=240) as s:
        yield s


def rtsp_uri(server: RtspServer) -> str:
    return f"rtsp://127.0.0.1:{server.port}{server.path}"


def test_onvif_camera_is_registered_end_to_end_with_a_two_hour_clock_skew(camera, rtsp_camera):
    cam = camera(clock_skew_s=7200, video_url=rtsp_uri(rtsp_camera), serial="SN-E2E", name="Dock 3")
    inventory = Inventory()
    steps: list[Step] = []
    wizard = AddCameraWizard(inventory.add_camera, timeout_s=8, on_change=lambda w: steps.append(w.step))
    wizard.set_address(cam.url, endpoint_reference=cam.endpoint_reference)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.CHOOSE_PROFILE, wizard.error
    assert [p.token for p in wizard.camera.profiles] == ["main", "sub"]
    assert "2.0 h" in wizard.warnings[0]
    wizard.choose_profile("sub")
    wizard.test_stream()
    assert wizard.step is Step.REVIEW, wizard.error
    assert wizard.tested_via == "console"
    image = cv2.imdecode(np.frombuffer(wizard.first_frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    wizard.set_name("Dock 3 east")
    registration = wizard.save()
    assert wizard.step is Step.SAVED
    assert steps == [Step.CREDENTIALS, Step.PROBING, Step.CHOOSE_PROFILE, Step.TEST_STREAM, Step.REVIEW,
                     Step.SAVING, Step.SAVED]
    assert inventory.saved == [(registration, PASSWORD)]
    assert (registration.name, registration.serial, registration.profile_token) == ("Dock 3 east", "SN-E2E", "sub")
    assert registration.endpoint_reference == cam.endpoint_reference
    assert registration.stream_uri == rtsp_uri(rtsp_camera)  # no credentials in what is stored
    assert registration.auth_method == "ws-digest" and 7198 < registration.clock_offset_s < 7202
    assert PASSWORD not in repr(registration) and PASSWORD not in repr(wizard)


def test_wrong_password_fails_and_back_returns_to_credentials(camera):
    cam = camera()
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address("127.0.0.1", cam.port)
    wizard.set_credentials("admin", "Wrong-pw-123")
    wizard.probe()
    assert wizard.step is Step.FAILED
    assert f"camera at 127.0.0.1:{cam.port} rejected user 'admin': wrong password" in wizard.error
    assert "Wrong-pw-123" not in wizard.error
    wizard.back()
    assert wizard.step is Step.CREDENTIALS and wizard.error == ""
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.CHOOSE_PROFILE


def test_camera_that_is_not_onvif_fails_back_to_the_address_step(camera):
    cam = camera(onvif=False)
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address(cam.url)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.FAILED and "has no ONVIF service" in wizard.error
    wizard.back()
    assert wizard.step is Step.ADDRESS


def test_duplicate_registration_is_refused_with_the_inventory_message_and_nothing_saved(camera, rtsp_camera):
    cam = camera(video_url=rtsp_uri(rtsp_camera), serial="SN-DUP")
    inventory = Inventory()
    for _attempt in range(2):
        wizard = AddCameraWizard(inventory.add_camera, timeout_s=8)
        wizard.set_address(cam.url)
        wizard.set_credentials("admin", PASSWORD)
        wizard.probe()
        wizard.choose_profile("main")
        wizard.test_stream()
        wizard.save()
    assert wizard.step is Step.FAILED
    assert "serial SN-DUP is already registered" in wizard.error
    assert len(inventory.saved) == 1
    wizard.back()
    assert wizard.step is Step.REVIEW


def test_back_walks_the_visited_steps_and_cancel_ends_the_session(camera):
    cam = camera()
    wizard = AddCameraWizard(Inventory().add_camera)
    with pytest.raises(WizardStepError):
        wizard.back()
    wizard.set_address(cam.url)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    wizard.choose_profile("main")
    assert wizard.step is Step.TEST_STREAM
    wizard.back()
    assert wizard.step is Step.CHOOSE_PROFILE
    wizard.back()
    assert wizard.step is Step.CREDENTIALS
    wizard.back()
    assert wizard.step is Step.ADDRESS
    with pytest.raises(WizardStepError, match="at address, not credentials"):
        wizard.set_credentials("admin", PASSWORD)
    wizard.cancel()
    assert wizard.step is Step.CANCELLED
    with pytest.raises(WizardStepError):
        wizard.set_address(cam.url)


def test_cancel_during_probe_drops_the_late_result():
    """A camera that accepts and never answers keeps probe() busy; cancel must win."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        wizard = AddCameraWizard(Inventory().add_camera, timeout_s=1.0)
        wizard.set_address("127.0.0.1", silent.getsockname()[1])
        wizard.set_credentials("admin", PASSWORD)
        worker = threading.Thread(target=wizard.probe)
        worker.start()
        silent.settimeout(5)
        connection, _ = silent.accept()  # the probe is now waiting on the camera
        wizard.cancel()
        worker.join(5)
        connection.close()
    assert wizard.step is Step.CANCELLED and wizard.error == ""


def test_empty_address_is_refused_in_place():
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address("   ")
    assert wizard.step is Step.ADDRESS and "IP address" in wizard.error


def test_rtsp_camera_without_onvif_is_found_by_vendor_path_and_registered(rtsp_camera):
    inventory = Inventory()
    wizard = AddCameraWizard(inventory.add_camera, timeout_s=8)
    wizard.set_address("127.0.0.1", rtsp_camera.port, mode=Mode.RTSP)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.TEST_STREAM, wizard.error
    wizard.test_stream()
    assert wizard.step is Step.REVIEW, wizard.error
    registration = wizard.save()
    assert registration.stream_uri == rtsp_uri(rtsp_camera)
    assert (registration.onvif, registration.auth_method, registration.manufacturer) == (False, "rtsp", "Hikvision")
    assert (registration.profiles[0].width, registration.profiles[0].codec) == (320, "h264")
    assert registration.onvif_port is None  # the inventory must not take 554 for an ONVIF port


def test_a_camera_that_takes_its_password_in_the_url_is_registered_with_it_taken_out(tmp_path):
    from console_app.core.credentials import CredentialStore
    from console_app.core.persistence.store import InventoryStore

    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    with RtspServer(path="/live", user="admin", password=PASSWORD, auth="query") as server, \
            InventoryStore(f"sqlite:///{tmp_path / 'inventory.db'}", credentials=credentials) as inventory:
        wizard = AddCameraWizard(inventory.cameras.add_camera, timeout_s=8)
        wizard.set_address(server.url, mode=Mode.RTSP)  # pasted as the camera's manual gives it
        wizard.set_credentials("", "")
        wizard.probe()
        assert wizard.step is Step.TEST_STREAM, wizard.error
        wizard.test_stream()
        assert wizard.step is Step.REVIEW, wizard.error
        assert wizard.save() is not None, wizard.error

        [camera] = inventory.cameras.list_cameras()
        assert camera.stream_uri == f"rtsp://127.0.0.1:{server.port}/live?user=admin&pwd="
        assert inventory.cameras.camera_password(camera.id) == PASSWORD
        assert inventory.cameras.stream_url(camera.id) == server.url
        assert PASSWORD.encode() not in (tmp_path / "inventory.db").read_bytes()


def test_a_url_password_and_a_different_typed_one_are_refused_and_the_typing_stays(rtsp_camera):
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address(f"rtsp://127.0.0.1:{rtsp_camera.port}/live?user=admin&pwd=Url-pw-1", mode=Mode.RTSP)
    assert "Url-pw-1" not in wizard.address
    wizard.set_credentials("admin", "Typed-pw-2")
    assert wizard.step is Step.CREDENTIALS and "already carries a password" in wizard.error
    assert "Url-pw-1" not in wizard.error and "Typed-pw-2" not in wizard.error


def test_rtsp_url_with_a_wrong_path_fails_naming_the_path(rtsp_camera):
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address(f"rtsp://127.0.0.1:{rtsp_camera.port}/wrong", mode="rtsp")
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.FAILED and "no stream at path '/wrong'" in wizard.error
    wizard.back()
    assert wizard.step is Step.ADDRESS


def test_a_wrong_path_that_contains_401_still_sends_the_user_back_to_the_address(rtsp_camera):
    # A 404 whose text happens to contain "401" (a path here; a port such as 46401 in real
    # life) is not a refused password: Back must lead to the address, not the credentials.
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address(f"rtsp://127.0.0.1:{rtsp_camera.port}/line401", mode="rtsp")
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.FAILED and "401" in wizard.error and "404" in wizard.error
    wizard.back()
    assert wizard.step is Step.ADDRESS


def test_unreachable_stream_fails_the_test_step_with_a_clear_reason(camera):
    cam = camera(video_url="rtsp://127.0.0.1:9/Streaming/Channels/101")
    wizard = AddCameraWizard(Inventory().add_camera, timeout_s=2)
    wizard.set_address(cam.url)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    wizard.choose_profile("main")
    wizard.test_stream()
    assert wizard.step is Step.FAILED
    assert "did not open from this console: connection refused by 127.0.0.1:9" in wizard.error
    assert PASSWORD not in wizard.error
    wizard.back()
    assert wizard.step is Step.TEST_STREAM


def test_sim_stream_without_a_paired_device_says_a_device_is_needed(camera):
    cam = camera()
    wizard = AddCameraWizard(Inventory().add_camera)
    wizard.set_address(cam.url)
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    wizard.choose_profile("sub")
    wizard.test_stream()
    assert wizard.step is Step.FAILED and "no device is paired" in wizard.error


def test_sim_stream_is_test_opened_through_a_paired_device(camera, start_device):
    runtime = start_device()
    credentials = pair("127.0.0.1", runtime.port, runtime.pairing.current_code(), "pytest")
    cam = camera()
    with DeviceClient("127.0.0.1", runtime.port, credentials) as client:
        wizard = AddCameraWizard(Inventory().add_camera, device_probe=device_probe_from_client(client), timeout_s=8)
        wizard.set_address(cam.url)
        wizard.set_credentials("admin", PASSWORD)
        wizard.probe()
        wizard.choose_profile("sub")
        wizard.test_stream()
    assert wizard.step is Step.REVIEW, wizard.error
    assert wizard.tested_via == "device"
    assert (wizard.first_frame.width, wizard.first_frame.height) == (640, 480)
    assert wizard.first_frame.jpeg.startswith(b"\xff\xd8")


class Registered:
    """A registered camera as the Cameras page holds it (the fields a CameraRecord has)."""

    def __init__(self, name: str, *, host: str = "10.0.0.9", onvif_port: int | None = 80, serial: str = "",
                 manufacturer: str = "Sightline", endpoint_reference: str = "") -> None:
        self.name, self.host, self.onvif_port = name, host, onvif_port
        self.serial, self.manufacturer, self.endpoint_reference = serial, manufacturer, endpoint_reference


def test_a_camera_that_moved_is_recognised_by_its_serial_after_probing(camera):
    cam = camera(serial="SN-MOVED")
    wizard = AddCameraWizard(Inventory().add_camera, registered=[Registered("Dock 4", serial="SN-MOVED")])
    wizard.set_address(f"127.0.0.1:{cam.port}")
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.step is Step.FAILED
    assert wizard.error == "Sightline SIM-ONVIF-1 SN-MOVED is already registered as 'Dock 4'; there is nothing to add."
    wizard.back()
    assert wizard.step is Step.ADDRESS


def test_the_same_address_typed_another_way_is_refused_on_the_first_step(camera):
    cam = camera()
    wizard = AddCameraWizard(Inventory().add_camera,
                             registered=[Registered("Dock 5", host="127.0.0.1", onvif_port=cam.port)])
    wizard.set_address(cam.url)
    assert wizard.step is Step.ADDRESS
    assert wizard.error == f"The camera at 127.0.0.1:{cam.port} is already registered as 'Dock 5'; there is nothing to add."


def test_a_name_other_cameras_use_gets_the_serial_added(camera):
    cam = camera(serial="SN-NAME")
    wizard = AddCameraWizard(Inventory().add_camera, registered=[Registered("Gate", serial="SN-OTHER")],
                             known_names=["Gate", "Gate"])
    wizard.set_address(cam.url, name="Gate")
    wizard.set_credentials("admin", PASSWORD)
    wizard.probe()
    assert wizard.name == "Gate (SN-NAME)"
