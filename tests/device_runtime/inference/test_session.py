"""ModelSession end to end through onnxruntime, with models whose outputs are known."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from device_runtime.inference import (
    InferenceInputError,
    ModelClosedError,
    ModelLoadError,
    ModelSession,
    SessionSettings,
    physical_cores,
)
from device_runtime.inference.providers import CPU, available_providers
from device_runtime.inference.settings import CPU_CONCURRENT_RUNS
from tests.device_runtime.inference.helpers import LABELS, make_frame
from tests.peers import onnx_models
from tests.peers.onnx_models import (
    make_channel_mean_classifier,
    make_constant_classifier,
    make_constant_detector,
    make_identity_model,
    make_two_input_model,
)

DETECTORS = ["yolov5", "yolov8", "end2end", "ssd"]
# In the 320×320 input: a box inside the picture, and one reaching into the padding.
INPUT_DETECTIONS = [(100, 120, 180, 220, 0.9, 1), (0, 10, 50, 300, 0.6, 2)]


def boxes_of(result) -> list[list[float]]:
    return [[round(v, 3) for v in (d.x1, d.y1, d.x2, d.y2)] for d in result.detections]


@pytest.mark.parametrize("family", DETECTORS)
def test_detections_come_back_in_original_frame_pixels_through_the_letterbox(
    tmp_path, settings, family
):
    path = make_constant_detector(tmp_path / "m.onnx", family, INPUT_DETECTIONS)
    session = ModelSession(path, labels=LABELS, settings=settings)
    wide, tall = make_frame(480, 640), make_frame(960, 480)

    wide_result, tall_result = session.infer([wide, tall], confidence=0.25)

    assert session.decoder == family
    # Wide 640×480: scale 0.5, 40 px grey bars above and below; the second box is clipped.
    assert boxes_of(wide_result) == [[200, 160, 360, 360], [0, 0, 100, 480]]
    # Tall 480×960: scale 1/3, 80 px bars left and right; the second box is clipped at x=0.
    assert boxes_of(tall_result) == [[60, 360, 300, 660], [0, 30, 0, 900]]
    assert [(d.class_id, d.label) for d in wide_result.detections] == [
        (1, "defective_part"),
        (2, "person"),
    ]
    assert [d.score for d in wide_result.detections] == pytest.approx([0.9, 0.6])


@pytest.mark.parametrize("family", DETECTORS)
def test_zero_confidence_keeps_every_detection_but_not_the_empty_candidate_rows(
    tmp_path, settings, family
):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", family, INPUT_DETECTIONS), settings=settings
    )

    (result,) = session.infer([make_frame(320, 320)], confidence=0.0)

    assert [d.score for d in result.detections] == pytest.approx([0.9, 0.6])


@pytest.mark.parametrize("family", ["end2end", "ssd"])
def test_normalised_boxes_are_scaled_to_pixels(tmp_path, settings, family):
    path = make_constant_detector(tmp_path / "m.onnx", family, INPUT_DETECTIONS, normalized=True)
    session = ModelSession(path, settings=settings)

    (result,) = session.infer([make_frame(480, 640)])

    assert boxes_of(result)[0] == pytest.approx([200, 160, 360, 360], abs=1e-3)


@pytest.mark.parametrize("family", ["yolov5", "yolov8"])
def test_overlapping_boxes_of_one_class_are_suppressed_but_other_classes_kept(
    tmp_path, settings, family
):
    detections = [
        (100, 100, 200, 200, 0.9, 0),
        (105, 102, 205, 198, 0.8, 0),  # same object, same class: suppressed
        (104, 100, 204, 200, 0.7, 1),  # same place, another class: kept
    ]
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", family, detections), settings=settings
    )

    (result,) = session.infer([make_frame(320, 320)])

    assert [(d.class_id, round(d.score, 2)) for d in result.detections] == [(0, 0.9), (1, 0.7)]


def test_iou_threshold_can_be_set_per_call(tmp_path, settings):
    detections = [(100, 100, 200, 200, 0.9, 0), (120, 100, 220, 200, 0.8, 0)]  # IoU 0.67
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", detections), settings=settings
    )

    assert len(session.infer([make_frame(320, 320)])[0].detections) == 1
    assert len(session.infer([make_frame(320, 320)], iou_threshold=0.8)[0].detections) == 2


def test_confidence_and_class_filters_drop_detections(tmp_path, settings):
    detections = [(10, 10, 50, 50, 0.9, 0), (100, 10, 150, 50, 0.5, 1), (200, 10, 250, 50, 0.3, 2)]
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", detections), settings=settings
    )
    frame = make_frame(320, 320)

    assert [d.class_id for d in session.infer([frame], 0.4)[0].detections] == [0, 1]
    assert [d.class_id for d in session.infer([frame], 0.1, {1, 2})[0].detections] == [1, 2]
    assert session.infer([frame], 0.95)[0].detections == []


def test_auto_detection_can_be_overridden_by_an_explicit_decoder(tmp_path, settings):
    # A one-class YOLOv5 head with only 100 candidates looks like an end-to-end [1,100,6].
    detections = [(100, 100, 200, 200, 0.9, 0), (102, 100, 202, 200, 0.8, 0)]
    path = make_constant_detector(
        tmp_path / "m.onnx", "yolov5", detections, num_classes=1, num_candidates=100
    )

    guessed = ModelSession(path, settings=settings)
    told = ModelSession(path, decoder="yolov5", settings=settings)

    assert guessed.decoder == "end2end"
    assert told.decoder == "yolov5"
    (result,) = told.infer([make_frame(320, 320)])
    assert boxes_of(result) == [[100, 100, 200, 200]]


def test_a_decoder_that_does_not_fit_the_model_is_rejected_at_load(tmp_path, settings):
    path = make_constant_detector(tmp_path / "ssd.onnx", "ssd", INPUT_DETECTIONS)

    with pytest.raises(
        ModelLoadError,
        match=r"ssd\.onnx: decoder 'yolov8' expects .*N > 4\+C; got 'det_boxes' \[1,16,4\]",
    ):
        ModelSession(path, decoder="yolov8", settings=settings)


def test_labels_come_from_exporter_metadata_when_not_given(tmp_path, settings):
    path = make_constant_detector(
        tmp_path / "m.onnx",
        "yolov8",
        INPUT_DETECTIONS,
        metadata={"names": "{0: 'cat', 1: 'dog', 2: 'bird'}", "imgsz": "[320, 320]"},
    )

    session = ModelSession(path, settings=settings)

    assert session.labels == ["cat", "dog", "bird"]
    assert [d.label for d in session.infer([make_frame(320, 320)])[0].detections] == ["dog", "bird"]


def test_classes_beyond_the_labels_are_named_by_number(tmp_path, settings):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "end2end", INPUT_DETECTIONS),
        labels=["only"],
        settings=settings,
    )

    assert [d.label for d in session.infer([make_frame(320, 320)])[0].detections] == ["1", "2"]


def test_every_result_reports_the_cost_of_each_stage(tmp_path, settings):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS), settings=settings
    )

    (result,) = session.infer([make_frame(480, 640)])

    assert {"preprocess", "inference", "postprocess"} <= result.timings_ms.keys()
    assert all(value >= 0 for value in result.timings_ms.values())
    assert result.timings_ms["inference"] > 0


def test_classification_returns_top_classes_best_first(tmp_path, settings):
    session = ModelSession(
        make_constant_classifier(
            tmp_path / "c.onnx", [0.5, 3.0, 2.0, -1.0, 2.5], spatial_output=True
        ),
        settings=SessionSettings(intra_op_threads=1, top_k=3),
    )

    (result,) = session.infer([make_frame(100, 100)], confidence=0.0)

    assert session.decoder == "classification"
    assert result.detections == []
    assert [class_id for class_id, _ in result.classes] == [1, 4, 2]
    assert result.classes[0][1] == pytest.approx(
        np.exp(3.0) / np.exp([0.5, 3.0, 2.0, -1.0, 2.5]).sum()
    )


def test_frames_reach_the_model_as_rgb(tmp_path, settings):
    session = ModelSession(make_channel_mean_classifier(tmp_path / "mean.onnx"), settings=settings)

    blue, red = session.infer([make_frame(64, 64, (255, 0, 0)), make_frame(64, 64, (0, 0, 255))])

    assert blue.classes[0] == (2, pytest.approx(1.0))
    assert red.classes[0] == (0, pytest.approx(1.0))


def test_float16_and_channels_last_inputs_are_fed_in_their_own_layout(tmp_path, settings):
    half = make_constant_detector(
        tmp_path / "h.onnx", "yolov8", INPUT_DETECTIONS, input_dtype="float16"
    )
    nhwc = make_constant_detector(
        tmp_path / "n.onnx", "yolov8", INPUT_DETECTIONS, channels_last=True
    )

    for path in (half, nhwc):
        (result,) = ModelSession(path, settings=settings).infer([make_frame(480, 640)])
        assert boxes_of(result)[0] == [200, 160, 360, 360]


def test_dynamic_input_size_uses_the_requested_size(tmp_path, settings):
    path = make_constant_detector(
        tmp_path / "m.onnx", "end2end", INPUT_DETECTIONS, input_size=("h", "w")
    )

    session = ModelSession(path, input_size=(320, 320), settings=settings)

    assert session.image_input.size == (320, 320)
    assert boxes_of(session.infer([make_frame(480, 640)])[0])[0] == [200, 160, 360, 360]


def test_a_requested_size_that_contradicts_a_fixed_input_is_rejected(tmp_path, settings):
    path = make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS)

    with pytest.raises(
        ModelLoadError, match=r"input size \[640, 640\] was asked for.*fixed at \[320, 320\]"
    ):
        ModelSession(path, input_size=(640, 640), settings=settings)


def test_a_corrupt_file_is_rejected_naming_the_file(tmp_path, settings):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"this is not a protobuf" * 20)

    with pytest.raises(
        ModelLoadError, match=rf"^{path}: not a valid ONNX model \(.*[Pp]rotobuf parsing failed"
    ):
        ModelSession(path, settings=settings)


def test_a_truncated_model_is_rejected_naming_the_file(tmp_path, settings):
    whole = make_constant_detector(None, "yolov8", INPUT_DETECTIONS)
    path = tmp_path / "truncated.onnx"
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(ModelLoadError, match=rf"^{path}: not a valid ONNX model"):
        ModelSession(path, settings=settings)


@pytest.mark.parametrize(
    ("content", "message"), [(None, "no such model file"), (b"", "the file is empty")]
)
def test_missing_and_empty_files_are_rejected_naming_the_file(tmp_path, settings, content, message):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ModelLoadError, match=f"^{path}: .*{message}"):
        ModelSession(path, settings=settings)


def test_uploaded_bytes_are_named_by_the_model_name_in_errors(settings):
    with pytest.raises(ModelLoadError, match=r"^line-3-parts: not a valid ONNX model"):
        ModelSession(b"\x00garbage", name="line-3-parts", settings=settings)


@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        (
            [1, 1, 64, 64],
            "float32",
            r"input 'images' \[1,1,64,64\] float32 has 1 channels; expected 3",
        ),
        ([1, 10], "float32", r"input 'images' \[1,10\] float32 is 2-D; expected an image batch"),
        ([1, 3, 64, 64], "int64", r"input 'images' \[1,3,64,64\] int64 has element type int64"),
    ],
)
def test_inputs_a_camera_frame_cannot_become_are_rejected_naming_input_and_shape(
    tmp_path, settings, shape, dtype, message
):
    path = make_identity_model(tmp_path / "odd.onnx", shape, dtype=dtype)

    with pytest.raises(
        ModelLoadError, match=rf"^{tmp_path / 'odd.onnx'}: {message}.*decoder 'raw'"
    ):
        ModelSession(path, settings=settings)


def test_a_model_with_two_inputs_is_not_a_detector(tmp_path, settings):
    with pytest.raises(
        ModelLoadError, match=r"exactly one image input.*has 2: 'a' \[-1,4\] float32, 'b'"
    ):
        ModelSession(make_two_input_model(tmp_path / "two.onnx"), settings=settings)


def test_a_model_that_fails_on_its_own_declared_input_is_rejected_at_load(tmp_path, settings):
    # Declares a dynamic H×W but reshapes to a fixed 64×64 inside: a 640×640 frame cannot be fed.
    shape = numpy_helper.from_array(np.array([0, 3 * 64 * 64], np.int64), "flat_shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["images", "flat_shape"], ["scores"])],
        "fixed_inside",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["b", 3 * 64 * 64])],
        [shape],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", onnx_models.OPSET)],
        ir_version=onnx_models.IR_VERSION,
    )
    path = tmp_path / "fixed_inside.onnx"
    path.write_bytes(model.SerializeToString())

    with pytest.raises(
        ModelLoadError,
        match=r"input 'images' \[-1,3,-1,-1\] float32 cannot be fed a \[1, 3, 640, 640\]",
    ):
        ModelSession(path, settings=settings)


def test_outputs_without_a_batch_dimension_are_rejected_at_load(tmp_path, settings):
    path = make_constant_detector(
        tmp_path / "m.onnx", "end2end", INPUT_DETECTIONS, batched_outputs=False
    )

    with pytest.raises(
        ModelLoadError, match=r"output 'output0' \[16,6\] float32 does not start with the batch"
    ):
        ModelSession(path, settings=settings)


def test_metadata_describes_the_model_and_its_provider(tmp_path, settings):
    path = make_constant_detector(tmp_path / "det.onnx", "yolov8", INPUT_DETECTIONS)

    session = ModelSession(path, labels=LABELS, settings=settings)

    assert session.name == "det"
    assert session.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert session.size == path.stat().st_size
    assert [(s.name, s.shape, s.type) for s in session.inputs] == [
        ("images", (-1, 3, 320, 320), "float32")
    ]
    assert [(s.name, s.shape) for s in session.outputs] == [("output0", (-1, 7, 64))]
    assert session.active_provider == session._session.get_providers()[0]
    assert session.active_provider in available_providers()
    assert session.provider_warning == session.provider_choice.warning
    assert session.run_count >= 1  # the warm-up ran at load


def test_inspect_checks_and_describes_a_model_without_keeping_it_loaded(tmp_path):
    path = make_constant_detector(tmp_path / "det.onnx", "ssd", INPUT_DETECTIONS)

    described = ModelSession.inspect(path, labels=LABELS)

    assert (described.name, described.decoder, described.labels) == ("det", "ssd", LABELS)
    assert described.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [s.name for s in described.outputs] == [
        "det_boxes",
        "det_scores",
        "det_classes",
        "num_dets",
    ]
    assert described.input_size == (320, 320)
    with pytest.raises(ModelLoadError, match="det.onnx: decoder 'yolov5' expects"):
        ModelSession.inspect(path, decoder="yolov5")


def test_onnxruntime_threads_default_to_all_physical_cores_and_can_be_set(tmp_path):
    path = make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS)

    default = ModelSession(path, settings=SessionSettings(providers=("cpu",)))
    one = ModelSession(path, settings=SessionSettings(providers=("cpu",), intra_op_threads=1))

    assert default._session.get_session_options().intra_op_num_threads == physical_cores()
    assert one._session.get_session_options().intra_op_num_threads == 1


def test_onnxruntime_threads_do_not_spin_unless_configured_to(tmp_path):
    path = make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS)
    key = "session.intra_op.allow_spinning"

    default = ModelSession(path, settings=SessionSettings(providers=("cpu",)))
    spinning = ModelSession(path, settings=SessionSettings(providers=("cpu",), cpu_spinning=True))

    assert default._session.get_session_options().get_session_config_entry(key) == "0"
    assert spinning._session.get_session_options().get_session_config_entry(key) == "1"


def test_cpu_sessions_let_two_runs_overlap_unless_configured_otherwise(tmp_path):
    path = make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS)

    automatic = ModelSession(path, settings=SessionSettings(providers=("cpu",)))
    serial = ModelSession(path, settings=SessionSettings(providers=("cpu",), concurrent_runs=1))

    assert automatic.active_provider == CPU
    assert automatic.concurrent_runs == CPU_CONCURRENT_RUNS == 2
    assert serial.concurrent_runs == 1


def test_a_raw_model_runs_with_named_inputs_and_returns_outputs_in_model_order(tmp_path, settings):
    session = ModelSession(
        make_two_input_model(tmp_path / "two.onnx"), decoder="raw", settings=settings
    )
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    b = np.full((2, 4), 2.0)  # float64: converted to the model's float32

    total, product = session.run_raw({"a": a, "b": b})

    assert session.decoder == "raw"
    assert total.tolist() == (a + 2).tolist()
    assert product.tolist() == (a * 2).tolist()


def test_a_detector_also_offers_raw_runs(tmp_path, settings):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS), settings=settings
    )

    (output,) = session.run_raw({"images": np.zeros((2, 3, 320, 320), np.float32)})

    assert output.shape == (2, 7, 64)


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        (
            {"a": np.zeros((1, 4), np.float32)},
            r"missing input\(s\) \['b'\]; it takes 'a' \[-1,4\] float32",
        ),
        (
            {
                "a": np.zeros((1, 4), np.float32),
                "b": np.zeros((1, 4), np.float32),
                "c": np.zeros(1),
            },
            r"unknown input\(s\) \['c'\]",
        ),
        (
            {"a": np.zeros((1, 5), np.float32), "b": np.zeros((1, 4), np.float32)},
            r"input 'a' got shape \[1, 5\]; expected \[-1, 4\]",
        ),
        (
            {"a": np.zeros((1, 4), np.int32), "b": np.zeros((1, 4), np.float32)},
            "input 'a' got dtype int32; expected float32",
        ),
    ],
)
def test_raw_feeds_that_do_not_fit_are_rejected_naming_the_input(
    tmp_path, settings, feeds, message
):
    session = ModelSession(
        make_two_input_model(tmp_path / "two.onnx"), name="adder", decoder="raw", settings=settings
    )

    with pytest.raises(InferenceInputError, match=rf"model 'adder': {message}"):
        session.run_raw(feeds)


def test_infer_on_a_raw_model_points_to_run_raw(tmp_path, settings):
    session = ModelSession(
        make_two_input_model(tmp_path / "two.onnx"), decoder="raw", settings=settings
    )

    with pytest.raises(InferenceInputError, match=r"decoder 'raw': call run_raw\(\)"):
        session.infer([make_frame(10, 10)])


def test_an_unknown_decoder_name_is_rejected(tmp_path, settings):
    path = make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS)

    with pytest.raises(
        ModelLoadError, match=r"unknown decoder 'yolo'; expected one of yolov5, yolov8"
    ):
        ModelSession(path, decoder="yolo", settings=settings)


def test_a_closed_session_refuses_work(tmp_path, settings):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS),
        name="det",
        settings=settings,
    )

    session.close()

    assert session.closed
    with pytest.raises(ModelClosedError, match="model 'det' was unloaded"):
        session.infer([make_frame(10, 10)])
    with pytest.raises(ModelClosedError):
        session.run_raw({"images": np.zeros((1, 3, 320, 320), np.float32)})


def test_no_frames_give_no_results(tmp_path, settings):
    session = ModelSession(
        make_constant_detector(tmp_path / "m.onnx", "yolov8", INPUT_DETECTIONS), settings=settings
    )
    runs = session.run_count

    assert session.infer([]) == []
    assert session.run_count == runs
