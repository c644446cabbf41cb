"""The runtime against real peers: a GStreamer RTSP camera and a zeroconf browser on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

from console_app.core.gateways.appliance_browser import ApplianceBrowser
from tests.integration.conftest import detector_manifest, first_message, start_device, wait_for
from tests.peers.rtsp_server import RtspServer


def stream_state(client, camera_id: str, accept) -> object:
    with client.health(interval_s=0.1) as stream:
        return first_message(
            stream, 20, f"camera {camera_id} health",
            lambda h: any(s.camera_id == camera_id and accept(s) for s in h.streams),
        )


def test_an_rtsp_camera_feeds_an_app_and_is_live_again_soon_after_it_restarts(client, make_package):
    with RtspServer(width=320, height=240, fps=15) as camera:
        client.deploy(make_package(detector_manifest(camera_url=camera.url)))
        stream_state(client, "cam-1", lambda s: s.state == "live" and s.inferred_fps > 0)
        camera.stop()
        stream_state(client, "cam-1", lambda s: s.state != "live")
        camera.start()
        back = time.monotonic()
        stream_state(client, "cam-1", lambda s: s.state == "live")
        assert time.monotonic() - back < 3.0, "the stream should be live within 3 s of the camera's return"


def test_a_camera_with_credentials_never_shows_its_password(client, make_package):
    with RtspServer(user="admin", password="s3cret-pw") as camera:
        url = camera.url_for("admin", "wrong-pw")
        client.deploy(make_package(detector_manifest(camera_url=url)))
        sample = stream_state(client, "cam-1", lambda s: s.state == "failed")
        [stream] = sample.streams
        assert "authentication" in stream.state_reason.lower()
        shown = stream.url + stream.state_reason + client.list_apps()[0].manifest_json
        assert "wrong-pw" not in shown and "***" in stream.url


def test_the_device_advert_is_seen_by_a_browser_on_loopback(tmp_path: Path):
    runtime = start_device(tmp_path / "device", advertise=True)
    try:
        with ApplianceBrowser(interfaces=["127.0.0.1"]) as browser:
            found = wait_for(
                lambda: [a for a in browser.appliances() if a.device_id == runtime.identity.device_id],
                10, "the device's mDNS advert",
            )
        [appliance] = found
        assert appliance.port == runtime.port
        assert appliance.fingerprint == runtime.identity.fingerprint
        assert appliance.api == "v1"
    finally:
        runtime.stop()
