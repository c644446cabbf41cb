"""The ``panorama`` app kind on the device: validate a package, run it through the AppRunner seam.

Deploying a Panorama app is the detector's transaction (signed package,
staged install, validate, atomic activate, restart the previous version if
the new one fails to start): :func:`validate_panorama_package` refuses a
package whose project, bindings, models or parameters are wrong, naming the
problem, and :class:`PanoramaAppRunner` runs it. Its display output becomes
the app's preview stream ``<app id>/<camera id>``: the pixels the app drew,
with ``add_rect`` boxes as detections and ``add_label`` texts as labels.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from device_runtime.app_runner import NodeStatus, RunnerContext, StreamStatus
from device_runtime.apps.registry import AppKind, register_app_kind
from device_runtime.errors import FailedPrecondition, InvalidArgument
from device_runtime.inference.session import ModelSession
from device_runtime.panorama.app_host import PanoramaAppHost, StreamBinding, validate_params
from device_runtime.panorama.dependencies import MissingWheels, install_requirements, venv_python
from device_runtime.panorama.models import acquire_model, check_model_file
from device_runtime.panorama.node_process import NodeLimits, OutputMedia
from device_runtime.pipeline import PreviewItem
from device_runtime.protocol.apps.manifest import AppManifestBase
from device_runtime.protocol.panorama.dockerfile import read_dockerfile
from device_runtime.protocol.panorama.manifest import PanoramaManifest
from device_runtime.protocol.panorama.project import PanoramaProject, load_project
from device_runtime.types import Detection, Frame

log = logging.getLogger(__name__)

WHEELS_DIR = "wheels"  # bundled wheels for the code nodes' pip requirements, next to app.json
START_GRACE_S = 5.0  # a code node that dies within this time (before using the SDK) fails the deploy


def load_package_project(manifest: PanoramaManifest, package_dir: Path) -> PanoramaProject:
    """The package's Panorama project, with the manifest's override files applied."""
    root = package_dir / manifest.project
    if not root.is_dir():
        raise InvalidArgument(f"app.json: project: the package has no folder {manifest.project!r}")
    overrides = [root / name for name in manifest.overrides]
    return load_project(root, overrides, graph=manifest.graph or None)


def resolve_bindings(manifest: PanoramaManifest, project: PanoramaProject) -> list[StreamBinding]:
    """The manifest's cameras bound to the graph's camera nodes; every camera node needs one."""
    urls = {camera.id: camera.url for camera in manifest.cameras}
    concrete = {s.name: (node.name, s.launch) for node in project.cameras.values() for s in node.streams}
    bindings = dict(manifest.bindings)
    if not bindings and len(project.cameras) == 1:
        bindings = {next(iter(project.cameras)): manifest.camera_ids()}
    result = []
    for name, camera_ids in bindings.items():
        if name in project.cameras:
            node, launch = name, "onAppStart"
        elif name in concrete:
            node, launch = concrete[name]
        else:
            known = ", ".join(sorted(set(project.cameras) | set(concrete))) or "none"
            raise InvalidArgument(f"app.json: bindings: the graph has no camera node {name!r} (camera nodes: {known})")
        for camera_id in camera_ids:
            paused = camera_id in manifest.paused or launch == "onSignal"
            result.append(StreamBinding(node, camera_id, urls[camera_id], paused=paused))
    missing = [n for n in project.cameras if not any(b.camera_node == n for b in result)]
    if missing:
        raise InvalidArgument(
            f"app.json: bindings: camera node(s) {', '.join(missing)} have no camera; bind them to ids of 'cameras'"
        )
    return result


def _model_file(manifest: PanoramaManifest, project: PanoramaProject, name: str, context: RunnerContext) -> tuple[Path, Any]:
    """(path, stored model or None) of a model node's ONNX export."""
    spec = manifest.models.get(name)
    node = project.model_nodes[name]
    if spec is None:
        found = sorted(node.folder.glob("*.onnx"))
        if len(found) != 1:
            raise InvalidArgument(
                f"app.json: models: model node {name!r} needs its ONNX export: bundle it and name it in "
                f"'models' ({'found ' + ', '.join(p.name for p in found) if found else 'no .onnx in its package folder'})"
            )
        return found[0], None
    if spec.file is not None:
        path = context.package_dir / spec.file
        if not path.is_file():
            raise InvalidArgument(f"app.json: models.{name}.file {spec.file!r} is not in the package")
        return path, None
    stored = context.models.get(spec.name)  # NotFound names the model
    return stored.path, stored


def validate_panorama_package(manifest: AppManifestBase, context: RunnerContext) -> None:
    """Refuse a package whose project, cameras, models or parameters cannot run, naming the problem."""
    assert isinstance(manifest, PanoramaManifest)
    project = load_package_project(manifest, context.package_dir)
    for camera in manifest.cameras:
        context.sources.check(camera.id, camera.url, manifest.id)
    resolve_bindings(manifest, project)
    unknown = sorted(set(manifest.models) - set(project.model_nodes))
    if unknown:
        raise InvalidArgument(
            f"app.json: models: the graph has no model node {unknown[0]!r} (model nodes: "
            f"{', '.join(project.model_nodes) or 'none'})"
        )
    for name, node in project.model_nodes.items():
        path, _ = _model_file(manifest, project, name, context)
        check_model_file(node, path, source=path.name)
    try:
        validate_params(project, manifest.params, "app.json: params")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    node_interpreters(manifest, project, context, warn=True)


def node_interpreters(
    manifest: PanoramaManifest, project: PanoramaProject, context: RunnerContext, warn: bool = False
) -> dict[str, str]:
    """The Python of each code node that needs its own: a venv with its Dockerfile's pip requirements."""
    interpreters: dict[str, str] = {}
    for node in project.code_nodes:
        source = f"packages/{node.folder.name}/Dockerfile"
        info = read_dockerfile(node.folder / "Dockerfile", node.folder, source=source)
        if warn:
            for warning in info.warnings:
                log.warning("app %s: %s", manifest.id, warning)
        try:
            venv = install_requirements(info.requirements, context.package_dir / WHEELS_DIR, context.data_dir / "python", source)
        except MissingWheels as exc:
            if warn:
                log.warning("app %s: %s", manifest.id, exc)
            continue
        if venv is not None:
            interpreters[node.name] = str(venv_python(venv))
    return interpreters


class PanoramaAppRunner:
    """Runs a Panorama app's code nodes, cameras and models through the AppRunner protocol."""

    def __init__(self, manifest: PanoramaManifest, context: RunnerContext):
        self.manifest = manifest
        self.app_id = manifest.id
        self.context = context
        self.host: PanoramaAppHost | None = None
        self._sessions: dict[str, ModelSession] = {}
        self._project: PanoramaProject | None = None
        self._displays: set[tuple[str, str]] = set()
        self._seq = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        context = self.context
        project = self._project = load_package_project(self.manifest, context.package_dir)
        streams = resolve_bindings(self.manifest, project)
        self._displays = {(n.name, port) for n in project.code_nodes for port in n.display_outputs}
        try:
            for name in project.model_nodes:
                path, stored = _model_file(self.manifest, project, name, context)
                spec = self.manifest.models.get(name)
                if stored is not None:
                    assert spec is not None
                    # The options a detector app uses for a stored model, so both share one session.
                    self._sessions[name] = acquire_model(
                        context.registry, spec.name, path, sha256=stored.sha256,
                        labels=spec.labels or stored.labels or None, decoder=spec.decoder or stored.decoder,
                    )
                else:
                    model_name = (spec.name if spec is not None and spec.name else "") or f"{self.app_id}/{name}"
                    self._sessions[name] = acquire_model(context.registry, model_name, path)
            params = {**project.parameter_values(), **validate_params(project, self.manifest.params, "app.json: params")}
            limits = NodeLimits(memory_mb=self.manifest.limits.memory_mb, cpu_cores=self.manifest.limits.cpu_cores)
            self.host = PanoramaAppHost(
                self.app_id, project, streams=streams, sources=context.sources, models=dict(self._sessions),
                params=params, data_dir=context.data_dir, on_output=self._on_output, limits=limits,
                interpreters=node_interpreters(self.manifest, project, context),
            )
            self.host.start()
            self._wait_started()
        except Exception:
            self.stop()
            raise

    def _wait_started(self) -> None:
        """Fail the start when a code node dies before it even used the SDK (an import error, a typo)."""
        assert self.host is not None
        deadline = time.monotonic() + START_GRACE_S
        while time.monotonic() < deadline:
            pending = False
            for node in self.host.nodes:
                if node.crashes:
                    last = node.last_traceback.strip().splitlines()
                    raise FailedPrecondition(
                        f"code node '{node.node.name}' of app {self.app_id} failed at start: "
                        f"{last[-1] if last else 'it exited'}"
                    )
                if not node.used_sdk.is_set():
                    pending = True
            if not pending:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        with self._lock:
            host, self.host = self.host, None
            sessions, self._sessions = list(self._sessions.values()), {}
        if host is not None:
            host.stop()
        for session in sessions:
            self.context.registry.release(session)

    def set_params(self, params: Any) -> None:
        """Validate against the graph (types, constraints) and send to every code node."""
        host = self.host
        project = self._project
        if host is None or project is None:
            return
        try:
            values = validate_params(project, dict(params), "params_json")
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        host.set_params(values)

    @property
    def error(self) -> str:
        host = self.host
        return host.error if host is not None else ""

    def streams(self) -> list[StreamStatus]:
        host = self.host
        if host is None:
            return []
        rate = sum(node.stats.results_per_s() for node in host.nodes)
        result = []
        for feed in list(host.feeds):
            source = feed.source
            result.append(
                StreamStatus(
                    camera_id=feed.stream_id,
                    url=source.url,
                    state="paused" if feed.paused else source.state.value,
                    state_reason=source.state_reason or host.error,
                    camera_fps=source.camera_fps,
                    inferred_fps=rate,
                    dropped_frames=feed.dropped,
                    width=source.width or 0,
                    height=source.height or 0,
                    video_backend=getattr(source, "backend", ""),
                    decoder=getattr(source, "decoder", ""),
                )
            )
        return result

    def sessions(self) -> list[ModelSession]:
        return list(self._sessions.values())

    def nodes(self) -> list[NodeStatus]:
        host = self.host
        if host is None:
            return []
        return [
            NodeStatus(
                name=node.node.name, state=node.state, pid=node.pid or 0, crashes=node.crashes,
                last_traceback=node.last_traceback, results_per_s=node.stats.results_per_s(),
            )
            for node in host.nodes
        ]

    def preview_ids(self) -> list[str]:
        """``<app id>/<camera id>`` for each camera that reaches a display output."""
        host = self.host
        if host is None or not self._displays:
            return []
        return [f"{self.app_id}/{feed.stream_id}" for feed in host.feeds]

    def set_paused(self, camera_id: str, paused: bool) -> None:
        if self.host is not None:
            self.host.set_paused(camera_id, paused)

    def _on_output(self, item: OutputMedia) -> None:
        if (item.node, item.port) not in self._displays:
            return
        height, width = item.image.shape[:2]
        key = f"{self.app_id}/{item.stream_id}"
        with self._lock:
            self._seq += 1
            seq = self._seq
        seconds, micros = item.time_stamp
        frame = Frame(item.image, stream_id=key, seq=seq, capture_time=seconds + micros / 1e6)
        boxes = [
            Detection(left * width, top * height, right * width, bottom * height, 1.0, -1)
            for left, top, right, bottom in item.rects
        ]
        provider = next((s.active_provider for s in self._sessions.values()), "")
        self.context.on_preview(
            key,
            PreviewItem(frame=frame, detections=boxes, counts={}, timings_ms={}, app_id=self.app_id,
                        provider=provider, labels=list(item.labels)),
        )


def _make_runner(manifest: AppManifestBase, context: RunnerContext) -> PanoramaAppRunner:
    assert isinstance(manifest, PanoramaManifest)
    return PanoramaAppRunner(manifest, context)


def _stored_models(manifest: AppManifestBase) -> list[str]:
    assert isinstance(manifest, PanoramaManifest)
    return [spec.name for spec in manifest.models.values() if spec.file is None and spec.name]


register_app_kind(
    AppKind(
        name="panorama",
        manifest_type=PanoramaManifest,
        make_runner=_make_runner,
        validate=validate_panorama_package,
        stored_models=_stored_models,
        description="An AWS Panorama application folder run as is: code nodes in their own processes.",
    )
)
