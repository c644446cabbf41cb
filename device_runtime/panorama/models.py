"""Model nodes: an ONNX export checked against the node's descriptor, served by the shared registry.

Panorama compiled each model node with SageMaker Neo from the framework's
own file. Sightline takes an ONNX export of the same network instead and
checks it against ``descriptor.json``: every input the descriptor names must
exist in the ONNX file with the same rank and the same fixed dimensions
(a dynamic ONNX dimension accepts any size). The session is acquired from the
device's :class:`~device_runtime.inference.registry.ModelRegistry`, so an app
and a detector app on the same model share one session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device_runtime.errors import InvalidArgument
from device_runtime.inference.errors import ModelLoadError
from device_runtime.inference.session import ModelSession
from device_runtime.protocol.panorama.project import ModelNode, descriptor_problems


class ModelMismatch(InvalidArgument):
    """An ONNX file does not fit its model node's descriptor."""


def check_model_file(node: ModelNode, path: Path, source: str | None = None) -> None:
    """Load ``path`` on the CPU and compare it with the descriptor; :class:`ModelMismatch` if it differs."""
    label = source or path.name
    try:
        description = ModelSession.inspect(path, name=node.name, decoder="raw")
    except ModelLoadError as exc:
        raise ModelMismatch(f"model node '{node.name}': {exc}") from None
    problems = descriptor_problems(node, [(t.name, t.shape, t.describe()) for t in description.inputs], label)
    if problems:
        raise ModelMismatch("\n".join(problems))


def acquire_model(registry: Any, name: str, path: Path, *, sha256: str | None = None, labels: Any = None, decoder: str | None = None) -> ModelSession:
    """The shared session of a model file, loaded as a detector would load it when that works.

    Detector apps acquire with their manifest's labels and decoder (usually
    none); acquiring with the same options shares their session. A model no
    detector decoder fits (a classifier with its own output, a segmenter) is
    loaded as "raw".
    """
    try:
        return registry.acquire(name, path, labels=labels, decoder=decoder, sha256=sha256)
    except ModelLoadError:
        if decoder == "raw":
            raise
        return registry.acquire(name, path, decoder="raw", sha256=sha256)
