"""Live feeds: one device's annotated preview stream, kept open across restarts and network cuts.

A :class:`LiveFeed` runs one daemon thread per device. It connects (a paired
client from a ``connect`` callable), reads which apps run there (their live
parameters give the zones and lines to draw, their model the class names),
opens ``WatchPreview`` and turns every ``PreviewFrame`` into a
:class:`LiveFrame`: the JPEG decoded by the injected ``decode`` function *in
this thread* (the console passes a QImage decoder; the GUI thread only
paints), detections as normalised :class:`Box` es, counts, timings and the
end-to-end latency. The device sends the clean camera frame; every overlay is
drawn by the console from this metadata.

Newest frame wins, per camera: the feed keeps only the latest frame of each
camera and calls ``on_frame(camera_id)`` once until the consumer has taken it
with :meth:`LiveFeed.take`, so a slow GUI never queues frames or
notifications.

When the connection fails, the stream ends, or no frame arrives for
:data:`STALL_S` while live (a silent network cut), the feed says why
(state ``reconnecting`` and a reason) and tries again after a capped
exponential backoff (0.5 s, 1 s, 2 s, 4 s, 5 s, 5 s ...; the console's one
reconnect loop, :func:`~console_app.core.services.reconnect.keep_reconnecting`).

Clocks: latency is ``receive time - capture_time``. On one machine both are
the same clock. Across machines the device's clock may be off; the feed
estimates the offset as the smallest ``receive time - sent_time`` seen in the
last :data:`SKEW_WINDOW` frames (transit on a LAN is well under a
millisecond at best). An offset beyond :data:`SKEW_TOLERANCE_S` is taken to
be clock skew and subtracted (``LiveFrame.clock_offset_s``); a smaller one is
transit and left in, so loopback numbers are never adjusted.

No Qt here: callbacks run in the feed's thread; the UI hands them to its own
thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from console_app.core.services.live_frame import (
    AppInfo,
    Box,
    FeedState,
    LiveFrame,
    app_info_from_status,
)
from console_app.core.services.reconnect import Backoff, keep_reconnecting

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
STALL_S = 5.0
FPS_WINDOW_S = 2.0
SKEW_WINDOW = 50
SKEW_TOLERANCE_S = 0.05
DEFAULT_FPS = 15.0
DEFAULT_MAX_WIDTH = 640


class LiveFeedError(Exception):
    """A call through a feed failed (not connected, or the device refused it); the message says why."""


class _CameraMeter:
    """Frame rate over a short window and the clock offset estimate of one camera."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=256)
        self.transit: deque[float] = deque(maxlen=SKEW_WINDOW)

    def record(self, received: float, sent: float) -> tuple[float, float]:
        now = time.monotonic()
        self.times.append(now)
        while self.times and now - self.times[0] > FPS_WINDOW_S:
            self.times.popleft()
        span = now - self.times[0]
        fps = (len(self.times) - 1) / span if span >= 0.5 else 0.0
        offset = 0.0
        if sent > 0:
            self.transit.append(received - sent)
            smallest = min(self.transit)
            offset = smallest if abs(smallest) > SKEW_TOLERANCE_S else 0.0
        return fps, offset


Connect = Callable[[], Any]
#: ``decode(jpeg, camera_id)`` -> the picture the consumer paints (runs in the feed's thread).
Decode = Callable[[bytes, str], Any]


def keep_jpeg(jpeg: bytes, camera_id: str) -> bytes:
    """The default ``decode``: the JPEG bytes themselves."""
    return jpeg


class LiveFeed:
    """Keeps one device's preview stream open; see the module docstring.

    ``connect()`` returns a paired device client (``DeviceClient`` or
    anything with ``info``, ``list_apps``, ``list_models``, ``preview``,
    ``set_params`` and ``close``); it is called in the feed's thread.
    Callbacks, all from the feed's thread: ``on_frame(camera_id)`` when a
    newer frame can be taken, ``on_state(state, reason)``,
    ``on_apps(apps)`` with the apps found on (re)connecting or changed by
    :meth:`set_params`.
    """

    def __init__(self, device_id: str, connect: Connect, *, decode: Decode = keep_jpeg,
                 on_frame: Callable[[str], None] | None = None,
                 on_state: Callable[[str, str], None] | None = None,
                 on_apps: Callable[[dict[str, AppInfo]], None] | None = None,
                 fps: float = DEFAULT_FPS, max_width: int = DEFAULT_MAX_WIDTH,
                 initial_backoff_s: float = INITIAL_BACKOFF_S, max_backoff_s: float = MAX_BACKOFF_S,
                 stall_s: float = STALL_S):
        self.device_id = device_id
        self._connect = connect
        self._decode = decode
        self._on_frame = on_frame or (lambda camera_id: None)
        self._on_state = on_state or (lambda state, reason: None)
        self._on_apps = on_apps or (lambda apps: None)
        self.fps, self.max_width = fps, max_width
        self._initial_backoff, self._max_backoff, self._stall_s = initial_backoff_s, max_backoff_s, stall_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: dict[str, LiveFrame] = {}
        self._notified: set[str] = set()
        self._meters: dict[str, _CameraMeter] = {}
        self._client: Any = None
        self._stream: Any = None
        self._last_message = 0.0
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self.state = FeedState.STOPPED
        self.reason = ""
        self.provider = ""
        self.apps: dict[str, AppInfo] = {}
        self.frames_received = 0
        self.connections = 0
        self._stall_reason = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LiveFeed:
        """Start the feed's thread; returns at once."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"live {self.device_id}", daemon=True)
        self._watchdog = threading.Thread(target=self._watch_stalls, name=f"live-watch {self.device_id}",
                                          daemon=True)
        self._thread.start()
        self._watchdog.start()
        return self

    def request_stop(self) -> None:
        """Ask the feed to end (cancels the stream) without waiting; see :meth:`stop`."""
        self._stop.set()
        self._cancel_stream()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the stream and the threads; True when they ended within ``timeout``."""
        self.request_stop()
        ended = True
        for thread in (self._thread, self._watchdog):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
                ended = ended and not thread.is_alive()
        return ended

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ consumer side

    def take(self, camera_id: str) -> LiveFrame | None:
        """The newest frame of ``camera_id`` (None if none since the last take); re-arms ``on_frame``."""
        with self._lock:
            frame = self._latest.pop(camera_id, None)
            self._notified.discard(camera_id)
        return frame

    def camera_ids(self) -> list[str]:
        """Cameras seen in frames or named by the device's apps, sorted."""
        with self._lock:
            seen = set(self._meters)
        for app in self.apps.values():
            seen.update(app.camera_ids)
        return sorted(seen)

    def app_for_camera(self, camera_id: str) -> AppInfo | None:
        """The (first) app running on ``camera_id``."""
        for app in self.apps.values():
            if camera_id in app.camera_ids:
                return app
        return None

    def set_params(self, app_id: str, params: dict[str, Any]) -> AppInfo:
        """Send live parameters (blocking: call it off the GUI thread); the app as the device now has it."""
        client = self._client
        if client is None:
            raise LiveFeedError(f"device {self.device_id} is not connected ({self.state}: {self.reason}); "
                                "the change was not sent")
        try:
            status = client.set_params(app_id, json.dumps(params))
        except Exception as exc:
            raise LiveFeedError(f"device {self.device_id} refused the parameters of {app_id}: {exc}") from exc
        old = self.apps.get(app_id)
        info = app_info_from_status(status, {status.model: old.labels} if old else None)
        self.apps = {**self.apps, app_id: info}
        self._safe(self._on_apps, dict(self.apps))
        return info

    # ------------------------------------------------------------------ the feed's thread

    def _set_state(self, state: str, reason: str = "") -> None:
        if (state, reason) == (self.state, self.reason):
            return
        self.state, self.reason = state, reason
        self._safe(self._on_state, state, reason)

    @staticmethod
    def _safe(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a consumer's bug must not end the feed
            log.exception("live feed callback %r failed", fn)

    def _run(self) -> None:
        def on_retry(reason: str, delay: float) -> None:
            if self._stall_reason:  # the watchdog cut a silent stream: say so rather than "ended"
                reason, self._stall_reason = self._stall_reason, ""
            log.debug("live feed %s: %s; retrying in %.1f s", self.device_id, reason, delay)
            self._set_state(FeedState.RECONNECTING, reason)

        self._set_state(FeedState.CONNECTING)
        keep_reconnecting(self._stop, self._session, progress=lambda: self.frames_received, on_retry=on_retry,
                          backoff=Backoff(self._initial_backoff, self._max_backoff),
                          ended="the device ended the preview stream")
        self._set_state(FeedState.STOPPED)

    def _session(self) -> None:
        """One connection: read apps, stream frames until the stream ends."""
        client = self._connect()
        try:
            info = client.info()
            self.provider = info.active_provider
            self._refresh_apps(client)
            self.connections += 1
            with client.preview(fps=self.fps, max_width=self.max_width) as stream:
                self._stream = stream
                if self._stop.is_set():
                    return
                self._client = client
                self._set_state(FeedState.WAITING, "connected; no camera is sending frames yet")
                for message in stream:
                    if self._stop.is_set():
                        break
                    self._last_message = time.monotonic()
                    self._publish(self._to_frame(message))
                    if self.state != FeedState.LIVE:
                        self._set_state(FeedState.LIVE, "")
        finally:
            self._client = None
            self._stream = None
            self._last_message = 0.0
            try:
                client.close()
            except Exception:
                log.debug("closing the client of %s failed", self.device_id, exc_info=True)

    def _refresh_apps(self, client: Any) -> None:
        try:
            labels = {m.name: tuple(m.labels) for m in client.list_models()}
        except Exception:  # an older device or a transient failure: labels come from manifests
            labels = {}
        self.apps = {s.app_id: app_info_from_status(s, labels) for s in client.list_apps()}
        self._safe(self._on_apps, dict(self.apps))

    def _to_frame(self, message: Any) -> LiveFrame:
        received = time.time()
        camera_id = message.camera_id
        with self._lock:
            meter = self._meters.setdefault(camera_id, _CameraMeter())
        fps, offset = meter.record(received, message.sent_time)
        image = self._decode(message.jpeg, camera_id)
        boxes = tuple(Box(d.x1, d.y1, d.x2, d.y2, d.score, d.class_id, d.label, d.track_id)
                      for d in message.detections)
        if message.provider:
            self.provider = message.provider
        return LiveFrame(
            device_id=self.device_id, camera_id=camera_id, seq=message.seq, image=image,
            width=message.width, height=message.height, capture_time=message.capture_time,
            sent_time=message.sent_time, received_time=received, clock_offset_s=offset,
            detections=boxes, counts=dict(message.counts), timings_ms=dict(message.timings_ms),
            app_id=message.app_id, provider=message.provider or self.provider,
            stream_state=message.state, fps=fps,
            labels=tuple((label.text, label.x, label.y) for label in message.labels),
        )

    def _publish(self, frame: LiveFrame) -> None:
        self.frames_received += 1
        with self._lock:
            self._latest[frame.camera_id] = frame  # newest wins: an untaken older frame is dropped
            notify = frame.camera_id not in self._notified
            self._notified.add(frame.camera_id)
        if notify:
            self._safe(self._on_frame, frame.camera_id)

    def _cancel_stream(self) -> None:
        stream = self._stream
        if stream is not None:
            try:
                stream.cancel()
            except Exception:
                log.debug("cancelling the preview of %s failed", self.device_id, exc_info=True)

    def _watch_stalls(self) -> None:
        """Ends a live stream that went silent (a network cut sends no error), so the feed reconnects."""
        while not self._stop.wait(min(1.0, self._stall_s / 2)):
            last = self._last_message
            if self.state == FeedState.LIVE and last and time.monotonic() - last > self._stall_s:
                self._stall_reason = f"no frame for {self._stall_s:.0f} s"
                self._last_message = 0.0
                self._cancel_stream()
