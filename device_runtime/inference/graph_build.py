"""Build the pre- and post-processing ONNX graphs of :mod:`.graph_processing` (development only).

    python -m device_runtime.inference.graph_build      # rewrites device_runtime/inference/graphs/

The graphs are committed as package data, so the device needs no ``onnx``
package; tests/device_runtime/inference/test_graph_processing.py rebuilds
them and fails when the committed files are stale. Every dimension is
dynamic (frame size, batch, candidates, classes): one file serves every
model and camera of its layout.

Letterbox (``letterbox_{nchw,nhwc}_{float32,float16,uint8}.onnx``)::

    frames uint8 [B,H,W,3] BGR, sizes int64 [4] = (B,3,new_h,new_w),
    pads int64 [8] = (0,0,top,left, 0,0,bottom,right)
    -> tensor [B,3,H',W'] (or [B,H',W',3]) RGB, 0..1 for floats, pixels for uint8

Resize is bilinear with half-pixel centres, as OpenCV's INTER_LINEAR; the
padding is grey 114, as :func:`~device_runtime.inference.preprocess.letterbox`.

YOLO decode (``decode_{yolov5,yolov8}_{float32,float16}.onnx``)::

    output [B,N,5+C] (yolov5) or [B,4+C,N] (yolov8), confidence float [1],
    iou float [1], max_detections int64 [1]
    -> selected int64 [K,3] (image, class, candidate), boxes float [K,4] x1,y1,x2,y2,
       scores float [K]

Each candidate competes only in its best class (as the numpy decoders do):
the other classes' scores are zeroed before ONNX NonMaxSuppression, which is
class-aware and keeps scores above ``confidence``.
"""

from __future__ import annotations

import sys
from pathlib import Path

GRAPHS_DIR = Path(__file__).with_name("graphs")
OPSET = 17
IR_VERSION = 8  # readable by onnxruntime 1.14 and later (JetPack 5 builds included)
LETTERBOX_DTYPES = ("float32", "float16", "uint8")
DECODE_DTYPES = ("float32", "float16")
YOLO_FAMILIES = ("yolov5", "yolov8")
PAD_VALUE = 114.0


def letterbox_name(channels_first: bool, dtype: str) -> str:
    return f"letterbox_{'nchw' if channels_first else 'nhwc'}_{dtype}.onnx"


def decode_name(family: str, dtype: str) -> str:
    return f"decode_{family}_{dtype}.onnx"


def _model(nodes, inputs, outputs, initializers, name):  # type: ignore[no-untyped-def]
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sightline"
    )
    model.ir_version = IR_VERSION
    return model


def build_letterbox(channels_first: bool, dtype: str):  # type: ignore[no-untyped-def]
    """The letterbox graph for one input layout and element type (an onnx ModelProto)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    elem = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "uint8": TensorProto.UINT8}[dtype]
    init = [
        numpy_helper.from_array(np.array([2, 1, 0], np.int64), "bgr_to_rgb"),
        numpy_helper.from_array(np.array(PAD_VALUE, np.float32), "pad_value"),
        numpy_helper.from_array(np.array(1.0 / 255.0, np.float32), "to_unit"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(255.0, np.float32), "full"),
    ]
    nodes = [
        helper.make_node("Cast", ["frames"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["chw"], perm=[0, 3, 1, 2]),
        helper.make_node("Gather", ["chw", "bgr_to_rgb"], ["rgb"], axis=1),
        helper.make_node(
            "Resize", ["rgb", "", "", "sizes"], ["resized"],
            mode="linear", coordinate_transformation_mode="half_pixel",
        ),
        helper.make_node("Pad", ["resized", "pads", "pad_value"], ["padded"], mode="constant"),
    ]
    last = "padded"
    if dtype == "uint8":  # pixels, rounded as OpenCV's resize rounds them
        nodes += [
            helper.make_node("Round", [last], ["rounded"]),
            helper.make_node("Clip", ["rounded", "zero", "full"], ["clipped"]),
        ]
        last = "clipped"
    else:
        nodes.append(helper.make_node("Mul", [last, "to_unit"], ["unit"]))
        last = "unit"
    if not channels_first:
        nodes.append(helper.make_node("Transpose", [last], ["hwc"], perm=[0, 2, 3, 1]))
        last = "hwc"
    nodes.append(helper.make_node("Cast", [last], ["tensor"], to=elem))
    shape_out = ["B", 3, "H2", "W2"] if channels_first else ["B", "H2", "W2", 3]
    inputs = [
        helper.make_tensor_value_info("frames", TensorProto.UINT8, ["B", "H", "W", 3]),
        helper.make_tensor_value_info("sizes", TensorProto.INT64, [4]),
        helper.make_tensor_value_info("pads", TensorProto.INT64, [8]),
    ]
    outputs = [helper.make_tensor_value_info("tensor", elem, shape_out)]
    return _model(nodes, inputs, outputs, init, "letterbox")


def build_decode(family: str, dtype: str):  # type: ignore[no-untyped-def]
    """The decode-and-NMS graph for one YOLO layout and output element type."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    elem = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}[dtype]

    def const(name: str, values: list[int]):  # type: ignore[no-untyped-def]
        return numpy_helper.from_array(np.array(values, np.int64), name)

    init = [
        const("zero", [0]), const("two", [2]), const("four", [4]), const("five", [5]),
        const("end", [2**62]), const("axis1", [1]), const("axis2", [2]),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(0.0, np.float32), "nothing"),
        const("image_and_box", [0, 2]),
    ]
    nodes = [helper.make_node("Cast", ["output"], ["out"], to=TensorProto.FLOAT)]
    if family == "yolov8":  # [B, 4+C, N]
        nodes += [
            helper.make_node("Slice", ["out", "zero", "four", "axis1"], ["xywh_t"]),
            helper.make_node("Transpose", ["xywh_t"], ["xywh"], perm=[0, 2, 1]),
            helper.make_node("Slice", ["out", "four", "end", "axis1"], ["candidates"]),  # [B, C, N]
        ]
    else:  # yolov5 [B, N, 5+C]: score = objectness x class score
        nodes += [
            helper.make_node("Slice", ["out", "zero", "four", "axis2"], ["xywh"]),
            helper.make_node("Slice", ["out", "four", "five", "axis2"], ["objectness"]),
            helper.make_node("Slice", ["out", "five", "end", "axis2"], ["class_scores"]),
            helper.make_node("Mul", ["class_scores", "objectness"], ["scores_nc"]),
            helper.make_node("Transpose", ["scores_nc"], ["candidates"], perm=[0, 2, 1]),
        ]
    nodes += [
        # cx, cy, w, h -> x1, y1, x2, y2
        helper.make_node("Slice", ["xywh", "zero", "two", "axis2"], ["centre"]),
        helper.make_node("Slice", ["xywh", "two", "four", "axis2"], ["size"]),
        helper.make_node("Mul", ["size", "half"], ["half_size"]),
        helper.make_node("Sub", ["centre", "half_size"], ["top_left"]),
        helper.make_node("Add", ["centre", "half_size"], ["bottom_right"]),
        helper.make_node("Concat", ["top_left", "bottom_right"], ["boxes_all"], axis=2),
        # Each candidate keeps only its best class's score.
        helper.make_node("ReduceMax", ["candidates"], ["best"], axes=[1], keepdims=1),
        helper.make_node("Equal", ["candidates", "best"], ["is_best"]),
        helper.make_node("Where", ["is_best", "candidates", "nothing"], ["best_only"]),
        helper.make_node(
            "NonMaxSuppression",
            ["boxes_all", "best_only", "max_detections", "iou", "confidence"],
            ["selected"],
            center_point_box=0,
        ),
        helper.make_node("Gather", ["selected", "image_and_box"], ["image_box"], axis=1),
        helper.make_node("GatherND", ["boxes_all", "image_box"], ["boxes"]),
        helper.make_node("GatherND", ["best_only", "selected"], ["scores"]),
    ]
    layout = ["B", "N", "D"] if family == "yolov5" else ["B", "D", "N"]
    inputs = [
        helper.make_tensor_value_info("output", elem, layout),
        helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("iou", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("max_detections", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("selected", TensorProto.INT64, ["K", 3]),
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["K", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["K"]),
    ]
    return _model(nodes, inputs, outputs, init, f"decode_{family}")


def build_all() -> dict[str, bytes]:
    """Every graph, by file name, serialised."""
    graphs = {}
    for channels_first in (True, False):
        for dtype in LETTERBOX_DTYPES:
            graphs[letterbox_name(channels_first, dtype)] = build_letterbox(channels_first, dtype)
    for family in YOLO_FAMILIES:
        for dtype in DECODE_DTYPES:
            graphs[decode_name(family, dtype)] = build_decode(family, dtype)
    from onnx import checker

    for model in graphs.values():
        checker.check_model(model, full_check=True)
    return {name: model.SerializeToString() for name, model in graphs.items()}


def main() -> int:
    GRAPHS_DIR.mkdir(exist_ok=True)
    for name, data in build_all().items():
        (GRAPHS_DIR / name).write_bytes(data)
        print(f"wrote {GRAPHS_DIR / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
