"""Descriptions of a model's input and output tensors, as the API reports them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from device_runtime.inference.errors import InferenceInputError

# onnxruntime's type strings -> numpy dtype names (what TensorSpec.type holds).
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(bfloat16)": "bfloat16",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(uint16)": "uint16",
    "tensor(int16)": "int16",
    "tensor(uint32)": "uint32",
    "tensor(int32)": "int32",
    "tensor(uint64)": "uint64",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, shape (-1 where dynamic) and element type."""

    name: str
    shape: tuple[int, ...]
    type: str

    @classmethod
    def from_ort(cls, node) -> TensorSpec:
        """From an onnxruntime ``NodeArg`` (``session.get_inputs()[i]``)."""
        shape = tuple(dim if isinstance(dim, int) and dim >= 0 else -1 for dim in node.shape or ())
        return cls(node.name, shape, _ORT_TYPES.get(node.type, node.type))

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the elements; raises TypeError for types numpy lacks."""
        return np.dtype(self.type)

    def with_shape(self, shape: Sequence[int]) -> TensorSpec:
        """The same tensor with a concrete shape (as seen in an actual run)."""
        return TensorSpec(self.name, tuple(int(dim) for dim in shape), self.type)

    def describe(self) -> str:
        """``'images' [-1,3,640,640] float32``: how error messages name a tensor."""
        dims = ",".join(str(dim) for dim in self.shape)
        return f"'{self.name}' [{dims}] {self.type}"


def describe_all(specs: Sequence[TensorSpec]) -> str:
    """All tensors of one side of a model, for error messages."""
    return ", ".join(spec.describe() for spec in specs) or "(none)"


def check_feeds(
    model: str, inputs: Sequence[TensorSpec], feeds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Check raw-run ``feeds`` against a model's ``inputs``; float arrays are converted.

    Raises :class:`InferenceInputError` naming the model and the input for a
    missing or unknown name, another rank, a fixed dimension that differs, or
    a non-float array where another type is expected.
    """
    expected = {spec.name: spec for spec in inputs}
    unknown = sorted(set(feeds) - set(expected))
    missing = sorted(set(expected) - set(feeds))
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown input(s) {unknown}")
        if missing:
            problems.append(f"missing input(s) {missing}")
        raise InferenceInputError(
            f"model {model!r}: {' and '.join(problems)}; it takes {describe_all(inputs)}"
        )
    prepared = {}
    for name, value in feeds.items():
        spec = expected[name]
        array = np.asarray(value)
        try:
            wanted = np.dtype(spec.type)
        except TypeError:  # bfloat16, strings: numpy has no such dtype; onnxruntime judges
            wanted = None
        if wanted is not None and array.dtype != wanted:
            if array.dtype.kind == "f" and wanted.kind == "f":
                array = array.astype(spec.type)
            else:
                raise InferenceInputError(
                    f"model {model!r}: input '{name}' got dtype {array.dtype}; expected {spec.type}"
                )
        fits = array.ndim == len(spec.shape) and all(
            want < 0 or want == got for want, got in zip(spec.shape, array.shape, strict=True)
        )
        if not fits:
            raise InferenceInputError(
                f"model {model!r}: input '{name}' got shape {list(array.shape)}; "
                f"expected {list(spec.shape)} (-1: any size)"
            )
        prepared[name] = array
    return prepared
