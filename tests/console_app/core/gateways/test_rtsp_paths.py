"""Vendor RTSP path fallback against a real GStreamer RTSP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from console_app.core.gateways.rtsp_paths import RtspPathNotFound, candidate_urls, find_stream
from device_runtime.media.redact import redact_url, split_credentials
from device_runtime.media.rtsp_diagnose import diagnose
from tests.peers.rtsp_server import RtspServer


@pytest.fixture(scope="module")
def hikvision_like():
    with RtspServer(path="/Streaming/Channels/101", user="admin", password="p@ss:w/rd", auth="digest") as s:
        yield s


def test_candidate_urls_embed_encoded_credentials_and_cover_common_vendors():
    urls = dict(candidate_urls("10.0.0.5", 554, "admin", "p@ss:w/rd"))
    assert urls["Hikvision"] == "rtsp://admin:p%40ss%3Aw%2Frd@10.0.0.5:554/Streaming/Channels/101"
    assert urls["Dahua / Amcrest / Lorex"].endswith("/cam/realmonitor?channel=1&subtype=0")
    assert urls["Axis"].endswith("/axis-media/media.amp")
    assert urls["Reolink"].endswith("/h264Preview_01_main")
    assert split_credentials(urls["Axis"]) == ("rtsp://10.0.0.5:554/axis-media/media.amp", "admin", "p@ss:w/rd")
    assert "p%40ss" not in redact_url(urls["Axis"]) and "admin:***@" in redact_url(urls["Axis"])


def test_find_stream_finds_the_working_vendor_path(hikvision_like):
    found = find_stream("127.0.0.1", hikvision_like.port, "admin", "p@ss:w/rd", timeout_s=3)
    assert found.vendor == "Hikvision"
    assert split_credentials(found.url)[0] == f"rtsp://127.0.0.1:{hikvision_like.port}/Streaming/Channels/101"


def test_find_stream_with_wrong_password_says_so_without_the_password(hikvision_like):
    with pytest.raises(RtspPathNotFound, match="refused user 'admin' \\(401") as caught:
        find_stream("127.0.0.1", hikvision_like.port, "admin", "wrong-one", timeout_s=3)
    assert "wrong-one" not in str(caught.value)


def test_find_stream_on_a_server_with_an_unusual_path_asks_for_the_full_url():
    with RtspServer(path="/very/custom") as server:
        with pytest.raises(RtspPathNotFound, match="none of the 17 common stream paths"):
            find_stream("127.0.0.1", server.port, timeout_s=3)
        assert diagnose(server.url, 3).camera_ok


def test_find_stream_with_nothing_listening_says_refused():
    with pytest.raises(RtspPathNotFound, match="no RTSP server answered at 127.0.0.1:9: connection refused"):
        find_stream("127.0.0.1", 9, timeout_s=1)
