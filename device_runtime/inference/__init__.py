"""Inference: one onnxruntime session per model, shared by every app and stream.

Start with :class:`ModelRegistry` (apps acquire and release models by name)
or :class:`ModelSession` (one model: ``infer`` frames, or ``run_raw`` arrays).
``providers`` chooses execution providers GPU-first by probing what loads;
``decoders`` lists the output layouts understood.
"""

from __future__ import annotations

from device_runtime.inference.decoders import FAMILIES, detect_family
from device_runtime.inference.errors import (
    DecoderError,
    InferenceError,
    InferenceInputError,
    ModelClosedError,
    ModelConflictError,
    ModelLoadError,
    ProviderConfigError,
    UnknownModelError,
)
from device_runtime.inference.pending import PendingInference
from device_runtime.inference.providers import (
    ProviderChoice,
    ProviderStatus,
    available_providers,
    compiled_providers,
    resolve_preference,
)
from device_runtime.inference.registry import ModelRegistry, ModelUse
from device_runtime.inference.session import ModelDescription, ModelSession
from device_runtime.inference.settings import SessionSettings, physical_cores
from device_runtime.inference.tensors import TensorSpec

__all__ = [
    "FAMILIES",
    "DecoderError",
    "InferenceError",
    "InferenceInputError",
    "ModelClosedError",
    "ModelConflictError",
    "ModelLoadError",
    "ModelDescription",
    "ModelRegistry",
    "ModelSession",
    "ModelUse",
    "PendingInference",
    "ProviderChoice",
    "ProviderConfigError",
    "ProviderStatus",
    "SessionSettings",
    "TensorSpec",
    "UnknownModelError",
    "available_providers",
    "compiled_providers",
    "detect_family",
    "physical_cores",
    "resolve_preference",
]
