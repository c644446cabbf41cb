"""The ONVIF gateway (real onvif-zeep) against the real simulated camera over HTTP on 127.0.0.1."""

from __future__ import annotations

import functools
import socket
import threading
import time

import pytest

from console_app.core.gateways.onvif_client import (
    AuthMethod,
    BadCameraAddress,
    NotOnvif,
    OnvifAuthError,
    OnvifClient,
    OnvifProtocolError,
    OnvifUnreachable,
    parse_camera_address,
    read_camera,
)
from console_app.sim.onvif_camera import SimulatedOnvifCamera

PASSWORD = "Tr1cky-pa55word"


@pytest.fixture
def camera(sim_cameras):
    """Simulated cameras (HTTP only; discovery is tested with the simulator) with this module's password."""
    return functools.partial(sim_cameras, password=PASSWORD)


def test_read_camera_returns_device_information_profiles_and_uris(camera):
    cam = camera(serial="SN-1", manufacturer="Acme", model="Eye 9")
    info = read_camera("127.0.0.1", cam.port, "admin", PASSWORD)
    assert (info.device.manufacturer, info.device.model, info.device.serial) == ("Acme", "Eye 9", "SN-1")
    assert info.auth_method is AuthMethod.WS_DIGEST
    assert abs(info.clock_offset_s) < 2
    assert [(p.token, p.codec, p.width, p.height, p.fps) for p in info.profiles] == [
        ("main", "H264", 1280, 720, 15.0), ("sub", "H264", 640, 480, 15.0)]
    assert info.profiles[1].stream_uri == "sim://production-line?seed=7&width=640&height=480&fps=15"
    assert info.snapshot_uri == cam.snapshot_uri(cam.profiles[0])
    assert info.warnings == ()


def test_client_accepts_a_discovered_device_xaddr(camera):
    cam = camera()
    with OnvifClient(cam.url, username="admin", password=PASSWORD) as client:
        info = client.read_camera()
        assert client.fetch_snapshot(info.snapshot_uri).startswith(b"\xff\xd8")
    assert info.port == cam.port and info.device_xaddr == cam.url


def test_png_snapshot_is_accepted_like_a_jpeg(camera):
    cam = camera(snapshot_format="png")
    with OnvifClient(cam.url, username="admin", password=PASSWORD) as client:
        info = client.read_camera()
        assert client.fetch_snapshot(info.snapshot_uri).startswith(b"\x89PNG")


def test_snapshot_that_is_no_image_is_refused_naming_what_came(camera):
    cam = camera(snapshot_jpeg=b"<html>login</html>")
    with OnvifClient(cam.url, username="admin", password=PASSWORD) as client:
        info = client.read_camera()
        with pytest.raises(OnvifProtocolError, match="not an image"):
            client.fetch_snapshot(info.snapshot_uri)


@pytest.mark.parametrize("typed", ["127.0.0.1:{port}", "http://127.0.0.1:{port}/onvif/device_service",
                                   "  127.0.0.1:{port} "])
def test_camera_is_read_from_every_way_of_typing_its_address(camera, typed):
    cam = camera(serial="SN-ADDR")
    info = read_camera(typed.format(port=cam.port), username="admin", password=PASSWORD)
    assert info.device.serial == "SN-ADDR" and info.port == cam.port


@pytest.mark.parametrize(("typed", "port", "xaddr"), [
    ("10.0.0.5", None, "http://10.0.0.5:80/onvif/device_service"),
    ("10.0.0.5", 8000, "http://10.0.0.5:8000/onvif/device_service"),
    ("cam-7.plant.local:8081", None, "http://cam-7.plant.local:8081/onvif/device_service"),
    ("[fd00::7]:8081", None, "http://[fd00::7]:8081/onvif/device_service"),
    ("fd00::7", None, "http://[fd00::7]:80/onvif/device_service"),
    ("https://10.0.0.5/onvif/device_service", None, "https://10.0.0.5/onvif/device_service"),
    ("http://10.0.0.5:8899/onvif/dev", None, "http://10.0.0.5:8899/onvif/dev"),
])
def test_typed_addresses_become_the_device_service_address(typed, port, xaddr):
    assert parse_camera_address(typed, port).device_xaddr == xaddr


@pytest.mark.parametrize(("typed", "port", "says"), [
    ("127.0.0.1:8081:80", None, "not a camera address"),
    ("127.0.0.1:99999", None, "number from 1 to 65535"),
    ("127.0.0.1:80", 8081, "the address says port 80 but the Port field says 8081"),
    ("rtsp://10.0.0.5/stream", None, "starts with http://"),
    ("Dock camera", None, "is not an IP address or host name"),
    ("[fd00::7", None, "never closes"),
    ("", None, "enter the camera's IP address"),
])
def test_bad_addresses_are_refused_in_plain_words(typed, port, says):
    with pytest.raises(BadCameraAddress, match=says) as caught:
        parse_camera_address(typed, port)
    assert "Port could not be cast" not in str(caught.value)


def test_two_hour_clock_skew_is_measured_and_signed_with(camera):
    cam = camera(clock_skew_s=7200)
    info = read_camera("127.0.0.1", cam.port, "admin", PASSWORD)
    assert 7198 < info.clock_offset_s < 7202
    assert info.auth_method is AuthMethod.WS_DIGEST  # the digest worked, no fallback to plain text
    assert "2.0 h" in info.warnings[0]


def test_without_the_offset_the_skewed_camera_refuses_the_same_client(camera):
    """The skew is real: the same client, told to sign with its own clock, is rejected."""
    cam = camera(clock_skew_s=-7200)
    client = OnvifClient("127.0.0.1", cam.port, "admin", PASSWORD, auth_methods=(AuthMethod.WS_DIGEST,))
    client.clock_offset_s = 0.0  # as if the clock had not been read
    with pytest.raises(OnvifAuthError):
        client.authenticate()
    client.measure_clock_offset()
    assert client.authenticate().serial == cam.serial


def test_wrong_password_is_an_auth_error_that_never_shows_the_password(camera):
    cam = camera()
    wrong = "Wr0ng-s3cret-value"
    with pytest.raises(OnvifAuthError) as caught:
        read_camera("127.0.0.1", cam.port, "admin", wrong)
    for text in (str(caught.value), repr(caught.value), repr(OnvifClient("127.0.0.1", cam.port, "admin", wrong))):
        assert wrong not in text and PASSWORD not in text
    assert f"camera at 127.0.0.1:{cam.port} rejected user 'admin': wrong password" in str(caught.value)
    assert cam.requests.count("GetDeviceInformation") == 3  # digest, text, HTTP digest all tried


def test_http_digest_only_camera_is_reached_through_the_fallback(camera):
    cam = camera(auth="http-digest", clock_skew_s=3600)
    with OnvifClient("127.0.0.1", cam.port, "admin", PASSWORD) as client:
        info = client.read_camera()
        assert client.fetch_snapshot(info.snapshot_uri).startswith(b"\xff\xd8")
    assert info.auth_method is AuthMethod.HTTP_DIGEST
    assert len(info.profiles) == 2


def test_http_digest_camera_with_wrong_password_is_an_auth_error(camera):
    cam = camera(auth="http-digest")
    with pytest.raises(OnvifAuthError, match="wrong password") as caught:
        read_camera("127.0.0.1", cam.port, "admin", "nope-nope")
    assert "nope-nope" not in repr(caught.value)


def test_plain_text_fallback_is_used_when_digest_is_not_offered(camera):
    cam = camera()
    info = OnvifClient("127.0.0.1", cam.port, "admin", PASSWORD,
                       auth_methods=(AuthMethod.WS_TEXT,)).read_camera()
    assert info.auth_method is AuthMethod.WS_TEXT


@pytest.mark.parametrize("operation", ["GetSystemDateAndTime", "GetDeviceInformation", "GetProfiles", "GetStreamUri"])
def test_malformed_soap_reply_is_a_protocol_error_naming_the_operation(camera, operation):
    cam = camera(malformed={operation})
    with pytest.raises(OnvifProtocolError, match=f"malformed .*SOAP reply to {operation}"):
        read_camera("127.0.0.1", cam.port, "admin", PASSWORD)


def test_camera_answering_discovery_but_not_onvif_is_not_onvif(camera):
    cam = camera(onvif=False)
    with pytest.raises(NotOnvif, match="has no ONVIF service at http://127.0.0.1:"):
        read_camera(cam.url, password=PASSWORD)


def test_nothing_listening_is_unreachable(camera):
    cam = camera()
    port = cam.port
    cam.stop()
    with pytest.raises(OnvifUnreachable, match=f"camera at 127.0.0.1:{port} is unreachable"):
        read_camera("127.0.0.1", port, "admin", PASSWORD, timeout_s=2)


def test_silent_camera_times_out_within_the_bound():
    """A listener that accepts and never answers: the client gives up after timeout_s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    try:
        started = time.monotonic()
        with pytest.raises(OnvifUnreachable, match="did not answer GetSystemDateAndTime within 0.5 s"):
            read_camera("127.0.0.1", server.getsockname()[1], "admin", PASSWORD, timeout_s=0.5)
        assert time.monotonic() - started < 3
    finally:
        server.close()


def test_several_cameras_are_read_at_once(camera):
    cams = [camera(serial=f"SN-{i}", clock_skew_s=i * 1000) for i in range(4)]
    results: dict[int, str] = {}

    def read(cam: SimulatedOnvifCamera) -> None:
        results[cam.port] = read_camera("127.0.0.1", cam.port, "admin", PASSWORD).device.serial

    threads = [threading.Thread(target=read, args=(c,)) for c in cams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {c.port: c.serial for c in cams}
