"""Output-family detection and the per-family decoders, on known tensors."""

from __future__ import annotations

import numpy as np
import pytest

from device_runtime.inference.decoders import (
    DecodeParams,
    OutputDecoder,
    decode_classification,
    decode_end2end,
    decode_ssd,
    decode_yolov5,
    decode_yolov8,
    detect_family,
)
from device_runtime.inference.errors import DecoderError
from device_runtime.inference.tensors import TensorSpec
from tests.peers.onnx_models import family_tensors

IMAGE = [TensorSpec("images", (1, 3, 320, 320), "float32")]
DETS = [(10, 20, 110, 220, 0.9, 2), (200, 100, 260, 140, 0.5, 0)]


def params(confidence=0.25, class_ids=None, top_k=5, iou=0.45) -> DecodeParams:
    return DecodeParams(confidence, class_ids, iou, 300, top_k, (320, 320))


def specs(tensors: dict[str, np.ndarray]) -> list[TensorSpec]:
    return [TensorSpec(name, value.shape, "float32") for name, value in tensors.items()]


@pytest.mark.parametrize("family", ["yolov5", "yolov8", "end2end", "ssd"])
def test_each_detector_layout_is_recognised(family):
    tensors = family_tensors(family, DETS, num_classes=3)

    assert detect_family(IMAGE, specs(tensors)) == family


@pytest.mark.parametrize(
    ("shape", "family"),
    [
        ((1, 25200, 85), "yolov5"),  # YOLOv5s, 80 classes, 640 px
        ((1, 84, 8400), "yolov8"),  # YOLOv8/11, 80 classes, 640 px
        ((1, 6300, 6), "yolov5"),  # YOLOv5 with one class: many rows of 6 are not end-to-end
        ((1, 300, 6), "end2end"),  # YOLOv10
        ((1, 1000), "classification"),
        ((1, 1000, 1, 1), "classification"),
    ],
)
def test_family_follows_from_the_output_shape(shape, family):
    assert detect_family(IMAGE, [TensorSpec("output0", shape, "float32")]) == family


def test_ssd_is_recognised_by_tensorflow_style_output_names():
    outputs = [
        TensorSpec("detection_boxes", (1, 100, 4), "float32"),
        TensorSpec("detection_classes", (1, 100), "float32"),
        TensorSpec("detection_scores", (1, 100), "float32"),
        TensorSpec("num_detections", (1,), "float32"),
    ]

    assert detect_family(IMAGE, outputs) == "ssd"


@pytest.mark.parametrize(
    "outputs",
    [
        [TensorSpec("features", (1, 256, 20, 20), "float32")],
        [TensorSpec("a", (1, 85, 85), "float32")],
        [TensorSpec("a", (1, 100, 4), "float32"), TensorSpec("b", (1, 100), "float32")],
    ],
)
def test_outputs_that_fit_no_family_give_an_error_listing_them_and_the_choices(outputs):
    with pytest.raises(DecoderError) as raised:
        detect_family(IMAGE, outputs)

    message = str(raised.value)
    assert f"'{outputs[0].name}' [{','.join(map(str, outputs[0].shape))}]" in message
    assert "yolov5 [B,N,5+C]" in message and "'raw'" in message


def test_yolov5_score_is_objectness_times_class_score():
    rows = np.zeros((4, 8), np.float32)
    rows[0, :5] = [50, 60, 20, 40, 0.8]
    rows[0, 5:] = [0.1, 0.5, 0.25]  # best class 1: 0.8 × 0.5 = 0.4
    rows[1, :5] = [150, 60, 20, 40, 0.2]  # objectness below the threshold
    rows[1, 5] = 1.0

    decoded = decode_yolov5(rows, params(confidence=0.3))

    assert decoded.boxes.tolist() == [[40, 40, 60, 80]]
    assert decoded.scores.tolist() == pytest.approx([0.4])
    assert decoded.class_ids.tolist() == [1]


def test_yolov8_columns_decode_to_corner_boxes():
    columns = family_tensors("yolov8", DETS, num_classes=3)["output0"][0]

    decoded = decode_yolov8(columns, params())

    assert decoded.boxes.tolist() == [[10, 20, 110, 220], [200, 100, 260, 140]]
    assert decoded.scores.tolist() == pytest.approx([0.9, 0.5])
    assert decoded.class_ids.tolist() == [2, 0]


def test_class_filter_keeps_only_the_asked_classes():
    columns = family_tensors("yolov8", DETS, num_classes=3)["output0"][0]

    decoded = decode_yolov8(columns, params(class_ids=frozenset({0})))

    assert decoded.class_ids.tolist() == [0]


def test_end2end_normalised_boxes_are_scaled_to_input_pixels():
    rows = family_tensors("end2end", DETS, normalized=True)["output0"][0]

    decoded = decode_end2end(rows, params(confidence=0.6))

    assert decoded.boxes == pytest.approx(np.array([[10, 20, 110, 220]]))
    assert decoded.class_ids.tolist() == [2]


def test_ssd_reads_only_the_valid_count_of_rows():
    tensors = family_tensors("ssd", DETS)
    boxes, scores, classes = (tensors[k][0] for k in ("det_boxes", "det_scores", "det_classes"))

    decoded = decode_ssd(boxes, scores, classes, np.array(1), params())

    assert decoded.boxes.tolist() == [[10, 20, 110, 220]]


def test_ssd_roles_fall_back_to_shapes_when_names_say_nothing():
    outputs = [
        TensorSpec("out_a", (1, 10, 4), "float32"),
        TensorSpec("out_b", (1, 10), "float32"),
        TensorSpec("out_c", (1, 10), "float32"),
        TensorSpec("out_d", (1,), "int32"),
    ]
    decoder = OutputDecoder("ssd", outputs)
    tensors = family_tensors("ssd", DETS, num_candidates=10)
    per_image = [tensors[k][0] for k in ("det_boxes", "det_scores", "det_classes", "num_dets")]

    decoded = decoder.detections(per_image, params())

    assert decoded.class_ids.tolist() == [2, 0]


def test_classification_logits_become_probabilities_top_k_best_first():
    top = decode_classification(np.array([1.0, 3.0, 2.0, -1.0]), params(confidence=0.0, top_k=2))

    expected = np.exp([3.0, 2.0]) / np.exp([1.0, 3.0, 2.0, -1.0]).sum()
    assert [c for c, _ in top] == [1, 2]
    assert [s for _, s in top] == pytest.approx(expected.tolist())


def test_classification_probabilities_are_kept_and_filtered():
    probabilities = np.array([0.1, 0.6, 0.3])

    assert decode_classification(probabilities, params(confidence=0.2)) == [
        (1, pytest.approx(0.6)),
        (2, pytest.approx(0.3)),
    ]
    assert decode_classification(probabilities, params(0.2, frozenset({2}))) == [
        (2, pytest.approx(0.3))
    ]


def test_a_decoder_that_does_not_fit_the_outputs_says_what_it_expected():
    with pytest.raises(
        DecoderError,
        match=r"'yolov8' expects its first output shaped \[B,4\+C,N\] with N > 4\+C; got 'output0' \[1,2,6\]",
    ):
        OutputDecoder("yolov8", [TensorSpec("output0", (1, 2, 6), "float32")])
    with pytest.raises(DecoderError, match="unknown decoder 'yolo'"):
        OutputDecoder("yolo", [])
