"""Decoders for the common detector and classifier exports.

B is the batch, N the number of candidate boxes, C the number of classes.
Boxes come out in the model's (letterboxed) input pixels; the session maps
them back to the frame.

===============  =========================================================
family           output tensors
===============  =========================================================
yolov5           one output [B, N, 5+C]: cx, cy, w, h, objectness, C class
                 scores; score = objectness × class score. NMS applied.
yolov8           one output [B, 4+C, N] (YOLOv8/11): cx, cy, w, h, C class
                 scores, one column per candidate. NMS applied.
end2end          one output [B, N, 6]: x1, y1, x2, y2, score, class
                 (YOLOv10, RT-DETR-style exports with NMS inside). No NMS.
ssd              separate outputs named \\*box\\* [B, N, 4] (x1, y1, x2, y2),
                 \\*score\\* [B, N], \\*class\\*/\\*label\\* [B, N], optionally
                 \\*num\\* [B] or [B, 1] (TensorRT EfficientNMS, TF OD style).
                 No NMS.
classification   one output [B, C] (or [B, C, 1, 1]): logits or
                 probabilities; top-k classes.
raw              anything; only :meth:`ModelSession.run_raw` is offered.
===============  =========================================================

A detection is kept when its score is *above* the confidence threshold (as
the ultralytics exporters' own NMS does), so confidence 0 drops empty rows.
end2end and ssd boxes may be normalised (0..1) instead of pixels; that is
detected from the values (no real pixel box lies entirely within 1.5 px).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from device_runtime.inference.errors import DecoderError
from device_runtime.inference.nms import batched_nms
from device_runtime.inference.tensors import TensorSpec, describe_all

FAMILIES = ("yolov5", "yolov8", "end2end", "ssd", "classification", "raw")
DETECTOR_FAMILIES = ("yolov5", "yolov8", "end2end", "ssd")

# End-to-end heads keep a few hundred queries (YOLOv10: 300, RT-DETR: 300);
# an anchor-based YOLOv5 head with one class has thousands of rows.
_END2END_MAX_ROWS = 1000
# Candidates kept for NMS after the confidence filter (ultralytics uses the same cap).
_MAX_NMS_CANDIDATES = 30000
_NORMALISED_LIMIT = 1.5


@dataclass(frozen=True)
class DecodeParams:
    """What a caller asked for: thresholds, class filter, limits, and the input size."""

    confidence: float
    class_ids: frozenset[int] | None
    iou_threshold: float
    max_detections: int
    top_k: int
    input_size: tuple[int, int]  # (height, width) of the model input


@dataclass
class Decoded:
    """Detections of one image in model-input pixels: boxes N×4 (x1,y1,x2,y2), scores, classes."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    @classmethod
    def empty(cls) -> Decoded:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def _xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    half_w, half_h = xywh[:, 2] / 2, xywh[:, 3] / 2
    return np.stack(
        [xywh[:, 0] - half_w, xywh[:, 1] - half_h, xywh[:, 0] + half_w, xywh[:, 1] + half_h],
        axis=1,
    )


def _select(boxes, scores, class_ids, params: DecodeParams, *, suppress: bool) -> Decoded:
    """Apply the confidence and class filters, then NMS (for heads without it)."""
    keep = scores > params.confidence
    if params.class_ids is not None:
        keep &= np.isin(class_ids, list(params.class_ids))
    boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
    if scores.size > _MAX_NMS_CANDIDATES:
        top = np.argpartition(-scores, _MAX_NMS_CANDIDATES)[:_MAX_NMS_CANDIDATES]
        boxes, scores, class_ids = boxes[top], scores[top], class_ids[top]
    if suppress:
        order = batched_nms(boxes, scores, class_ids, params.iou_threshold, params.max_detections)
    else:
        order = np.argsort(-scores, kind="stable")[: params.max_detections]
    return Decoded(
        boxes[order].astype(np.float32),
        scores[order].astype(np.float32),
        class_ids[order].astype(np.int64),
    )


def _to_pixels(boxes: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    if boxes.size and float(np.abs(boxes).max()) <= _NORMALISED_LIMIT:
        height, width = input_size
        return boxes * np.array([width, height, width, height], dtype=boxes.dtype)
    return boxes


def decode_yolov5(output: np.ndarray, params: DecodeParams) -> Decoded:
    """One image's [N, 5+C] rows: cx, cy, w, h, objectness, class scores."""
    rows = np.asarray(output, dtype=np.float32).reshape(-1, output.shape[-1])
    # score = objectness × class score <= objectness: drop most rows before the product.
    rows = rows[rows[:, 4] > params.confidence]
    class_scores = rows[:, 5:] * rows[:, 4:5]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    return _select(_xywh_to_xyxy(rows[:, :4]), scores, class_ids, params, suppress=True)


def decode_yolov8(output: np.ndarray, params: DecodeParams) -> Decoded:
    """One image's [4+C, N] columns: cx, cy, w, h, class scores."""
    columns = np.asarray(output, dtype=np.float32).reshape(output.shape[-2], -1)
    best = columns[4:].max(axis=0)
    columns = columns[:, best > params.confidence]
    class_ids = columns[4:].argmax(axis=0)
    scores = columns[4:][class_ids, np.arange(columns.shape[1])]
    return _select(_xywh_to_xyxy(columns[:4].T), scores, class_ids, params, suppress=True)


def decode_end2end(output: np.ndarray, params: DecodeParams) -> Decoded:
    """One image's [N, 6] rows: x1, y1, x2, y2, score, class (NMS already done)."""
    rows = np.asarray(output, dtype=np.float32).reshape(-1, 6)
    rows = rows[rows[:, 4] > params.confidence]
    boxes = _to_pixels(rows[:, :4], params.input_size)
    return _select(boxes, rows[:, 4], np.rint(rows[:, 5]).astype(np.int64), params, suppress=False)


def decode_ssd(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    count: np.ndarray | None,
    params: DecodeParams,
) -> Decoded:
    """One image's boxes [N, 4], scores [N], classes [N] and optional valid count."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    classes = np.rint(np.asarray(classes, dtype=np.float64).reshape(-1)).astype(np.int64)
    if count is not None:
        valid = int(np.asarray(count).reshape(-1)[0])
        boxes, scores, classes = boxes[:valid], scores[:valid], classes[:valid]
    keep = scores > params.confidence
    boxes = _to_pixels(boxes[keep], params.input_size)
    return _select(boxes, scores[keep], classes[keep], params, suppress=False)


def decode_classification(output: np.ndarray, params: DecodeParams) -> list[tuple[int, float]]:
    """One image's class scores [C] (logits or probabilities): the best ``top_k``, best first."""
    values = np.asarray(output, dtype=np.float64).reshape(-1)
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        # Logits: softmax. Values already in 0..1 are probabilities (softmax or sigmoid).
        exp = np.exp(values - values.max())
        values = exp / exp.sum()
    order = np.argsort(-values, kind="stable")
    picked = []
    for class_id in order:
        if len(picked) >= params.top_k or values[class_id] <= params.confidence:
            break
        if params.class_ids is None or int(class_id) in params.class_ids:
            picked.append((int(class_id), float(values[class_id])))
    return picked


def _ssd_roles_by_name(outputs: Sequence[TensorSpec]) -> dict[str, int] | None:
    roles: dict[str, int] = {}
    for index, spec in enumerate(outputs):
        name = spec.name.lower()
        for role, words in (
            ("count", ("num",)),
            ("boxes", ("box",)),
            ("scores", ("score", "conf")),
            ("classes", ("class", "label")),
        ):
            if role not in roles and any(word in name for word in words):
                roles[role] = index
                break
    return roles if {"boxes", "scores", "classes"} <= roles.keys() else None


def _ssd_roles_by_shape(outputs: Sequence[TensorSpec]) -> dict[str, int] | None:
    roles: dict[str, int] = {}
    pairs = []
    for index, spec in enumerate(outputs):
        if len(spec.shape) == 3 and spec.shape[-1] == 4 and "boxes" not in roles:
            roles["boxes"] = index
        elif len(spec.shape) == 1 or (len(spec.shape) == 2 and spec.shape[-1] == 1):
            roles.setdefault("count", index)
        elif len(spec.shape) == 2:
            pairs.append(index)
    if "boxes" not in roles or len(pairs) < 2:
        return None
    roles["scores"], roles["classes"] = pairs[0], pairs[1]
    return roles


def detect_family(inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> str:
    """Guess the family of a model from its outputs' names and shapes.

    Shapes should be concrete (the session passes those seen in its warm-up
    run). Raises :class:`DecoderError` when no family fits.
    """
    if _ssd_roles_by_name(outputs) is not None:
        return "ssd"
    if len(outputs) == 1:
        shape = outputs[0].shape
        if len(shape) == 2 or (len(shape) == 4 and shape[2:] == (1, 1)):
            return "classification"
        if len(shape) == 3 and -1 not in shape[1:]:
            rows, cols = shape[1], shape[2]
            if cols == 6 and rows <= _END2END_MAX_ROWS:
                return "end2end"
            # The per-candidate vector (4+C or 5+C) is the smaller of the two dims.
            if rows > cols >= 6:
                return "yolov5"
            if cols > rows >= 5:
                return "yolov8"
    raise DecoderError(
        f"cannot tell the output format from outputs {describe_all(outputs)}; expected "
        "yolov5 [B,N,5+C], yolov8 [B,4+C,N], end2end [B,N,6], ssd (outputs named *boxes*, "
        "*scores*, *classes*), or classification [B,C]. Set the decoder explicitly "
        "(one of " + ", ".join(FAMILIES) + "; 'raw' loads it for code apps' raw runs only)"
    )


class OutputDecoder:
    """Decodes one image's outputs for a given family; built once per model."""

    def __init__(self, family: str, outputs: Sequence[TensorSpec]):
        if family not in FAMILIES:
            raise DecoderError(f"unknown decoder {family!r}; expected one of {', '.join(FAMILIES)}")
        self.family = family
        self.outputs = list(outputs)
        self._ssd_roles: dict[str, int] = {}
        if family == "ssd":
            roles = _ssd_roles_by_name(outputs) or _ssd_roles_by_shape(outputs)
            if roles is None:
                raise DecoderError(
                    "decoder 'ssd' needs outputs boxes [B,N,4], scores [B,N] and classes [B,N] "
                    f"(named *box*, *score*, *class*, optional *num*); got {describe_all(outputs)}"
                )
            self._ssd_roles = roles
        self.check([spec.shape for spec in outputs])

    @property
    def is_detector(self) -> bool:
        return self.family in DETECTOR_FAMILIES

    def check(self, shapes: Sequence[Sequence[int]]) -> None:
        """Raise :class:`DecoderError` when concrete output ``shapes`` do not fit the family."""
        if self.family == "raw":
            return
        if self.family == "ssd":
            self._check_ssd(shapes)
            return
        shape = tuple(shapes[0])
        # YOLO heads have far more candidates N than values per candidate (4+C, 5+C).
        expected = {
            "yolov5": (len(shape) == 3 and _fewer(6, shape[2], shape[1]), "[B,N,5+C] with N > 5+C"),
            "yolov8": (len(shape) == 3 and _fewer(5, shape[1], shape[2]), "[B,4+C,N] with N > 4+C"),
            "end2end": (len(shape) == 3 and shape[2] in (6, -1), "[B,N,6]"),
            "classification": (
                len(shape) == 2 or (len(shape) == 4 and shape[2:] in ((1, 1), (-1, -1))),
                "[B,C]",
            ),
        }
        ok, layout = expected[self.family]
        if not ok:
            first = self.outputs[0].with_shape(shape) if self.outputs else None
            raise DecoderError(
                f"decoder {self.family!r} expects its first output shaped {layout}; "
                f"got {first.describe() if first else 'no outputs'}"
            )

    def _check_ssd(self, shapes: Sequence[Sequence[int]]) -> None:
        boxes = tuple(shapes[self._ssd_roles["boxes"]])
        scores = tuple(shapes[self._ssd_roles["scores"]])
        classes = tuple(shapes[self._ssd_roles["classes"]])
        fits = (
            len(boxes) == 3
            and boxes[2] in (4, -1)
            and len(scores) == 2
            and len(classes) == 2
            and _same(boxes[1], scores[1])
            and _same(scores[1], classes[1])
        )
        if not fits:
            described = describe_all(
                [s.with_shape(d) for s, d in zip(self.outputs, shapes, strict=False)]
            )
            raise DecoderError(
                "decoder 'ssd' expects boxes [B,N,4], scores [B,N] and classes [B,N] with the "
                f"same N; got {described}"
            )

    def num_classes(self, shapes: Sequence[Sequence[int]]) -> int | None:
        """How many classes the model scores, where the layout says so."""
        if not shapes:
            return None
        shape = tuple(shapes[0])
        count = {
            "yolov5": shape[-1] - 5 if len(shape) == 3 else -1,
            "yolov8": shape[1] - 4 if len(shape) == 3 else -1,
            "classification": shape[1] if len(shape) >= 2 else -1,
        }.get(self.family, -1)
        return count if count > 0 else None

    def detections(self, outputs: Sequence[np.ndarray], params: DecodeParams) -> Decoded:
        """Decode one image's outputs (batch dimension already removed)."""
        if self.family == "yolov5":
            return decode_yolov5(outputs[0], params)
        if self.family == "yolov8":
            return decode_yolov8(outputs[0], params)
        if self.family == "end2end":
            return decode_end2end(outputs[0], params)
        if self.family == "ssd":
            roles = self._ssd_roles
            count = outputs[roles["count"]] if "count" in roles else None
            return decode_ssd(
                outputs[roles["boxes"]],
                outputs[roles["scores"]],
                outputs[roles["classes"]],
                count,
                params,
            )
        return Decoded.empty()

    def classes(
        self, outputs: Sequence[np.ndarray], params: DecodeParams
    ) -> list[tuple[int, float]]:
        """Top classes of one image for a classification model; empty for other families."""
        if self.family != "classification":
            return []
        return decode_classification(outputs[0], params)


def _fewer(minimum: int, values: int, candidates: int) -> bool:
    """``minimum <= values < candidates``, where -1 (dynamic) fits anything."""
    if values != -1 and values < minimum:
        return False
    return values == -1 or candidates == -1 or values < candidates


def _same(a: int, b: int) -> bool:
    return a == -1 or b == -1 or a == b
