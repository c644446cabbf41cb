"""Vectorised non-maximum suppression against hand-worked cases and a brute-force reference."""

from __future__ import annotations

import numpy as np

from device_runtime.inference.nms import batched_nms, iou_one_to_many, nms


def reference_nms(boxes, scores, classes, threshold):
    """Textbook greedy NMS over pairs, one class at a time: slow but obviously right."""

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    keep = []
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        if all(classes[i] != classes[k] or iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


def test_iou_of_identical_half_overlapping_and_disjoint_boxes():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)

    assert iou_one_to_many(box, others).tolist() == [1.0, 50 / 150, 0.0]


def test_overlapping_boxes_keep_only_the_best_scoring_one():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 9]], dtype=float)
    scores = np.array([0.6, 0.9, 0.7])

    assert nms(boxes, scores, 0.45).tolist() == [1]


def test_disjoint_boxes_are_all_kept_best_first():
    boxes = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], dtype=float)

    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.45).tolist() == [1, 2, 0]


def test_overlapping_boxes_of_different_classes_are_all_kept():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])

    kept = batched_nms(boxes, scores, np.array([0, 0, 1]), 0.45)

    assert kept.tolist() == [0, 2]


def test_result_is_capped_at_max_detections():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(10)], dtype=float)

    kept = batched_nms(boxes, np.linspace(1, 0.1, 10), np.zeros(10), 0.45, max_detections=3)

    assert kept.tolist() == [0, 1, 2]


def test_no_boxes_give_no_indices():
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0)).tolist() == []


def test_matches_the_brute_force_reference_on_random_crowded_boxes():
    rng = np.random.default_rng(7)
    corners = rng.uniform(0, 300, (300, 2))
    sizes = rng.uniform(10, 80, (300, 2))
    boxes = np.hstack([corners, corners + sizes])
    scores = rng.uniform(0, 1, 300)
    classes = rng.integers(0, 4, 300)

    kept = batched_nms(boxes, scores, classes, 0.5, max_detections=10_000)

    assert sorted(kept.tolist()) == sorted(reference_nms(boxes, scores, classes, 0.5))
    assert 20 < len(kept) < 300  # the case is crowded enough to suppress, sparse enough to keep
