"""The ``panorama`` app kind's manifest: a Panorama project folder inside a Sightline package.

A package holds ``app.json`` and the unchanged Panorama project under
``project/`` (graphs/, packages/, assets/). The manifest says how it is
deployed on this device: which registered cameras feed which camera node,
which ONNX export (bundled, or a model already on the device) serves each
model node, the parameter values, and the code nodes' resource limits::

    {"schema": "sightline.app/v1", "kind": "panorama", "id": "dock-counter", "name": "Dock counter",
     "version": "1.0.0",
     "cameras": [{"id": "dock-cam", "url": "rtsp://10.0.0.5/stream1"}],
     "bindings": {"camera_node": ["dock-cam"]},
     "models": {"model_node": {"file": "models/detector.onnx"}},
     "params": {"min_score": 0.6},
     "limits": {"memory_mb": 1024, "cpu_cores": 2}}

Importing this module registers the kind's manifest for parsing (the
console and the device both); the device attaches its runner in
``device_runtime.panorama.kind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.manifest import AppManifestBase, load_json_object, register_manifest_kind
from device_runtime.protocol.apps.specs import ModelSpec
from device_runtime.protocol.apps.validation import (
    FieldProblems,
    StrictModel,
    describe_validation_error,
    show_value,
)

ParamValue = bool | int | float | str


class CodeNodeLimits(StrictModel):
    """Resources each code-node process of the app may use."""

    memory_mb: int = Field(
        default=2048, ge=128, le=262144, title="Memory (MiB)",
        description="Address-space limit per code-node process; past it allocations fail and the node restarts.",
    )
    cpu_cores: int = Field(
        default=0, ge=0, le=1024, title="CPU cores",
        description="How many cores a code node may run on; 0: all of them.",
    )


class PanoramaManifest(AppManifestBase):
    """A Panorama-compatible code app."""

    kind: Literal["panorama"] = Field(
        title="App kind", description="'panorama': an AWS Panorama project run as is, one process per code node."
    )
    project: str = Field(
        default="project", title="Project folder",
        description="Folder in the package that holds the Panorama project (graphs/, packages/).",
    )
    graph: str = Field(
        default="", title="Graph", description="graph.json inside the project; empty: the first under graphs/."
    )
    overrides: list[str] = Field(
        default_factory=list, title="Override files", description="Override files inside the project, applied in order."
    )
    bindings: dict[str, list[str]] = Field(
        default_factory=dict, title="Camera bindings",
        description="Camera node (or a concrete camera an override bound) → ids of this manifest's cameras. "
        "Empty with one camera node: every camera feeds it.",
    )
    paused: list[str] = Field(
        default_factory=list, title="Paused cameras",
        description="Camera ids that start paused (Panorama's onSignal); resumed from the console.",
    )
    models: dict[str, ModelSpec] = Field(
        default_factory=dict, title="Models",
        description="Model node → its ONNX export: bundled ('file') or on the device ('name'). A node not "
        "listed uses the one .onnx file in its package folder.",
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, title="Parameters",
        description="Parameter node → value (after the graph's and overrides' values); changeable while running.",
    )
    limits: CodeNodeLimits = Field(
        default_factory=CodeNodeLimits, title="Limits", description="Resource limits of each code-node process."
    )

    @field_validator("project", "graph")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/") or "\\" in value:
            raise ValueError(f"{show_value(value)} must be a relative path inside the package")
        return value

    @model_validator(mode="after")
    def _bindings_name_cameras(self) -> PanoramaManifest:
        ids = set(self.camera_ids())
        problems = []
        for node, cameras in self.bindings.items():
            for index, camera in enumerate(cameras):
                if camera not in ids:
                    problems.append(
                        (("bindings", node, index), f"camera {show_value(camera)} is not in 'cameras' ({', '.join(sorted(ids))})")
                    )
        for index, camera in enumerate(self.paused):
            if camera not in ids:
                problems.append((("paused", index), f"camera {show_value(camera)} is not in 'cameras'"))
        if problems:
            raise FieldProblems(problems)
        return self

    def model_names(self) -> list[str]:
        return [spec.ref for spec in self.models.values()]

    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def live_params(self) -> dict[str, Any]:
        return dict(self.params)

    def with_params(self, patch: Mapping[str, Any] | str | bytes, source: str = "params_json") -> PanoramaManifest:
        """A copy with ``patch`` (parameter node → value) merged in; the graph checks types when applied."""
        data = load_json_object(patch, source, "a parameter object")
        try:
            merged = CodeAppParams.model_validate({"values": {**self.params, **data}})
        except ValidationError as error:
            raise ManifestError(describe_validation_error(error, source)) from None
        return self.model_copy(update={"params": merged.values})


class CodeAppParams(StrictModel):
    """A parameter patch: names to booleans, numbers or text."""

    values: dict[str, ParamValue] = Field(title="Values", description="Parameter node → value.")


register_manifest_kind("panorama", PanoramaManifest)
