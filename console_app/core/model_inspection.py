"""Judging a model the way the device will: load it with the device's own inference code.

The console imports :mod:`device_runtime.inference` (and nothing else from the
device side) so that "this model works" in the console means exactly what it
means on an appliance: :func:`inspect_model` runs ``ModelSession.inspect`` on
the CPU provider (the same input checks, warm-up run and decoder detection the
device does at deploy), and :func:`test_on_image` runs a real
:class:`ModelSession` on a camera snapshot, letterbox, decoder and NMS
included, so the boxes the engineer sees are the boxes the device would draw.

The opset is read from the file's protobuf header without the ``onnx``
package (a developer dependency only): a ModelProto's top-level fields are
walked and the large graph field skipped unread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from device_runtime.inference import FAMILIES, ModelLoadError, ModelSession, SessionSettings
from device_runtime.inference.errors import DecoderError, InferenceError, InferenceInputError

#: The decoder families the device understands, in the order the UI offers them.
DECODER_FAMILIES: tuple[str, ...] = tuple(FAMILIES)

# One thread, one image at a time: a test run on the workstation must not hog its cores.
_TEST_SETTINGS = SessionSettings(providers=("cpu",), intra_op_threads=1, max_batch=1)


class ModelRejected(ValueError):
    """A file the library refuses: not ONNX, no usable output, or an input no camera gives.

    The message names the file and the problem, in the device's own words where
    the device would refuse it too.
    """


class ModelTestError(RuntimeError):
    """A test run on a snapshot failed (unreadable image, onnxruntime error)."""


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of a model: name, shape (-1 where dynamic), element type."""

    name: str
    shape: tuple[int, ...]
    type: str

    def describe(self) -> str:
        """``images [1,3,240,320] float32``: how the library table shows a tensor."""
        dims = ",".join("?" if d < 0 else str(d) for d in self.shape)
        return f"{self.name} [{dims}] {self.type}"

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "type": self.type}

    @classmethod
    def from_json(cls, data: dict) -> TensorInfo:
        return cls(str(data["name"]), tuple(int(d) for d in data["shape"]), str(data["type"]))


@dataclass(frozen=True)
class ModelInspection:
    """What the device would report about a model: tensors, opset, decoder, labels, size."""

    sha256: str
    size: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    opset: int | None
    decoder: str
    labels: tuple[str, ...]  # stored in the model by its exporter; may be empty
    input_size: tuple[int, int] | None  # (height, width) frames are letterboxed to


@dataclass(frozen=True)
class SnapshotDetection:
    """One box found on the snapshot, in the snapshot's pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    label: str


@dataclass(frozen=True)
class ModelTestResult:
    """The outcome of :func:`test_on_image`: boxes (detectors) or top classes (classifiers)."""

    detections: tuple[SnapshotDetection, ...]
    classes: tuple[tuple[str, float], ...] = ()
    decoder: str = ""
    inference_ms: float = 0.0
    image_size: tuple[int, int] = (0, 0)  # (width, height)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the UI: what was found and how long it took."""
        if self.decoder == "classification":
            top = ", ".join(f"{name} {score:.2f}" for name, score in self.classes[:3])
            return f"top classes: {top or 'none'} ({self.inference_ms:.0f} ms on the CPU)"
        counts: dict[str, int] = {}
        for det in self.detections:
            counts[det.label] = counts.get(det.label, 0) + 1
        found = ", ".join(f"{n} × {label}" for label, n in sorted(counts.items()))
        return (
            f"{len(self.detections)} detection(s){': ' + found if found else ''} "
            f"({self.inference_ms:.0f} ms on the CPU)"
        )


def inspect_model(
    path: str | os.PathLike,
    *,
    decoder: str | None = None,
    labels: Sequence[str] | None = None,
    shown_as: str | None = None,
) -> ModelInspection:
    """Load ``path`` on the CPU exactly as the device would at deploy, and describe it.

    ``decoder`` forces an output family (one of :data:`DECODER_FAMILIES`);
    otherwise it is detected from the output shapes. ``shown_as`` is how
    messages name the model (e.g. its S3 URI instead of a temporary file).
    Raises :class:`ModelRejected` for a file that is not ONNX, whose outputs
    fit no decoder (or not the one asked for), or whose input a camera frame
    cannot become.
    """
    path = Path(path)
    source = shown_as or str(path)
    if decoder is not None and decoder not in DECODER_FAMILIES:
        raise ModelRejected(
            f"{source}: unknown decoder {decoder!r}; expected one of {', '.join(DECODER_FAMILIES)}"
        )
    try:
        description = ModelSession.inspect(path, labels=labels or None, decoder=decoder)
    except ModelLoadError as exc:
        no_usable_output = isinstance(exc, DecoderError) or isinstance(exc.__cause__, DecoderError)
        lead = "has no output the device can use" if no_usable_output else ""
        raise ModelRejected(_renamed(exc, path, source, lead)) from None
    return ModelInspection(
        sha256=description.sha256,
        size=description.size,
        inputs=tuple(_tensor(spec) for spec in description.inputs),
        outputs=tuple(_tensor(spec) for spec in description.outputs),
        opset=read_opset(path),
        decoder=description.decoder,
        labels=tuple(description.labels),
        input_size=description.input_size,
    )


def _renamed(exc: Exception, path: Path, source: str, lead: str = "") -> str:
    """The device's message with the temporary path replaced by what the engineer knows."""
    message = str(exc).replace(str(path), source)
    if not message.startswith(source):
        message = f"{source}: {message}"
    if lead:
        message = message.replace(f"{source}: ", f"{source} {lead}: ", 1)
    return message


def _tensor(spec) -> TensorInfo:
    return TensorInfo(spec.name, tuple(int(d) for d in spec.shape), spec.type)


def test_on_image(
    model_path: str | os.PathLike,
    image_bgr: np.ndarray,
    *,
    decoder: str | None = None,
    labels: Sequence[str] | None = None,
    confidence: float = 0.25,
) -> ModelTestResult:
    """Run the model on one BGR picture with the device's session code (CPU) and return the boxes.

    Boxes are in ``image_bgr``'s pixels, labelled with ``labels`` (or the
    model's own). Raises :class:`ModelRejected` when the model cannot load
    and :class:`ModelTestError` for a picture that is not H×W×3 uint8 or a
    failed run.
    """
    image = np.asarray(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ModelTestError(
            f"the snapshot must be an H×W×3 8-bit colour picture; got shape "
            f"{list(image.shape)} of {image.dtype}"
        )
    try:
        session = ModelSession(
            model_path, labels=labels or None, decoder=decoder, settings=_TEST_SETTINGS
        )
    except ModelLoadError as exc:
        raise ModelRejected(str(exc)) from None
    try:
        if session.decoder == "raw":
            raise ModelTestError(
                f"{session.name}: decoder 'raw' gives no boxes to draw; set the decoder to the "
                "model's output family to test it on a snapshot"
            )
        started = time.perf_counter()
        try:
            result = session.infer([image], confidence=confidence)[0]
        except (InferenceError, InferenceInputError) as exc:
            raise ModelTestError(f"{session.name}: {exc}") from None
        elapsed = (time.perf_counter() - started) * 1000.0
        detections = tuple(
            SnapshotDetection(
                float(d.x1), float(d.y1), float(d.x2), float(d.y2), float(d.score),
                int(d.class_id), d.label or session.label_of(int(d.class_id)),
            )
            for d in result.detections
        )
        classes = tuple((session.label_of(cid), float(score)) for cid, score in result.classes)
        return ModelTestResult(
            detections=detections,
            classes=classes,
            decoder=session.decoder,
            inference_ms=float(result.timings_ms.get("inference", elapsed)),
            image_size=(int(image.shape[1]), int(image.shape[0])),
            timings_ms=dict(result.timings_ms),
        )
    finally:
        session.close()




def decode_image(data: bytes, shown_as: str = "the snapshot") -> np.ndarray:
    """JPEG/PNG/BMP bytes → BGR array; :class:`ModelTestError` naming ``shown_as`` if unreadable."""
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None
    if image is None:
        raise ModelTestError(f"{shown_as} is not a picture OpenCV can read (JPEG, PNG, BMP…)")
    return image


def read_image_file(path: str | os.PathLike) -> np.ndarray:
    """Read a snapshot file as BGR; :class:`ModelTestError` naming the file on failure."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelTestError(f"cannot read the picture {path}: {exc.strerror or exc}") from None
    return decode_image(data, str(path))


# Distinct, readable on grey belts and dark floors; index = class id modulo length.
_PALETTE_BGR = ((56, 56, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
                (187, 212, 23), (255, 194, 0), (255, 115, 100), (236, 24, 0), (255, 56, 132))


def class_colour(class_id: int) -> tuple[int, int, int]:
    """The BGR colour boxes of ``class_id`` are drawn in."""
    return _PALETTE_BGR[class_id % len(_PALETTE_BGR)]


def draw_detections(image_bgr: np.ndarray, result: ModelTestResult) -> np.ndarray:
    """A copy of the picture with the boxes and their labels drawn (the input is left as is)."""
    canvas = np.ascontiguousarray(image_bgr).copy()
    thickness = max(2, round(min(canvas.shape[:2]) / 240))
    for det in result.detections:
        colour = class_colour(det.class_id)
        top_left = (int(round(det.x1)), int(round(det.y1)))
        cv2.rectangle(canvas, top_left, (int(round(det.x2)), int(round(det.y2))), colour, thickness)
        text = f"{det.label} {det.score:.2f}"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        y = max(h + base, top_left[1])
        cv2.rectangle(canvas, (top_left[0], y - h - base), (top_left[0] + w, y), colour, -1)
        cv2.putText(canvas, text, (top_left[0], y - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


# ---------------------------------------------------------------------------- opset

_MODEL_OPSET_FIELD = 8  # ModelProto.opset_import (repeated OperatorSetIdProto)
_OPSET_DOMAIN_FIELD, _OPSET_VERSION_FIELD = 1, 2


def read_opset(path: str | os.PathLike) -> int | None:
    """The default-domain ("" / ai.onnx) opset of an ONNX file; None if it cannot be read."""
    try:
        data = Path(path).read_bytes()
        opsets = _opset_imports(data)
    except (OSError, ValueError, IndexError):
        return None
    for domain in ("", "ai.onnx"):
        if domain in opsets:
            return opsets[domain]
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes):
    """(field number, wire type, value) of one protobuf message; length-delimited as bytes."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise ValueError("truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _opset_imports(data: bytes) -> dict[str, int]:
    opsets: dict[str, int] = {}
    for number, wire, value in _fields(data):
        if number != _MODEL_OPSET_FIELD or wire != 2:
            continue
        domain, version = "", 0
        for inner, inner_wire, inner_value in _fields(value):
            if inner == _OPSET_DOMAIN_FIELD and inner_wire == 2:
                domain = bytes(inner_value).decode("utf-8", "replace")
            elif inner == _OPSET_VERSION_FIELD and inner_wire == 0:
                version = int(inner_value)
        opsets[domain] = version
    return opsets
