"""Decoding for the raw preview: a worker thread per view, newest frame wins.

The worker opens the stream, decodes, and builds the ``QImage`` itself
(QImage, unlike QPixmap, is safe off the GUI thread), so the GUI thread only
paints. It keeps just the newest frame: when the GUI is slower than the
stream, older frames are dropped rather than queued. ``frame_ready`` is
emitted only when the GUI has taken the previous frame, so the event queue
never fills with frame notifications either.

A producer may also yield a :class:`StreamNote` between pictures (a device
saying its stream stalled or is reconnecting): the worker shows that state
until the next picture arrives. Cameras only a paired device can open are
watched through its ``WatchCamera`` stream (:func:`device_frames`), every frame
at the camera's rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from device_runtime.media.redact import redact_url

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class StreamNote:
    """Yielded by a producer instead of a picture: the stream's state (not live) and why."""

    state: str
    reason: str = ""


#: A frame producer: yields QImages (and StreamNotes) until ``stop`` is set; raises with a clear
#: message on failure.
FrameProducer = Callable[[threading.Event], Iterator["QImage | StreamNote"]]

RETRY_AFTER_S = 2.0
FPS_WINDOW_S = 2.0
MIN_FPS_SPAN_S = 0.5
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000


class StreamState:
    """Names shown to the engineer (same words as the device's stream states)."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class FrameStats:
    """Measured by the worker: frames decoded, recent rate, picture size."""

    frames: int
    fps: float
    width: int
    height: int


def bgr_to_qimage(frame) -> QImage:
    """An independent QImage copy of an H×W×3 uint8 BGR array (OpenCV's layout)."""
    height, width = frame.shape[:2]
    image = QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_BGR888)
    return image.copy()  # detach from the numpy buffer the decoder reuses


def opencv_frames(url: str) -> FrameProducer:
    """A producer reading ``url`` with OpenCV's FFmpeg backend, with bounded open/read waits."""

    def produce(stop: threading.Event) -> Iterator[QImage]:
        # Loads OpenCV: only once a preview runs.
        from device_runtime.media.ffmpeg_capture import open_capture

        capture = open_capture(url, None, open_timeout_s=OPEN_TIMEOUT_MS / 1000,
                               read_timeout_s=READ_TIMEOUT_MS / 1000)
        try:
            if not capture.isOpened():
                raise ConnectionError(f"could not open {redact_url(url)} (no answer, wrong path or credentials)")
            while not stop.is_set():
                ok, frame = capture.read()
                if not ok or frame is None:
                    raise ConnectionError(f"the stream {redact_url(url)} stopped sending frames")
                yield bgr_to_qimage(frame)
        finally:
            capture.release()

    return produce


def jpeg_frames(frames: Callable[[threading.Event], Iterator[bytes]]) -> FrameProducer:
    """Wraps a producer of JPEG bytes (e.g. a device's preview stream) into QImages."""

    def produce(stop: threading.Event) -> Iterator[QImage]:
        for data in frames(stop):
            image = QImage.fromData(data, "JPEG")
            if not image.isNull():
                yield image

    return produce


def device_frames(connect: Callable[[], object], url: str, max_width: int = 1920) -> FrameProducer:
    """Frames a paired device reads for us, as it reads them (``WatchCamera``), at the camera's rate.

    For cameras only a device can reach (another VLAN, or its sim:// video).
    ``connect()`` returns a DeviceClient; while no frame arrives the device
    says the stream's state once a second, passed on as a :class:`StreamNote`.
    """

    def produce(stop: threading.Event) -> Iterator[QImage | StreamNote]:
        with connect() as client:
            stream = client.watch_camera(url, max_width=max_width)
            try:
                for message in stream:
                    if stop.is_set():
                        break
                    if not message.jpeg:
                        yield StreamNote(message.state or StreamState.STALLED, message.state_reason)
                        continue
                    image = QImage.fromData(message.jpeg, "JPEG")
                    if not image.isNull():
                        yield image
            finally:
                stream.cancel()

    return produce


class PreviewWorker(QObject):
    """Runs one producer in a daemon thread; retries after failures until stopped."""

    frame_ready = Signal()
    state_changed = Signal(str, str)  # state, detail

    def __init__(self, producer: FrameProducer, description: str, retry_after_s: float = RETRY_AFTER_S):
        super().__init__()
        self._producer = producer
        self.description = description
        self._retry_after_s = retry_after_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest: tuple[QImage, FrameStats] | None = None
        self._notified = False
        self._thread: threading.Thread | None = None
        self._times: deque[float] = deque(maxlen=256)
        self.frames = 0
        self.state = StreamState.STOPPED

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"preview {self.description}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 6.0) -> bool:
        """Ask the thread to end and wait for it (a blocked read ends within its read timeout)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def take_frame(self) -> tuple[QImage, FrameStats] | None:
        """The newest frame (GUI thread); the next frame will notify again."""
        with self._lock:
            latest, self._latest = self._latest, None
            self._notified = False
        return latest

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        try:
            self.state_changed.emit(state, detail)
        except RuntimeError:
            pass  # the view is gone

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            self._set_state(StreamState.CONNECTING if first else StreamState.RECONNECTING)
            first = False
            try:
                live = False
                for image in self._producer(self._stop):
                    if self._stop.is_set():
                        break
                    if isinstance(image, StreamNote):
                        live = False  # the next picture says LIVE again
                        self._times.clear()  # and its rate is measured afresh
                        self._set_state(image.state, image.reason)
                        continue
                    if not live:
                        live = True
                        self._set_state(StreamState.LIVE, f"{image.width()}×{image.height()}")
                    self._publish(image)
                if self._stop.is_set():
                    break
                self._set_state(StreamState.FAILED, "the stream ended")
            except Exception as exc:  # shown to the engineer, then retried
                log.debug("preview %s failed: %s", self.description, exc)
                self._set_state(StreamState.FAILED, str(exc) or type(exc).__name__)
            self._stop.wait(self._retry_after_s)
        self._set_state(StreamState.STOPPED)

    def _publish(self, image: QImage) -> None:
        now = time.monotonic()
        self._times.append(now)
        self.frames += 1
        # Rate over the last few seconds: decoders deliver a burst of buffered
        # frames right after opening, which a per-frame average would report
        # as hundreds of fps.
        while self._times and now - self._times[0] > FPS_WINDOW_S:
            self._times.popleft()
        span = now - self._times[0]
        fps = (len(self._times) - 1) / span if span >= MIN_FPS_SPAN_S else 0.0
        stats = FrameStats(self.frames, fps, image.width(), image.height())
        with self._lock:
            self._latest = (image, stats)  # newest wins: an untaken older frame is dropped
            notify = not self._notified
            self._notified = True
        if notify:
            try:
                self.frame_ready.emit()
            except RuntimeError:
                pass
