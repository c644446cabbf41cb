"""The simulated ONVIF camera, checked with a client written by others (onvif-zeep) and raw HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import threading

import cv2
import numpy as np
import onvif
import pytest
import requests
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFError

from console_app.core.gateways.ws_discovery import Cancellation, probe
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from console_app.sim.onvif_soap import SimProfile

WSDL_DIR = os.path.join(os.path.dirname(os.path.dirname(onvif.__file__)), "wsdl")
TEXT_TYPE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"


@pytest.fixture
def camera():
    """Start simulated cameras (HTTP side only) and stop every one after the test."""
    started: list[SimulatedOnvifCamera] = []

    def start(**kwargs) -> SimulatedOnvifCamera:
        kwargs.setdefault("password", "s3cret")
        kwargs.setdefault("discovery_interface", None)
        cam = SimulatedOnvifCamera(**kwargs).start()
        started.append(cam)
        return cam

    yield start
    for cam in started:
        cam.stop()


def onvif_zeep(cam: SimulatedOnvifCamera, password: str = "s3cret", **kwargs) -> ONVIFCamera:
    return ONVIFCamera("127.0.0.1", cam.port, "admin", password, wsdl_dir=WSDL_DIR, no_cache=True, **kwargs)


def soap_request(operation: str, security: str = "") -> bytes:
    header = f"<s:Header>{security}</s:Header>" if security else ""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        f"{header}<s:Body><tds:{operation}/></s:Body></s:Envelope>"
    ).encode()


def username_token(password: str, created: str, nonce: bytes = b"0123456789abcdef", digest: bool = True) -> str:
    if digest:
        value = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
        pw = f'<wsse:Password Type="x#PasswordDigest">{value}</wsse:Password>'
    else:
        pw = f'<wsse:Password Type="{TEXT_TYPE}">{password}</wsse:Password>'
    return (
        '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" '
        'xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
        f"<wsse:UsernameToken><wsse:Username>admin</wsse:Username>{pw}"
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def test_simulated_camera_serves_device_information_profiles_and_uris_to_onvif_zeep(camera):
    cam = camera(name="Dock <3> & co", serial="SN-42")
    client = onvif_zeep(cam)
    info = client.devicemgmt.GetDeviceInformation()
    assert (info.Manufacturer, info.Model, info.SerialNumber) == ("Sightline", "SIM-ONVIF-1", "SN-42")
    media = client.create_media_service()
    profiles = media.GetProfiles()
    assert [(p.token, p.VideoEncoderConfiguration.Resolution.Width, p.VideoEncoderConfiguration.Encoding)
            for p in profiles] == [("main", 1280, "H264"), ("sub", 640, "H264")]
    uri = media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                              "ProfileToken": "sub"}).Uri
    assert uri == "sim://production-line?seed=7&width=640&height=480&fps=15"
    assert media.GetSnapshotUri({"ProfileToken": "main"}).Uri == cam.snapshot_uri(cam.profiles[0])


def test_stream_uri_is_the_rtsp_video_url_without_credentials(camera):
    cam = camera(video_url="rtsp://10.0.0.9:554/Streaming/Channels/101",
                 profiles=[SimProfile("only", "Only", 320, 240, 10)])
    media = onvif_zeep(cam).create_media_service()
    uri = media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                              "ProfileToken": "only"}).Uri
    assert uri == "rtsp://10.0.0.9:554/Streaming/Channels/101"


def test_system_date_and_time_reports_the_skewed_camera_clock_without_authentication(camera):
    cam = camera(clock_skew_s=7200)
    reply = requests.post(cam.url, data=soap_request("GetSystemDateAndTime"), timeout=5)
    assert reply.status_code == 200
    assert "<tt:Hour>" in reply.text
    utc = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    assert f"<tt:Hour>{utc.hour}</tt:Hour>" in reply.text or f"<tt:Hour>{(utc.hour + 1) % 24}</tt:Hour>" in reply.text


def test_skewed_camera_rejects_a_client_signing_with_its_own_clock(camera):
    """onvif-zeep without adjust_time signs with the local clock: a 2 h skew makes the camera refuse."""
    cam = camera(clock_skew_s=7200)
    with pytest.raises(ONVIFError, match="not Authorized"):
        onvif_zeep(cam).devicemgmt.GetDeviceInformation()
    # The same client measuring the offset first gets in: the skew, not the password, was the problem.
    assert onvif_zeep(cam, adjust_time=True).devicemgmt.GetDeviceInformation().SerialNumber == cam.serial


def test_wrong_password_gets_a_not_authorized_fault_with_http_400(camera):
    cam = camera()
    body = soap_request("GetDeviceInformation", username_token("wrong", cam.camera_now().strftime("%Y-%m-%dT%H:%M:%S+00:00")))
    reply = requests.post(cam.url, data=body, timeout=5)
    assert reply.status_code == 400
    assert "ter:NotAuthorized" in reply.text
    assert "wrong" not in reply.text.replace("Sender not Authorized", "")


def test_password_digest_with_the_camera_clock_and_plain_text_are_both_accepted(camera):
    cam = camera(clock_skew_s=-3600)
    created = cam.camera_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for token in (username_token("s3cret", created), username_token("s3cret", created, digest=False)):
        reply = requests.post(cam.url, data=soap_request("GetDeviceInformation", token), timeout=5)
        assert reply.status_code == 200, reply.text
        assert cam.serial in reply.text


def test_http_digest_mode_demands_digest_and_accepts_it(camera):
    cam = camera(auth="http-digest")
    bare = requests.post(cam.url, data=soap_request("GetDeviceInformation"), timeout=5)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"].startswith("Digest ")
    ok = requests.post(cam.url, data=soap_request("GetDeviceInformation"), timeout=5,
                       auth=requests.auth.HTTPDigestAuth("admin", "s3cret"))
    assert ok.status_code == 200 and cam.serial in ok.text
    wrong = requests.post(cam.url, data=soap_request("GetDeviceInformation"), timeout=5,
                          auth=requests.auth.HTTPDigestAuth("admin", "nope"))
    assert wrong.status_code == 401


def test_malformed_switch_breaks_only_the_named_operations(camera):
    cam = camera(malformed={"GetProfiles"})
    client = onvif_zeep(cam)
    assert client.devicemgmt.GetDeviceInformation().SerialNumber == cam.serial
    token = username_token("s3cret", cam.camera_now().strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    body = soap_request("GetProfiles", token).replace(b"ver10/device/wsdl", b"ver10/media/wsdl")
    raw = requests.post(cam.media_url, data=body, timeout=5)
    from lxml import etree
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw.content)


def test_camera_without_onvif_answers_404(camera):
    cam = camera(onvif=False)
    reply = requests.post(cam.url, data=soap_request("GetSystemDateAndTime"), timeout=5)
    assert reply.status_code == 404


def test_snapshot_is_a_production_line_jpeg_of_the_profile_size(camera):
    cam = camera()
    reply = requests.get(cam.snapshot_uri(cam.profiles[1]), timeout=10)
    assert reply.headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (480, 640, 3)
    assert float(image.std()) > 10  # a picture, not a flat fill


def test_snapshot_can_be_served_as_png_like_some_cameras_do(camera):
    cam = camera(snapshot_format="png")
    reply = requests.get(cam.snapshot_uri(cam.profiles[1]), timeout=10)
    assert reply.headers["Content-Type"] == "image/png" and reply.content.startswith(b"\x89PNG")
    assert cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


def test_snapshot_bytes_can_be_given(camera):
    cam = camera(snapshot_jpeg=b"\xff\xd8fake\xff\xd9")
    assert requests.get(cam.snapshot_uri(cam.profiles[0]), timeout=5).content == b"\xff\xd8fake\xff\xd9"


def test_several_cameras_run_at_once_on_different_ports(camera):
    cams = [camera(serial=f"SN-{i}") for i in range(3)]
    assert len({c.port for c in cams}) == 3
    assert len({c.endpoint_reference for c in cams}) == 3
    for cam in cams:
        assert onvif_zeep(cam).devicemgmt.GetDeviceInformation().SerialNumber == cam.serial


def test_camera_stops_and_frees_its_port(camera):
    cam = camera()
    url = cam.url
    cam.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=soap_request("GetSystemDateAndTime"), timeout=2)


def test_unknown_operation_is_a_soap_fault_not_a_crash(camera):
    cam = camera()
    reply = requests.post(cam.url, data=soap_request("SystemReboot"), timeout=5)
    assert reply.status_code == 500 and "ActionNotSupported" in reply.text
    assert requests.post(cam.url, data=b"not xml", timeout=5).status_code == 400


def test_simulated_camera_is_found_by_ws_discovery_on_loopback_with_its_device_xaddr(camera):
    cams = [camera(discovery_interface="127.0.0.1", name=f"Line {i}") for i in range(2)]
    wanted = {c.endpoint_reference: c.url for c in cams}
    found: dict[str, tuple[str, ...]] = {}
    all_found = threading.Event()

    def on_found(candidate) -> None:
        if candidate.endpoint_reference in wanted:
            found[candidate.endpoint_reference] = candidate.xaddrs
            if len(found) == len(wanted):
                all_found.set()

    cancel = Cancellation()
    thread = threading.Thread(target=probe, kwargs=dict(interfaces=["127.0.0.1"], timeout_s=3.0,
                                                        on_found=on_found, cancel=cancel))
    thread.start()
    try:
        assert all_found.wait(3.0), f"found only {found} of {wanted}"
    finally:
        cancel.cancel()
        thread.join(5)
    assert {ref: xaddrs[0] for ref, xaddrs in found.items()} == wanted
