"""What a resolved Panorama project is made of, and the checks shared by the device and the console.

:class:`PanoramaProject` and its nodes (see ``project.load_project``), the
``/panorama`` path mapping, parameter conversion and constraint checks, and
the comparison of a model file's inputs with its node's descriptor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from device_runtime.protocol.apps.validation import show_value
from device_runtime.protocol.panorama.formats import (
    Entry,
    Interface,
    MlModelDescriptor,
    PanoramaFormatError,
    RoutingRule,
)

CAMERA_PACKAGE = "panorama::abstract_rtsp_media_source"
DISPLAY_PACKAGE = "panorama::hdmi_data_sink"
APP_ROOT = PurePosixPath("/panorama")

@dataclass
class Stream:
    """One concrete camera bound to a camera node."""

    name: str  # the concrete node's name: the ``stream_id`` apps see
    launch: str = "onAppStart"  # "onSignal": starts paused


@dataclass
class CameraNode:
    """A camera node of the graph and the streams bound to it (by an override, or itself)."""

    name: str
    package: str
    abstract: bool
    streams: list[Stream]


@dataclass
class Parameter:
    """A parameter node after overrides."""

    name: str
    type: str  # boolean, float32, int32, string
    value: Any
    overridable: bool
    title: str = ""
    description: str = ""
    constraint_text: str = ""
    constraint_regex: str = ""


@dataclass
class ModelNode:
    """A model node: its package and descriptor (input names and shapes)."""

    name: str
    package: str
    folder: Path
    descriptor: MlModelDescriptor


@dataclass
class InputBinding:
    """What feeds one input port of a code node."""

    port: str
    type: str
    cameras: list[str] = field(default_factory=list)  # camera node names (media ports)
    parameter: str = ""  # the parameter node (value ports)
    default: Any = None  # the port's default when nothing is connected


@dataclass
class CodeNode:
    """A code node: where its code is, how it starts, and what its ports connect to."""

    name: str
    package: str
    folder: Path
    interface: Interface
    entry: Entry
    inputs: dict[str, InputBinding]
    outputs: dict[str, list[str]]  # port → consumers ("node.port")
    display_outputs: list[str]  # output ports that feed a display node
    routes: list[RoutingRule]
    inbound_ports: list[int]

    @property
    def src_dir(self) -> Path:
        return self.folder / "src"

    def script_path(self) -> Path:
        """The entry script on disk: ``/panorama/...`` maps to the package's ``src/``."""
        return map_app_path(self.entry.name, self.src_dir)


@dataclass
class PanoramaProject:
    """A resolved, checked Panorama application."""

    root: Path
    graph_path: Path
    name: str
    description: str
    code_nodes: list[CodeNode]
    model_nodes: dict[str, ModelNode]
    cameras: dict[str, CameraNode]
    parameters: dict[str, Parameter]
    displays: list[str]
    warnings: list[str]

    def parameter_values(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.parameters.items()}


def map_app_path(name: str, src_dir: Path) -> Path:
    """``/panorama/app.py`` → ``<src_dir>/app.py``; a relative name is relative to ``src_dir``."""
    path = PurePosixPath(name)
    if path.is_absolute():
        try:
            path = path.relative_to(APP_ROOT)
        except ValueError:
            path = PurePosixPath(*path.parts[1:])
    if ".." in path.parts:
        raise PanoramaFormatError([f"descriptor.json: entry.name: {show_value(name)} leaves the package"])
    return src_dir.joinpath(*path.parts)


def descriptor_problems(
    node: ModelNode, inputs: list[tuple[str, tuple[int, ...], str]], source: str
) -> list[str]:
    """Where a model file's ``inputs`` (name, shape with -1 where dynamic, description) disagree
    with the node's descriptor, one sentence each. A dynamic dimension accepts any size."""
    problems = []
    by_name = {name: (shape, text) for name, shape, text in inputs}
    described = ", ".join(text for _, _, text in inputs) or "(none)"
    for declared in node.descriptor.inputs:
        found = by_name.get(declared.name)
        if found is None:
            problems.append(
                f"model node '{node.name}': descriptor input '{declared.name}' is not an input of "
                f"{source} (its inputs: {described})"
            )
            continue
        shape = list(found[0])
        fits = len(shape) == len(declared.shape) and all(
            have < 0 or have == want for have, want in zip(shape, declared.shape, strict=False)
        )
        if not fits:
            problems.append(
                f"model node '{node.name}': input '{declared.name}' has shape {list(declared.shape)} in "
                f"descriptor.json but {shape} in {source}"
            )
    declared_names = {d.name for d in node.descriptor.inputs}
    for name, _, text in inputs:
        if name not in declared_names:
            problems.append(
                f"model node '{node.name}': {source} also needs input {text}, which descriptor.json does not declare"
            )
    return problems


def coerce_parameter(kind: str, value: Any, where: str) -> Any:
    """``value`` as the Python value of a parameter of type ``kind``; ValueError naming ``where``."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind == "int32":
        if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return coerce_parameter(kind, int(value), where)
    elif kind == "float32":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind == "string":
        if isinstance(value, str):
            return value
    raise ValueError(f"{where}: expected a {kind} value, got {show_value(value)}")


def check_constraint(parameter: Parameter, value: Any, where: str) -> None:
    """Raise ValueError when ``value`` does not match the parameter's constraint regex."""
    if parameter.constraint_regex:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if not re.fullmatch(parameter.constraint_regex, text):
            hint = f" ({parameter.constraint_text})" if parameter.constraint_text else ""
            raise ValueError(
                f"{where}: {show_value(value)} does not match the constraint "
                f"{show_value(parameter.constraint_regex)}{hint}"
            )
