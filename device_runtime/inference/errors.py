"""Errors of the inference package.

Each is a subclass of a root in :mod:`device_runtime.errors`, so the API's one
interceptor maps it to a gRPC status without knowing this package.
"""

from __future__ import annotations

from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, SightlineError


class ModelLoadError(InvalidArgument):
    """A model cannot be loaded: corrupt file, unsupported inputs, outputs no decoder fits.

    The message names the model (its path or name) and the problem, e.g.
    ``"models/yolo.onnx: not a valid ONNX model (Protobuf parsing failed.)"``.
    """


class DecoderError(ModelLoadError):
    """A model's outputs fit no decoder family, or not the one that was asked for."""


class ProviderConfigError(InvalidArgument):
    """An execution-provider preference names a provider this runtime does not know."""


class InferenceInputError(InvalidArgument):
    """A call passed images or raw feeds the model cannot take (wrong shape, name or type)."""


class InferenceError(SightlineError):
    """onnxruntime failed while running a model that had loaded fine."""


class ModelClosedError(FailedPrecondition):
    """The session was closed (its model was unloaded) while a caller still used it."""


class ModelConflictError(FailedPrecondition):
    """The same model (name and sha256) was requested with different labels or decoder."""


class UnknownModelError(NotFound, KeyError):
    """No model of that name is loaded. Also a ``KeyError`` so dict-style callers work."""

    def __str__(self) -> str:
        # KeyError.__str__ quotes its argument; a user should read a plain sentence.
        return str(self.args[0]) if self.args else ""
