"""A synthetic camera: coloured rectangles bouncing over a grey gradient.

``test://pattern?width=640&height=480&fps=30&objects=3&seed=1``

Every frame is a pure function of (parameters, frame index): the same seed
gives the same pictures, frame for frame, on every machine, which makes the
source a fixture for pipeline tests. Each frame carries ``ground_truth``:
one Detection per rectangle (class_id 0, label "box", score 1.0), its box
being exactly the pixels painted (x2/y2 exclusive). Rectangles may overlap;
a later one paints over an earlier one, and both stay in the ground truth.

The background is grey (R = G = B) and every rectangle colour is saturated,
so "pixels that are not grey" is exactly the union of the boxes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from device_runtime.sources.base import Capture, Source
from device_runtime.sources.errors import InvalidSourceUrl
from device_runtime.sources.url_params import int_params
from device_runtime.types import Detection

BOX_LABEL = "box"
BOX_CLASS_ID = 0

# name -> (default, minimum, maximum)
_LIMITS: dict[str, tuple[int, int, int]] = {
    "width": (640, 32, 7680),
    "height": (480, 32, 4320),
    "fps": (30, 1, 240),
    "objects": (3, 0, 64),
    "seed": (1, 0, 2**32 - 1),
}
_MAX_BEHIND_S = 0.5


@dataclass(frozen=True)
class PatternSpec:
    """The parameters of a test pattern, parsed from its URL."""

    width: int = 640
    height: int = 480
    fps: int = 30
    objects: int = 3
    seed: int = 1

    @classmethod
    def from_url(cls, url: str) -> PatternSpec:
        """Parse ``test://pattern?...``; unknown or out-of-range parameters are errors."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "test" or parts.netloc.lower() != "pattern":
            raise InvalidSourceUrl(
                f"{url}: a test source is written test://pattern?width=640&height=480&fps=30"
                "&objects=3&seed=1"
            )
        return cls(**int_params(url, parts.query, _LIMITS))


@dataclass(frozen=True)
class _Mover:
    w: int
    h: int
    x0: float
    y0: float
    vx: float  # pixels per frame
    vy: float
    color: tuple[int, int, int]


def _bounce(start: float, velocity: float, index: int, span: int) -> int:
    """Position after ``index`` frames, reflecting off both ends of 0..span (closed form)."""
    if span <= 0:
        return 0
    p = (start + velocity * index) % (2 * span)
    return int(round(2 * span - p if p > span else p))


class PatternRenderer:
    """Draws frame ``index`` of a :class:`PatternSpec`; deterministic and cheap."""

    def __init__(self, spec: PatternSpec) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        w, h = spec.width, spec.height
        # Vertical grey gradient, 40..120, with a faint seed-dependent tilt.
        tilt = rng.uniform(-20, 20)
        column = np.linspace(40, 120, h)[:, None] + np.linspace(0, tilt, w)[None, :]
        grey = np.clip(column, 0, 255).astype(np.uint8)
        self._background = np.repeat(grey[:, :, None], 3, axis=2)
        self._movers = [self._make_mover(rng) for _ in range(spec.objects)]

    def _make_mover(self, rng: np.random.Generator) -> _Mover:
        w, h = self.spec.width, self.spec.height
        bw = int(rng.integers(max(4, w // 16), max(5, w // 5)))
        bh = int(rng.integers(max(4, h // 16), max(5, h // 5)))
        speed = rng.uniform(1.0, 4.0) * max(w, h) / 640.0 * 30.0 / self.spec.fps
        angle = rng.uniform(0, 2 * np.pi)
        # Saturated colour: one channel high, one low, so it can never look grey.
        channels = rng.permutation(3)
        color = [0, 0, 0]
        color[channels[0]] = int(rng.integers(200, 256))
        color[channels[1]] = int(rng.integers(0, 60))
        color[channels[2]] = int(rng.integers(0, 256))
        return _Mover(
            w=bw,
            h=bh,
            x0=float(rng.uniform(0, w - bw)),
            y0=float(rng.uniform(0, h - bh)),
            vx=float(speed * np.cos(angle)),
            vy=float(speed * np.sin(angle)),
            color=(color[0], color[1], color[2]),
        )

    def render(self, index: int) -> Capture:
        """The picture and ground truth of frame ``index``."""
        image = self._background.copy()
        truth: list[Detection] = []
        for mover in self._movers:
            x = _bounce(mover.x0, mover.vx, index, self.spec.width - mover.w)
            y = _bounce(mover.y0, mover.vy, index, self.spec.height - mover.h)
            image[y : y + mover.h, x : x + mover.w] = mover.color
            truth.append(
                Detection(
                    x1=float(x), y1=float(y), x2=float(x + mover.w), y2=float(y + mover.h),
                    score=1.0, class_id=BOX_CLASS_ID, label=BOX_LABEL,
                )
            )
        return Capture(image, truth)


class TestPatternSource(Source):
    """The test pattern as a live source, paced at its fps (``realtime=False``: flat out).

    Frame ``seq`` n shows ``PatternRenderer(spec).render(n)``.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, url: str, stream_id: str, *, realtime: bool = True) -> None:
        super().__init__(url, stream_id)
        self.spec = PatternSpec.from_url(url)
        self.realtime = realtime
        self._renderer = PatternRenderer(self.spec)
        self._index = 0
        self._next_due = 0.0
        self.codec = "raw"
        self.nominal_fps = float(self.spec.fps)

    def _open(self) -> None:
        self._next_due = time.monotonic()

    def _read(self) -> Capture | None:
        if self.realtime:
            now = time.monotonic()
            if now - self._next_due > _MAX_BEHIND_S:
                self._next_due = now
            self._wait(self._next_due - now)
            self._next_due += 1.0 / self.spec.fps
        capture = self._renderer.render(self._index)
        self._index += 1
        return capture

    def _close(self) -> None:
        pass
