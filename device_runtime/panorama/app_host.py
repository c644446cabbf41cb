"""A whole Panorama app running: its cameras, its code-node processes and its outputs.

Used by the device's ``panorama`` app kind and by ``sightline-device
run-panorama``. The caller resolves what differs between the two (which
camera URLs feed which camera node, which loaded sessions serve which model
node, where the app's data lives) and gets the same runtime either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runtime.errors import FailedPrecondition
from device_runtime.panorama.frames import FeedGroup, StreamFeed
from device_runtime.panorama.node_process import (
    DEFAULT_LIMITS,
    CodeNodeHost,
    NodeLimits,
    OutputMedia,
)
from device_runtime.panorama.relay import TcpRelay
from device_runtime.protocol.panorama.project import (
    PanoramaProject,
    check_constraint,
    coerce_parameter,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamBinding:
    """One camera bound to a camera node of the graph."""

    camera_node: str
    stream_id: str  # what the app sees as ``media.stream_id``
    url: str
    paused: bool = False  # ``onSignal`` cameras start paused


class PanoramaAppHost:
    """Cameras → code-node processes → outputs, for one app."""

    def __init__(
        self,
        app_id: str,
        project: PanoramaProject,
        *,
        streams: list[StreamBinding],
        sources: Any,
        models: dict[str, Any],
        params: dict[str, Any],
        data_dir: Path,
        on_output: Callable[[OutputMedia], None],
        limits: NodeLimits = DEFAULT_LIMITS,
        python: str | None = None,
        interpreters: dict[str, str] | None = None,
        route_host: str = "0.0.0.0",
    ):
        self.app_id = app_id
        self.project = project
        self.streams = streams
        self._sources = sources
        self.models = models
        self.params = dict(params)
        self.data_dir = Path(data_dir)
        self._on_output = on_output
        self.limits = limits
        self._python = python
        self._interpreters = interpreters or {}  # node name → its venv's python (panorama.dependencies)
        self.route_host = route_host  # where routed host ports listen (all interfaces on a device)
        self.relays: list[TcpRelay] = []
        self.nodes: list[CodeNodeHost] = []
        self.feeds: list[StreamFeed] = []
        self._groups: list[FeedGroup] = []
        self._acquired: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Open the cameras and start every code node; on failure undo everything and raise."""
        try:
            self._start_relays()
            by_node: dict[str, list[StreamBinding]] = {}
            for binding in self.streams:
                by_node.setdefault(binding.camera_node, []).append(binding)
            sources = {}
            for binding in self.streams:
                if binding.stream_id not in sources:
                    sources[binding.stream_id] = self._sources.acquire(binding.stream_id, binding.url, self.app_id)
                    self._acquired.append(binding.stream_id)
            for node in self.project.code_nodes:
                groups = {}
                for port, input_binding in node.inputs.items():
                    if input_binding.type != "media":
                        continue
                    feeds = []
                    for camera in input_binding.cameras:
                        for binding in by_node.get(camera, []):
                            feed = StreamFeed(
                                binding.stream_id,
                                binding.url,
                                sources[binding.stream_id],
                                f"{self.app_id}/{node.name}/{binding.stream_id}",
                                paused=binding.paused,
                            )
                            feeds.append(feed)
                    group = FeedGroup(feeds)
                    groups[port] = group
                    self._groups.append(group)
                    self.feeds.extend(feeds)
                host = CodeNodeHost(
                    self.app_id,
                    node,
                    groups=groups,
                    models=self.models,
                    params=lambda node=node: self._node_params(node),
                    on_output=self._on_output,
                    data_dir=self.data_dir,
                    limits=self.limits,
                    **({"python": python} if (python := self._interpreters.get(node.name) or self._python) else {}),
                )
                self.nodes.append(host)
            for feed in self.feeds:
                feed.start()
            for host in self.nodes:
                host.start()
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process and camera this app started."""
        with self._lock:
            nodes, self.nodes = self.nodes, []
            feeds, self.feeds = self.feeds, []
            groups, self._groups = self._groups, []
            acquired, self._acquired = self._acquired, []
            relays, self.relays = self.relays, []
        for relay in relays:
            relay.stop()
        for host in nodes:
            host.stop()
        for feed in feeds:
            feed.stop()
        for group in groups:
            group.close()
        for stream_id in acquired:
            self._sources.release(stream_id, self.app_id)

    def _start_relays(self) -> None:
        """A relay per routing rule whose host port differs from the port the node listens on."""
        for node in self.project.code_nodes:
            for rule in node.routes:
                if rule.containerPort == rule.hostPort:
                    continue  # the app listens on the host port itself: nothing to relay
                relay = TcpRelay(self.route_host, rule.hostPort, rule.containerPort,
                                 name=f"{self.app_id}/{node.name}:{rule.hostPort}")
                try:
                    relay.start()
                except OSError as exc:
                    raise FailedPrecondition(
                        f"networkRoutingRules: node '{node.name}': cannot listen on host port {rule.hostPort} "
                        f"({exc.strerror or exc}); free the port or route another one"
                    ) from None
                self.relays.append(relay)

    def _node_params(self, node: Any) -> dict[str, Any]:
        values = {}
        for port, binding in node.inputs.items():
            if binding.type == "media":
                continue
            if binding.parameter:
                values[port] = self.params.get(binding.parameter)
            else:
                values[port] = binding.default
        return values

    def set_params(self, values: dict[str, Any]) -> None:
        """Change parameter values live (already validated); code nodes see them on their next get()."""
        self.params.update(values)
        for host in list(self.nodes):
            host.set_params(self._node_params(host.node))

    def set_paused(self, stream_id: str, paused: bool) -> None:
        """Pause or resume one camera (``onSignal`` cameras start paused)."""
        for feed in list(self.feeds):
            if feed.stream_id == stream_id:
                feed.paused = paused
        for group in list(self._groups):
            group.wake()

    @property
    def error(self) -> str:
        for host in list(self.nodes):
            if host.state == "backoff":
                first = (host.last_traceback.strip().splitlines() or [""])[-1]
                return f"code node {host.node.name} crashed {host.crashes} time(s): {first}"
        return ""


def validate_params(project: PanoramaProject, values: dict[str, Any], source: str) -> dict[str, Any]:
    """``values`` (parameter node → value) checked and converted; ValueError naming each problem."""
    problems = []
    result = {}
    for name, value in values.items():
        parameter = project.parameters.get(name)
        if parameter is None:
            known = ", ".join(project.parameters) or "none"
            problems.append(f"{source}: no parameter node {name!r} in the graph (parameters: {known})")
            continue
        try:
            converted = coerce_parameter(parameter.type, value, f"{source}: {name}")
            check_constraint(parameter, converted, f"{source}: {name}")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        result[name] = converted
    if problems:
        raise ValueError("\n".join(problems))
    return result
