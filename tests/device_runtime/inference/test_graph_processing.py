"""The pre/post-processing graphs give the numpy path's results (run here by onnxruntime's CPU provider).

On a GPU the same graphs run on the CUDA provider; the GPU-marked test at the
end checks that they are placed there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from device_runtime.inference import ModelSession
from device_runtime.inference.decoders import DecodeParams, decode_yolov5, decode_yolov8
from device_runtime.inference.graph_build import GRAPHS_DIR, build_all
from device_runtime.inference.graph_processing import GraphProcessing, graph_providers, wants_graphs
from device_runtime.inference.preprocess import prepare_batch
from device_runtime.inference.providers import CPU, CUDA, TENSORRT
from device_runtime.inference.settings import SessionSettings
from device_runtime.sources.synthetic_line import ProductionLineRenderer

ROOT = Path(__file__).resolve().parents[3]
DEMO_MODEL = ROOT / "resources" / "models" / "sightline-demo.onnx"


def test_committed_graphs_are_what_the_builder_makes():
    built = build_all()
    committed = {path.name: path.read_bytes() for path in GRAPHS_DIR.glob("*.onnx")}
    assert sorted(committed) == sorted(built), "run: python -m device_runtime.inference.graph_build"
    stale = [name for name, data in built.items() if committed[name] != data]
    assert not stale, f"stale graphs {stale}; run: python -m device_runtime.inference.graph_build"


def test_graphs_run_on_cuda_for_nvidia_providers_and_only_there():
    assert graph_providers(TENSORRT) == [CUDA, CPU] and graph_providers(CUDA) == [CUDA, CPU]
    assert graph_providers(CPU) == [CPU]
    assert wants_graphs("auto", TENSORRT) and not wants_graphs("auto", CPU)
    assert wants_graphs("on", CPU) and not wants_graphs("off", CUDA)
    with pytest.raises(ValueError, match="graph_processing must be one of"):
        wants_graphs("gpu", CUDA)


def _frames(*sizes: tuple[int, int]) -> list[np.ndarray]:
    """Frames of the synthetic production line (real edges and textures) at (width, height)."""
    return [ProductionLineRenderer(w, h, seed=3).render(5)[0] for w, h in sizes]


@pytest.mark.parametrize("channels_first", [True, False], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
@pytest.mark.parametrize(
    ("sizes", "target"),
    [
        ([(1280, 720)], (640, 640)),  # downscale, bars top and bottom
        ([(640, 480), (640, 480), (480, 640)], (320, 320)),  # a batch of two sizes
        ([(320, 240)], (480, 640)),  # upscale
        ([(320, 240)], (240, 320)),  # exact fit: no resize
    ],
    ids=["720p", "mixed-batch", "upscale", "exact"],
)
def test_letterbox_graph_equals_the_numpy_letterbox(channels_first, dtype, sizes, target):
    frames = _frames(*sizes)
    expected, expected_places = prepare_batch(frames, target, dtype, channels_first=channels_first)
    graphs = GraphProcessing(CPU, channels_first=channels_first, input_dtype=dtype, family="yolov8")
    got, places = graphs.prepare_batch(frames, target)
    assert places == expected_places
    assert got.shape == expected.shape and got.dtype == expected.dtype
    difference = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    one_level = 1.0 if dtype == np.uint8 else 1 / 255
    # OpenCV's bilinear weights are fixed point and its output is rounded to whole levels;
    # the graph computes in float: at most a level or two apart, on average far less.
    assert difference.max() <= 2.5 * one_level, f"max difference {difference.max() / one_level:.2f} levels"
    assert difference.mean() <= 0.3 * one_level, f"mean difference {difference.mean() / one_level:.3f} levels"


def _clustered_output(family: str, rng: np.random.Generator, classes: int = 5, candidates: int = 2000):
    """A YOLO head's raw output with overlapping clusters of boxes, as real heads produce."""
    centres = rng.uniform(40, 600, (12, 2))
    rows = np.zeros((candidates, 4 + classes), np.float32)
    cluster = rng.integers(0, len(centres), candidates)
    rows[:, 0:2] = centres[cluster] + rng.normal(0, 6, (candidates, 2))
    rows[:, 2:4] = rng.uniform(30, 90, (candidates, 2))
    rows[:, 4:] = rng.uniform(0, 1, (candidates, classes)) ** 6  # most scores low, a few high
    if family == "yolov8":
        return rows.T[None]  # [1, 4+C, N]
    objectness = rng.uniform(0.2, 1, (candidates, 1)).astype(np.float32)
    return np.concatenate([rows[:, :4], objectness, rows[:, 4:]], axis=1)[None]  # [1, N, 5+C]


@pytest.mark.parametrize("family", ["yolov5", "yolov8"])
@pytest.mark.parametrize("class_ids", [None, frozenset({1, 3})], ids=["all", "filtered"])
def test_decode_graph_keeps_the_boxes_the_numpy_decoder_keeps(family, class_ids):
    rng = np.random.default_rng(11)
    graphs = GraphProcessing(CPU, channels_first=True, input_dtype=np.float32, family=family)
    assert graphs.decodes
    numpy_decode = decode_yolov5 if family == "yolov5" else decode_yolov8
    for confidence, iou, max_detections in ((0.25, 0.45, 300), (0.5, 0.6, 300), (0.1, 0.3, 7)):
        output = np.concatenate([_clustered_output(family, rng) for _ in range(2)])  # a batch of 2
        params = DecodeParams(confidence, class_ids, iou, max_detections, 5, (640, 640))
        for image, got in enumerate(graphs.decode(output, params)):
            expected = numpy_decode(output[image], params)
            assert len(got.scores) == len(expected.scores) > 0
            np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-5)
            np.testing.assert_allclose(got.boxes, expected.boxes, atol=1e-3)
            np.testing.assert_array_equal(got.class_ids, expected.class_ids)


def test_the_demo_detector_finds_the_same_objects_with_graphs_as_with_numpy():
    frames = _frames((640, 480), (1280, 720))
    results = {}
    for mode in ("off", "on"):
        session = ModelSession(DEMO_MODEL, settings=SessionSettings(providers=("cpu",), graph_processing=mode))
        assert (session.graphs is not None) == (mode == "on")
        results[mode] = session.infer(frames, confidence=0.3)
        session.close()
    _same_detections(results["off"], results["on"])


def test_graph_processing_is_off_by_default_on_the_cpu():
    session = ModelSession(DEMO_MODEL, settings=SessionSettings(providers=("cpu",)))
    try:
        assert session.graphs is None
    finally:
        session.close()


def _same_detections(numpy_results, graph_results) -> None:
    for numpy_result, graph_result in zip(numpy_results, graph_results, strict=True):
        assert len(numpy_result.detections) > 0, "the demo model should find parts in its own scene"
        assert [d.class_id for d in graph_result.detections] == [d.class_id for d in numpy_result.detections]
        for ours, theirs in zip(graph_result.detections, numpy_result.detections, strict=True):
            assert abs(ours.score - theirs.score) < 0.01
            corners = zip((ours.x1, ours.y1, ours.x2, ours.y2), (theirs.x1, theirs.y1, theirs.x2, theirs.y2), strict=True)
            assert max(abs(a - b) for a, b in corners) < 1.0  # pixels


@pytest.mark.gpu
def test_on_a_gpu_the_graphs_run_on_cuda_and_find_what_the_numpy_path_finds():
    if CUDA not in ort.get_available_providers():
        pytest.fail("GPU test run without onnxruntime-gpu: install the gpu extra")
    frames = _frames((1280, 720), (640, 480))
    results = {}
    for mode in ("off", "auto"):
        session = ModelSession(DEMO_MODEL, settings=SessionSettings(providers=("cuda", "cpu"), graph_processing=mode))
        try:
            assert session.active_provider == CUDA, session.provider_warning
            if mode == "auto":
                assert session.graphs is not None and session.graphs.provider == CUDA
            results[mode] = session.infer(frames, confidence=0.3)
        finally:
            session.close()
    _same_detections(results["off"], results["auto"])
