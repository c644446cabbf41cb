"""Turn camera frames into model input tensors, and model boxes back into frame pixels.

Frames are letterboxed: scaled to fit the model's input while keeping their
aspect ratio, centred, and padded with grey (114, as the YOLO exporters train
with). :class:`Letterbox` keeps the scale and padding so boxes found in the
model's input space can be mapped back to the original frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from device_runtime.inference.errors import InferenceInputError

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How one frame was placed in the model input: ``input = original * scale + pad``."""

    scale: float
    pad_x: int
    pad_y: int
    width: int  # of the original frame
    height: int


def as_bgr(image: np.ndarray, index: int = 0) -> np.ndarray:
    """``image`` as an H×W×3 uint8 BGR array; grey and BGRA frames are converted.

    Raises :class:`InferenceInputError` naming the image's position and shape
    for anything else.
    """
    if not isinstance(image, np.ndarray):
        raise InferenceInputError(
            f"image {index}: expected a numpy array (H×W×3 uint8 BGR), got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise InferenceInputError(
            f"image {index}: expected dtype uint8 (H×W×3 BGR), got {image.dtype}"
        )
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InferenceInputError(
            f"image {index}: expected shape H×W×3 (BGR), got {tuple(image.shape)}"
        )
    return image


def placement_for(height: int, width: int, size: tuple[int, int]) -> Letterbox:
    """Where a ``height`` x ``width`` frame goes in a ``size`` = (height, width) input."""
    target_h, target_w = size
    scale = min(target_h / height, target_w / width)
    new_w = max(1, min(target_w, int(round(width * scale))))
    new_h = max(1, min(target_h, int(round(height * scale))))
    return Letterbox(scale, (target_w - new_w) // 2, (target_h - new_h) // 2, width, height)


def fitted_size(placement: Letterbox, size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of the scaled frame inside the input, as :func:`placement_for` chose it."""
    new_w = max(1, min(size[1], int(round(placement.width * placement.scale))))
    new_h = max(1, min(size[0], int(round(placement.height * placement.scale))))
    return new_h, new_w


def letterbox(
    image: np.ndarray,
    size: tuple[int, int],
    out: np.ndarray | None = None,
    pad_value: int = PAD_VALUE,
) -> tuple[np.ndarray, Letterbox]:
    """Fit a BGR ``image`` into ``size`` = (height, width), keeping its aspect ratio.

    Writes into ``out`` (an H×W×3 uint8 array) when given, so a batch can be
    filled in place. Returns the padded picture and its :class:`Letterbox`.
    """
    target_h, target_w = size
    height, width = image.shape[:2]
    placement = placement_for(height, width, size)
    new_h, new_w = fitted_size(placement, size)
    pad_x, pad_y = placement.pad_x, placement.pad_y
    if out is None:
        out = np.empty((target_h, target_w, 3), dtype=np.uint8)
    out[...] = pad_value
    if (new_w, new_h) == (width, height):
        out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = image
    else:
        # INTER_LINEAR is what the YOLO exporters' own pre-processing uses.
        out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = cv2.resize(
            image, (new_w, new_h), interpolation=cv2.INTER_LINEAR
        )
    return out, placement


def prepare_batch(
    images: Sequence[np.ndarray],
    size: tuple[int, int],
    dtype: np.dtype | type = np.float32,
    channels_first: bool = True,
) -> tuple[np.ndarray, list[Letterbox]]:
    """Letterbox BGR frames into one model-ready tensor.

    The tensor is RGB, N×3×H×W when ``channels_first`` else N×H×W×3; float
    types are scaled to 0..1, uint8 is left as pixels.
    """
    pictures = np.empty((len(images), size[0], size[1], 3), dtype=np.uint8)
    boxes = []
    for index, image in enumerate(images):
        _, placement = letterbox(as_bgr(image, index), size, out=pictures[index])
        boxes.append(placement)
    dtype = np.dtype(dtype)
    work_type = np.uint8 if dtype == np.uint8 else np.float32
    if channels_first:
        # Channel by channel through cv2.split: about 6× faster than numpy's
        # strided transpose-and-flip of the whole batch (measured at 640×640).
        tensor = np.empty((len(images), 3, size[0], size[1]), dtype=work_type)
        for index in range(len(images)):
            blue, green, red = cv2.split(pictures[index])
            tensor[index, 0], tensor[index, 1], tensor[index, 2] = red, green, blue
    else:
        tensor = np.ascontiguousarray(pictures[..., ::-1]).astype(work_type)
    if work_type == np.float32:
        tensor *= np.float32(1.0 / 255.0)
    return tensor.astype(dtype, copy=False), boxes


def to_original(boxes: np.ndarray, placement: Letterbox) -> np.ndarray:
    """Map x1,y1,x2,y2 boxes from model-input pixels to the original frame, clipped to it."""
    mapped = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    mapped[:, [0, 2]] -= placement.pad_x
    mapped[:, [1, 3]] -= placement.pad_y
    mapped /= placement.scale
    mapped[:, [0, 2]] = np.clip(mapped[:, [0, 2]], 0, placement.width)
    mapped[:, [1, 3]] = np.clip(mapped[:, [1, 3]], 0, placement.height)
    return mapped
