"""RTSP sources against a real GStreamer RTSP server (tests/peers/rtsp_server.py).

Every test runs against both backends, OpenCV and GStreamer (software
decoding here: this machine has no hardware decoder), which must behave alike.
"""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from device_runtime.sources import InvalidSourceUrl
from device_runtime.types import StreamState
from tests.peers.rtsp_server import RtspServer

pytestmark = pytest.mark.integration

LIVE = StreamState.LIVE
NOT_LIVE = (StreamState.STALLED, StreamState.RECONNECTING)


@pytest.fixture(params=["opencv", "gstreamer"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_source(make_source, backend):
    """The package fixture, with every RTSP source read by ``backend``."""

    def make(url: str, stream_id: str = "cam", **options: object):
        return make_source(url, stream_id, backend=backend, **options)

    return make


def test_rtsp_source_goes_live_with_frames_of_the_camera_size(rtsp_server, make_source, backend):
    source, states = make_source(rtsp_server.url, read_timeout_s=1.0)
    frames = source.subscribe("detector")
    source.start()

    states.wait_for(LIVE, timeout=10)
    frame = frames.get(timeout=5)

    assert states.states[:2] == [StreamState.CONNECTING, LIVE]
    assert frame is not None, "no frame within 5 s of going live"
    assert frame.image.shape == (240, 320, 3)
    assert (source.width, source.height, source.codec) == (320, 240, "h264")
    assert frame.stream_id == "cam"
    assert source.transport == "tcp"
    assert source.state_reason == ""
    assert source.stats().backend == backend
    assert source.stats().decoder == {"opencv": "ffmpeg (OpenCV)", "gstreamer": "avdec_h264"}[backend]


def test_rtsp_frames_have_increasing_seq_and_wall_and_monotonic_times(rtsp_server, make_source):
    source, _ = make_source(rtsp_server.url)
    frames = source.subscribe("a")
    source.start()
    first = frames.get(timeout=10)
    second = frames.get(timeout=5)
    assert first is not None and second is not None
    assert second.seq > first.seq
    assert second.monotonic > first.monotonic
    assert abs(first.capture_time - time.time()) < 10
    with pytest.raises(ValueError):
        first.image[0, 0, 0] = 1  # frames are shared between consumers: read-only


def test_rtsp_source_reconnects_after_camera_restart(rtsp_server, make_source):
    source, states = make_source(rtsp_server.url, read_timeout_s=1.0)
    source.start()
    states.wait_for(LIVE, timeout=10)

    mark = states.mark()
    killed_at = time.monotonic()
    rtsp_server.stop()
    states.wait_for(*NOT_LIVE, timeout=3, after=mark)
    assert time.monotonic() - killed_at < 3, "state still LIVE 3 s after the camera died"
    states.wait_for(StreamState.RECONNECTING, timeout=3, after=mark, reason_contains="refused")

    # The camera stays off for 2.5 s (the scenario, not a wait for a condition):
    # long enough for several refused retries, so the backoff sits at its cap.
    time.sleep(2.5)
    assert source.state is StreamState.RECONNECTING

    mark = states.mark()
    restarted_at = time.monotonic()
    rtsp_server.start()
    states.wait_for(LIVE, timeout=3, after=mark)
    back_after = time.monotonic() - restarted_at
    assert back_after < 3.0, f"live again only {back_after:.2f} s after the camera returned"
    assert source.reconnects >= 1


def test_rtsp_frozen_camera_shows_stalled_then_recovers(rtsp_server, make_source):
    """SIGSTOP freezes the real server: the TCP session stays up but no frame comes."""
    source, states = make_source(rtsp_server.url, read_timeout_s=0.5, open_timeout_s=1.0)
    source.start()
    states.wait_for(LIVE, timeout=10)
    mark = states.mark()
    os.kill(rtsp_server.pid, signal.SIGSTOP)
    try:
        stalled = states.wait_for(StreamState.STALLED, timeout=5, after=mark)
        assert "no frame" in stalled.reason
        # Reopening a frozen camera runs into the open timeout; it is retried.
        states.wait_for(StreamState.RECONNECTING, timeout=5, after=mark, reason_contains="1.0 s")
    finally:
        os.kill(rtsp_server.pid, signal.SIGCONT)
    states.wait_for(LIVE, timeout=5, after=mark)


def test_rtsp_unreachable_port_never_hangs_and_names_the_problem(closed_port_url, make_source):
    source, states = make_source(closed_port_url, open_timeout_s=2.0)
    started = time.monotonic()
    source.start()
    change = states.wait_for(StreamState.RECONNECTING, timeout=3)
    assert time.monotonic() - started < 3
    assert "connection refused" in change.reason
    assert "topsecret" not in change.reason
    assert "admin:***@" in change.reason
    assert source.stop(timeout=3), "reader thread did not end within 3 s of stop()"


def test_rtsp_silent_server_is_bounded_by_the_open_timeout(silent_server, make_source):
    source, states = make_source(silent_server, open_timeout_s=1.0)
    started = time.monotonic()
    source.start()
    change = states.wait_for(StreamState.RECONNECTING, timeout=4)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"open of a silent camera took {elapsed:.1f} s despite a 1 s timeout"
    assert "1.0 s" in change.reason
    assert "hush-hush" not in change.reason


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_rtsp_wrong_password_fails_with_authentication_reason_and_no_password(auth, make_source):
    with RtspServer(user="admin", password="right-one", auth=auth) as server:
        source, states = make_source(server.url_for("admin", "Wr0ngPassw0rd"))
        source.start()
        change = states.wait_for(StreamState.FAILED, timeout=10)
    assert "authentication failed" in change.reason
    assert "admin" in change.reason
    assert "Wr0ngPassw0rd" not in change.reason
    assert "Wr0ngPassw0rd" not in source.url and "Wr0ngPassw0rd" not in repr(source)
    assert source.state is StreamState.FAILED  # wrong credentials are not retried


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_rtsp_right_password_goes_live(auth, make_source):
    with RtspServer(user="admin", password="p@ss:w/rd", auth=auth) as server:
        source, states = make_source(server.url)
        source.start()
        states.wait_for(LIVE, timeout=10)
    assert source.url.endswith(f"admin:***@127.0.0.1:{server.port}/cam")


def test_rtsp_missing_credentials_fail_saying_they_are_required(make_source):
    with RtspServer(user="admin", password="right-one") as server:
        source, states = make_source(server.url_for())
        source.start()
        change = states.wait_for(StreamState.FAILED, timeout=10)
    assert "authentication required" in change.reason


def test_rtsp_unknown_stream_path_is_retried_with_not_found_reason(rtsp_server, make_source):
    url = rtsp_server.url.replace("/cam", "/no-such-stream")
    source, states = make_source(url)
    source.start()
    change = states.wait_for(StreamState.RECONNECTING, StreamState.FAILED, timeout=10)
    assert change.state is StreamState.RECONNECTING
    assert "stream not found" in change.reason and "/no-such-stream" in change.reason


def test_rtsp_falls_back_to_udp_when_the_camera_refuses_tcp(make_source):
    with RtspServer(transports=("udp",)) as server:
        source, states = make_source(server.url)
        frames = source.subscribe("a")
        source.start()
        states.wait_for(LIVE, timeout=10)
        assert frames.get(timeout=5) is not None
        assert source.transport == "udp"
        assert source.transports[0] == "udp"  # tried first on the next reconnect
        assert source.stop(timeout=5)  # before the camera goes: a UDP read has no EOF


def test_rtsp_h265_camera_goes_live(make_source):
    with RtspServer(codec="h265") as server:
        source, states = make_source(server.url)
        frames = source.subscribe("a")
        source.start()
        states.wait_for(LIVE, timeout=10)
        frame = frames.get(timeout=5)
    assert frame is not None and frame.image.shape == (240, 320, 3)
    assert source.codec == "h265"


def test_rtsp_logs_never_contain_the_password(make_source, caplog):
    caplog.set_level(logging.DEBUG, logger="device_runtime.sources")
    with RtspServer(user="admin", password="log-secret") as server:
        good, good_states = make_source(server.url, stream_id="good")
        bad, bad_states = make_source(server.url_for("admin", "other-secret"), stream_id="bad")
        good.start()
        bad.start()
        good_states.wait_for(LIVE, timeout=10)
        bad_states.wait_for(StreamState.FAILED, timeout=10)
        good.stop()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "admin:***@" in text
    assert "log-secret" not in text and "other-secret" not in text


def test_rtsp_url_without_host_is_rejected_naming_the_problem(make_source):
    with pytest.raises(InvalidSourceUrl, match="no camera host"):
        make_source("rtsp://user:pw@/cam")


def test_rtsp_url_with_bad_port_is_rejected_without_the_password(make_source):
    with pytest.raises(InvalidSourceUrl) as info:
        make_source("rtsp://user:sekrit@camera:99999/cam")
    assert "port" in str(info.value) and "sekrit" not in str(info.value)
