"""The Source lifecycle shared by every source, exercised through the test pattern."""

from __future__ import annotations

import logging
import threading

import pytest

from device_runtime.sources import SourceStateError, open_source
from device_runtime.types import StreamState

PATTERN = "test://pattern?width=64&height=48&fps=60&objects=1"


def test_source_goes_connecting_then_live_and_stops_on_request(make_source):
    source, states = make_source(PATTERN)
    frames = source.subscribe("a")
    source.start()
    states.wait_for(StreamState.LIVE, timeout=5)
    assert frames.get(timeout=5) is not None
    assert source.stop(timeout=5)
    assert states.states == [StreamState.CONNECTING, StreamState.LIVE, StreamState.STOPPED]
    assert source.state_reason == "stopped" and not source.running
    leftover = list(frames)  # at most the frame pending at stop; then iteration ends
    assert len(leftover) <= 1


def test_consumer_blocked_in_get_is_released_by_stop(closed_port_url, make_source):
    source, states = make_source(closed_port_url)  # never delivers a frame
    frames = source.subscribe("a")
    source.start()
    results: list[object] = []
    consumer = threading.Thread(target=lambda: results.append(frames.get()))
    consumer.start()
    states.wait_for(StreamState.RECONNECTING, timeout=5)
    source.stop()
    consumer.join(5)
    assert not consumer.is_alive(), "get() without timeout still blocked after stop()"
    assert results == [None]


def test_source_cannot_be_started_twice_or_after_stop(make_source):
    source, _ = make_source(PATTERN)
    source.start()
    with pytest.raises(SourceStateError, match="already started"):
        source.start()
    never_started, _ = make_source(PATTERN, stream_id="other")
    never_started.stop()
    assert never_started.state is StreamState.STOPPED
    with pytest.raises(SourceStateError):
        never_started.start()


def test_a_failing_state_listener_does_not_break_the_stream(make_source, caplog):
    source, states = make_source(PATTERN)

    def broken_listener(change):
        raise RuntimeError("listener bug")

    source.add_state_listener(broken_listener)
    with caplog.at_level(logging.ERROR, logger="device_runtime.sources"):
        source.start()
        states.wait_for(StreamState.LIVE, timeout=5)
    assert any("listener" in r.getMessage() for r in caplog.records)
    assert source.state is StreamState.LIVE


def test_retry_delay_doubles_up_to_its_cap():
    source = open_source("rtsp://cam/s", "s")
    assert [source.retry_delay(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    slow = open_source("rtsp://cam/s", "s", backoff_initial_s=0.5, backoff_max_s=4.0)
    assert [slow.retry_delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_stats_report_fps_size_and_per_consumer_drops(make_source):
    source, states = make_source(PATTERN)
    frames = source.subscribe("preview")
    source.start()
    got = [frames.get(timeout=5) for _ in range(30)]
    assert all(got)
    stats = source.stats()
    assert stats.state is StreamState.LIVE and stats.stream_id == "cam"
    assert (stats.width, stats.height, stats.nominal_fps) == (64, 48, 60.0)
    assert 30 <= stats.frames_read
    assert 35 <= stats.camera_fps <= 80, f"measured {stats.camera_fps:.1f} fps for a 60 fps source"
    assert set(stats.subscribers) == {"preview"}
    assert source.latest() is not None and source.latest().seq >= got[-1].seq


def test_state_listeners_run_in_order_one_at_a_time(make_source):
    source, _ = make_source(PATTERN)
    seen: list[StreamState] = []
    inside = threading.Lock()

    def listener(change):
        assert inside.acquire(blocking=False), "listeners ran concurrently"
        try:
            seen.append(change.state)
        finally:
            inside.release()

    source.add_state_listener(listener)
    source.start()
    source.stop()
    assert seen[0] is StreamState.CONNECTING and seen[-1] is StreamState.STOPPED
    source.remove_state_listener(listener)
