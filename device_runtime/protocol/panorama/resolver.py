"""Resolving a Panorama graph: overrides, node kinds, edges, routes and code nodes, every problem collected.

Used by :func:`device_runtime.protocol.panorama.project.load_project`; one
:class:`Resolver` per load. Each step appends to ``problems`` (sentences
naming file, node and field) instead of stopping, so the user sees every
problem of a project at once.
"""

from __future__ import annotations

from pathlib import Path

from device_runtime.protocol.apps.validation import show_value
from device_runtime.protocol.panorama.formats import (
    DescriptorFile,
    Edge,
    GraphFile,
    GraphNode,
    Interface,
    NodeGraph,
    NodePackage,
    OverrideFile,
    PackageFile,
    PackageRef,
    PanoramaFormatError,
    Port,
    RoutingRule,
    read_panorama_file,
)
from device_runtime.protocol.panorama.project_types import (
    CAMERA_PACKAGE,
    DISPLAY_PACKAGE,
    CameraNode,
    CodeNode,
    InputBinding,
    ModelNode,
    Parameter,
    Stream,
    check_constraint,
    coerce_parameter,
)

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


class Resolver:
    """The state of one project load."""

    def __init__(self, root: Path, graph_path: Path):
        self.root = root
        self.graph_path = graph_path
        self.graph_src = self.rel(graph_path)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.packages: dict[str, NodePackage | None] = {}  # "acct::PKG" → manifest (None: stock/camera)
        self.folders: dict[str, Path] = {}
        self.nodes: dict[str, tuple[GraphNode, str, str]] = {}  # name → (node, source file, location)
        self.replaced: dict[str, list[str]] = {}  # graph node → the override's nodes in its place
        self.cameras: dict[str, CameraNode] = {}
        self.parameters: dict[str, Parameter] = {}
        self.models: dict[str, ModelNode] = {}
        self.code: dict[str, tuple[GraphNode, str, Interface, str]] = {}
        self.displays: list[str] = []
        self.interfaces: dict[str, Interface] = {}
        self.bindings: dict[str, dict[str, InputBinding]] = {}
        self.outputs: dict[str, dict[str, list[str]]] = {}
        self.display_outputs: dict[str, list[str]] = {}
        self.routes: dict[str, list[RoutingRule]] = {}

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ files

    def read_graph(self) -> NodeGraph:
        graph = read_panorama_file(self.graph_path, GraphFile, self.graph_src).nodeGraph
        for index, node in enumerate(graph.nodes):
            if node.name in self.nodes:
                self.problems.append(
                    f"{self.graph_src}: nodes[{index}] '{node.name}': name is already used by another node"
                )
            self.nodes[node.name] = (node, self.graph_src, f"nodes[{index}] '{node.name}'")
        for index, ref in enumerate(graph.packages):
            self.load_package(ref, self.graph_src, f"packages[{index}]")
        return graph

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
            pkg = read_panorama_file(folder / "package.json", PackageFile, self.rel(folder / "package.json"))
        except PanoramaFormatError as exc:
            self.problems.extend(exc.problems)
            return
        self.packages[ref.name] = pkg.nodePackage
        self.folders[ref.name] = folder

    def apply_override(self, path: Path) -> None:
        """Replace graph nodes (cameras, parameter values) as one override file says."""
        source = self.rel(path)
        data = read_panorama_file(path, OverrideFile, source).nodeGraphOverrides
        for index, ref in enumerate(data.packages):
            if ref.name not in self.packages:
                folder = self.root / "packages" / f"{ref.account}-{ref.short_name}-{ref.version}"
                if folder.is_dir():
                    self.load_package(ref, source, f"packages[{index}]")
                else:
                    self.packages[ref.name] = None  # a concrete camera package
        extra: dict[str, tuple[GraphNode, str]] = {}
        for index, node in enumerate(data.nodes):
            where = f"nodes[{index}] '{node.name}'"
            target = self.nodes.get(node.name)
            if target is not None and node.is_parameter and target[0].is_parameter:
                # A parameter node of the same name: its value replaces the graph's.
                if not target[0].overridable:
                    self.problems.append(f"{source}: {where}: parameter '{node.name}' is not overridable in graph.json")
                kept = node.model_copy(update={"overridable": True, "decorator": target[0].decorator or node.decorator})
                self.nodes[node.name] = (kept, source, where)
            else:
                extra[node.name] = (node, where)
        for index, override in enumerate(data.nodeOverrides):
            self._replace(source, f"nodeOverrides[{index}]", override.replace, [w.name for w in override.with_], extra)

    def _replace(
        self, source: str, where: str, replaced: str, names: list[str], extra: dict[str, tuple[GraphNode, str]]
    ) -> None:
        target = self.nodes.get(replaced)
        if target is None:
            self.problems.append(
                f"{source}: {where}.replace: graph.json has no node {show_value(replaced)} "
                f"(nodes: {', '.join(self.nodes)})"
            )
            return
        if not target[0].overridable:
            self.problems.append(f"{source}: {where}.replace: node '{replaced}' is not overridable in graph.json")
        found = []
        for sub, name in enumerate(names):
            new = extra.get(name) or ((self.nodes[name][0], "") if name in self.nodes else None)
            if new is None:
                self.problems.append(
                    f"{source}: {where}.with[{sub}].name: no node {show_value(name)} in the override's 'nodes'"
                )
                continue
            found.append(name)
            if target[0].is_parameter and new[0].is_parameter:
                self.nodes[replaced] = (
                    target[0].model_copy(update={"value": new[0].value}), source, f"{where} ('{replaced}')"
                )
        if not target[0].is_parameter:
            self.replaced[replaced] = found
            for name in found:
                if name in extra:
                    node, loc = extra[name]
                    self.nodes.setdefault(name, (node, source, loc))

    # ------------------------------------------------------------------ nodes

    def classify(self) -> None:
        """Sort every node into parameters, cameras, displays, models and code."""
        concrete = {name for names in self.replaced.values() for name in names}
        for name, (node, source, where) in self.nodes.items():
            if node.is_parameter:
                self.parameters[name] = self._parameter(name, node, source, where)
                continue
            if name in concrete:
                continue  # a camera an override bound: part of the node it replaced
            package, interface = self.interface_of(node, source, where)
            if interface is None:
                continue
            self.interfaces[name] = interface
            if interface.category == "media_source":
                streams = [Stream(n, self.nodes[n][0].launch) for n in self.replaced.get(name, [])]
                abstract = package == CAMERA_PACKAGE and name not in self.replaced
                self.cameras[name] = CameraNode(name, package, abstract, streams or [Stream(name, node.launch)])
            elif interface.category in ("media_sink", "data_sink"):
                self.displays.append(name)
            elif interface.category == "ml_model":
                self._model(name, package)
            else:
                self.code[name] = (node, package, interface, where)
            if node.overrideMandatory and name not in self.replaced:
                self.problems.append(f"{source}: {where}: node '{name}' must be replaced by an override (overrideMandatory)")

    def _parameter(self, name: str, node: GraphNode, source: str, where: str) -> Parameter:
        decorator = node.decorator
        parameter = Parameter(
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
            parameter.value = coerce_parameter(node.interface, node.value, f"{source}: {where}: value")
            check_constraint(parameter, parameter.value, f"{source}: {where}: value")
        except ValueError as exc:
            self.problems.append(str(exc))
        return parameter

    def _model(self, name: str, package: str) -> None:
        folder = self.folders.get(package)
        if folder is None:
            return
        path = folder / "descriptor.json"
        try:
            descriptor = read_panorama_file(path, DescriptorFile, self.rel(path))
        except PanoramaFormatError as exc:
            self.problems.extend(exc.problems)
            return
        if descriptor.mlModelDescriptor is None:
            self.problems.append(f"{self.rel(path)}: model node '{name}' needs an 'mlModelDescriptor'")
            return
        self.models[name] = ModelNode(name, package, folder, descriptor.mlModelDescriptor)

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
            outputs = [{"name": "video_out", "type": "media"}]
            return package, Interface(name=iface, category="media_source", outputs=outputs)  # type: ignore[arg-type]
        for interface in manifest.interfaces:
            if interface.name == iface:
                return package, interface
        known = ", ".join(i.name for i in manifest.interfaces)
        self.problems.append(
            f"{source}: {where}: package {package} has no interface {show_value(iface)} (it has: {known})"
        )
        return package, None

    # ------------------------------------------------------------------ edges and routes

    def connect(self, edges: list[Edge]) -> None:
        """Bind code nodes' inputs to cameras and parameters; note which outputs feed a display."""
        self.bindings = {n: {} for n in self.code}
        self.outputs = {n: {p.name: [] for p in self.code[n][2].outputs} for n in self.code}
        self.display_outputs = {n: [] for n in self.code}
        for index, edge in enumerate(edges):
            self._edge(f"{self.graph_src}: edges[{index}]", edge)

    def _port(self, where: str, node: str, iface: Interface, ports: list[Port], name: str, side: str) -> Port | None:
        """The ``side`` ("input" or "output") port ``name`` of ``node``; None, with the problem noted."""
        port = next((p for p in ports if p.name == name), None)
        if port is None:
            known = ", ".join(p.name for p in ports) or "none"
            self.problems.append(
                f"{where}: node '{node}' ({iface.name}) has no {side} port {show_value(name)} ({side}s: {known})"
            )
        return port

    def _edge(self, where: str, edge: Edge) -> None:
        consumer_node, _, consumer_port = edge.consumer.partition(".")
        producer_node, _, producer_port = edge.producer.partition(".")
        if consumer_node not in self.nodes:
            self.problems.append(f"{where}.consumer: no node {show_value(consumer_node)} in the graph")
            return
        c_iface = self.interfaces.get(consumer_node)
        if c_iface is None:
            return
        c_port = self._port(f"{where}.consumer", consumer_node, c_iface, c_iface.inputs, consumer_port, "input")
        if c_port is None:
            return
        if producer_node not in self.nodes:
            self.problems.append(f"{where}.producer: no node {show_value(producer_node)} in the graph")
            return
        if producer_node in self.parameters:
            ptype = self.parameters[producer_node].type
            if ptype != c_port.type:
                self.problems.append(
                    f"{where}: parameter '{producer_node}' is {ptype} but port '{edge.consumer}' takes {c_port.type}"
                )
            elif consumer_node in self.bindings:
                self.bindings[consumer_node][consumer_port] = InputBinding(
                    consumer_port, c_port.type, parameter=producer_node
                )
            return
        p_iface = self.interfaces.get(producer_node)
        if p_iface is None:
            return
        p_port = self._port(f"{where}.producer", producer_node, p_iface, p_iface.outputs, producer_port, "output")
        if p_port is None:
            return
        if p_port.type != c_port.type:
            self.problems.append(f"{where}: '{edge.producer}' is {p_port.type} but '{edge.consumer}' takes {c_port.type}")
            return
        if consumer_node in self.bindings:
            if producer_node not in self.cameras:
                self.problems.append(
                    f"{where}: '{edge.producer}' → '{edge.consumer}': Sightline feeds code nodes from camera "
                    "nodes and parameters only"
                )
                return
            binding = self.bindings[consumer_node].setdefault(consumer_port, InputBinding(consumer_port, c_port.type))
            binding.cameras.append(producer_node)
        if producer_node in self.outputs:
            self.outputs[producer_node][producer_port].append(edge.consumer)
            if consumer_node in self.displays:
                self.display_outputs[producer_node].append(producer_port)

    def route(self, rules: list[RoutingRule]) -> None:
        """Attach routing rules to their code nodes; a host port is routed once."""
        self.routes = {n: [] for n in self.code}
        host_ports: dict[int, int] = {}
        for index, rule in enumerate(rules):
            where = f"{self.graph_src}: networkRoutingRules[{index}]"
            if rule.node not in self.code:
                self.problems.append(f"{where}.node: {show_value(rule.node)} is not a code node of the graph")
                continue
            if rule.hostPort in host_ports:
                self.problems.append(
                    f"{where}.hostPort: {rule.hostPort} is already routed by networkRoutingRules[{host_ports[rule.hostPort]}]"
                )
            host_ports[rule.hostPort] = index
            self.routes[rule.node].append(rule)

    # ------------------------------------------------------------------ code nodes

    def code_nodes(self) -> list[CodeNode]:
        result = []
        for name, (_node, package, interface, where) in self.code.items():
            code_node = self._code_node(name, package, interface, where)
            if code_node is not None:
                result.append(code_node)
        if not result and not self.problems:
            self.problems.append(f"{self.graph_src}: the graph has no code node (a package with a business_logic interface)")
        return result

    def _code_node(self, name: str, package: str, interface: Interface, where: str) -> CodeNode | None:
        folder = self.folders.get(package)
        if folder is None:
            return None
        descriptor_path = folder / "descriptor.json"
        try:
            descriptor = read_panorama_file(descriptor_path, DescriptorFile, self.rel(descriptor_path))
        except PanoramaFormatError as exc:
            self.problems.extend(exc.problems)
            return None
        if descriptor.runtimeDescriptor is None:
            self.problems.append(f"{self.rel(descriptor_path)}: code node '{name}' needs a 'runtimeDescriptor'")
            return None
        entry = descriptor.runtimeDescriptor.entry
        bindings = self.bindings[name]
        for port in interface.inputs:
            if port.name not in bindings:
                bindings[port.name] = InputBinding(port.name, port.type, default=port.default)
                if port.type != "media" and port.default is None:
                    self.warnings.append(f"{self.graph_src}: {where}: input '{port.name}' is not connected and has no default")
        code_node = CodeNode(
            name=name,
            package=package,
            folder=folder,
            interface=interface,
            entry=entry,
            inputs=bindings,
            outputs=self.outputs[name],
            display_outputs=self.display_outputs[name],
            routes=self.routes[name],
            inbound_ports=[p.port for p in (interface.network.inboundPorts if interface.network else [])],
        )
        try:
            script = code_node.script_path()
        except PanoramaFormatError as exc:
            self.problems.extend(exc.problems)
            return None
        if not script.is_file():
            self.problems.append(
                f"{self.rel(descriptor_path)}: entry.name: {show_value(entry.name)} is not in the package "
                f"(looked for {self.rel(script)})"
            )
        return code_node
