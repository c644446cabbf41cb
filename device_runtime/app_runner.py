"""Running apps: the one protocol every app kind's runner speaks, and the detector's runner.

The supervisor and health know runners only through :class:`AppRunner`:
``start``, ``stop``, ``set_params``, ``error``, ``streams`` and ``sessions``.
A kind's runner gets everything it may use in a :class:`RunnerContext`
(shared camera sources, the shared model registry, the model store, its
package folder, its data folder, callbacks for events and previews) and
acquires and releases its own cameras and models.

:class:`DetectorAppRunner` is the declarative kind's runner: one shared
model session and one :class:`~device_runtime.pipeline.CameraWorker` per
camera. The logic (zones, lines, tracking) lives in ``device_runtime.apps``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from device_runtime.errors import FailedPrecondition, InvalidArgument
from device_runtime.inference.session import ModelSession
from device_runtime.pipeline import CameraWorker, PreviewItem
from device_runtime.types import Frame

log = logging.getLogger(__name__)

MANIFEST_FILE = "app.json"


def _ignore(*_args: Any) -> None:
    return None


@dataclass
class RunnerContext:
    """What a runner (or a kind's package validation) may use of the device."""

    app_id: str
    package_dir: Path  # the installed (or, when validating, staged) package folder
    data_dir: Path  # the app's own folder in the data dir: survives restarts and upgrades
    sources: Any  # SourcePool: shared camera sources
    registry: Any  # ModelRegistry: shared model sessions
    models: Any  # ModelStore: models uploaded to the device
    #: (app id, frame, events, the frame's preview item or None: its boxes go beside the snapshot)
    on_events: Callable[[str, Frame, list[Any], PreviewItem | None], None] = _ignore
    on_preview: Callable[[str, PreviewItem], None] = _ignore


@dataclass(frozen=True)
class StreamStatus:
    """One camera of a running app, as health reports it."""

    camera_id: str
    url: str
    state: str
    state_reason: str = ""
    camera_fps: float = 0.0
    inferred_fps: float = 0.0
    dropped_frames: int = 0
    inference_ms: float = 0.0
    width: int = 0
    height: int = 0
    video_backend: str = ""  # "opencv" | "gstreamer" ("" for synthetic sources)
    decoder: str = ""  # e.g. "nvv4l2decoder", "avdec_h264", "ffmpeg (OpenCV)"


@dataclass(frozen=True)
class NodeStatus:
    """One process of an app that runs code in processes of its own (Panorama code nodes)."""

    name: str
    state: str
    pid: int = 0
    crashes: int = 0
    last_traceback: str = ""
    results_per_s: float = 0.0


class AppRunner(Protocol):
    """A running app of any kind. The supervisor and health use nothing else."""

    app_id: str
    manifest: Any

    def start(self) -> None:
        """Acquire cameras and models and start; on failure release everything and raise."""

    def stop(self) -> None:
        """Stop and release every camera and model this runner acquired."""

    def set_params(self, params: Any) -> None:
        """Apply validated live parameters (the manifest's ``live_params``) without a restart."""

    @property
    def error(self) -> str:
        """Why the app is not working right now; empty when it is."""

    def streams(self) -> list[StreamStatus]:
        """The state of each camera the app reads."""

    def sessions(self) -> list[ModelSession]:
        """The shared model sessions this runner holds."""

    def nodes(self) -> list[NodeStatus]:
        """The app's own processes (empty for kinds that run inside the runtime)."""

    def preview_ids(self) -> list[str]:
        """Preview streams the app publishes under ids of its own (not camera ids), e.g. a display output."""

    def set_paused(self, camera_id: str, paused: bool) -> None:
        """Stop or restart feeding one camera to the app; FailedPrecondition for kinds that cannot."""


def open_model(context: RunnerContext, spec: Any) -> ModelSession:
    """Acquire the shared session of a manifest's model spec: bundled ``file`` or a stored ``name``."""
    if spec.file is not None:
        path = context.package_dir / spec.file
        return context.registry.acquire(
            spec.name or f"{context.app_id}/{spec.file}", path, decoder=spec.decoder, labels=spec.labels or None
        )
    stored = context.models.get(spec.name)
    return context.registry.acquire(
        spec.name, stored.path, decoder=spec.decoder or stored.decoder, labels=spec.labels or stored.labels or None
    )


def validate_detector_package(manifest: Any, context: RunnerContext) -> None:
    """Refuse a detector package whose cameras clash or whose model is absent or does not load."""
    for camera in manifest.cameras:
        context.sources.check(camera.id, camera.url, manifest.id)
    if manifest.model.file is not None:
        model_path = context.package_dir / manifest.model.file
        if not model_path.is_file():
            raise InvalidArgument(f"{MANIFEST_FILE}: model.file {manifest.model.file!r} is not in the package")
        ModelSession.inspect(model_path, decoder=manifest.model.decoder)
    else:
        context.models.get(manifest.model.name)  # NotFound names the model


class DetectorAppRunner:
    """Runs a declarative detector app on each of its cameras."""

    def __init__(
        self,
        manifest: Any,
        context: RunnerContext,
        make_logic: Callable[[Any, str, Sequence[str]], Any],
    ):
        self.manifest = manifest
        self.app_id = manifest.id
        self.context = context
        self.model: ModelSession | None = None  # the shared inference session, while running
        self._make_logic = make_logic
        self.params = manifest.live_params
        self.workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.model = open_model(self.context, self.manifest.model)
        try:
            labels = list(self.model.labels)
            for camera in self.manifest.cameras:
                source = self.context.sources.acquire(camera.id, camera.url, self.app_id)
                logic = self._make_logic(self.manifest, camera.id, labels)
                worker = CameraWorker(
                    app_id=self.app_id,
                    camera_id=camera.id,
                    source=source,
                    session=self.model,
                    logic=logic,
                    params=lambda: self.params,
                    on_events=lambda frame, events, item: self.context.on_events(self.app_id, frame, events, item),
                    on_preview=self.context.on_preview,
                )
                self.workers[camera.id] = worker
                worker.start()
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        with self._lock:
            workers, self.workers = list(self.workers.values()), {}
            model, self.model = self.model, None
        for worker in workers:
            worker.stop()
        for worker in workers:
            self.context.sources.release(worker.camera_id, self.app_id)
        if model is not None:
            self.context.registry.release(model)

    def set_params(self, params: Any) -> None:
        """Apply new parameters from the next frame on; nothing restarts."""
        self.params = params
        for worker in list(self.workers.values()):
            worker.logic.update_params(params)

    @property
    def error(self) -> str:
        return next((w.error for w in self.workers.values() if w.error), "")

    def streams(self) -> list[StreamStatus]:
        now = time.monotonic()
        result = []
        for camera_id, worker in list(self.workers.items()):
            source = worker.source
            result.append(
                StreamStatus(
                    camera_id=camera_id,
                    url=source.url,
                    state=source.state.value,
                    state_reason=source.state_reason or worker.error,
                    camera_fps=source.camera_fps,
                    inferred_fps=worker.stats.fps(now),
                    dropped_frames=worker.dropped,
                    inference_ms=worker.stats.inference_ms,
                    width=source.width or 0,
                    height=source.height or 0,
                    video_backend=getattr(source, "backend", ""),
                    decoder=getattr(source, "decoder", ""),
                )
            )
        return result

    def sessions(self) -> list[ModelSession]:
        model = self.model
        return [model] if model is not None else []

    def nodes(self) -> list[NodeStatus]:
        return []

    def preview_ids(self) -> list[str]:
        return []

    def set_paused(self, camera_id: str, paused: bool) -> None:
        raise FailedPrecondition(f"app {self.app_id} is a detector app: its cameras cannot be paused, only the app stopped")
