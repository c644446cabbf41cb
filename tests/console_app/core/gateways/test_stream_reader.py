"""Console-side stream opening and reading against a real GStreamer RTSP server on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import cv2
import numpy as np
import pytest

from console_app.core.gateways import stream_reader
from tests.peers.rtsp_server import RtspServer


@pytest.fixture(scope="module")
def rtsp_camera():
    with RtspServer(path="/Streaming/Channels/101", user="admin", password="Pa55-word",
                    width=320, height=240, fps=15) as server:
        yield server


def test_open_on_a_live_rtsp_url_returns_the_first_frame_as_jpeg(rtsp_camera):
    first = stream_reader.test_open(rtsp_camera.url, timeout_s=8)
    assert first.ok, first.error
    assert (first.width, first.height, first.codec, first.transport) == (320, 240, "h264", "tcp")
    image = cv2.imdecode(np.frombuffer(first.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)


def test_open_falls_back_to_udp_when_the_server_refuses_tcp():
    with RtspServer(transports=("udp",)) as udp_only:
        first = stream_reader.test_open(udp_only.url, timeout_s=8)
    assert first.ok, first.error
    assert first.transport == "udp"


def test_open_on_a_dead_url_fails_within_the_timeout_with_a_clear_reason():
    with socket.socket() as placeholder:  # a port nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    started = time.monotonic()
    first = stream_reader.test_open(f"rtsp://admin:Pa55-word@127.0.0.1:{port}/live", timeout_s=2)
    assert time.monotonic() - started < 3
    assert not first.ok
    assert f"connection refused by 127.0.0.1:{port}" in first.error
    assert "Pa55-word" not in first.error


def test_open_on_a_silent_server_fails_within_the_timeout():
    """A listener that accepts and never answers (a hung camera)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        started = time.monotonic()
        first = stream_reader.test_open(f"rtsp://127.0.0.1:{server.getsockname()[1]}/x", timeout_s=1.5)
        elapsed = time.monotonic() - started
    assert not first.ok
    assert elapsed < 4.5, f"took {elapsed:.1f} s"
    assert "no answer from 127.0.0.1" in first.error


def test_open_names_wrong_credentials_and_wrong_paths(rtsp_camera):
    wrong_pw = stream_reader.test_open(rtsp_camera.url_for("admin", "nope-x"), timeout_s=4)
    assert not wrong_pw.ok and "wrong user name or password for user 'admin'" in wrong_pw.error
    assert "nope-x" not in wrong_pw.error
    url = rtsp_camera.url.replace("/Streaming/Channels/101", "/nothing/here")
    wrong_path = stream_reader.test_open(url, timeout_s=4)
    assert not wrong_path.ok and "no stream at path '/nothing/here'" in wrong_path.error


def test_sim_urls_are_device_only():
    first = stream_reader.test_open("sim://production-line?seed=7&width=640&height=480&fps=15", timeout_s=1)
    assert not first.ok and first.device_only
    assert "paired device" in first.error
