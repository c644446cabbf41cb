"""The Source base class: a reader thread, visible states, reconnects, fan-out.

A subclass implements three small methods, all called from the reader thread:

* ``_open()`` connects; it raises :class:`SourceOpenError` with a reason
  (``permanent=True`` when retrying cannot help).
* ``_read()`` returns the next :class:`Capture`, or None when no frame came
  within the read timeout (the stream stalled or the connection dropped); it
  raises :class:`EndOfStream` when a finite source is done.
* ``_close()`` releases what ``_open`` took.

The base class turns that into the states the engineer sees::

    CONNECTING -> LIVE -> STALLED -> RECONNECTING -> LIVE ...
                       \\-> FAILED (permanent error)      STOPPED (stop(), end of file)

Retries use capped exponential backoff. After a live stream drops, the first
reopen is immediate; then 0.25, 0.5, 1, 1, ... seconds (by default), so a
camera that comes back is live again within the cap (1 s) plus its open time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from device_runtime.media.redact import get_logger, redact_text, redact_url
from device_runtime.sources.buffer import FanOut, Subscription
from device_runtime.sources.errors import EndOfStream, SourceOpenError, SourceStateError
from device_runtime.types import Detection, Frame, StreamState

log = get_logger(__name__)

_TERMINAL = (StreamState.STOPPED, StreamState.FAILED)
_FPS_WINDOW_S = 2.0


class Capture(NamedTuple):
    """What ``_read`` hands the base class: a BGR image and optional ground truth."""

    image: np.ndarray
    ground_truth: list[Detection] | None = None


@dataclass(frozen=True)
class StateChange:
    """One state transition, as given to state listeners."""

    stream_id: str
    state: StreamState
    reason: str
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SourceStats:
    """A consistent snapshot of a source's counters, for health reports."""

    stream_id: str
    url: str
    state: StreamState
    state_reason: str
    camera_fps: float
    nominal_fps: float
    frames_read: int
    width: int
    height: int
    codec: str
    reconnects: int
    subscribers: dict[str, int]  # consumer name -> frames dropped for it
    backend: str = ""  # how the stream is read: "opencv", "gstreamer" ("" for synthetic sources)
    decoder: str = ""  # the video decoder in use, e.g. "avdec_h264", "nvv4l2decoder"


StateListener = Callable[[StateChange], None]


class Source:
    """A camera or synthetic stream read by its own thread.

    Build one with :func:`device_runtime.sources.open_source`, register
    listeners and subscriptions, then :meth:`start`. Consumers call
    ``subscribe(name).get(timeout)`` and always receive the newest frame.

    ``url`` is always the redacted URL; the real one stays private.
    """


    def __init__(
        self,
        url: str,
        stream_id: str,
        *,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 1.0,
    ) -> None:
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("backoff must satisfy 0 < backoff_initial_s <= backoff_max_s")
        self._raw_url = url
        self.url = redact_url(url)
        self.stream_id = stream_id
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s

        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.RLock()  # also serialises listener calls, in order
        self._state = StreamState.CONNECTING
        self._state_reason = "not started"
        self._listeners: list[StateListener] = []
        self._fanout = FanOut()

        self._stats_lock = threading.Lock()
        self._frame_times: deque[float] = deque(maxlen=256)
        self._latest: Frame | None = None
        self._seq = 0
        self.frames_read = 0
        self.reconnects = 0
        self.width = 0
        self.height = 0
        # Filled by subclasses once known (codec name, fps the stream announces).
        self.codec = ""
        self.nominal_fps = 0.0
        # Filled by camera backends: how frames are read and decoded (shown in health).
        self.backend = ""
        self.decoder = ""

    # ------------------------------------------------------------ public API

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def state_reason(self) -> str:
        """Why the stream is in its state (empty when LIVE); never holds a password."""
        return self._state_reason

    @property
    def camera_fps(self) -> float:
        """Frames per second actually received, over the last two seconds."""
        now = time.monotonic()
        with self._stats_lock:
            times = [t for t in self._frame_times if now - t <= _FPS_WINDOW_S]
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def latest(self) -> Frame | None:
        """The newest frame published so far (for snapshots); not tied to any consumer."""
        return self._latest

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener(StateChange)`` on every state or reason change.

        Called from the reader thread (or from :meth:`stop`), one call at a
        time and in order; keep it quick. Exceptions are logged and ignored.
        """
        with self._state_lock:
            self._listeners.append(listener)

    def remove_state_listener(self, listener: StateListener) -> None:
        with self._state_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def subscribe(self, name: str) -> Subscription:
        """A new consumer; it receives frames published from now on."""
        return self._fanout.subscribe(name)

    def stats(self) -> SourceStats:
        return SourceStats(
            stream_id=self.stream_id,
            url=self.url,
            state=self._state,
            state_reason=self._state_reason,
            camera_fps=self.camera_fps,
            nominal_fps=self.nominal_fps,
            frames_read=self.frames_read,
            width=self.width,
            height=self.height,
            codec=self.codec,
            reconnects=self.reconnects,
            subscribers={s.name: s.dropped for s in self._fanout.snapshot()},
            backend=self.backend,
            decoder=self.decoder,
        )

    def retry_delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed attempts (capped exponential)."""
        return min(self.backoff_max_s, self.backoff_initial_s * (2 ** max(0, failures - 1)))

    def start(self) -> Source:
        """Start the reader thread (once); returns self."""
        with self._state_lock:
            if self._thread is not None or self._stop_event.is_set():
                raise SourceStateError(
                    f"stream {self.stream_id!r} ({self.url}) was already started or stopped;"
                    " open a new source instead"
                )
            self._thread = threading.Thread(
                target=self._run, name=f"source-{self.stream_id}", daemon=True
            )
            self._set_state(StreamState.CONNECTING, f"opening {self.url}")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading; the state becomes STOPPED at once.

        Waits up to ``timeout`` seconds for the reader thread and returns
        whether it has ended. A thread inside a blocking OpenCV call ends by
        itself within the source's open/read timeout.
        """
        self._stop_event.set()
        self._set_state(StreamState.STOPPED, "stopped")
        self._fanout.end()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        """Whether the reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.stream_id!r}, {self.url!r}, {self._state.value})"

    # -------------------------------------------------- subclass interface

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> Capture | None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _read_timeout_s(self) -> float:
        """How long ``_read`` may wait for a frame; used to word stall reasons."""
        return 0.0

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stop was requested (for pacing in ``_read``)."""
        return self._stop_event.wait(seconds) if seconds > 0 else self._stop_event.is_set()

    # ------------------------------------------------------------ internals

    def _set_state(self, state: StreamState, reason: str = "") -> None:
        reason = redact_text(reason)
        with self._state_lock:
            if self._state in _TERMINAL and self._thread is not None:
                return  # STOPPED and FAILED are final
            if (state, reason) == (self._state, self._state_reason):
                return
            self._state, self._state_reason = state, reason
            change = StateChange(self.stream_id, state, reason)
            if state is StreamState.LIVE:
                log.info("stream %s %s: live %dx%d", self.stream_id, self.url, self.width, self.height)
            elif state is StreamState.FAILED:
                log.warning("stream %s %s: failed: %s", self.stream_id, self.url, reason)
            else:
                log.info("stream %s %s: %s: %s", self.stream_id, self.url, state.value, reason)
            for listener in list(self._listeners):
                try:
                    listener(change)
                except Exception:
                    log.exception("state listener %r of stream %s raised", listener, self.stream_id)

    def _publish(self, capture: Capture) -> None:
        image = capture.image
        image.flags.writeable = False  # shared by every consumer
        now_mono = time.monotonic()
        frame = Frame(
            image=image,
            stream_id=self.stream_id,
            seq=self._seq,
            capture_time=time.time(),
            monotonic=now_mono,
            ground_truth=capture.ground_truth,
        )
        self._seq += 1
        with self._stats_lock:
            self._frame_times.append(now_mono)
            self.frames_read += 1
            self.height, self.width = int(image.shape[0]), int(image.shape[1])
        self._latest = frame
        self._fanout.publish(frame)

    def _run(self) -> None:
        try:
            self._reconnect_loop()
        except Exception as exc:  # a bug, not a camera problem: say so instead of dying silently
            log.exception("reader thread of stream %s crashed", self.stream_id)
            self._set_state(StreamState.FAILED, f"internal error: {exc!r}")
        finally:
            if self._state not in _TERMINAL:
                self._set_state(StreamState.STOPPED, "stopped")
            self._fanout.end()

    def _reconnect_loop(self) -> None:
        failures = 0  # consecutive attempts that produced no frame, for the backoff
        while not self._stop_event.is_set():
            try:
                self._open()
            except SourceOpenError as exc:
                if exc.permanent:
                    self._set_state(StreamState.FAILED, exc.reason)
                    return
                failures += 1
                self._set_state(StreamState.RECONNECTING, exc.reason)
                self._wait(self.retry_delay(failures))
                continue
            except Exception as exc:  # an OpenCV or OS error we did not foresee
                failures += 1
                self._set_state(StreamState.RECONNECTING, f"cannot open {self.url}: {exc}")
                self._wait(self.retry_delay(failures))
                continue
            try:
                outcome = self._pump()
            finally:
                self._close_quietly()
            if outcome == "end":
                self._set_state(StreamState.STOPPED, "end of file")
                return
            if outcome == "stopped":
                return
            self.reconnects += 1
            self._set_state(StreamState.RECONNECTING, self._state_reason)
            if outcome == "stalled-live":
                failures = 0  # reopen at once: the camera may only have dropped this session
            else:
                failures += 1  # opened but never delivered a frame: back off
                self._wait(self.retry_delay(failures))

    def _pump(self) -> str:
        """Read and publish until stall, end or stop; says which."""
        got_frame = False
        while True:
            started = time.monotonic()
            try:
                capture = self._read()
            except EndOfStream:
                return "end"
            except SourceOpenError as exc:
                if exc.permanent:
                    self._set_state(StreamState.FAILED, exc.reason)
                    return "stopped"
                self._set_state(StreamState.STALLED, exc.reason)
                return "stalled-live" if got_frame else "stalled"
            except Exception as exc:
                self._set_state(StreamState.STALLED, f"read error from {self.url}: {exc}")
                return "stalled-live" if got_frame else "stalled"
            if self._stop_event.is_set():
                return "stopped"
            if capture is None:
                self._set_state(StreamState.STALLED, self._stall_reason(time.monotonic() - started))
                return "stalled-live" if got_frame else "stalled"
            got_frame = True
            self._publish(capture)
            if self._state is not StreamState.LIVE:
                self._set_state(StreamState.LIVE, "")

    def _stall_reason(self, waited: float) -> str:
        timeout = self._read_timeout_s()
        if timeout and waited >= 0.8 * timeout:
            return f"no frame from {self.url} for {waited:.1f} s"
        return f"connection to {self.url} lost (stream ended or camera closed it)"

    def _close_quietly(self) -> None:
        try:
            self._close()
        except Exception:
            log.debug("closing stream %s raised", self.stream_id, exc_info=True)
