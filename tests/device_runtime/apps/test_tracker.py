"""Specifications of the multi-object tracker: stable ids, confirmation, short gaps, aging."""

from __future__ import annotations

import numpy as np
import pytest

from device_runtime.apps import Tracker, TrackingParams
from device_runtime.apps.tracker import iou_matrix
from device_runtime.types import Detection


def box(
    cx: float, cy: float, size: float = 60, label: str = "person", score: float = 0.9
) -> Detection:
    half = size / 2
    return Detection(cx - half, cy - half, cx + half, cy + half, score, 0, label)


def ids(tracker: Tracker, detections: list[Detection], time: float) -> list[int | None]:
    return [track.track_id for track in tracker.update(detections, time).tracks]


def test_iou_matrix_compares_every_pair_of_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])

    np.testing.assert_allclose(iou_matrix(a, b), [[1, 50 / 150, 0], [0, 0, 0]])


def test_track_ids_start_at_one_and_are_given_once_a_track_is_confirmed():
    tracker = Tracker(TrackingParams(min_hits=2))

    assert ids(tracker, [box(100, 100), box(300, 100)], 0.0) == [None, None]
    assert ids(tracker, [box(105, 100), box(305, 100)], 0.1) == [1, 2]
    assert ids(tracker, [box(110, 100), box(310, 100)], 0.2) == [1, 2]


def test_a_one_frame_false_positive_never_gets_an_id():
    tracker = Tracker(TrackingParams(min_hits=2))

    ids(tracker, [box(100, 100)], 0.0)
    update = tracker.update([], 0.1)

    assert [t.key for t in update.removed] == [1]
    assert ids(tracker, [box(400, 100)], 0.2) == [None]
    assert ids(tracker, [box(400, 100)], 0.3) == [1]  # the first confirmed track is still #1


def test_an_object_missed_for_two_frames_keeps_its_id():
    """20 px steps of a 60 px box: after two missed frames the box has moved 60 px and no
    longer overlaps its last position at all, so only the velocity prediction can match it."""
    tracker = Tracker(TrackingParams(min_hits=2, max_missed_frames=3))
    for frame in range(4):
        ids(tracker, [box(100 + 20 * frame, 100)], frame * 0.1)

    tracker.update([], 0.4)
    tracker.update([], 0.5)

    assert ids(tracker, [box(100 + 20 * 6, 100)], 0.6) == [1]


def test_detections_are_matched_only_to_tracks_of_the_same_class():
    tracker = Tracker(TrackingParams(min_hits=1))

    assert ids(tracker, [box(100, 100, label="person")], 0.0) == [1]
    assert ids(tracker, [box(100, 100, label="person_without_helmet")], 0.1) == [2]


def test_objects_moving_side_by_side_keep_their_ids_in_the_opposite_input_order():
    tracker = Tracker(TrackingParams(min_hits=1))
    assert ids(tracker, [box(100, 100), box(170, 100)], 0.0) == [1, 2]

    for frame in range(1, 6):
        right, left = box(170 + 10 * frame, 100), box(100 + 10 * frame, 100)
        assert ids(tracker, [right, left], frame * 0.1) == [2, 1]


def test_a_confirmed_track_ends_when_missed_longer_than_both_frame_and_time_limits():
    tracker = Tracker(TrackingParams(min_hits=1, max_missed_frames=2, max_age_s=0.5))
    tracker.update([box(100, 100)], 0.0)

    removed_at = None
    for frame in range(1, 10):
        if tracker.update([], frame * 0.1).removed:
            removed_at = frame
            break

    # Frames missed > 2 happens at frame 3, but unseen > 0.5 s only at frame 6.
    assert removed_at == 6


def test_at_a_low_frame_rate_the_frame_limit_keeps_a_track_alive():
    tracker = Tracker(TrackingParams(min_hits=1, max_missed_frames=2, max_age_s=0.5))
    tracker.update([box(100, 100)], 0.0)

    assert tracker.update([], 1.0).removed == []
    assert tracker.update([], 2.0).removed == []
    assert ids(tracker, [box(100, 100)], 3.0) == [1]


def test_drop_removes_tracks_without_aging_them():
    tracker = Tracker(TrackingParams(min_hits=1))
    tracker.update([box(100, 100, label="part"), box(300, 100)], 0.0)

    dropped = tracker.drop(lambda t: t.label == "part")

    assert [t.label for t in dropped] == ["part"]
    assert [t.label for t in tracker.tracks] == ["person"]


@pytest.mark.parametrize("min_hits", [1, 3])
def test_min_hits_sets_how_many_frames_confirm_a_track(min_hits):
    tracker = Tracker(TrackingParams(min_hits=min_hits))
    seen = [ids(tracker, [box(100 + frame, 100)], frame * 0.1)[0] for frame in range(4)]

    assert seen == [None] * (min_hits - 1) + [1] * (4 - min_hits + 1)
