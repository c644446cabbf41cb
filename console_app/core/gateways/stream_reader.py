"""Opening and reading a camera stream on the console (OpenCV/FFmpeg; no Qt).

Two uses: :func:`test_open` during registration (open, read the first frame,
return it as JPEG with the stream's size, rate and codec), and
:class:`StreamReader` for the raw preview (a worker thread decodes; the
newest frame wins; fps, resolution and state are kept for the view).

Opening is the device's own (:mod:`device_runtime.media.probe`): RTSP over
TCP first, then UDP, bounded by OpenCV's open/read timeouts, through the
FFmpeg options gate, and after a failed RTSP open one DESCRIBE finds out
why: refused, silent, 401, 404. Credentials never appear in messages.

``sim://`` URLs (the synthetic production line of the simulated ONVIF
camera) are rendered by a Sightline *device*, not by the console: the
console has no decoder for them and may not import the device runtime.
:func:`test_open` answers them with ``device_only=True`` and a message
saying so; registration then test-opens through a paired device's
ProbeCamera call, which is the same path used for any camera only the
device can reach.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from device_runtime.media.probe import FirstFrame, first_frame, open_stream, why_not_opened
from device_runtime.media.redact import redact_url

__all__ = ["DEVICE_ONLY_SCHEMES", "FirstFrame", "ReaderState", "ReaderStats", "StreamReader", "is_device_only",
           "test_open"]

DEVICE_ONLY_SCHEMES = ("sim",)


class ReaderState(str, enum.Enum):
    """What a :class:`StreamReader` is doing; shown to the engineer as is."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


def is_device_only(url: str) -> bool:
    """True for URLs only a Sightline device can open (``sim://``)."""
    return urlsplit(url).scheme.lower() in DEVICE_ONLY_SCHEMES


def test_open(url: str, timeout_s: float = 5.0) -> FirstFrame:
    """Open ``url``, read one frame, and return it as JPEG with the stream's properties.

    Never takes much longer than ``timeout_s`` in total (TCP and UDP share it).
    """
    shown = redact_url(url)
    if is_device_only(url):
        return FirstFrame(ok=False, device_only=True,
                          error=f"{shown} is rendered by a Sightline device; test it through a paired device")
    return first_frame(url, timeout_s)


# ------------------------------------------------------------------ reader


@dataclass(frozen=True)
class ReaderStats:
    """What the preview shows next to the picture."""

    state: ReaderState
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frames: int = 0
    error: str = ""


class StreamReader:
    """Decode a stream in a worker thread; keep only the newest frame.

    ``on_frame(image, seq)`` (optional) runs on the worker thread for every
    decoded frame: the preview converts to QImage there, off the GUI thread.
    ``on_state(stats)`` runs on the worker thread when the state changes.
    The reader reconnects after a lost stream (every ``retry_s``) until
    :meth:`stop`. Device-only URLs fail at once with a clear error.
    """

    def __init__(self, url: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0,
                 retry_s: float = 2.0, on_frame: Callable[[np.ndarray, int], None] | None = None,
                 on_state: Callable[[ReaderStats], None] | None = None) -> None:
        self.url = url
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.retry_s = retry_s
        self.on_frame = on_frame
        self.on_state = on_state
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._stats = ReaderStats(ReaderState.STOPPED)
        self._stop = threading.Event()
        self._new_frame = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"StreamReader({redact_url(self.url)!r}, state={self._stats.state.value})"

    @property
    def stats(self) -> ReaderStats:
        return self._stats

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> StreamReader:
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stream-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Ask the worker to end and wait for it (at most about one read timeout)."""
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s if timeout_s is not None else self.read_timeout_s + 2)
            self._thread = None

    def latest(self) -> tuple[np.ndarray | None, int]:
        """The newest frame and its sequence number (0 before the first)."""
        with self._lock:
            return self._frame, self._seq

    def wait_frame(self, after_seq: int = 0, timeout_s: float = 5.0) -> tuple[np.ndarray | None, int]:
        """Block until a frame newer than ``after_seq`` arrives (or the timeout, or stop)."""
        deadline = time.monotonic() + timeout_s
        with self._new_frame:
            while self._seq <= after_seq and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._new_frame.wait(left)
            return self._frame, self._seq

    def _set_state(self, stats: ReaderStats) -> None:
        changed = stats.state != self._stats.state or stats.error != self._stats.error
        self._stats = stats
        if changed and self.on_state is not None:
            self.on_state(stats)

    def _run(self) -> None:
        if is_device_only(self.url):
            self._set_state(ReaderStats(ReaderState.FAILED, error=f"{redact_url(self.url)} can only be "
                                        "opened by a Sightline device; preview it through the device"))
            return
        state = ReaderState.CONNECTING
        while not self._stop.is_set():
            self._set_state(ReaderStats(state, error=self._stats.error))
            capture, _ = open_stream(self.url, time.monotonic() + self.open_timeout_s,
                                     read_timeout_s=self.read_timeout_s)
            if capture is None:
                error = why_not_opened(self.url, time.monotonic() + 2.0, self.open_timeout_s)
                self._set_state(ReaderStats(ReaderState.RECONNECTING, error=error))
                state = ReaderState.RECONNECTING
                self._stop.wait(self.retry_s)
                continue
            try:
                self._read_until_lost(capture)
            finally:
                capture.release()
            state = ReaderState.RECONNECTING
        self._set_state(ReaderStats(ReaderState.STOPPED, self._stats.width, self._stats.height))

    def _read_until_lost(self, capture: cv2.VideoCapture) -> None:
        window: list[float] = []
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                self._set_state(ReaderStats(ReaderState.RECONNECTING, error="stream lost; reconnecting"))
                return
            now = time.monotonic()
            window = [t for t in window if now - t < 2.0] + [now]
            fps = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else 0.0
            with self._new_frame:
                self._frame = image
                self._seq += 1
                seq = self._seq
                self._new_frame.notify_all()
            self._set_state(ReaderStats(ReaderState.LIVE, int(image.shape[1]), int(image.shape[0]), fps, seq))
            if self.on_frame is not None:
                self.on_frame(image, seq)
