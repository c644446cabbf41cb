"""Letterbox and YOLO decode+NMS as small ONNX graphs, run on the model's own GPU provider.

On a Jetson the ARM cores cap a pipeline long before the GPU does: the numpy
letterbox (resize, BGR->RGB, HWC->CHW, scale) and the YOLO decoder with its
NMS cost milliseconds of CPU per frame. Where the model runs on CUDA or
TensorRT, :class:`GraphProcessing` runs both steps as the graphs built by
:mod:`.graph_build` on the CUDA provider instead: the camera frame goes up as
uint8 (a third of the float tensor's bytes), and only the kept boxes come
back. (The small graphs use CUDA even when the model uses TensorRT: a
TensorRT engine per camera size for a Resize and a Pad would cost minutes of
engine building for microseconds of work; onnxruntime-gpu always has CUDA
where it has TensorRT.)

The results equal the numpy path's within rounding (bilinear weights in
float instead of OpenCV's fixed point; see the tests), so the same app gives
the same detections on either path. ``SessionSettings.graph_processing``
picks: "auto" (graphs on a GPU, numpy on the CPU), "on", "off".

What is not done yet: the letterboxed tensor comes back to host memory and
is uploaded again by the model's run, because cross-stream batching
(:mod:`.batching`) assembles batches in host memory. Binding it on the
device (onnxruntime IO binding) is the next step once a GPU can measure it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from device_runtime.inference.decoders import Decoded, DecodeParams, OutputDecoder
from device_runtime.inference.graph_build import (
    GRAPHS_DIR,
    YOLO_FAMILIES,
    decode_name,
    letterbox_name,
)
from device_runtime.inference.preprocess import Letterbox, as_bgr, fitted_size, placement_for
from device_runtime.inference.providers import CPU, CUDA, TENSORRT

GRAPH_MODES = ("auto", "on", "off")


def graph_providers(model_provider: str) -> list[str]:
    """Where the graphs run for a model on ``model_provider``: CUDA for the NVIDIA ones, else CPU."""
    return [CUDA, CPU] if model_provider in (CUDA, TENSORRT) else [CPU]


def wants_graphs(mode: str, model_provider: str) -> bool:
    """Whether ``mode`` ("auto", "on", "off") uses the graphs for a model on ``model_provider``."""
    if mode not in GRAPH_MODES:
        raise ValueError(f"graph_processing must be one of {', '.join(GRAPH_MODES)}, got {mode!r}")
    return mode == "on" or (mode == "auto" and model_provider in (CUDA, TENSORRT))


def _session(name: str, providers: list[str]) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # tiny graphs: one thread, no fight with the model's
    return ort.InferenceSession(str(GRAPHS_DIR / name), options, providers=providers)


class GraphProcessing:
    """The letterbox graph for one model input, and the decode graph for its YOLO layout.

    ``family`` outside yolov5/yolov8 (or ``output_dtype`` not float) leaves
    decoding to the numpy decoders (``decodes`` is then False).
    """

    def __init__(
        self,
        model_provider: str,
        *,
        channels_first: bool,
        input_dtype: np.dtype | type,
        family: str,
        output_dtype: np.dtype | type = np.float32,
    ) -> None:
        providers = graph_providers(model_provider)
        self.input_dtype = np.dtype(input_dtype)
        if self.input_dtype.name not in ("float32", "float16", "uint8"):
            raise ValueError(f"no letterbox graph for input type {self.input_dtype}")
        self._letterbox = _session(letterbox_name(channels_first, self.input_dtype.name), providers)
        self.provider = self._letterbox.get_providers()[0]
        output_dtype = np.dtype(output_dtype)
        self.decodes = family in YOLO_FAMILIES and output_dtype.name in ("float32", "float16")
        self._decode = _session(decode_name(family, output_dtype.name), providers) if self.decodes else None
        self._output_dtype = output_dtype

    def prepare_batch(
        self, images: Sequence[np.ndarray], size: tuple[int, int]
    ) -> tuple[np.ndarray, list[Letterbox]]:
        """Like :func:`~device_runtime.inference.preprocess.prepare_batch`, on the graph's provider.

        Frames of the same size go through in one run (cameras of one model
        usually share a resolution).
        """
        frames = [as_bgr(image, index) for index, image in enumerate(images)]
        placements = [placement_for(frame.shape[0], frame.shape[1], size) for frame in frames]
        tensors: list[np.ndarray | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, frame in enumerate(frames):
            groups.setdefault(frame.shape[:2], []).append(index)
        for indices in groups.values():
            placement = placements[indices[0]]
            batch = np.stack([frames[i] for i in indices]) if len(indices) > 1 else frames[indices[0]][None]
            new_h, new_w = fitted_size(placement, size)
            pads = [0, 0, placement.pad_y, placement.pad_x,
                    0, 0, size[0] - new_h - placement.pad_y, size[1] - new_w - placement.pad_x]
            (out,) = self._letterbox.run(
                None,
                {
                    "frames": np.ascontiguousarray(batch),
                    "sizes": np.array([len(indices), 3, new_h, new_w], np.int64),
                    "pads": np.array(pads, np.int64),
                },
            )
            for row, index in enumerate(indices):
                tensors[index] = out[row]
        if not frames:
            return np.zeros((0,), self.input_dtype), []
        return np.stack(tensors), placements  # type: ignore[arg-type]

    def decode(self, output: np.ndarray, params: DecodeParams) -> list[Decoded]:
        """Decode a batch of raw YOLO outputs [B, ...] into each image's kept boxes."""
        assert self._decode is not None, "decode() needs a yolov5/yolov8 model"
        selected, boxes, scores = self._decode.run(
            None,
            {
                "output": np.ascontiguousarray(output, dtype=self._output_dtype),
                "confidence": np.array([params.confidence], np.float32),
                "iou": np.array([params.iou_threshold], np.float32),
                "max_detections": np.array([params.max_detections], np.int64),
            },
        )
        results = []
        for image in range(output.shape[0]):
            mine = selected[:, 0] == image
            class_ids = selected[mine, 1]
            keep = np.ones(class_ids.shape, bool)
            if params.class_ids is not None:
                keep = np.isin(class_ids, list(params.class_ids))
            image_scores = scores[mine][keep]
            order = np.argsort(-image_scores, kind="stable")[: params.max_detections]
            results.append(
                Decoded(
                    boxes[mine][keep][order].astype(np.float32),
                    image_scores[order].astype(np.float32),
                    class_ids[keep][order].astype(np.int64),
                )
            )
        return results


class GraphDecoder(OutputDecoder):
    """An :class:`OutputDecoder` whose YOLO decoding runs the decode graph (same results)."""

    def __init__(self, base: OutputDecoder, graphs: GraphProcessing) -> None:
        super().__init__(base.family, base.outputs)
        self._graphs = graphs

    def detections(self, outputs: Sequence[np.ndarray], params: DecodeParams) -> Decoded:
        """Decode one image's outputs (batch dimension already removed) with the graph."""
        return self._graphs.decode(np.asarray(outputs[0])[None], params)[0]
