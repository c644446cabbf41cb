"""probe_url: one frame from a URL, bounded by its timeout, errors redacted."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from device_runtime.sources import probe_url
from tests.peers.rtsp_server import RtspServer

pytestmark = pytest.mark.integration


def test_probe_of_a_live_camera_returns_size_codec_fps_and_a_decodable_jpeg(rtsp_server):
    result = probe_url(rtsp_server.url, timeout_ms=5000)
    assert result.ok, result.error
    assert (result.width, result.height, result.codec, result.fps) == (320, 240, "h264", 15.0)
    image = cv2.imdecode(np.frombuffer(result.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (240, 320, 3)
    assert 0 < result.open_ms < 5000


def test_probe_of_a_dead_camera_fails_within_its_timeout(closed_port_url):
    started = time.monotonic()
    result = probe_url(closed_port_url, timeout_ms=1500)
    assert time.monotonic() - started < 1.5 + 0.5
    assert not result.ok and "connection refused" in result.error
    assert "topsecret" not in result.error


def test_probe_of_a_silent_camera_gives_up_at_its_timeout(silent_server):
    started = time.monotonic()
    result = probe_url(silent_server, timeout_ms=1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.7, f"probe took {elapsed:.2f} s with a 1 s timeout"
    assert not result.ok and result.error
    assert "hush-hush" not in result.error


def test_probe_with_wrong_password_says_so_without_the_password():
    with RtspServer(user="admin", password="good-pass") as server:
        result = probe_url(server.url_for("admin", "bad-pass-42"), timeout_ms=5000)
    assert not result.ok
    assert "authentication failed" in result.error and "bad-pass-42" not in result.error


def test_probe_of_a_test_pattern_and_of_a_bad_url(ramp_video):
    assert probe_url("test://pattern?width=96&height=64").width == 96
    file_result = probe_url(str(ramp_video.path))
    assert file_result.ok and (file_result.width, file_result.codec) == (64, "h264")
    bad = probe_url("ftp://user:pw-77@host/x")
    assert not bad.ok and "unsupported scheme 'ftp'" in bad.error and "pw-77" not in bad.error
