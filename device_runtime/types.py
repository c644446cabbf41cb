"""Value types shared by sources, inference, apps and the API.

Kept dependency-free (numpy only) so every layer can import them without
pulling in OpenCV, onnxruntime or gRPC.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

import numpy as np


class StreamState(str, enum.Enum):
    """What a camera stream is doing right now; shown to the engineer as is."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class Frame:
    """One decoded picture from a source.

    ``image`` is an H×W×3 uint8 BGR array (OpenCV's layout). ``capture_time``
    is wall-clock seconds (for display and latency across machines);
    ``monotonic`` is the same instant on this machine's monotonic clock (for
    rates and intervals).
    """

    image: np.ndarray
    stream_id: str
    seq: int
    capture_time: float = field(default_factory=time.time)
    monotonic: float = field(default_factory=time.monotonic)
    # Objects the source knows are in the picture (synthetic sources only);
    # used by tests and by model evaluation, never by the pipeline.
    ground_truth: list[Detection] | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass
class Detection:
    """One detected object, in pixel coordinates of the frame it came from."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    label: str = ""
    track_id: int | None = None

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    @property
    def bottom_center(self) -> tuple[float, float]:
        """Where a person or part touches the floor or belt: the point zones test."""
        return ((self.x1 + self.x2) / 2.0, self.y2)


@dataclass
class InferenceResult:
    """Detections for one frame plus what each stage cost, in milliseconds."""

    detections: list[Detection]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # For classification models: (class_id, score) pairs, best first.
    classes: list[tuple[int, float]] = field(default_factory=list)
