"""Tiny ONNX models whose outputs are known, for tests of anything that runs a model.

No detector weights can be downloaded here, so tests build their own models
with ``onnx.helper``. A *constant detector* ignores the picture and always
emits the same detections, laid out the way a given exporter family lays them
out, with the batch dimension following the input's (Shape → Tile), so the
whole decode path runs for real through onnxruntime::

    from tests.peers.onnx_models import make_constant_detector

    path = make_constant_detector(
        tmp_path / "det.onnx", "yolov8",
        detections=[(100, 120, 180, 220, 0.9, 1)],   # x1,y1,x2,y2,score,class in INPUT pixels
        input_size=(320, 320), num_classes=3,
    )

Boxes are given in the model's input pixels: what a letterboxed frame maps
to. Other builders: :func:`make_constant_classifier`,
:func:`make_channel_mean_classifier` (scores = each image's mean R, G, B, so
results differ per image: good for checking batched results go to the right
caller), :func:`make_conv_net` (real convolutions, for timing),
:func:`make_identity_model` (any input shape, for input-validation tests) and
:func:`make_two_input_model` (for raw runs).

Models are written with IR version 9: onnx 1.23 writes IR 14 by default,
which onnxruntime 1.31 refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 9
OPSET = 17
FAMILIES = ("yolov5", "yolov8", "end2end", "ssd")

_DTYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "uint8": TensorProto.UINT8}


def _finish(
    graph: onnx.GraphProto, path: str | Path | None, metadata: Mapping[str, str] | None
) -> bytes | Path:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    if path is None:
        return data
    path = Path(path)
    path.write_bytes(data)
    return path


def _image_input(
    name: str, input_size: tuple[int, int], dynamic_batch: bool, dtype: str, channels_last: bool
) -> onnx.ValueInfoProto:
    batch = "batch" if dynamic_batch else 1
    height, width = input_size
    shape = [batch, height, width, 3] if channels_last else [batch, 3, height, width]
    return helper.make_tensor_value_info(name, _DTYPES[dtype], shape)


def _batch_tiled(
    constant: np.ndarray,
    output: str,
    input_name: str,
    nodes: list,
    inits: list,
    batched: bool = True,
) -> None:
    """Nodes making ``output`` = ``constant`` (leading dim 1) repeated input-batch times."""
    inits.append(numpy_helper.from_array(constant, f"{output}_value"))
    if not batched:
        nodes.append(helper.make_node("Identity", [f"{output}_value"], [output]))
        return
    ones = np.ones(constant.ndim - 1, dtype=np.int64)
    inits.append(numpy_helper.from_array(ones, f"{output}_ones"))
    if "batch_size" not in {out for node in nodes for out in node.output}:
        inits += [
            numpy_helper.from_array(np.array([0], np.int64), "batch_start"),
            numpy_helper.from_array(np.array([1], np.int64), "batch_end"),
        ]
        nodes += [
            helper.make_node("Shape", [input_name], ["input_shape"]),
            helper.make_node("Slice", ["input_shape", "batch_start", "batch_end"], ["batch_size"]),
        ]
    nodes += [
        helper.make_node("Concat", ["batch_size", f"{output}_ones"], [f"{output}_repeats"], axis=0),
        helper.make_node("Tile", [f"{output}_value", f"{output}_repeats"], [output]),
    ]


def family_tensors(
    family: str,
    detections: Sequence[Sequence[float]],
    *,
    num_classes: int = 3,
    num_candidates: int | None = None,
    input_size: tuple[int, int] = (320, 320),
    normalized: bool = False,
) -> dict[str, np.ndarray]:
    """One image's output tensors (leading dim 1) for ``detections`` in a family's layout.

    Unused candidate rows are zeros (score 0). ``normalized`` divides end2end
    and ssd boxes by the input size.
    """
    dets = np.asarray(detections, dtype=np.float32).reshape(-1, 6)
    count = num_candidates or max(len(dets), 64 if family in ("yolov5", "yolov8") else 16)
    if count < len(dets):
        raise ValueError(f"num_candidates {count} < {len(dets)} detections")
    x1, y1, x2, y2, score, cls = (dets[:, i] for i in range(6))
    rows = np.arange(len(dets))
    height, width = input_size
    if family in ("yolov5", "yolov8"):
        width_k = 5 + num_classes if family == "yolov5" else 4 + num_classes
        table = np.zeros((count, width_k), np.float32)
        table[rows, 0:4] = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
        first_class = 5 if family == "yolov5" else 4
        if family == "yolov5":
            table[rows, 4] = score  # objectness; the class score is 1, so score = objectness
            table[rows, first_class + cls.astype(int)] = 1.0
        else:
            table[rows, first_class + cls.astype(int)] = score
        if family == "yolov8":
            table = table.T
        return {"output0": table[None]}
    boxes = np.stack([x1, y1, x2, y2], axis=1) if len(dets) else np.zeros((0, 4), np.float32)
    if normalized:
        boxes = boxes / np.array([width, height, width, height], np.float32)
    if family == "end2end":
        table = np.zeros((count, 6), np.float32)
        table[rows, :4], table[rows, 4], table[rows, 5] = boxes, score, cls
        return {"output0": table[None]}
    if family == "ssd":
        padded_boxes = np.zeros((count, 4), np.float32)
        padded_boxes[rows] = boxes
        scores = np.zeros(count, np.float32)
        scores[rows] = score
        classes = np.zeros(count, np.float32)
        classes[rows] = cls
        return {
            "det_boxes": padded_boxes[None],
            "det_scores": scores[None],
            "det_classes": classes[None],
            "num_dets": np.array([len(dets)], np.int32),
        }
    raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")


def make_constant_detector(
    path: str | Path | None,
    family: str,
    detections: Sequence[Sequence[float]] = (),
    *,
    input_size: tuple[int, int] = (320, 320),
    dynamic_batch: bool = True,
    num_classes: int = 3,
    num_candidates: int | None = None,
    normalized: bool = False,
    with_count: bool = True,
    output_names: Mapping[str, str] | None = None,
    input_name: str = "images",
    input_dtype: str = "float32",
    channels_last: bool = False,
    batched_outputs: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> bytes | Path:
    """A model that always outputs ``detections`` (x1,y1,x2,y2,score,class; input pixels).

    ``family`` is yolov5, yolov8, end2end or ssd. Writes ``path`` and returns
    it, or returns the model bytes when ``path`` is None. ``output_names``
    renames outputs (ssd: det_boxes, det_scores, det_classes, num_dets;
    others: output0); ``with_count=False`` drops ssd's num_dets;
    ``batched_outputs=False`` emits the constant without following the
    batch (a broken export); ``metadata`` adds exporter metadata entries.
    """
    tensors = family_tensors(
        family,
        detections,
        num_classes=num_classes,
        num_candidates=num_candidates,
        input_size=input_size,
        normalized=normalized,
    )
    if not with_count:
        tensors.pop("num_dets", None)
    renames = dict(output_names or {})
    nodes: list = []
    inits: list = []
    outputs = []
    for default_name, value in tensors.items():
        name = renames.get(default_name, default_name)
        if not batched_outputs:
            value = value[0]
        _batch_tiled(value, name, input_name, nodes, inits, batched=batched_outputs)
        dims = (["batch"] if dynamic_batch else [1]) + list(value.shape[1:])
        shape = dims if batched_outputs else list(value.shape)
        elem = TensorProto.INT32 if value.dtype == np.int32 else TensorProto.FLOAT
        outputs.append(helper.make_tensor_value_info(name, elem, shape))
    image = _image_input(input_name, input_size, dynamic_batch, input_dtype, channels_last)
    graph = helper.make_graph(nodes, f"constant_{family}", [image], outputs, inits)
    return _finish(graph, path, metadata)


def make_constant_classifier(
    path: str | Path | None,
    scores: Sequence[float],
    *,
    input_size: tuple[int, int] = (224, 224),
    dynamic_batch: bool = True,
    spatial_output: bool = False,
) -> bytes | Path:
    """A classifier that always outputs ``scores`` ([B,C]; [B,C,1,1] with ``spatial_output``)."""
    value = np.asarray(scores, np.float32)[None]
    if spatial_output:
        value = value[:, :, None, None]
    nodes: list = []
    inits: list = []
    _batch_tiled(value, "logits", "images", nodes, inits)
    batch = "batch" if dynamic_batch else 1
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, *value.shape[1:]])
    image = _image_input("images", input_size, dynamic_batch, "float32", False)
    return _finish(
        helper.make_graph(nodes, "constant_classifier", [image], [output], inits), path, None
    )


def make_channel_mean_classifier(
    path: str | Path | None,
    *,
    input_size: tuple[int, int] = (64, 64),
    dynamic_batch: bool = True,
) -> bytes | Path:
    """A 3-class "classifier" whose scores are each image's mean R, G and B (0..1).

    A pure blue BGR frame (255, 0, 0) scores class 2 highest: it checks the
    BGR→RGB conversion, and different pictures give different results.
    Letterbox padding (grey 114) counts in the mean.
    """
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["scores"], axis=1),
    ]
    batch = "batch" if dynamic_batch else 1
    output = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, 3])
    image = _image_input("images", input_size, dynamic_batch, "float32", False)
    return _finish(helper.make_graph(nodes, "channel_mean", [image], [output]), path, None)


def make_conv_net(
    path: str | Path | None,
    *,
    input_size: tuple[int, int] = (320, 320),
    dynamic_batch: bool = True,
    channels: Sequence[int] = (16, 32, 64, 64, 128, 128),
    seed: int = 0,
) -> bytes | Path:
    """A small random-weight CNN classifier ([B, channels[-1]] output): real work, for timing."""
    rng = np.random.default_rng(seed)
    nodes: list = []
    inits: list = []
    current, width = "images", 3
    for index, out in enumerate(channels):
        weight = (rng.standard_normal((out, width, 3, 3)) * 0.1).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w{index}"))
        stride = 2 if index in (0, 1, 2, 4) else 1
        nodes += [
            helper.make_node(
                "Conv", [current, f"w{index}"], [f"c{index}"], pads=[1] * 4, strides=[stride] * 2
            ),
            helper.make_node("Relu", [f"c{index}"], [f"r{index}"]),
        ]
        current, width = f"r{index}", out
    nodes += [
        helper.make_node("GlobalAveragePool", [current], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["logits"], axis=1),
    ]
    batch = "batch" if dynamic_batch else 1
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, width])
    image = _image_input("images", input_size, dynamic_batch, "float32", False)
    return _finish(helper.make_graph(nodes, "conv_net", [image], [output], inits), path, None)


def make_identity_model(
    path: str | Path | None,
    input_shape: Sequence[int | str],
    *,
    input_name: str = "images",
    dtype: str = "float32",
) -> bytes | Path:
    """``output = input`` with any input shape and type: for input-validation tests."""
    elem = _DTYPES.get(dtype, TensorProto.FLOAT) if dtype != "int64" else TensorProto.INT64
    nodes = [helper.make_node("Identity", [input_name], ["output"])]
    graph = helper.make_graph(
        nodes,
        "identity",
        [helper.make_tensor_value_info(input_name, elem, list(input_shape))],
        [helper.make_tensor_value_info("output", elem, list(input_shape))],
    )
    return _finish(graph, path, None)


def make_two_input_model(path: str | Path | None, width: int = 4) -> bytes | Path:
    """Inputs ``a`` and ``b`` [N, width] float32; outputs ``sum`` = a+b and ``product`` = a*b."""
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("Mul", ["a", "b"], ["product"]),
    ]
    spec = ["n", width]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, spec) for n in ("a", "b")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, spec) for n in ("sum", "product")],
    )
    return _finish(graph, path, None)
