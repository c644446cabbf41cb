"""Small helpers shared by the inference tests."""

from __future__ import annotations

import numpy as np

LABELS = ["part", "defective_part", "person"]


def make_frame(height: int, width: int, bgr: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """A solid H×W×3 uint8 BGR frame."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[...] = bgr
    return frame
