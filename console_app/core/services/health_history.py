"""Device health over the last ten minutes, kept in bounded ring buffers.

:class:`HealthHistory` turns the ``Health`` messages a device streams
(``WatchHealth``) into time series: per device (CPU, memory, GPU, GPU memory,
temperature) and per stream (camera, inferred and dropped fps, inference ms),
plus the latest app and stream states. Each series holds at most
``window_s * max_rate_hz`` points and forgets points older than the window,
so memory stays bounded however long the console runs.

:meth:`HealthHistory.follow` keeps a device's health stream flowing into it
(:class:`~console_app.core.services.reconnect.StreamFollower`).

No Qt. Times are unix seconds from the ``clock`` given (tests inject one).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from console_app.core.services.reconnect import StreamFollower

log = logging.getLogger(__name__)

WINDOW_S = 600.0
#: Where a sample's value comes from on ``Health.device``.
DEVICE_METRICS = ("cpu_percent", "memory_percent", "gpu_percent", "gpu_memory_percent", "temperature_c")
#: Per-stream series; ``dropped_fps`` is derived from the ``dropped_frames`` counter.
STREAM_METRICS = ("camera_fps", "inferred_fps", "dropped_fps", "inference_ms")
#: The scope of the device-wide series (streams use their camera id).
DEVICE_SCOPE = ""
#: A camera's availability as the device reports it (``StreamHealth.availability``), in the
#: words the Cameras page uses for its own checks.
AVAILABILITY_WORDS = {"online": "Online", "connecting": "Connecting…", "offline": "Offline",
                      "auth_failed": "Wrong password"}
_OPTIONAL_DEVICE_FIELDS = ("gpu_percent", "gpu_memory_percent", "temperature_c")


class SampleSeries:
    """``(time, value)`` points of the last ``window_s`` seconds, at most ``capacity`` of them."""

    def __init__(self, window_s: float = WINDOW_S, capacity: int = 2400):
        self.window_s = window_s
        self._points: deque[tuple[float, float]] = deque(maxlen=max(1, capacity))

    def __len__(self) -> int:
        return len(self._points)

    @property
    def capacity(self) -> int:
        return self._points.maxlen or 0

    def append(self, t: float, value: float) -> None:
        # Out-of-order points (a clock step back) would break the plot's x order: drop them.
        if self._points and t < self._points[-1][0]:
            return
        self._points.append((t, float(value)))

    def prune(self, now: float) -> None:
        """Forget points older than the window ending at ``now``."""
        oldest = now - self.window_s
        while self._points and self._points[0][0] < oldest:
            self._points.popleft()

    def points(self) -> tuple[list[float], list[float]]:
        """Two lists, times and values, oldest first."""
        return [t for t, _ in self._points], [v for _, v in self._points]

    def latest(self) -> tuple[float, float] | None:
        return self._points[-1] if self._points else None


@dataclass(frozen=True)
class AppState:
    """One app as the device last reported it."""

    app_id: str
    name: str
    version: str
    state: str
    error: str
    camera_ids: tuple[str, ...]


@dataclass(frozen=True)
class StreamState:
    """One camera stream as the device last reported it."""

    camera_id: str
    state: str
    reason: str
    width: int
    height: int
    url: str
    #: online, connecting, offline or auth_failed ("" from a device too old to say).
    availability: str = ""

    @property
    def availability_words(self) -> str:
        """The availability in plain words ("Online", "Wrong password", ...); "—" when not reported."""
        return AVAILABILITY_WORDS.get(self.availability, self.availability or "—")


@dataclass(frozen=True)
class OutputState:
    """One app output's delivery state (the device's outbox) as last reported."""

    app_id: str
    name: str
    kind: str
    state: str
    delivered: int
    queued: int
    failed: int
    dropped: int
    last_error: str
    latency_p99_ms: float = 0.0  # the camera's hand-over to the receiver's confirmation; 0 before the first


@dataclass
class _DeviceRecord:
    series: dict[tuple[str, str], SampleSeries]
    apps: list[AppState]
    streams: list[StreamState]
    outputs: list[OutputState] = field(default_factory=list)
    provider: str = ""
    provider_warning: str = ""
    last_time: float | None = None
    samples: int = 0
    # camera id -> (time, dropped_frames) of the previous sample, for the dropped-fps rate
    dropped: dict[str, tuple[float, int]] | None = None


class HealthHistory:
    """The last ``window_s`` seconds of health of every device fed to it. Thread-safe.

    ``max_rate_hz`` bounds each series: a device sending faster than that
    still uses only ``window_s * max_rate_hz`` points per series (the oldest
    go first). ``clock`` gives unix seconds; samples are stamped with it on
    arrival, so a device whose clock is off still plots at the right place.
    """

    def __init__(self, window_s: float = WINDOW_S, max_rate_hz: float = 4.0,
                 clock: Callable[[], float] = time.time):
        if window_s <= 0 or max_rate_hz <= 0:
            raise ValueError(f"window_s and max_rate_hz must be positive, got {window_s} and {max_rate_hz}")
        self.window_s = window_s
        self.capacity = int(math.ceil(window_s * max_rate_hz))
        self.clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, _DeviceRecord] = {}
        self._listeners: list[Callable[[str], None]] = []

    # ------------------------------------------------------------------ feeding

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(device_id)`` after each sample, from the thread that added it."""
        self._listeners.append(listener)

    def add(self, device_id: str, health: Any, t: float | None = None) -> None:
        """Record one ``Health`` message (or anything shaped like it) of ``device_id``, at ``t`` or now."""
        now = self.clock() if t is None else t
        with self._lock:
            record = self._devices.get(device_id)
            if record is None:
                record = self._devices[device_id] = _DeviceRecord({}, [], [], dropped={})
            device = health.device
            for metric in DEVICE_METRICS:
                if metric in _OPTIONAL_DEVICE_FIELDS and not _has(device, metric):
                    continue  # unreadable on this device: a gap, never a made-up zero
                self._append(record, DEVICE_SCOPE, metric, now, getattr(device, metric))
            streams = []
            for s in health.streams:
                self._append(record, s.camera_id, "camera_fps", now, s.camera_fps)
                self._append(record, s.camera_id, "inferred_fps", now, s.inferred_fps)
                self._append(record, s.camera_id, "inference_ms", now, s.inference_ms)
                self._append(record, s.camera_id, "dropped_fps", now, self._dropped_rate(record, s, now))
                streams.append(StreamState(s.camera_id, s.state, s.state_reason, s.width, s.height, s.url,
                                           getattr(s, "availability", "")))
            record.streams = streams
            record.apps = [AppState(a.app_id, a.name, a.version, a.state, a.error, tuple(a.camera_ids))
                           for a in health.apps]
            record.outputs = [OutputState(o.app_id, o.name, o.kind, o.state, o.delivered, o.queued, o.failed,
                                          o.dropped, o.last_error, o.latency_p99_ms)
                              for o in getattr(health, "outputs", ())]
            record.provider, record.provider_warning = health.active_provider, health.provider_warning
            record.last_time = now
            record.samples += 1
            self._prune(record, now)
        for listener in list(self._listeners):
            listener(device_id)

    def _append(self, record: _DeviceRecord, scope: str, metric: str, t: float, value: float) -> None:
        series = record.series.get((scope, metric))
        if series is None:
            series = record.series[(scope, metric)] = SampleSeries(self.window_s, self.capacity)
        series.append(t, value)

    @staticmethod
    def _dropped_rate(record: _DeviceRecord, stream: Any, now: float) -> float:
        assert record.dropped is not None
        previous = record.dropped.get(stream.camera_id)
        record.dropped[stream.camera_id] = (now, int(stream.dropped_frames))
        if previous is None:
            return 0.0
        t0, count0 = previous
        if now <= t0 or stream.dropped_frames < count0:
            return 0.0  # the counter restarted (device or stream restart)
        return (stream.dropped_frames - count0) / (now - t0)

    def _prune(self, record: _DeviceRecord, now: float) -> None:
        for key in list(record.series):
            series = record.series[key]
            series.prune(now)
            if not len(series):
                del record.series[key]  # a camera gone for a whole window leaves no trace

    # ------------------------------------------------------------------ reading

    def devices(self) -> list[str]:
        with self._lock:
            return sorted(self._devices)

    def series(self, device_id: str, scope: str, metric: str) -> tuple[list[float], list[float]]:
        """Times and values of one series within the window ending now (empty when unknown)."""
        with self._lock:
            record = self._devices.get(device_id)
            if record is None:
                return [], []
            series = record.series.get((scope, metric))
            if series is None:
                return [], []
            series.prune(self.clock())
            return series.points()

    def point_count(self, device_id: str) -> int:
        """Points held for ``device_id`` across all its series (what bounds memory)."""
        with self._lock:
            record = self._devices.get(device_id)
            return sum(len(s) for s in record.series.values()) if record else 0

    def cameras(self, device_id: str) -> list[str]:
        """Camera ids with data in the window, in the order first seen."""
        with self._lock:
            record = self._devices.get(device_id)
            if record is None:
                return []
            seen: dict[str, None] = {}
            for scope, _ in record.series:
                if scope != DEVICE_SCOPE:
                    seen.setdefault(scope, None)
            return list(seen)

    def apps(self, device_id: str) -> list[AppState]:
        with self._lock:
            record = self._devices.get(device_id)
            return list(record.apps) if record else []

    def outputs(self, device_id: str) -> list[OutputState]:
        """Each app output's delivery state from the latest sample."""
        with self._lock:
            record = self._devices.get(device_id)
            return list(record.outputs) if record else []

    def streams(self, device_id: str) -> list[StreamState]:
        with self._lock:
            record = self._devices.get(device_id)
            return list(record.streams) if record else []

    def provider(self, device_id: str) -> tuple[str, str]:
        """(active execution provider, warning) from the latest sample."""
        with self._lock:
            record = self._devices.get(device_id)
            return (record.provider, record.provider_warning) if record else ("", "")

    def last_sample_time(self, device_id: str) -> float | None:
        with self._lock:
            record = self._devices.get(device_id)
            return record.last_time if record else None

    def sample_count(self, device_id: str) -> int:
        """Samples received from ``device_id`` since the console started (not bounded by the window)."""
        with self._lock:
            record = self._devices.get(device_id)
            return record.samples if record else 0

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._devices.pop(device_id, None)

    # ------------------------------------------------------------------ following

    def follow(self, device_id: str, connect: Callable[[], Any], interval_s: float = 1.0,
               on_state: Callable[[str, str], None] | None = None) -> StreamFollower:
        """Follow ``device_id``'s health stream into this history until the follower is stopped.

        ``connect()`` returns a fresh ``DeviceClient`` (e.g.
        ``lambda: appliances.connect(device_id)``); it is called again after
        every failure, with backoff.
        """
        return StreamFollower(
            connect, lambda client: client.health(interval_s=interval_s),
            lambda message: self.add(device_id, message), on_state=on_state,
            name=f"health-{device_id}",
        ).start()


class HealthWatch:
    """Keeps a :class:`HealthHistory` filled for every connected device, whatever page is on screen.

    The console calls :meth:`set_devices` with the paired devices whenever
    its device list changes, so each device's ten-minute history starts when
    it is connected, not when someone first looks at it. ``connect(device_id)``
    returns a fresh ``DeviceClient``; ``on_state(device_id, state, detail)``
    reports each follower's state from its thread.
    """

    def __init__(self, history: HealthHistory, connect: Callable[[str], Any], interval_s: float = 1.0,
                 on_state: Callable[[str, str, str], None] | None = None):
        self.history, self.interval_s = history, interval_s
        self._connect, self._on_state = connect, on_state
        self._followers: dict[str, StreamFollower] = {}
        self._lock = threading.Lock()
        self._closed = False

    def follow(self, device_id: str) -> StreamFollower | None:
        """Follow ``device_id`` (no-op when already followed); its follower (None once closed)."""
        with self._lock:
            if self._closed:
                return None
            follower = self._followers.get(device_id)
            if follower is None or not follower.running:
                on_state = None
                if self._on_state is not None:
                    report = self._on_state
                    on_state = lambda state, detail: report(device_id, state, detail)  # noqa: E731
                follower = self.history.follow(device_id, lambda: self._connect(device_id),
                                               interval_s=self.interval_s, on_state=on_state)
                self._followers[device_id] = follower
            return follower

    def set_devices(self, device_ids: Iterable[str]) -> None:
        """Follow exactly ``device_ids``: new ones start, ones no longer listed stop (their history stays)."""
        wanted = set(device_ids)
        with self._lock:
            gone = [self._followers.pop(d) for d in list(self._followers) if d not in wanted]
        for follower in gone:
            follower.stop()
        for device_id in sorted(wanted):
            self.follow(device_id)

    def follower(self, device_id: str) -> StreamFollower | None:
        with self._lock:
            return self._followers.get(device_id)

    def devices(self) -> list[str]:
        with self._lock:
            return sorted(self._followers)

    def close(self) -> None:
        """Stop every follower (never waits on the network). Idempotent."""
        with self._lock:
            self._closed = True
            followers, self._followers = list(self._followers.values()), {}
        for follower in followers:
            follower.stop()


def _has(message: Any, field: str) -> bool:
    """Whether an optional field is set (protobuf ``HasField``; plain objects: not ``None``)."""
    has_field = getattr(message, "HasField", None)
    if has_field is not None:
        return bool(has_field(field))
    return getattr(message, field, None) is not None
