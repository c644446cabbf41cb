"""The JSON files of an AWS Panorama project (envelope ``2021-01-01``), as pydantic models.

``graph.json`` (:class:`GraphFile`), override files (:class:`OverrideFile`),
a package's ``package.json`` (:class:`PackageFile`) and ``descriptor.json``
(:class:`DescriptorFile`: a code node's runtime or a model node's inputs).
Field names keep AWS's spelling so the files of existing projects validate
as they are. Unknown keys are rejected with the allowed ones named, like
Sightline's own manifests. :func:`read_panorama_file` turns a file into one
of these or a :class:`PanoramaFormatError` whose lines name the file, the
node and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator

from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.manifest import load_json_object
from device_runtime.protocol.apps.validation import StrictModel, describe_validation_error, show_value

ENVELOPE = "2021-01-01"
NODE_NAME = re.compile(r"^[$A-Z_a-z0-9\-]+$")
PACKAGE_NAME = re.compile(r"^([0-9]{12}|panorama)::([A-Za-z0-9_\-]+)$")
PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PORT_TYPES = ("media", "float32", "int32", "string", "boolean")
PARAMETER_TYPES = ("boolean", "float32", "int32", "string")


class PanoramaFormatError(ManifestError):
    """A Panorama project file (or the project as a whole) is malformed; one line per problem."""


class Decorator(StrictModel):
    """How a node or routing rule is shown to the person deploying the app."""

    title: str = Field(default="", title="Title", description="Short name shown in the deploy form.")
    description: str = Field(default="", title="Description", description="Help text shown in the deploy form.")
    constraintText: str = Field(
        default="", title="Constraint text", description="What a valid value looks like, in words."
    )
    constraintRegex: str = Field(
        default="", title="Constraint regex", description="A value (as text) must match this pattern."
    )

    @field_validator("constraintRegex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{show_value(value)} is not a valid regular expression: {exc}") from None
        return value


class PackageRef(StrictModel):
    """A package the graph uses: ``account::NAME`` and ``major.minor``."""

    name: str = Field(title="Package name", description="'account::NAME'; account is 12 digits or 'panorama'.")
    version: str = Field(title="Version", description="Package version, like '1.0'.")
    patchVersion: str = Field(default="", title="Patch version", description="Exact build; optional.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not PACKAGE_NAME.match(value):
            raise ValueError(
                f"package name {show_value(value)} is not 'account::NAME' (account: 12 digits or 'panorama')"
            )
        return value

    @property
    def account(self) -> str:
        return self.name.split("::", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split("::", 1)[1]


class GraphNode(StrictModel):
    """A node: a packaged node (``interface`` 'account::PKG.iface') or a parameter (``interface`` a type)."""

    name: str = Field(title="Node name", description="Unique in the graph; letters, digits, '_', '-', '$'.")
    interface: str = Field(
        title="Interface", description="'account::PKG.interface' or a parameter type (boolean, float32, int32, string)."
    )
    value: Any = Field(default=None, title="Value", description="A parameter node's value.")
    overridable: bool = Field(default=False, title="Overridable", description="May be replaced at deploy time.")
    overrideMandatory: bool = Field(
        default=False, title="Override mandatory", description="Must be replaced at deploy time."
    )
    launch: Literal["onAppStart", "onDemand", "onSignal"] = Field(
        default="onAppStart", title="Launch", description="When the node starts; 'onSignal' cameras start paused."
    )
    decorator: Decorator | None = Field(default=None, title="Decorator", description="Deploy-form text.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NODE_NAME.match(value):
            raise ValueError(f"node name {show_value(value)} may only use letters, digits, '_', '-' and '$'")
        return value

    @property
    def is_parameter(self) -> bool:
        return self.interface in PARAMETER_TYPES

    @model_validator(mode="after")
    def _parameter_has_value(self) -> GraphNode:
        if self.is_parameter and self.value is None:
            raise ValueError(f"parameter node '{self.name}' of type {self.interface} needs a 'value'")
        if not self.is_parameter and "." not in self.interface:
            raise ValueError(
                f"interface {show_value(self.interface)} of node '{self.name}' is neither a parameter type "
                f"({', '.join(PARAMETER_TYPES)}) nor 'account::PKG.interface'"
            )
        return self


class Edge(StrictModel):
    """Data flow from a producer port (or parameter node) to a consumer port."""

    producer: str = Field(title="Producer", description="'node.port', or a parameter node's name.")
    consumer: str = Field(title="Consumer", description="'node.port'.")


class RoutingRule(StrictModel):
    """A port of a node exposed on the device."""

    node: str = Field(title="Node", description="The code node that serves on the port.")
    containerPort: int = Field(ge=1, le=65535, title="Container port", description="Port the app listens on.")
    hostPort: int = Field(ge=8000, le=9000, title="Host port", description="Port on the device; 8000-9000.")
    decorator: Decorator | None = Field(default=None, title="Decorator", description="Deploy-form text.")


class NodeGraph(StrictModel):
    """The application graph."""

    envelopeVersion: Literal["2021-01-01"] = Field(title="Envelope version", description="Always '2021-01-01'.")
    packages: list[PackageRef] = Field(title="Packages", description="Packages the nodes use.")
    nodes: list[GraphNode] = Field(min_length=1, title="Nodes", description="The graph's nodes.")
    edges: list[Edge] = Field(default_factory=list, title="Edges", description="Connections between ports.")
    description: str = Field(default="", title="Description", description="Free text.")
    networkRoutingRules: list[RoutingRule] = Field(
        default_factory=list, title="Network routing rules", description="Ports the app serves on."
    )


class GraphFile(StrictModel):
    """``graph.json``."""

    nodeGraph: NodeGraph = Field(title="Node graph", description="The application graph.")


class NodeReplacement(StrictModel):
    """One node that takes the place of a replaced node."""

    name: str = Field(title="Node name", description="A node declared in the override's 'nodes'.")


class NodeOverride(StrictModel):
    """Replace one graph node by one or more nodes (several cameras on one abstract camera node)."""

    replace: str = Field(title="Replace", description="Name of the node in graph.json to replace.")
    with_: list[NodeReplacement] = Field(
        alias="with", min_length=1, title="With", description="The nodes that take its place."
    )


class GraphOverrides(StrictModel):
    """Deploy-time changes to the graph."""

    envelopeVersion: Literal["2021-01-01"] = Field(title="Envelope version", description="Always '2021-01-01'.")
    packages: list[PackageRef] = Field(default_factory=list, title="Packages", description="Extra packages.")
    nodes: list[GraphNode] = Field(default_factory=list, title="Nodes", description="Replacement nodes.")
    nodeOverrides: list[NodeOverride] = Field(
        default_factory=list, title="Node overrides", description="Which graph nodes they replace."
    )


class OverrideFile(StrictModel):
    """An override file (``override.json`` or any name)."""

    nodeGraphOverrides: GraphOverrides = Field(title="Node graph overrides", description="The overrides.")


class Port(StrictModel):
    """An input or output of an interface; its name becomes a Python attribute."""

    name: str = Field(title="Port name", description="A Python identifier.")
    type: Literal["media", "float32", "int32", "string", "boolean"] = Field(
        title="Type", description="media, float32, int32, string or boolean."
    )
    description: str = Field(default="", title="Description", description="Free text.")
    default: Any = Field(default=None, title="Default", description="Value when nothing is connected.")

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not PORT_NAME.match(value):
            raise ValueError(f"port name {show_value(value)} must be a Python identifier (no hyphens)")
        return value


class InboundPort(StrictModel):
    port: int = Field(ge=1, le=65535, title="Port", description="Port the code listens on.")
    description: str = Field(default="", title="Description", description="Free text.")


class Network(StrictModel):
    inboundPorts: list[InboundPort] = Field(
        default_factory=list, title="Inbound ports", description="Ports the code listens on."
    )


class Interface(StrictModel):
    """What a package offers: category, asset and ports."""

    name: str = Field(title="Interface name", description="Referred to as 'account::PKG.name'.")
    category: Literal["business_logic", "ml_model", "media_source", "media_sink", "data_sink"] = Field(
        title="Category", description="business_logic (code), ml_model, media_source or media_sink."
    )
    asset: str = Field(default="", title="Asset", description="The asset implementing it.")
    inputs: list[Port] = Field(default_factory=list, title="Inputs", description="Input ports.")
    outputs: list[Port] = Field(default_factory=list, title="Outputs", description="Output ports.")
    network: Network | None = Field(default=None, title="Network", description="Inbound ports.")


class Implementation(StrictModel):
    type: Literal["container", "model", "system"] = Field(title="Type", description="container, model or system.")
    assetUri: str = Field(default="", title="Asset URI", description="Built artefact under assets/.")
    descriptorUri: str = Field(default="", title="Descriptor URI", description="Descriptor under assets/.")
    requirements: list[dict[str, Any]] = Field(
        default_factory=list, title="Requirements", description="Hardware access (GPU) and the like."
    )


class Asset(StrictModel):
    name: str = Field(title="Asset name", description="Referred to by interfaces.")
    implementations: list[Implementation] = Field(
        default_factory=list, title="Implementations", description="How the asset is built."
    )


class NodePackage(StrictModel):
    """A package: a code container, a model, or (stock) a camera or display."""

    envelopeVersion: Literal["2021-01-01"] = Field(title="Envelope version", description="Always '2021-01-01'.")
    name: str = Field(title="Package name", description="NAME without the account.")
    version: str = Field(title="Version", description="Like '1.0'.")
    description: str = Field(default="", title="Description", description="Free text.")
    assets: list[Asset] = Field(default_factory=list, title="Assets", description="What the package ships.")
    interfaces: list[Interface] = Field(min_length=1, title="Interfaces", description="What it offers.")


class PackageFile(StrictModel):
    """``package.json``."""

    nodePackage: NodePackage = Field(title="Node package", description="The package manifest.")


class EnvironmentVariable(StrictModel):
    name: str = Field(title="Name", description="Variable name.")
    value: str = Field(title="Value", description="Variable value.")


class Entry(StrictModel):
    path: str = Field(title="Path", description="The program; 'python3' for Python apps.")
    name: str = Field(title="Name", description="The script, e.g. '/panorama/app.py' ('/panorama' is src/).")
    arguments: list[str] = Field(default_factory=list, title="Arguments", description="Script arguments.")
    environment: list[EnvironmentVariable] = Field(
        default_factory=list, title="Environment", description="Extra environment variables."
    )


class RuntimeDescriptor(StrictModel):
    envelopeVersion: Literal["2021-01-01"] = Field(title="Envelope version", description="Always '2021-01-01'.")
    entry: Entry = Field(title="Entry", description="How the code node starts.")
    requirements: list[dict[str, Any]] = Field(
        default_factory=list, title="Requirements", description="Hardware access; ignored by Sightline."
    )


class ModelInput(StrictModel):
    name: str = Field(title="Input name", description="The key apps pass the array under.")
    shape: list[int] = Field(min_length=1, title="Shape", description="Input shape, e.g. [1, 3, 224, 224].")


class MlModelDescriptor(StrictModel):
    envelopeVersion: Literal["2021-01-01"] = Field(title="Envelope version", description="Always '2021-01-01'.")
    framework: str = Field(title="Framework", description="PYTORCH, TENSORFLOW, MXNET (Sightline runs ONNX).")
    frameworkVersion: str = Field(default="", title="Framework version", description="Optional.")
    precisionMode: Literal["FP32", "FP16"] | None = Field(
        default=None, title="Precision", description="FP32 or FP16."
    )
    inputs: list[ModelInput] = Field(min_length=1, title="Inputs", description="The model's inputs.")


class DescriptorFile(StrictModel):
    """``descriptor.json``: a code node's runtime or a model node's inputs (exactly one)."""

    runtimeDescriptor: RuntimeDescriptor | None = Field(
        default=None, title="Runtime descriptor", description="For code packages."
    )
    mlModelDescriptor: MlModelDescriptor | None = Field(
        default=None, title="Model descriptor", description="For model packages."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DescriptorFile:
        if (self.runtimeDescriptor is None) == (self.mlModelDescriptor is None):
            raise ValueError("needs exactly one of 'runtimeDescriptor' (code) or 'mlModelDescriptor' (model)")
        return self


Model = TypeVar("Model", bound=StrictModel)


def parse_panorama_data(data: bytes | str | dict[str, Any], model: type[Model], source: str) -> Model:
    """Validate ``data`` as ``model``; :class:`PanoramaFormatError` naming ``source`` and each field.

    Locations inside the node list name the node (``nodes[2] 'model_node'.interface``).
    """
    try:
        raw = load_json_object(data, source, f"a {model.__name__}")
    except ManifestError as exc:
        raise PanoramaFormatError(exc.problems) from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise PanoramaFormatError(_name_nodes(describe_validation_error(error, source), raw)) from None


def read_panorama_file(path: Path, model: type[Model], source: str | None = None) -> Model:
    """Read and validate one file; a missing file is an error naming it."""
    name = source or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PanoramaFormatError([f"{name}: file not found"]) from None
    except OSError as exc:
        raise PanoramaFormatError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    return parse_panorama_data(data, model, name)


_NODE_LOC = re.compile(r"nodes\[(\d+)\]")


def _name_nodes(lines: list[str], raw: dict[str, Any]) -> list[str]:
    """Add the node's name after ``nodes[i]`` so a message says which node is wrong."""
    body = next(iter(raw.values()), None) if len(raw) == 1 else None
    nodes = body.get("nodes") if isinstance(body, dict) else None
    if not isinstance(nodes, list):
        return lines

    def name(match: re.Match[str]) -> str:
        index = int(match.group(1))
        node = nodes[index] if index < len(nodes) else None
        label = node.get("name") if isinstance(node, dict) else None
        return f"{match.group(0)} '{label}'" if isinstance(label, str) else match.group(0)

    return [_NODE_LOC.sub(name, line, count=1) for line in lines]
