"""Non-maximum suppression in numpy.

Greedy NMS: take the best remaining box, drop every remaining box that
overlaps it by more than the IoU threshold, repeat. Each step compares one box
against all remaining ones in a single vectorised operation, so the Python
loop runs once per *kept* box, not per pair. Class-aware suppression shifts
each class's boxes by a class-dependent offset so boxes of different classes
can never overlap, and one pass handles all classes.
"""

from __future__ import annotations

import numpy as np


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one x1,y1,x2,y2 box with each of ``boxes`` (N×4)."""
    left = np.maximum(box[0], boxes[:, 0])
    top = np.maximum(box[1], boxes[:, 1])
    right = np.minimum(box[2], boxes[:, 2])
    bottom = np.minimum(box[3], boxes[:, 3])
    intersection = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float = 0.45,
    max_detections: int = 300,
) -> np.ndarray:
    """Indices of the boxes to keep, best score first.

    ``boxes`` is N×4 (x1,y1,x2,y2), ``scores`` N. At most ``max_detections``
    indices are returned.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        best = order[0]
        keep.append(int(best))
        if order.size == 1:
            break
        rest = order[1:]
        overlap = iou_one_to_many(boxes[best], boxes[rest])
        order = rest[overlap <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    iou_threshold: float = 0.45,
    max_detections: int = 300,
) -> np.ndarray:
    """Class-aware :func:`nms`: a box only suppresses boxes of its own class."""
    # float64: class offsets reach 1e5-1e6 px, where float32 would blur the boxes.
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    # Offsets larger than any coordinate put each class in its own region.
    span = float(np.abs(boxes).max()) + 1.0
    offsets = np.asarray(class_ids, dtype=np.float64).reshape(-1, 1) * span
    return nms(boxes + offsets, scores, iou_threshold, max_detections)
