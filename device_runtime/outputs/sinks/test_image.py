"""A small JPEG for test sends to outputs that upload snapshots."""

from __future__ import annotations

import cv2
import numpy as np


def test_jpeg() -> bytes:
    """A 160x120 grey image with 'Sightline test' written on it, JPEG-encoded."""
    image = np.full((120, 160, 3), 96, np.uint8)
    cv2.putText(image, "Sightline test", (8, 64), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    ok, buf = cv2.imencode(".jpg", image)
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
