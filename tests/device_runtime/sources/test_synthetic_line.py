"""The synthetic production-line camera: deterministic frames, honest ground truth, sim:// URLs."""

from __future__ import annotations

import numpy as np
import pytest

from device_runtime.sources import open_source
from device_runtime.sources.errors import InvalidSourceUrl
from device_runtime.sources.synthetic_line import (
    CLASS_NAMES,
    MIN_VISIBLE_FRACTION,
    ProductionLineRenderer,
    SimSpec,
    SyntheticLineSource,
    clip_box,
)
from device_runtime.types import StreamState


def _frames(renderer: ProductionLineRenderer, indices):
    return [renderer.render(i) for i in indices]


def test_renderer_gives_the_same_frames_for_the_same_seed_in_any_order():
    indices = [0, 1, 2, 500, 4321, 77_777]
    forward = _frames(ProductionLineRenderer(seed=7), indices)
    backward = _frames(ProductionLineRenderer(seed=7), indices[::-1])[::-1]
    for (img_a, gt_a), (img_b, gt_b) in zip(forward, backward, strict=True):
        assert np.array_equal(img_a, img_b)
        assert gt_a == gt_b


def test_renderer_gives_different_scenes_for_different_seeds():
    a, _ = ProductionLineRenderer(seed=1).render(100)
    b, _ = ProductionLineRenderer(seed=2).render(100)
    assert np.mean(np.abs(a.astype(int) - b.astype(int))) > 5


def test_consecutive_frames_show_motion():
    renderer = ProductionLineRenderer(seed=3)
    (a, gt_a), (b, gt_b) = renderer.render(10), renderer.render(11)
    assert not np.array_equal(a, b)
    assert [(d.x1, d.y1) for d in gt_a] != [(d.x1, d.y1) for d in gt_b]


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_renderer_draws_both_camera_sizes_as_bgr_uint8(size):
    width, height = size
    image, truth = ProductionLineRenderer(width, height, seed=5).render(42)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8
    assert truth, "a production line frame without a single part or worker"


def test_ground_truth_boxes_lie_inside_the_frame_and_carry_their_class_names():
    seen = set()
    touching_edge = 0
    for seed in (11, 12, 13):
        renderer = ProductionLineRenderer(640, 480, seed=seed)
        for index in range(0, 3000, 60):
            _, truth = renderer.render(index)
            for d in truth:
                assert 0 <= d.x1 < d.x2 <= 640 and 0 <= d.y1 < d.y2 <= 480, d
                assert d.label == CLASS_NAMES[d.class_id]
                assert d.score == 1.0
                seen.add(d.class_id)
                touching_edge += d.x1 == 0 or d.x2 == 640 or d.y2 == 480
    assert seen == set(range(len(CLASS_NAMES)))
    assert touching_edge > 0, "no object was ever clipped at the frame edge"


def test_objects_mostly_out_of_frame_are_clipped_or_dropped():
    """A box keeps its clipped part when at least MIN_VISIBLE_FRACTION is in frame, else it is dropped."""
    f = MIN_VISIBLE_FRACTION
    assert clip_box((-100 * (1 - f) + 1, 10, 100 * f + 1, 50), 640, 480) == (
        0.0,
        10,
        100 * f + 1,
        50,
    )
    assert clip_box((-100 * (1 - f) - 1, 10, 100 * f - 1, 50), 640, 480) is None
    assert clip_box((600, 470, 700, 570), 640, 480) is None  # 4 % in the corner
    assert clip_box((10, 10, 20, 20), 640, 480) == (10, 10, 20, 20)


def test_renderer_rejects_impossible_parameters():
    with pytest.raises(ValueError, match="too small"):
        ProductionLineRenderer(10, 10)
    with pytest.raises(ValueError, match="fps"):
        ProductionLineRenderer(fps=0)
    with pytest.raises(ValueError, match="frame_index"):
        ProductionLineRenderer().render(-1)


def test_sim_url_parameters_are_parsed_with_defaults():
    assert SimSpec.from_url("sim://production-line") == SimSpec()
    spec = SimSpec.from_url("sim://production-line?seed=9&width=1280&height=720&fps=15&start=100")
    assert (spec.seed, spec.width, spec.height, spec.fps, spec.start) == (9, 1280, 720, 15, 100)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sim://warehouse?seed=1", "only scene is 'production-line'"),
        ("sim://production-line?colour=red", "unknown parameter 'colour'"),
        ("sim://production-line?seed=x", "seed='x' is not a whole number"),
        ("sim://production-line?fps=0", r"fps=0 is outside 1\.\.120"),
        ("sim://production-line?seed=1&seed=2", "given twice"),
    ],
)
def test_bad_sim_urls_are_rejected_with_the_reason(url, message):
    with pytest.raises(InvalidSourceUrl, match=message):
        SimSpec.from_url(url)


def test_sim_url_opens_through_the_sources_factory_and_yields_live_frames_with_ground_truth():
    url = "sim://production-line?seed=7&width=1280&height=720&fps=30&start=200"
    source = open_source(url, "demo-line")
    assert isinstance(source, SyntheticLineSource)
    frames = source.subscribe("test")
    with source:
        first = frames.get(timeout=5.0)
        second = frames.get(timeout=5.0)
        assert first is not None and second is not None, (
            f"no frame within 5 s; state {source.state}"
        )
        assert source.state is StreamState.LIVE
    assert source.state is StreamState.STOPPED
    assert first.image.shape == (720, 1280, 3)
    assert second.seq > first.seq
    # Frame seq n is frame start + n of the scene, ground truth included.
    expected, truth = ProductionLineRenderer(1280, 720, seed=7).render(200 + second.seq)
    assert np.array_equal(second.image, expected)
    assert second.ground_truth == truth


def test_sim_source_runs_at_its_nominal_frame_rate():
    source = open_source("sim://production-line?fps=50", "paced")
    frames = source.subscribe("test")
    with source:
        first = frames.get(timeout=5.0)
        assert first is not None, f"no frame within 5 s; state {source.state}"
        last = first
        while last.monotonic - first.monotonic < 0.4:
            last = frames.get(timeout=5.0)
            assert last is not None
    rate = (last.seq - first.seq) / (last.monotonic - first.monotonic)
    assert 35 <= rate <= 60, f"{rate:.1f} fps for a 50 fps camera"


def test_bad_sim_url_is_rejected_by_the_factory_before_any_thread_starts():
    with pytest.raises(InvalidSourceUrl, match="width=10 is outside"):
        open_source("sim://production-line?width=10", "bad")
