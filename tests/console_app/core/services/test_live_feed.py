"""LiveFeed against a real device runtime running line-safety: frames, apps, reconnection, network cuts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from console_app.core.gateways.device_client import DeviceClient
from console_app.core.services.live_feed import (
    SKEW_TOLERANCE_S,
    LiveFeed,
    LiveFeedError,
    _CameraMeter,
)
from console_app.core.services.live_frame import AppInfo, FeedState
from tests.peers.line_safety_device import APP_ID, CAMERA_ID, LineSafetyDevice
from tests.peers.tcp_relay import TcpRelay

WAIT_S = 20.0


@pytest.fixture(scope="module")
def device(tmp_path_factory) -> Iterator[LineSafetyDevice]:
    with LineSafetyDevice(tmp_path_factory.mktemp("feed-device") / "data") as running:
        yield running


class Recorder:
    """Collects a feed's callbacks (they come from the feed's thread) and lets a test wait on them."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.states: list[tuple[str, str]] = []
        self.notifications: list[str] = []
        self.apps: list[dict[str, AppInfo]] = []

    def on_state(self, state: str, reason: str) -> None:
        with self.cond:
            self.states.append((state, reason))
            self.cond.notify_all()

    def on_frame(self, camera_id: str) -> None:
        with self.cond:
            self.notifications.append(camera_id)
            self.cond.notify_all()

    def on_apps(self, apps: dict[str, AppInfo]) -> None:
        with self.cond:
            self.apps.append(apps)
            self.cond.notify_all()

    def wait(self, predicate, what: str, timeout: float = WAIT_S):
        """Re-checks on every callback, and every 50 ms for conditions no callback announces."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; states: {self.states}")
                self.cond.wait(min(0.05, remaining))

    def feed(self, connect, **kwargs) -> LiveFeed:
        return LiveFeed("dev-1", connect, on_state=self.on_state, on_frame=self.on_frame,
                        on_apps=self.on_apps, **kwargs)


def test_feed_delivers_decoded_frames_with_detections_timings_and_the_apps_geometry(device):
    recorder = Recorder()
    decoded_in: list[str] = []

    def decode(data: bytes, camera_id: str) -> bytes:
        decoded_in.append(threading.current_thread().name)
        assert camera_id == CAMERA_ID
        return data

    feed = recorder.feed(device.client, decode=decode).start()
    try:
        recorder.wait(lambda: recorder.notifications, "a frame notification")
        frame = feed.take(CAMERA_ID)
        assert frame.image[:2] == b"\xff\xd8" and (frame.width, frame.height) == (640, 480)
        assert decoded_in[0] == "live dev-1"  # decoded in the feed's thread, not the consumer's
        assert frame.app_id == APP_ID and frame.provider == "CPUExecutionProvider"
        assert frame.timings_ms["inference"] > 0 and frame.stream_state == "live"
        assert frame.clock_offset_s == 0.0  # one machine, one clock: nothing corrected
        assert 0 < frame.latency_ms < 5000
        assert feed.state == FeedState.LIVE and feed.provider == "CPUExecutionProvider"
        [app] = feed.apps.values()
        assert app.camera_ids == (CAMERA_ID,) and app.state == "running" and app.model == "sightline-demo"
        assert app.labels == ("part", "defective_part", "person", "person_without_helmet")
        assert feed.app_for_camera(CAMERA_ID) is app and feed.camera_ids() == [CAMERA_ID]
        assert app.zones_for(CAMERA_ID)[0]["name"] == "safety-zone"
        assert app.zones_for("another-camera") == []  # zones belong to the camera they are drawn on
        recorder.wait(lambda: any(f.detections for f in [feed.take(CAMERA_ID)] if f), "a frame with detections")
    finally:
        assert feed.stop()
    assert feed.state == FeedState.STOPPED and recorder.states[-1] == (FeedState.STOPPED, "")
    assert [s for s, _ in recorder.states[:2]] == [FeedState.CONNECTING, FeedState.WAITING]


def test_newest_frame_wins_and_the_consumer_is_notified_once_until_it_takes_it(device):
    recorder = Recorder()
    feed = recorder.feed(device.client).start()
    try:
        recorder.wait(lambda: recorder.notifications, "the first frame")
        first_seq_seen = feed.frames_received
        recorder.wait(lambda: feed.frames_received >= first_seq_seen + 5, "five more frames")
        assert len(recorder.notifications) == 1  # nobody took a frame, so no second notification
        newest = feed.take(CAMERA_ID)
        assert newest.seq > 0 and feed.take(CAMERA_ID) is None
        recorder.wait(lambda: len(recorder.notifications) == 2, "a notification after the take")
        assert feed.take(CAMERA_ID).seq > newest.seq
    finally:
        feed.stop()


def test_set_params_applies_live_and_reports_the_app_as_the_device_has_it(device):
    recorder = Recorder()
    feed = recorder.feed(device.client)
    with pytest.raises(LiveFeedError, match="not connected"):
        feed.set_params(APP_ID, {"confidence": 0.6})
    feed.start()
    try:
        recorder.wait(lambda: feed.state == FeedState.LIVE, "live")
        info = feed.set_params(APP_ID, {"confidence": 0.6})
        assert info.params["confidence"] == 0.6 and feed.apps[APP_ID] is info
        assert info.labels == ("part", "defective_part", "person", "person_without_helmet")
        assert recorder.apps[-1][APP_ID] is info
        with pytest.raises(LiveFeedError, match="refused the parameters of line-safety") as err:
            feed.set_params(APP_ID, {"confidence": 7})
        assert "confidence" in str(err.value)
    finally:
        with device.client() as client:
            client.set_params(APP_ID, '{"confidence": 0.4}')
        feed.stop()


def test_unreachable_device_is_retried_with_a_capped_backoff_and_the_reason_shown():
    """Port 9 on 127.0.0.1 refuses connections: every attempt fails at once, so the gaps are the backoff."""
    recorder = Recorder()
    attempts: list[float] = []

    def connect():
        attempts.append(time.monotonic())
        return DeviceClient("127.0.0.1", 9, timeout=2)

    feed = recorder.feed(connect, initial_backoff_s=0.05, max_backoff_s=0.2).start()
    try:
        recorder.wait(lambda: len(attempts) >= 6, "six connection attempts")
    finally:
        feed.stop()
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] < gaps[2]  # it backs off ...
    assert all(gap < 0.2 + 1.0 for gap in gaps)  # ... up to the cap (plus scheduling slack)
    assert recorder.states[0][0] == FeedState.CONNECTING
    reconnecting = [reason for state, reason in recorder.states if state == FeedState.RECONNECTING]
    assert reconnecting and "127.0.0.1:9" in reconnecting[0]


def test_a_silent_network_cut_is_noticed_and_the_feed_comes_back_when_the_network_does(device):
    relay = TcpRelay("127.0.0.1", device.port).start()
    recorder = Recorder()

    def connect():
        return DeviceClient("127.0.0.1", relay.port, device.credentials, timeout=3)

    feed = recorder.feed(connect, stall_s=1.0, initial_backoff_s=0.1, max_backoff_s=0.5).start()
    try:
        recorder.wait(lambda: feed.state == FeedState.LIVE, "live through the relay")
        relay.cut()
        recorder.wait(lambda: (FeedState.RECONNECTING, "no frame for 1 s") in recorder.states,
                      "the stall to be noticed")
        cut_states = len(recorder.states)
        relay.restore()
        recorder.wait(lambda: FeedState.LIVE in [s for s, _ in recorder.states[cut_states:]], "live again")
        assert feed.connections >= 2
        taken = feed.take(CAMERA_ID) or feed.take(CAMERA_ID)
        restored_at = time.time()
        recorder.wait(lambda: (f := feed.take(CAMERA_ID)) is not None and f.capture_time > restored_at,
                      "a frame captured after the network came back")
        assert taken is None or taken.seq > 0
    finally:
        feed.stop()
        relay.stop()


def test_clock_skew_between_device_and_console_is_estimated_and_removed():
    """Pure arithmetic on the meter: a device clock 30 s ahead, transit 2-5 ms."""
    meter = _CameraMeter()
    offsets = [meter.record(received=1000.0 + i + 0.002 + (i % 3) * 0.001, sent=1030.0 + i)[1] for i in range(10)]
    assert offsets[-1] == pytest.approx(-30.0 + 0.002)
    near = _CameraMeter()
    assert near.record(received=1000.010, sent=1000.0)[1] == 0.0  # within tolerance: transit, not skew
    assert SKEW_TOLERANCE_S > 0.010
