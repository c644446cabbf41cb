"""The per-camera loop of a running detector app.

One thread per (app, camera): take the newest frame, run the shared model
session, run the app logic, then hand results to the event and preview
fan-outs. Nothing here waits on a consumer: events and previews are
published into bounded buffers (see ``broadcast``).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from device_runtime.types import Detection, Frame

log = logging.getLogger(__name__)


@dataclass
class PreviewItem:
    """What the preview stream needs about the newest processed frame of a camera."""

    frame: Frame
    detections: list[Detection]
    counts: dict[str, int]
    timings_ms: dict[str, float]
    app_id: str
    provider: str
    # Text overlays (text, x, y in [0, 1]) a code app placed with media.add_label.
    labels: list[tuple[str, float, float]] = field(default_factory=list)
    # The camera's zones and lines this frame was processed with (a CameraGeometry; None: the app has none).
    geometry: Any = None


def snapshot_meta(item: PreviewItem) -> dict[str, Any]:
    """What an event snapshot keeps beside its JPEG: the frame's boxes (normalised to 0..1), counts,
    and the camera's zones and lines of that moment (so a later change does not redraw the past)."""
    frame = item.frame
    w, h = float(frame.width or 1), float(frame.height or 1)
    meta: dict[str, Any] = {
        "camera_id": frame.stream_id,
        "capture_time": frame.capture_time,
        "width": frame.width,
        "height": frame.height,
        "app_id": item.app_id,
        "counts": {str(k): int(v) for k, v in item.counts.items()},
        "detections": [
            {"x1": d.x1 / w, "y1": d.y1 / h, "x2": d.x2 / w, "y2": d.y2 / h, "score": float(d.score),
             "class_id": int(d.class_id), "label": d.label, "track_id": int(d.track_id or 0)}
            for d in item.detections
        ],
    }
    if item.geometry is not None:
        meta["geometry"] = item.geometry.model_dump(mode="json")
    return meta


#: Below this span of frames no rate is given (two frames a few microseconds apart are no rate).
MIN_RATE_SPAN_S = 0.2


@dataclass
class StreamStats:
    """Rates and costs of one camera worker, for health."""

    window_s: float = 5.0
    inferred: int = 0
    inference_ms: float = 0.0
    _times: collections.deque = field(default_factory=collections.deque)

    def record(self, inference_ms: float, now: float) -> None:
        self.inferred += 1
        # An exponential average keeps health readings steady without a window buffer.
        self.inference_ms = inference_ms if self.inferred == 1 else 0.9 * self.inference_ms + 0.1 * inference_ms
        self._times.append(now)
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()

    def fps(self, now: float) -> float:
        """Frames inferred per second over the last window (0 when idle)."""
        # A frame recorded by the worker after ``now`` was read (a race with the health
        # sampler) is left out: with it, the span could be ~0 and the rate millions.
        recent = [t for t in list(self._times) if now - self.window_s <= t <= now]
        if len(recent) < 2 or now - recent[0] < MIN_RATE_SPAN_S:
            return 0.0
        return (len(recent) - 1) / (now - recent[0])


def encode_jpeg(image: np.ndarray, max_width: int = 0, quality: int = 80) -> bytes:
    """JPEG-encode ``image``, scaled down (never up) to ``max_width`` when given."""
    if max_width and image.shape[1] > max_width:
        height = max(1, round(image.shape[0] * max_width / image.shape[1]))
        image = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


class CameraWorker:
    """Runs one app's logic on one camera until stopped."""

    def __init__(
        self,
        app_id: str,
        camera_id: str,
        source: Any,
        session: Any,
        logic: Any,
        params: Callable[[], Any],
        on_events: Callable[[Frame, list[Any], PreviewItem], None],
        on_preview: Callable[[str, PreviewItem], None],
    ):
        self.app_id = app_id
        self.camera_id = camera_id
        self.source = source
        self.session = session
        self.logic = logic
        self._params = params
        self._on_events = on_events
        self._on_preview = on_preview
        self.stats = StreamStats()
        self.error = ""
        self._stop = threading.Event()
        self._subscription = source.subscribe(f"{app_id}/{camera_id}")
        self._thread = threading.Thread(
            target=self._run, name=f"app-{app_id}-{camera_id}", daemon=True
        )

    @property
    def dropped(self) -> int:
        return self._subscription.dropped

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._subscription.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self._subscription.get(timeout=0.5)
            if frame is None:
                continue
            try:
                self._process(frame)
                self.error = ""
            except Exception as exc:  # keep the camera loop alive; the reason shows in health
                if str(exc) != self.error:
                    log.exception("app %s camera %s: processing failed", self.app_id, self.camera_id)
                self.error = str(exc)
                self._stop.wait(0.5)

    def _process(self, frame: Frame) -> None:
        started = time.perf_counter()
        params = self._params()
        [result] = self.session.infer(
            [frame.image], confidence=params.confidence, iou_threshold=params.iou
        )
        logic_started = time.perf_counter()
        out = self.logic.process(result.detections, frame.capture_time, frame.width, frame.height)
        timings = dict(result.timings_ms)
        timings["app"] = (time.perf_counter() - logic_started) * 1000.0
        timings["pipeline"] = (time.perf_counter() - started) * 1000.0
        self.stats.record(timings.get("inference", timings["pipeline"]), time.monotonic())
        item = PreviewItem(
            frame=frame,
            detections=out.detections,
            counts=dict(out.counts),
            timings_ms=timings,
            app_id=self.app_id,
            provider=getattr(self.session, "active_provider", ""),
            geometry=params.for_camera(self.camera_id) if hasattr(params, "for_camera") else None,
        )
        if out.events:
            # The item goes with the events: their snapshot keeps the boxes and counts of that frame.
            self._on_events(frame, out.events, item)
        self._on_preview(self.camera_id, item)
