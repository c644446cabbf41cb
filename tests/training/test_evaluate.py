"""The evaluation arithmetic behind the model card's figures (no PyTorch needed)."""

from __future__ import annotations

import math

import pytest

from device_runtime.types import Detection
from training.evaluate import average_precision, box_iou, match_frame


def _box(x1, y1, x2, y2, score=1.0, class_id=0) -> Detection:
    return Detection(x1, y1, x2, y2, score, class_id)


def test_box_iou_of_identical_disjoint_and_half_overlapping_boxes():
    a = _box(0, 0, 10, 10)
    assert box_iou(a, _box(0, 0, 10, 10)) == 1.0
    assert box_iou(a, _box(20, 20, 30, 30)) == 0.0
    assert box_iou(a, _box(5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_each_ground_truth_object_is_matched_once_and_only_by_its_own_class():
    truth = [_box(0, 0, 10, 10, class_id=1)]
    preds = [_box(0, 0, 10, 10, 0.9, 1), _box(1, 0, 11, 10, 0.8, 1), _box(0, 0, 10, 10, 0.95, 0)]
    assert match_frame(preds, truth, 1) == [
        (0.9, True),
        (0.8, False),
    ]  # the duplicate is a false positive
    assert match_frame(preds, truth, 0) == [(0.95, False)]


def test_average_precision_is_one_for_perfect_ranking_and_falls_with_false_positives_ranked_first():
    assert average_precision([(0.9, True), (0.8, True)], 2) == pytest.approx(1.0)
    # A false positive above both hits: precision 1/2 at recall 1/2, 2/3 at recall 1.
    assert average_precision([(0.95, False), (0.9, True), (0.8, True)], 2) == pytest.approx(2 / 3)
    # Missing half the objects caps AP at the recall reached.
    assert average_precision([(0.9, True)], 2) == pytest.approx(0.5)
    assert average_precision([], 3) == 0.0
    assert math.isnan(average_precision([], 0))
