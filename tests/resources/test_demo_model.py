"""The shipped demo detector, run the way the product runs it (ModelSession, yolov8 decoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.inference.session import ModelSession, SessionSettings
from device_runtime.sources.synthetic_line import CLASS_NAMES, ProductionLineRenderer
from device_runtime.types import Detection

MODELS = Path(__file__).resolve().parents[2] / "resources" / "models"
MODEL = MODELS / "sightline-demo.onnx"
LABELS = MODELS / "sightline-demo.labels"
# Training draws seeds 0-95 and evaluation 10000-10007; this one was never seen.
HELD_OUT_SEED = 31337


@pytest.fixture(scope="module")
def session() -> ModelSession:
    labels = LABELS.read_text().split()
    model = ModelSession(MODEL, labels=labels, settings=SessionSettings(providers=("cpu",)))
    yield model
    model.close()


def _iou(a: Detection, b: Detection) -> float:
    iw, ih = min(a.x2, b.x2) - max(a.x1, b.x1), min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter)


def _matched(found: list[Detection], truth: list[Detection]) -> int:
    """Ground-truth objects matched one-to-one by a detection of the same class with IoU >= 0.5."""
    used: set[int] = set()
    hits = 0
    for gt in truth:
        best, best_iou = None, 0.5
        for i, d in enumerate(found):
            if i not in used and d.class_id == gt.class_id and _iou(d, gt) >= best_iou:
                best, best_iou = i, _iou(d, gt)
        if best is not None:
            used.add(best)
            hits += 1
    return hits


def test_demo_model_ships_with_labels_matching_the_synthetic_classes():
    assert tuple(LABELS.read_text().split()) == CLASS_NAMES
    assert MODEL.stat().st_size < 5_000_000, "the demo model should be a few MB at most"
    assert (MODELS / "sightline-demo.md").is_file()


def test_demo_model_loads_as_a_standard_yolov8_detector(session):
    assert session.decoder == "yolov8"
    assert [session.label_of(i) for i in range(len(CLASS_NAMES))] == list(CLASS_NAMES)


@pytest.mark.parametrize(("width", "height", "frames"), [(640, 480, 24), (1280, 720, 6)])
def test_demo_model_finds_nine_in_ten_objects_on_held_out_frames(session, width, height, frames):
    renderer = ProductionLineRenderer(width, height, seed=HELD_OUT_SEED)
    total = hits = 0
    missed: dict[str, int] = {}
    for index in range(0, frames * 97, 97):
        image, truth = renderer.render(index)
        found = session.infer([image], confidence=0.25)[0].detections
        total += len(truth)
        hits += _matched(found, truth)
        for gt in truth:
            if _matched(found, [gt]) == 0:
                missed[gt.label] = missed.get(gt.label, 0) + 1
    assert total >= 5 * frames, "too few objects for the figure to mean anything"
    recall = hits / total
    assert recall >= 0.90, (
        f"found {hits} of {total} objects ({recall:.1%}); missed per class {missed}"
    )
