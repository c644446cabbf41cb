"""Training and evaluation frames, rendered from the synthetic production line.

Frames are rendered on the fly (about 1.5 ms each, far below a training step)
so every batch is new: the detector never sees the same picture twice and
cannot memorise. Which frames, from which seeds, in which order, follows one
``numpy`` generator seeded by the caller, so a run is reproducible.

Seeds 0-9999 are for training; evaluation and tests use seeds from 10000 up
(``HELD_OUT_SEEDS``), which no training run draws.
"""

from __future__ import annotations

import cv2
import numpy as np

from device_runtime.inference.preprocess import letterbox as runtime_letterbox
from device_runtime.sources.synthetic_line import ProductionLineRenderer
from device_runtime.types import Detection

INPUT_WIDTH, INPUT_HEIGHT = 320, 240  # 4:3 like the camera: no letterbox bars at 640x480
HELD_OUT_SEEDS = tuple(range(10000, 10008))


def letterbox(image: np.ndarray, width: int = INPUT_WIDTH, height: int = INPUT_HEIGHT):
    """The runtime's own letterbox (train as the product infers): ``(canvas, scale, (pad_x, pad_y))``."""
    canvas, placement = runtime_letterbox(image, (height, width))
    return canvas, placement.scale, (placement.pad_x, placement.pad_y)


def to_targets(truth: list[Detection], scale: float, pad: tuple[int, int]) -> np.ndarray:
    """Ground truth as a ``[M, 5]`` float32 array ``class, x1, y1, x2, y2`` in input pixels."""
    rows = [
        (
            d.class_id,
            d.x1 * scale + pad[0],
            d.y1 * scale + pad[1],
            d.x2 * scale + pad[0],
            d.y2 * scale + pad[1],
        )
        for d in truth
    ]
    return np.array(rows, np.float32).reshape(-1, 5)


class FrameSampler:
    """Draws random (seed, frame) pictures from a pool of renderers, mostly 640x480, some 1280x720."""

    def __init__(
        self, seeds, rng: np.random.Generator, wide_share: float = 0.1, wide_seeds: int = 8
    ):
        self.rng = rng
        self.wide_share = wide_share
        self.renderers = [ProductionLineRenderer(640, 480, seed=int(s)) for s in seeds]
        self.wide = [
            ProductionLineRenderer(1280, 720, seed=int(s)) for s in list(seeds)[:wide_seeds]
        ]

    def sample(self):
        """One letterboxed RGB input image (uint8 HxWx3) and its ``[M, 5]`` targets."""
        pool = self.wide if self.wide and self.rng.random() < self.wide_share else self.renderers
        renderer = pool[self.rng.integers(len(pool))]
        image, truth = renderer.render(int(self.rng.integers(0, 100_000)))
        canvas, scale, pad = letterbox(image)
        return cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), to_targets(truth, scale, pad)

    def batch(self, size: int):
        """``size`` samples stacked: uint8 ``[B, H, W, 3]`` and a list of target arrays."""
        samples = [self.sample() for _ in range(size)]
        return np.stack([s[0] for s in samples]), [s[1] for s in samples]
