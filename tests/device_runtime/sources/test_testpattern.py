"""The synthetic test-pattern source: deterministic pictures with exact ground truth."""

from __future__ import annotations

import time

import numpy as np
import pytest

from device_runtime.sources import InvalidSourceUrl
from device_runtime.sources.testpattern import PatternRenderer, PatternSpec
from device_runtime.types import StreamState


def _collect(subscription, count: int, timeout: float = 10.0):
    frames = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        frame = subscription.get(timeout=max(0.0, deadline - time.monotonic()))
        assert frame is not None, f"only {len(frames)} of {count} frames within {timeout} s"
        frames.append(frame)
    return frames


def _not_grey(image: np.ndarray) -> np.ndarray:
    return (image.max(axis=2).astype(int) - image.min(axis=2).astype(int)) > 0


def test_test_pattern_is_deterministic_for_a_seed_and_differs_for_another(make_source):
    url = "test://pattern?width=160&height=120&fps=30&objects=3&seed={}"
    a, _ = make_source(url.format(7), "a", realtime=False)
    b, _ = make_source(url.format(7), "b", realtime=False)
    c, _ = make_source(url.format(8), "c", realtime=False)
    subs = [s.subscribe("t") for s in (a, b, c)]
    for source in (a, b, c):
        source.start()
    frames = [_collect(sub, 5) for sub in subs]

    by_seq_a = {f.seq: f for f in frames[0]}
    same_seq = [f for f in frames[1] if f.seq in by_seq_a]
    renderer = PatternRenderer(PatternSpec(width=160, height=120, objects=3, seed=7))
    # Same seed: frame n is the same picture in every source, and equals render(n).
    for frame in frames[1]:
        assert np.array_equal(frame.image, renderer.render(frame.seq).image)
    for frame in same_seq:
        assert np.array_equal(frame.image, by_seq_a[frame.seq].image)
    other = PatternRenderer(PatternSpec(width=160, height=120, objects=3, seed=8))
    for frame in frames[2]:
        assert np.array_equal(frame.image, other.render(frame.seq).image)
        assert not np.array_equal(frame.image, renderer.render(frame.seq).image)


def test_test_pattern_ground_truth_is_exactly_what_is_drawn():
    renderer = PatternRenderer(PatternSpec(width=320, height=240, objects=4, seed=3))
    for index in (0, 1, 17, 500):
        capture = renderer.render(index)
        assert capture.ground_truth is not None and len(capture.ground_truth) == 4
        union = np.zeros((240, 320), bool)
        for box in capture.ground_truth:
            assert (box.class_id, box.label, box.score) == (0, "box", 1.0)
            assert 0 <= box.x1 < box.x2 <= 320 and 0 <= box.y1 < box.y2 <= 240
            union[int(box.y1) : int(box.y2), int(box.x1) : int(box.x2)] = True
        assert np.array_equal(_not_grey(capture.image), union)
    # The top-most box is painted whole, in one colour.
    top = capture.ground_truth[-1]
    patch = capture.image[int(top.y1) : int(top.y2), int(top.x1) : int(top.x2)].reshape(-1, 3)
    assert len(np.unique(patch, axis=0)) == 1


def test_test_pattern_objects_move_between_frames():
    renderer = PatternRenderer(PatternSpec(objects=2, seed=1))
    first, later = renderer.render(0).ground_truth, renderer.render(10).ground_truth
    assert [(d.x1, d.y1) for d in first] != [(d.x1, d.y1) for d in later]


def test_test_pattern_source_runs_at_its_fps_with_ground_truth(make_source):
    source, states = make_source("test://pattern?width=64&height=48&fps=50&objects=2&seed=1")
    frames = source.subscribe("t")
    source.start()
    got = _collect(frames, 26)
    states.wait_for(StreamState.LIVE, timeout=1)
    span = got[-1].monotonic - got[0].monotonic
    frame_count = got[-1].seq - got[0].seq
    assert 0.35 <= span <= 1.2, f"{frame_count} frames at 50 fps took {span:.2f} s"
    assert got[0].image.shape == (48, 64, 3)
    assert len(got[0].ground_truth) == 2
    assert source.nominal_fps == 50.0


def test_test_pattern_without_objects_is_just_the_background():
    capture = PatternRenderer(PatternSpec(objects=0)).render(3)
    assert capture.ground_truth == [] and not _not_grey(capture.image).any()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("test://pattern?width=abc", "width='abc' is not a whole number"),
        ("test://pattern?fps=0", "fps=0 is outside 1..240"),
        ("test://pattern?colour=red", "unknown parameter 'colour'"),
        ("test://bars", "test://pattern?"),
    ],
)
def test_test_pattern_url_errors_name_the_parameter(url, message):
    with pytest.raises(InvalidSourceUrl, match=message.replace("?", r"\?").replace(".", r"\.")):
        PatternSpec.from_url(url)


def test_test_pattern_defaults():
    assert PatternSpec.from_url("test://pattern") == PatternSpec(640, 480, 30, 3, 1)
