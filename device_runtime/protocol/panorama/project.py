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

from pathlib import Path

from device_runtime.protocol.panorama.formats import PanoramaFormatError
from device_runtime.protocol.panorama.project_types import (
    APP_ROOT,
    CAMERA_PACKAGE,
    DISPLAY_PACKAGE,
    CameraNode,
    CodeNode,
    InputBinding,
    ModelNode,
    PanoramaProject,
    Parameter,
    Stream,
    check_constraint,
    coerce_parameter,
    descriptor_problems,
    map_app_path,
)
from device_runtime.protocol.panorama.resolver import Resolver

__all__ = [
    "APP_ROOT",
    "CAMERA_PACKAGE",
    "DISPLAY_PACKAGE",
    "CameraNode",
    "CodeNode",
    "InputBinding",
    "ModelNode",
    "PanoramaProject",
    "Parameter",
    "Stream",
    "check_constraint",
    "coerce_parameter",
    "descriptor_problems",
    "find_graph",
    "load_project",
    "map_app_path",
]


def find_graph(root: Path) -> Path:
    """The graph.json the Panorama CLI would use: the first folder under ``graphs/``."""
    graphs = root / "graphs"
    folders = sorted(p for p in graphs.iterdir() if p.is_dir()) if graphs.is_dir() else []
    for folder in folders:
        if (folder / "graph.json").is_file():
            return folder / "graph.json"
    raise PanoramaFormatError([f"{root}: no graphs/<app>/graph.json (is this a Panorama project folder?)"])


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
    resolver = Resolver(root, graph_path)
    parsed = resolver.read_graph()
    for path in overrides or []:
        resolver.apply_override(Path(path))
    resolver.classify()
    resolver.connect(parsed.edges)
    resolver.route(parsed.networkRoutingRules)
    code_nodes = resolver.code_nodes()
    if resolver.problems:
        raise PanoramaFormatError(resolver.problems)
    return PanoramaProject(
        root=root,
        graph_path=graph_path,
        name=graph_path.parent.name,
        description=parsed.description,
        code_nodes=code_nodes,
        model_nodes=resolver.models,
        cameras=resolver.cameras,
        parameters=resolver.parameters,
        displays=resolver.displays,
        warnings=resolver.warnings,
    )
