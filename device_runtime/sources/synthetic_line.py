"""The demo site's camera: ``sim://production-line?seed=7&width=640&height=480&fps=30``.

``SyntheticLineSource`` plays :class:`ProductionLineRenderer` (see
``synthetic_scene``) as a live camera through the runtime's ``Source``
machinery, paced at its frame rate, each frame carrying its ground truth.
Importing this module registers the ``sim`` scheme with the sources factory
(which imports it the first time it sees a ``sim://`` URL), so the demo
needs no RTSP server.

The renderer and its class names are re-exported here, so
``from device_runtime.sources.synthetic_line import ProductionLineRenderer``
is the one import a test, a training script or the ONVIF simulator needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from device_runtime.sources.base import Capture, Source
from device_runtime.sources.errors import InvalidSourceUrl
from device_runtime.sources.factory import register_scheme
from device_runtime.sources.synthetic_scene import (
    CLASS_NAMES,
    DEFECTIVE_PART,
    MIN_VISIBLE_FRACTION,
    PART,
    PERSON,
    PERSON_WITHOUT_HELMET,
    ProductionLineRenderer,
    clip_box,
)
from device_runtime.sources.url_params import int_params

__all__ = [
    "CLASS_NAMES",
    "DEFECTIVE_PART",
    "MIN_VISIBLE_FRACTION",
    "PART",
    "PERSON",
    "PERSON_WITHOUT_HELMET",
    "ProductionLineRenderer",
    "SimSpec",
    "SyntheticLineSource",
    "clip_box",
]

SIM_SCHEME = "sim"
SIM_SCENE = "production-line"
# name -> (default, minimum, maximum)
_SIM_LIMITS: dict[str, tuple[int, int, int]] = {
    "seed": (7, 0, 2**32 - 1),
    "width": (640, 64, 3840),
    "height": (480, 48, 2160),
    "fps": (30, 1, 120),
    "start": (0, 0, 2**40),
}
_MAX_BEHIND_S = 0.5


@dataclass(frozen=True)
class SimSpec:
    """The parameters of a ``sim://production-line`` URL."""

    seed: int = 7
    width: int = 640
    height: int = 480
    fps: int = 30
    start: int = 0  # first frame index, to resume a scene where it was

    @classmethod
    def from_url(cls, url: str) -> SimSpec:
        """Parse ``sim://production-line?seed=7&width=640&height=480&fps=30&start=0``.

        Unknown, repeated, non-numeric or out-of-range parameters raise
        :class:`InvalidSourceUrl` naming the parameter and what was expected.
        """
        parts = urlsplit(url)
        if (
            parts.scheme.lower() != SIM_SCHEME
            or parts.netloc.lower() != SIM_SCENE
            or parts.path not in ("", "/")
        ):
            raise InvalidSourceUrl(
                f"{url}: a synthetic camera is written {SIM_SCHEME}://{SIM_SCENE}?seed=7&width=640"
                "&height=480&fps=30 (the only scene is 'production-line')"
            )
        return cls(**int_params(url, parts.query, _SIM_LIMITS))


class SyntheticLineSource(Source):
    """The production line as a live camera, paced at its fps (``realtime=False``: flat out).

    Frame ``seq`` n shows ``ProductionLineRenderer(...).render(start + n)`` and
    carries that frame's ground truth.
    """

    scheme_label = SIM_SCHEME

    def __init__(self, url: str, stream_id: str, *, realtime: bool = True) -> None:
        super().__init__(url, stream_id)
        self.spec = SimSpec.from_url(url)
        self.realtime = realtime
        self._renderer = ProductionLineRenderer(
            self.spec.width, self.spec.height, self.spec.seed, self.spec.fps
        )
        self._index = self.spec.start
        self._next_due = 0.0
        self.codec = "raw"
        self.nominal_fps = float(self.spec.fps)

    def _open(self) -> None:
        self._next_due = time.monotonic()

    def _read(self) -> Capture:
        if self.realtime:
            now = time.monotonic()
            if now - self._next_due > _MAX_BEHIND_S:
                self._next_due = now  # fell behind (a slow consumer machine): skip, do not burst
            self._wait(self._next_due - now)
            self._next_due += 1.0 / self.spec.fps
        image, truth = self._renderer.render(self._index)
        self._index += 1
        return Capture(image, truth)

    def _close(self) -> None:
        pass


# The sources factory imports this module the first time it sees a sim:// URL.
register_scheme(SIM_SCHEME, SyntheticLineSource)
