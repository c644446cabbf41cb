"""A Panorama project folder, read and resolved into what a runtime needs.

:func:`load_project` reads ``graphs/<app>/graph.json``, applies override
files, reads every package's ``package.json`` and ``descriptor.json`` and
checks the graph as a whole: every package has a folder, every node's
interface exists, every edge joins existing ports of matching types,
parameter values have their node's type and match its constraint, and
routed ports are in 8000-9000. The result, :class:`PanoramaProject`, lists
the code nodes (with their port bindings), model nodes (with their
descriptors), camera nodes (with the streams an override bound to them),
parameters and display outputs. Every problem is reported at once, each
line naming the file, the node and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from device_runtime.protocol.apps.validation import show_value
from device_runtime.protocol.panorama.formats import (
    DescriptorFile,
    Entry,
    GraphFile,
    GraphNode,
    Interface,
    MlModelDescriptor,
    NodePackage,
    OverrideFile,
    PackageFile,
    PackageRef,
    PanoramaFormatError,
    RoutingRule,
    read_panorama_file,
)

CAMERA_PACKAGE = "panorama::abstract_rtsp_media_source"
DISPLAY_PACKAGE = "panorama::hdmi_data_sink"
APP_ROOT = PurePosixPath("/panorama")

# The stock packages every Panorama device had; projects do not ship their folders.
_STOCK_INTERFACES = {
    CAMERA_PACKAGE: Interface(
        name="rtsp_v1_interface",
        category="media_source",
        outputs=[{"name": "video_out", "type": "media"}],  # type: ignore[list-item]
    ),
    DISPLAY_PACKAGE: Interface(
        name="hdmi0",
        category="media_sink",
        inputs=[{"name": "video_in", "type": "media"}],  # type: ignore[list-item]
    ),
}


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
            have < 0 or have == want for have, want in zip(shape, declared.shape)
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


def find_graph(root: Path) -> Path:
    """The graph.json the Panorama CLI would use: the first folder under ``graphs/``."""
    graphs = root / "graphs"
    folders = sorted(p for p in graphs.iterdir() if p.is_dir()) if graphs.is_dir() else []
    for folder in folders:
        if (folder / "graph.json").is_file():
            return folder / "graph.json"
    raise PanoramaFormatError([f"{root}: no graphs/<app>/graph.json (is this a Panorama project folder?)"])


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


class _Resolver:
    def __init__(self, root: Path, graph_path: Path):
        self.root = root
        self.graph_path = graph_path
        self.graph_src = self._rel(graph_path)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.packages: dict[str, NodePackage | None] = {}  # "acct::PKG" → manifest (None: stock/camera)
        self.folders: dict[str, Path] = {}

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def load_package(self, ref: PackageRef, source: str, where: str) -> None:
        if ref.name in (CAMERA_PACKAGE, DISPLAY_PACKAGE):
            self.packages[ref.name] = None
            return
        folder = self.root / "packages" / f"{ref.account}-{ref.short_name}-{ref.version}"
        if not folder.is_dir():
            candidates = sorted((self.root / "packages").glob(f"{ref.account}-{ref.short_name}-*"))
            hint = f"; found {', '.join(p.name for p in candidates)}" if candidates else ""
            self.problems.append(
                f"{source}: {where}: package {ref.name} version {ref.version} has no folder "
                f"packages/{folder.name}{hint}"
            )
            return
        try:
            pkg = read_panorama_file(folder / "package.json", PackageFile, self._rel(folder / "package.json"))
        except PanoramaFormatError as exc:
            self.problems.extend(exc.problems)
            return
        self.packages[ref.name] = pkg.nodePackage
        self.folders[ref.name] = folder

    def interface_of(self, node: GraphNode, source: str, where: str) -> tuple[str, Interface | None]:
        package, _, iface = node.interface.rpartition(".")
        if package in _STOCK_INTERFACES:
            return package, _STOCK_INTERFACES[package]
        if package not in self.packages:
            self.problems.append(
                f"{source}: {where}: interface {show_value(node.interface)} uses package {package}, "
                "which the graph's 'packages' does not list"
            )
            return package, None
        manifest = self.packages[package]
        if manifest is None:
            # A concrete camera from an override: its interface is named like its package.
            return package, Interface(name=iface, category="media_source", outputs=[{"name": "video_out", "type": "media"}])  # type: ignore[list-item]
        for interface in manifest.interfaces:
            if interface.name == iface:
                return package, interface
        known = ", ".join(i.name for i in manifest.interfaces)
        self.problems.append(
            f"{source}: {where}: package {package} has no interface {show_value(iface)} (it has: {known})"
        )
        return package, None


def load_project(
    root: Path | str,
    overrides: list[Path] | None = None,
    *,
    graph: Path | str | None = None,
) -> PanoramaProject:
    """Read and check a Panorama project; :class:`PanoramaFormatError` lists every problem."""
    root = Path(root).resolve()
    if graph is None:
        graph_path = find_graph(root)
    else:
        graph_path = Path(graph) if Path(graph).is_absolute() else root / graph
    r = _Resolver(root, graph_path)
    parsed = read_panorama_file(graph_path, GraphFile, r.graph_src).nodeGraph
    nodes: dict[str, tuple[GraphNode, str, str]] = {}  # name → (node, source file, location)
    for index, node in enumerate(parsed.nodes):
        if node.name in nodes:
            r.problems.append(f"{r.graph_src}: nodes[{index}] '{node.name}': name is already used by another node")
        nodes[node.name] = (node, r.graph_src, f"nodes[{index}] '{node.name}'")
    for index, ref in enumerate(parsed.packages):
        r.load_package(ref, r.graph_src, f"packages[{index}]")

    replaced: dict[str, list[str]] = {}
    for path in overrides or []:
        source = r._rel(Path(path))
        data = read_panorama_file(Path(path), OverrideFile, source).nodeGraphOverrides
        for index, ref in enumerate(data.packages):
            if ref.name not in r.packages:
                folder = root / "packages" / f"{ref.account}-{ref.short_name}-{ref.version}"
                if folder.is_dir():
                    r.load_package(ref, source, f"packages[{index}]")
                else:
                    r.packages[ref.name] = None  # a concrete camera package
        extra: dict[str, tuple[GraphNode, str]] = {}
        for index, node in enumerate(data.nodes):
            where = f"nodes[{index}] '{node.name}'"
            target = nodes.get(node.name)
            if target is not None and node.is_parameter and target[0].is_parameter:
                if not target[0].overridable:
                    r.problems.append(f"{source}: {where}: parameter '{node.name}' is not overridable in graph.json")
                nodes[node.name] = (node.model_copy(update={"overridable": True, "decorator": target[0].decorator or node.decorator}), source, where)
            else:
                extra[node.name] = (node, where)
        for index, override in enumerate(data.nodeOverrides):
            where = f"nodeOverrides[{index}]"
            target = nodes.get(override.replace)
            if target is None:
                r.problems.append(
                    f"{source}: {where}.replace: graph.json has no node {show_value(override.replace)} "
                    f"(nodes: {', '.join(nodes)})"
                )
                continue
            if not target[0].overridable:
                r.problems.append(f"{source}: {where}.replace: node '{override.replace}' is not overridable in graph.json")
            names = []
            for sub, replacement in enumerate(override.with_):
                new = extra.get(replacement.name) or (
                    (nodes[replacement.name][0], "") if replacement.name in nodes else None
                )
                if new is None:
                    r.problems.append(
                        f"{source}: {where}.with[{sub}].name: no node {show_value(replacement.name)} in the "
                        "override's 'nodes'"
                    )
                    continue
                names.append(replacement.name)
                if target[0].is_parameter and new[0].is_parameter:
                    nodes[override.replace] = (
                        target[0].model_copy(update={"value": new[0].value}),
                        source,
                        f"{where} ('{override.replace}')",
                    )
            if not target[0].is_parameter:
                replaced[override.replace] = names
                for name in names:
                    if name in extra:
                        node, loc = extra[name]
                        nodes.setdefault(name, (node, source, loc))

    cameras: dict[str, CameraNode] = {}
    parameters: dict[str, Parameter] = {}
    models: dict[str, ModelNode] = {}
    code: dict[str, tuple[GraphNode, str, Interface, str]] = {}
    displays: list[str] = []
    interfaces: dict[str, Interface] = {}
    concrete = {name for names in replaced.values() for name in names}
    for name, (node, source, where) in nodes.items():
        if node.is_parameter:
            decorator = node.decorator
            param = Parameter(
                name=name,
                type=node.interface,
                value=None,
                overridable=node.overridable,
                title=decorator.title if decorator else "",
                description=decorator.description if decorator else "",
                constraint_text=decorator.constraintText if decorator else "",
                constraint_regex=decorator.constraintRegex if decorator else "",
            )
            try:
                param.value = coerce_parameter(node.interface, node.value, f"{source}: {where}: value")
                check_constraint(param, param.value, f"{source}: {where}: value")
            except ValueError as exc:
                r.problems.append(str(exc))
            parameters[name] = param
            continue
        if name in concrete:
            continue
        package, interface = r.interface_of(node, source, where)
        if interface is None:
            continue
        interfaces[name] = interface
        if interface.category == "media_source":
            streams = [Stream(n, nodes[n][0].launch) for n in replaced.get(name, [])] or [Stream(name, node.launch)]
            cameras[name] = CameraNode(name, package, package == CAMERA_PACKAGE and name not in replaced, streams)
        elif interface.category in ("media_sink", "data_sink"):
            displays.append(name)
        elif interface.category == "ml_model":
            folder = r.folders.get(package)
            if folder is None:
                continue
            try:
                descriptor = read_panorama_file(folder / "descriptor.json", DescriptorFile, r._rel(folder / "descriptor.json"))
            except PanoramaFormatError as exc:
                r.problems.extend(exc.problems)
                continue
            if descriptor.mlModelDescriptor is None:
                r.problems.append(f"{r._rel(folder / 'descriptor.json')}: model node '{name}' needs an 'mlModelDescriptor'")
                continue
            models[name] = ModelNode(name, package, folder, descriptor.mlModelDescriptor)
        else:
            code[name] = (node, package, interface, where)
        if node.overrideMandatory and name not in replaced:
            r.problems.append(f"{source}: {where}: node '{name}' must be replaced by an override (overrideMandatory)")

    # Edges
    bindings: dict[str, dict[str, InputBinding]] = {n: {} for n in code}
    outputs: dict[str, dict[str, list[str]]] = {n: {p.name: [] for p in code[n][2].outputs} for n in code}
    display_outputs: dict[str, list[str]] = {n: [] for n in code}
    for index, edge in enumerate(parsed.edges):
        where = f"{r.graph_src}: edges[{index}]"
        consumer_node, _, consumer_port = edge.consumer.partition(".")
        producer_node, _, producer_port = edge.producer.partition(".")
        c_iface = interfaces.get(consumer_node)
        if consumer_node not in nodes:
            r.problems.append(f"{where}.consumer: no node {show_value(consumer_node)} in the graph")
            continue
        if c_iface is None:
            continue
        c_port = next((p for p in c_iface.inputs if p.name == consumer_port), None)
        if c_port is None:
            known = ", ".join(p.name for p in c_iface.inputs) or "none"
            r.problems.append(
                f"{where}.consumer: node '{consumer_node}' ({c_iface.name}) has no input port "
                f"{show_value(consumer_port)} (inputs: {known})"
            )
            continue
        if producer_node not in nodes:
            r.problems.append(f"{where}.producer: no node {show_value(producer_node)} in the graph")
            continue
        if producer_node in parameters:
            ptype = parameters[producer_node].type
            if ptype != c_port.type:
                r.problems.append(
                    f"{where}: parameter '{producer_node}' is {ptype} but port '{edge.consumer}' takes {c_port.type}"
                )
                continue
            if consumer_node in bindings:
                bindings[consumer_node][consumer_port] = InputBinding(consumer_port, c_port.type, parameter=producer_node)
            continue
        p_iface = interfaces.get(producer_node)
        if p_iface is None:
            continue
        p_port = next((p for p in p_iface.outputs if p.name == producer_port), None)
        if p_port is None:
            known = ", ".join(p.name for p in p_iface.outputs) or "none"
            r.problems.append(
                f"{where}.producer: node '{producer_node}' ({p_iface.name}) has no output port "
                f"{show_value(producer_port)} (outputs: {known})"
            )
            continue
        if p_port.type != c_port.type:
            r.problems.append(f"{where}: '{edge.producer}' is {p_port.type} but '{edge.consumer}' takes {c_port.type}")
            continue
        if consumer_node in bindings:
            if producer_node not in cameras:
                r.problems.append(
                    f"{where}: '{edge.producer}' → '{edge.consumer}': Sightline feeds code nodes from camera "
                    "nodes and parameters only"
                )
                continue
            binding = bindings[consumer_node].setdefault(consumer_port, InputBinding(consumer_port, c_port.type))
            binding.cameras.append(producer_node)
        if producer_node in outputs:
            outputs[producer_node][producer_port].append(edge.consumer)
            if consumer_node in displays:
                display_outputs[producer_node].append(producer_port)

    routes: dict[str, list[RoutingRule]] = {n: [] for n in code}
    host_ports: dict[int, int] = {}
    for index, rule in enumerate(parsed.networkRoutingRules):
        where = f"{r.graph_src}: networkRoutingRules[{index}]"
        if rule.node not in code:
            r.problems.append(f"{where}.node: {show_value(rule.node)} is not a code node of the graph")
            continue
        if rule.hostPort in host_ports:
            r.problems.append(f"{where}.hostPort: {rule.hostPort} is already routed by networkRoutingRules[{host_ports[rule.hostPort]}]")
        host_ports[rule.hostPort] = index
        routes[rule.node].append(rule)

    code_nodes = []
    for name, (node, package, interface, where) in code.items():
        folder = r.folders.get(package)
        if folder is None:
            continue
        descriptor_path = folder / "descriptor.json"
        try:
            descriptor = read_panorama_file(descriptor_path, DescriptorFile, r._rel(descriptor_path))
        except PanoramaFormatError as exc:
            r.problems.extend(exc.problems)
            continue
        if descriptor.runtimeDescriptor is None:
            r.problems.append(f"{r._rel(descriptor_path)}: code node '{name}' needs a 'runtimeDescriptor'")
            continue
        entry = descriptor.runtimeDescriptor.entry
        for port in interface.inputs:
            if port.name not in bindings[name]:
                bindings[name][port.name] = InputBinding(port.name, port.type, default=port.default)
                if port.type != "media" and port.default is None:
                    r.warnings.append(f"{r.graph_src}: {where}: input '{port.name}' is not connected and has no default")
        code_node = CodeNode(
            name=name,
            package=package,
            folder=folder,
            interface=interface,
            entry=entry,
            inputs=bindings[name],
            outputs=outputs[name],
            display_outputs=display_outputs[name],
            routes=routes[name],
            inbound_ports=[p.port for p in (interface.network.inboundPorts if interface.network else [])],
        )
        try:
            script = code_node.script_path()
        except PanoramaFormatError as exc:
            r.problems.extend(exc.problems)
            continue
        if not script.is_file():
            r.problems.append(
                f"{r._rel(descriptor_path)}: entry.name: {show_value(entry.name)} is not in the package "
                f"(looked for {r._rel(script)})"
            )
        code_nodes.append(code_node)
    if not code_nodes and not r.problems:
        r.problems.append(f"{r.graph_src}: the graph has no code node (a package with a business_logic interface)")
    if r.problems:
        raise PanoramaFormatError(r.problems)
    return PanoramaProject(
        root=root,
        graph_path=graph_path,
        name=graph_path.parent.name,
        description=parsed.description,
        code_nodes=code_nodes,
        model_nodes=models,
        cameras=cameras,
        parameters=parameters,
        displays=displays,
        warnings=r.warnings,
    )
