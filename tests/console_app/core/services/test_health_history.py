"""Health history: bounded ring buffers over the last ten minutes, fed by a real device's health stream."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from console_app.core.services.health_history import (
    DEVICE_SCOPE,
    HealthHistory,
    HealthWatch,
    SampleSeries,
)
from console_app.core.services.reconnect import LIVE, RECONNECTING, STOPPED, StreamFollower
from device_runtime.protocol.v1 import device_pb2 as pb
from tests.peers.line_safety_device import APP_ID, CAMERA_ID, LineSafetyDevice

WAIT_S = 20.0


class FakeClock:
    """A settable unix clock, so the ten-minute window is tested without waiting ten minutes."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def health(cpu: float = 10.0, dropped: int = 0, gpu: float | None = None, apps: tuple[str, ...] = ()) -> pb.Health:
    device = pb.DeviceHealth(cpu_percent=cpu, memory_percent=40.0, memory_used_bytes=1 << 30, uptime_s=5)
    if gpu is not None:
        device.gpu_percent = gpu
    stream = pb.StreamHealth(camera_id="cam-1", state="live", camera_fps=15.0, inferred_fps=14.0,
                             dropped_frames=dropped, inference_ms=9.5, width=640, height=480)
    return pb.Health(time=0, device=device, streams=[stream], active_provider="CPUExecutionProvider",
                     apps=[pb.AppStatus(app_id=a, name=a, version="1.0.0", state="running") for a in apps])


def wait_until(predicate, what: str, timeout: float = WAIT_S) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def test_sample_series_keeps_at_most_its_capacity_and_only_the_window():
    series = SampleSeries(window_s=10.0, capacity=5)
    for t in range(20):
        series.append(float(t), t * 2.0)
    assert len(series) == 5
    assert series.points() == ([15.0, 16.0, 17.0, 18.0, 19.0], [30.0, 32.0, 34.0, 36.0, 38.0])
    series.prune(now=27.5)
    assert series.points()[0] == [18.0, 19.0]
    series.append(10.0, 1.0)  # a clock step back is dropped, keeping times ordered
    assert series.latest() == (19.0, 38.0)


def test_history_holds_only_the_last_ten_minutes_of_samples():
    clock = FakeClock()
    history = HealthHistory(clock=clock)
    start = clock.now
    for second in range(900):  # fifteen minutes at 1 Hz
        clock.now = start + second
        history.add("dev", health(cpu=float(second)))
    times, values = history.series("dev", DEVICE_SCOPE, "cpu_percent")
    assert times[0] >= clock.now - 600 and times[-1] == clock.now
    assert values[0] == 299.0 and values[-1] == 899.0 and len(values) == 601
    clock.now += 300  # five quiet minutes: half the window has gone by reading time
    assert history.series("dev", DEVICE_SCOPE, "cpu_percent")[1][0] == 599.0
    assert history.sample_count("dev") == 900


def test_history_memory_is_bounded_when_a_device_sends_faster_than_expected():
    clock = FakeClock()
    history = HealthHistory(window_s=600, max_rate_hz=2.0, clock=clock)
    for n in range(20_000):  # 100 Hz for 200 s
        clock.now += 0.01
        history.add("dev", health(cpu=n))
    per_series = history.capacity
    assert per_series == 1200
    series_count = 2 + 4  # cpu, memory (no gpu, no temperature) + four for cam-1
    assert history.point_count("dev") <= per_series * series_count
    assert len(history.series("dev", DEVICE_SCOPE, "cpu_percent")[0]) == per_series


def test_unreadable_gpu_leaves_a_gap_not_a_zero_and_app_states_are_kept():
    clock = FakeClock()
    history = HealthHistory(clock=clock)
    history.add("dev", health(gpu=None, apps=("line-safety",)))
    clock.now += 1
    history.add("dev", health(gpu=55.0))
    times, values = history.series("dev", DEVICE_SCOPE, "gpu_percent")
    assert values == [55.0] and times == [clock.now]
    assert history.series("dev", DEVICE_SCOPE, "temperature_c") == ([], [])
    assert history.apps("dev") == []  # the latest sample has no apps
    history.add("dev", health(apps=("line-safety",)))
    (app,) = history.apps("dev")
    assert (app.app_id, app.version, app.state) == ("line-safety", "1.0.0", "running")
    (stream,) = history.streams("dev")
    assert (stream.camera_id, stream.state, stream.width, stream.height) == ("cam-1", "live", 640, 480)
    assert history.provider("dev") == ("CPUExecutionProvider", "")


def test_dropped_fps_is_the_rate_of_the_dropped_frames_counter_and_survives_a_counter_reset():
    clock = FakeClock()
    history = HealthHistory(clock=clock)
    for dropped in (0, 10, 30, 2, 6):  # the device restarted between 30 and 2
        history.add("dev", health(dropped=dropped))
        clock.now += 2.0
    assert history.series("dev", "cam-1", "dropped_fps")[1] == [0.0, 5.0, 10.0, 0.0, 2.0]
    assert history.cameras("dev") == ["cam-1"]


def test_history_rejects_a_window_that_is_not_positive():
    with pytest.raises(ValueError, match="window_s"):
        HealthHistory(window_s=0)


@pytest.fixture(scope="module")
def line_device(tmp_path_factory) -> LineSafetyDevice:
    device = LineSafetyDevice(tmp_path_factory.mktemp("health-device"))
    yield device
    device.stop()


def test_history_follows_a_real_device_and_plots_its_stream(line_device):
    history = HealthHistory()
    states: list[str] = []
    follower = history.follow(line_device.device_id, line_device.client, interval_s=0.5,
                              on_state=lambda state, detail: states.append(state))
    try:
        wait_until(lambda: len(history.series(line_device.device_id, CAMERA_ID, "inferred_fps")[0]) >= 3,
                   "three health samples with the line-safety camera")
    finally:
        follower.stop(wait=5.0)
    device_id = line_device.device_id
    assert not follower.running and follower.state == STOPPED
    assert states[:2] == ["connecting", LIVE] and states[-1] == STOPPED
    cpu = history.series(device_id, DEVICE_SCOPE, "cpu_percent")[1]
    assert cpu and all(0.0 <= v <= 100.0 * 64 for v in cpu)
    assert 0.0 < history.series(device_id, DEVICE_SCOPE, "memory_percent")[1][-1] <= 100.0
    assert history.series(device_id, CAMERA_ID, "camera_fps")[1][-1] > 0
    assert history.series(device_id, CAMERA_ID, "inference_ms")[1][-1] > 0
    assert [a.app_id for a in history.apps(device_id)] == [APP_ID]


def test_health_watch_follows_exactly_the_devices_it_is_given_and_keeps_their_history(line_device):
    history = HealthHistory()
    states: list[tuple[str, str]] = []
    watch = HealthWatch(history, lambda device_id: line_device.client(), interval_s=0.5,
                        on_state=lambda device_id, state, detail: states.append((device_id, state)))
    device_id = line_device.device_id
    try:
        watch.set_devices([device_id])
        first = watch.follower(device_id)
        watch.set_devices([device_id])  # told again (every device-list change): the same follower
        assert watch.follower(device_id) is first and watch.devices() == [device_id]
        wait_until(lambda: history.sample_count(device_id) >= 2, "two samples from the watched device")
        assert (device_id, LIVE) in states
        watch.set_devices([])  # unpaired: following stops, the minutes already recorded stay
        wait_until(lambda: not first.running, "the follower to stop")
        assert watch.devices() == [] and history.sample_count(device_id) >= 2
    finally:
        watch.close()
    assert watch.follow(device_id) is None, "a closed watch starts nothing"


def test_follower_reconnects_after_the_device_restarts(tmp_path: Path):
    with LineSafetyDevice(tmp_path / "device", deploy=False) as device:
        history = HealthHistory()
        follower = history.follow(device.device_id, device.client, interval_s=0.2)
        follower.min_backoff_s = follower.max_backoff_s = 0.2
        try:
            wait_until(lambda: history.sample_count(device.device_id) >= 1, "a first health sample")
            device.restart()
            before = history.sample_count(device.device_id)
            wait_until(lambda: follower.connections >= 2 and history.sample_count(device.device_id) > before + 1,
                       "health samples after the device restarted")
        finally:
            follower.stop(wait=5.0)
        assert not follower.running


def test_follower_reports_reconnecting_with_the_reason_while_the_device_is_down(tmp_path: Path):
    """The connect function is the real client; the device is simply stopped first."""
    device = LineSafetyDevice(tmp_path / "device", deploy=False)
    device.stop()
    states: list[tuple[str, str]] = []
    follower = StreamFollower(device.client, lambda c: c.health(), lambda m: None,
                              on_state=lambda s, d: states.append((s, d)), min_backoff_s=0.1, max_backoff_s=0.2)
    follower.start()
    try:
        wait_until(lambda: sum(1 for s, _ in states if s == RECONNECTING) >= 2, "two reconnect attempts")
    finally:
        follower.stop(wait=5.0)
    reason = next(d for s, d in states if s == RECONNECTING)
    assert "127.0.0.1" in reason and "retrying in" in reason
    assert follower.connections == 0 and states[-1][0] == STOPPED
