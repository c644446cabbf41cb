"""Judging and test-running models in the console with the device's own inference code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from console_app.core import model_inspection as mi
from device_runtime.sources.synthetic_line import ProductionLineRenderer
from tests.peers.onnx_models import (
    make_constant_classifier,
    make_constant_detector,
    make_identity_model,
    make_two_input_model,
)

REPO = Path(__file__).resolve().parents[3]
DEMO_MODEL = REPO / "resources/models/sightline-demo.onnx"
DEMO_LABELS = (REPO / "resources/models/sightline-demo.labels").read_text().split()


def test_demo_model_is_described_as_the_device_sees_it():
    described = mi.inspect_model(DEMO_MODEL)

    assert described.decoder == "yolov8"
    assert [t.describe() for t in described.inputs] == ["images [1,3,240,320] float32"]
    assert [t.describe() for t in described.outputs] == ["output0 [1,8,1200] float32"]
    assert described.opset == 17
    assert described.size == DEMO_MODEL.stat().st_size
    assert described.input_size == (240, 320)
    assert described.labels == tuple(DEMO_LABELS)


def test_dynamic_dimensions_show_as_question_marks(tmp_path):
    path = make_constant_detector(tmp_path / "d.onnx", "yolov5", [(10, 10, 50, 50, 0.9, 0)])

    described = mi.inspect_model(path)

    assert described.decoder == "yolov5"
    assert described.inputs[0].describe() == "images [?,3,320,320] float32"


def test_file_that_is_not_onnx_is_rejected_under_the_name_the_engineer_knows(tmp_path):
    path = tmp_path / "incoming.part"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a model")

    with pytest.raises(mi.ModelRejected) as raised:
        mi.inspect_model(path, shown_as="s3://plant/models/helmet.onnx")
    assert str(raised.value).startswith("s3://plant/models/helmet.onnx: not a valid ONNX model")
    assert "incoming.part" not in str(raised.value)


def test_model_with_no_usable_output_is_rejected(tmp_path):
    path = make_identity_model(tmp_path / "identity.onnx", [1, 3, 64, 64])

    with pytest.raises(mi.ModelRejected, match="has no output the device can use: cannot tell the output format"):
        mi.inspect_model(path)


@pytest.mark.parametrize("builder, expected", [
    (lambda p: make_two_input_model(p), "need exactly one image input"),
    (lambda p: make_identity_model(p, [1, 1, 64, 64]), "has 1 channels; expected 3"),
    (lambda p: make_identity_model(p, [1, 16], dtype="float32"), "is 2-D; expected an image batch"),
])
def test_model_needing_an_input_a_camera_cannot_give_is_rejected(tmp_path, builder, expected):
    path = builder(tmp_path / "m.onnx")

    with pytest.raises(mi.ModelRejected, match=expected):
        mi.inspect_model(path)


def test_a_decoder_that_does_not_fit_the_outputs_is_rejected(tmp_path):
    path = make_constant_detector(tmp_path / "y8.onnx", "yolov8", [(10, 10, 50, 50, 0.9, 1)])

    with pytest.raises(mi.ModelRejected, match="decoder 'ssd' needs outputs"):
        mi.inspect_model(path, decoder="ssd")
    with pytest.raises(mi.ModelRejected, match="unknown decoder 'yolo'"):
        mi.inspect_model(path, decoder="yolo")
    assert mi.inspect_model(path, decoder="raw").decoder == "raw"


def test_demo_model_finds_the_objects_of_a_synthetic_line_snapshot():
    image, truth = ProductionLineRenderer(640, 480, seed=7).render(30)

    result = mi.test_on_image(DEMO_MODEL, image, labels=DEMO_LABELS, confidence=0.4)

    assert result.decoder == "yolov8" and result.image_size == (640, 480)
    assert result.detections, "the demo model found nothing on its own scene"
    matched = sum(any(_iou(d, t) > 0.5 and d.label == DEMO_LABELS[t.class_id] for d in result.detections)
                  for t in truth)
    assert matched >= len(truth) - 1, f"{matched} of {len(truth)} objects found: {result.detections}"
    assert "detection(s)" in result.summary()


def test_boxes_come_back_in_snapshot_pixels_and_are_drawn(tmp_path):
    # 320x320 input; a 640x640 snapshot is scaled by 2 without letterbox bars.
    path = make_constant_detector(tmp_path / "e2e.onnx", "end2end", [(40, 60, 120, 160, 0.9, 1)])
    image = np.full((640, 640, 3), 90, np.uint8)

    result = mi.test_on_image(path, image, labels=["part", "worker", "forklift"])

    [det] = result.detections
    assert (det.x1, det.y1, det.x2, det.y2) == pytest.approx((80, 120, 240, 320), abs=1)
    assert det.label == "worker" and det.score == pytest.approx(0.9)
    drawn = mi.draw_detections(image, result)
    assert (drawn[200, 80] == mi.class_colour(1)).all()  # left edge of the box
    assert (image == 90).all(), "the snapshot itself must not be drawn on"


def test_classifier_result_lists_top_classes(tmp_path):
    path = make_constant_classifier(tmp_path / "cls.onnx", [0.1, 0.7, 0.2])

    result = mi.test_on_image(path, np.zeros((100, 100, 3), np.uint8), labels=["ok", "scratch", "dent"])

    assert result.classes[0] == ("scratch", pytest.approx(0.7))
    assert result.summary().startswith("top classes: scratch 0.70")


def test_a_picture_that_is_not_a_colour_frame_is_refused(tmp_path):
    with pytest.raises(mi.ModelTestError, match="H×W×3 8-bit"):
        mi.test_on_image(DEMO_MODEL, np.zeros((10, 10), np.uint8))
    (tmp_path / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(mi.ModelTestError, match="x.jpg is not a picture OpenCV can read"):
        mi.read_image_file(tmp_path / "x.jpg")


def test_opset_of_a_file_that_is_not_onnx_is_unknown(tmp_path):
    (tmp_path / "junk").write_bytes(b"\xff\xff\xff")
    assert mi.read_opset(tmp_path / "junk") is None


def _iou(det, truth) -> float:
    ix = max(0.0, min(det.x2, truth.x2) - max(det.x1, truth.x1))
    iy = max(0.0, min(det.y2, truth.y2) - max(det.y1, truth.y1))
    inter = ix * iy
    union = (det.x2 - det.x1) * (det.y2 - det.y1) + (truth.x2 - truth.x1) * (truth.y2 - truth.y1) - inter
    return inter / union if union > 0 else 0.0
