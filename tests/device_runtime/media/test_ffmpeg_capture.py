"""FFmpeg options through the process-wide env var, without threads stepping on each other."""

from __future__ import annotations

import os
import threading

import pytest

from device_runtime.media import ffmpeg_capture
from device_runtime.media.ffmpeg_capture import ENV_VAR, codec_name, open_capture, options_string


@pytest.fixture
def gate(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)  # restored after the test
    return ffmpeg_capture._OptionsGate()


def test_opens_with_the_same_options_run_together(gate):
    inside = threading.Barrier(2, timeout=5)

    def open_like_a_camera():
        with gate.use("rtsp_transport;tcp"):
            inside.wait()  # both threads must be inside at once, or this times out

    threads = [threading.Thread(target=open_like_a_camera) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not inside.broken
    assert os.environ[ENV_VAR] == "rtsp_transport;tcp"


def test_an_open_with_other_options_waits_for_those_in_flight(gate):
    tcp_inside, release_tcp, udp_done = threading.Event(), threading.Event(), threading.Event()
    seen_by_udp: list[str] = []

    def tcp_open():
        with gate.use("rtsp_transport;tcp"):
            tcp_inside.set()
            release_tcp.wait(5)

    def udp_open():
        with gate.use("rtsp_transport;udp"):
            seen_by_udp.append(os.environ[ENV_VAR])
        udp_done.set()

    tcp = threading.Thread(target=tcp_open)
    tcp.start()
    assert tcp_inside.wait(5)
    udp = threading.Thread(target=udp_open)
    udp.start()
    assert not udp_done.wait(0.2), "UDP open went in while a TCP open was in flight"
    assert os.environ[ENV_VAR] == "rtsp_transport;tcp"
    release_tcp.set()
    assert udp_done.wait(5)
    tcp.join(5)
    udp.join(5)
    assert seen_by_udp == ["rtsp_transport;udp"]


def test_an_open_that_does_not_care_joins_any_options(gate):
    with gate.use("rtsp_transport;tcp"), gate.use(None):
        assert os.environ[ENV_VAR] == "rtsp_transport;tcp"


def test_options_string_is_ffmpegs_key_value_format():
    text = options_string({"rtsp_transport": "tcp", "probesize": "65536"})
    assert text.endswith("rtsp_transport;tcp|probesize;65536")


def test_open_capture_reads_a_real_file_and_names_its_codec(ramp_video):
    capture = open_capture(str(ramp_video.path), None, open_timeout_s=5, read_timeout_s=5)
    try:
        assert capture.isOpened() and codec_name(capture) == "h264"
        ok, image = capture.read()
        assert ok and image.shape == (48, 64, 3)
    finally:
        capture.release()
