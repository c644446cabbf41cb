"""Loading a model file into onnxruntime and reading what it expects.

Everything here runs once, at load, and turns onnxruntime's failures into
:class:`ModelLoadError` messages that name the model and the problem.
"""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from device_runtime.inference.errors import ModelLoadError
from device_runtime.inference.providers import clean_ort_message
from device_runtime.inference.tensors import TensorSpec, describe_all

IMAGE_TYPES = ("float32", "float16", "float64", "uint8")


@dataclass(frozen=True)
class ModelBytes:
    """A model's bytes (or path, for models with external data) and identity."""

    source: str  # how messages name it: the path, or the model name for uploads
    load_from: str | bytes  # what onnxruntime is given
    sha256: str
    size: int
    path: Path | None


def read_model(model: str | os.PathLike | bytes, name: str | None) -> ModelBytes:
    """Read a model from a path or bytes and hash it; reject missing and empty files."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        source = name or "<model bytes>"
        path = None
        load_from: str | bytes = data
    else:
        path = Path(model)
        source = str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelLoadError(f"{source}: no such model file") from None
        except OSError as exc:
            raise ModelLoadError(f"{source}: cannot read the model file ({exc.strerror})") from exc
        # The path, not the bytes: a model with external weight files needs its folder.
        load_from = str(path)
    if not data:
        raise ModelLoadError(f"{source}: not a valid ONNX model (the file is empty)")
    return ModelBytes(source, load_from, hashlib.sha256(data).hexdigest(), len(data), path)


def describe_load_failure(source: str, exc: Exception) -> ModelLoadError:
    """The :class:`ModelLoadError` for an exception onnxruntime raised while loading."""
    message = clean_ort_message(str(exc))
    kind = type(exc).__name__
    if kind == "InvalidProtobuf" or "No graph was found" in message:
        return ModelLoadError(f"{source}: not a valid ONNX model ({message})")
    return ModelLoadError(
        f"{source}: onnxruntime {ort.__version__} cannot load this model ({message})"
    )


@dataclass(frozen=True)
class ImageInput:
    """The single image input of a detector or classifier."""

    spec: TensorSpec
    channels_first: bool  # N×3×H×W (True) or N×H×W×3
    size: tuple[int, int]  # (height, width) frames are letterboxed to
    fixed_batch: int | None  # None when the batch dimension is dynamic

    def shape_for(self, batch: int) -> tuple[int, ...]:
        height, width = self.size
        return (batch, 3, height, width) if self.channels_first else (batch, height, width, 3)


def image_input(
    source: str,
    inputs: list[TensorSpec],
    requested_size: tuple[int, int] | None,
    metadata_size: tuple[int, int] | None,
    default_size: tuple[int, int],
) -> ImageInput:
    """Check a detector/classifier model has one image input and work out its size.

    Raises :class:`ModelLoadError` naming the input and its shape when the
    model wants something a camera frame cannot become.
    """
    raw_hint = "; load it with decoder 'raw' to call it from a code app instead"
    if len(inputs) != 1:
        raise ModelLoadError(
            f"{source}: detector and classifier models need exactly one image input "
            f"[N,3,H,W]; this model has {len(inputs)}: {describe_all(inputs)}{raw_hint}"
        )
    spec = inputs[0]
    shape = spec.shape
    if len(shape) != 4:
        raise ModelLoadError(
            f"{source}: input {spec.describe()} is {len(shape)}-D; expected an image batch "
            f"[N,3,H,W] (or [N,H,W,3]){raw_hint}"
        )
    if shape[1] in (3, -1):
        channels_first, height, width = True, shape[2], shape[3]
    elif shape[3] == 3:
        channels_first, height, width = False, shape[1], shape[2]
    else:
        raise ModelLoadError(
            f"{source}: input {spec.describe()} has {shape[1]} channels; expected 3 (RGB) in "
            f"[N,3,H,W] (or [N,H,W,3]){raw_hint}"
        )
    if spec.type not in IMAGE_TYPES:
        raise ModelLoadError(
            f"{source}: input {spec.describe()} has element type {spec.type}; expected one of "
            f"{', '.join(IMAGE_TYPES)}{raw_hint}"
        )
    fixed = (height, width) if height > 0 and width > 0 else None
    if requested_size and fixed and tuple(requested_size) != fixed:
        raise ModelLoadError(
            f"{source}: input size {list(requested_size)} was asked for, but input "
            f"{spec.describe()} is fixed at {list(fixed)}"
        )
    size = fixed or requested_size or metadata_size or default_size
    if height > 0:
        size = (height, size[1])
    if width > 0:
        size = (size[0], width)
    return ImageInput(
        spec, channels_first, (int(size[0]), int(size[1])), shape[0] if shape[0] > 0 else None
    )


@dataclass(frozen=True)
class ExportMetadata:
    """What exporters (ultralytics) leave in the model's metadata: class names, image size."""

    labels: list[str]
    input_size: tuple[int, int] | None


def export_metadata(session: ort.InferenceSession) -> ExportMetadata:
    """Read ultralytics-style ``names`` and ``imgsz`` entries; empty when absent or unreadable."""
    try:
        entries = session.get_modelmeta().custom_metadata_map or {}
    except Exception:  # metadata is a convenience; a model without it is fine
        return ExportMetadata([], None)
    labels: list[str] = []
    size = None
    names = _literal(entries.get("names"))
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        labels = [str(names.get(i, i)) for i in range(max(names) + 1)] if names else []
    elif isinstance(names, (list, tuple)):
        labels = [str(n) for n in names]
    imgsz = _literal(entries.get("imgsz"))
    if isinstance(imgsz, int):
        size = (imgsz, imgsz)
    elif (
        isinstance(imgsz, (list, tuple))
        and len(imgsz) == 2
        and all(isinstance(v, int) for v in imgsz)
    ):
        size = (imgsz[0], imgsz[1])
    return ExportMetadata(labels, size)


def _literal(text):
    if not text:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
