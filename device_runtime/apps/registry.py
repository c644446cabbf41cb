"""App kinds: how each kind parses, validates and runs, so nothing else switches on ``kind``.

There is one registry of kinds: the manifest-kind table in
``device_runtime.protocol.apps.manifest`` (the console reads it to parse
manifests). :func:`register_app_kind` puts a kind's manifest class there and
attaches its :class:`AppKind`, which the device uses to

- ``validate`` a staged package (cameras, models, the kind's own files), and
- ``make_runner``: build the :class:`~device_runtime.app_runner.AppRunner`
  the supervisor starts, stops, tunes and asks for health.

The detector kind also exposes its per-camera logic (``make_logic``) for the
pipeline and benchmarks. A new kind (the Panorama code apps) writes its
manifest class, a runner and a validator, and registers once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from device_runtime.app_runner import (
    AppRunner,
    DetectorAppRunner,
    RunnerContext,
    validate_detector_package,
)
from device_runtime.apps.detector import DetectorLogic, LogicResult
from device_runtime.protocol.apps.errors import UnsupportedAppKind
from device_runtime.protocol.apps.manifest import (
    AppManifestBase,
    DetectorManifest,
    kind_runtime,
    manifest_kinds,
    register_manifest_kind,
)
from device_runtime.types import Detection


class AppLogic(Protocol):
    """Per-camera logic the pipeline feeds with each frame's detections."""

    def process(
        self, detections: Sequence[Detection], frame_time: float, width: int, height: int
    ) -> LogicResult: ...

    def update_params(self, params: Any) -> None: ...


LogicFactory = Callable[[AppManifestBase, str, Sequence[str]], AppLogic]
RunnerFactory = Callable[[AppManifestBase, RunnerContext], AppRunner]
PackageValidator = Callable[[AppManifestBase, RunnerContext], None]


def _no_models(manifest: AppManifestBase) -> list[str]:
    return []


@dataclass(frozen=True)
class AppKind:
    """One kind of app: its manifest model, how to check a package and how to run it."""

    name: str
    manifest_type: type[AppManifestBase]
    make_runner: RunnerFactory | None
    validate: PackageValidator | None = None
    make_logic: LogicFactory | None = None  # per-frame logic, for kinds that run in the pipeline
    stored_models: Callable[[AppManifestBase], list[str]] = _no_models
    """Names of models from the device's model store the app uses (not ones bundled in its package)."""
    description: str = ""


def register_app_kind(kind: AppKind) -> None:
    """Make ``kind`` parseable and runnable; replaces an earlier registration of the same name."""
    register_manifest_kind(kind.name, kind.manifest_type, runtime=kind)


def app_kinds() -> list[str]:
    """Names of the app kinds this device can run, sorted."""
    return [name for name in manifest_kinds() if isinstance(kind_runtime(name), AppKind)]


def app_kind(name: str) -> AppKind:
    """The registered kind called ``name``; :class:`UnsupportedAppKind` if there is none."""
    kind = kind_runtime(name)
    if not isinstance(kind, AppKind):
        raise UnsupportedAppKind(
            f"this runtime cannot run apps of kind '{name}' (it runs: {', '.join(app_kinds())})"
        )
    return kind


def make_runner(manifest: AppManifestBase, context: RunnerContext) -> AppRunner:
    """The runner of ``manifest``'s kind; :class:`UnsupportedAppKind` if the kind has none."""
    kind = app_kind(manifest.kind)
    if kind.make_runner is None:
        raise UnsupportedAppKind(f"app '{manifest.id}' is of kind '{kind.name}', which this device cannot run")
    return kind.make_runner(manifest, context)


def validate_package(manifest: AppManifestBase, context: RunnerContext) -> None:
    """Run the kind's package checks (a no-op for kinds without any)."""
    kind = app_kind(manifest.kind)
    if kind.validate is not None:
        kind.validate(manifest, context)


def make_logic(
    manifest: AppManifestBase, camera_id: str, labels: Sequence[str] | None = None
) -> AppLogic:
    """The logic of ``manifest`` for one of its cameras.

    ``labels`` are the class names of the model as loaded on the device;
    ``None`` uses the ones the manifest declares. Raises
    :class:`UnsupportedAppKind` for kinds that have no per-frame logic and
    :class:`~device_runtime.protocol.apps.errors.UnknownCamera` for a camera the
    manifest does not declare.
    """
    kind = app_kind(manifest.kind)
    if kind.make_logic is None:
        raise UnsupportedAppKind(
            f"app '{manifest.id}' is of kind '{kind.name}', which does not run in the frame pipeline"
        )
    manifest.camera(camera_id)
    return kind.make_logic(manifest, camera_id, list(labels) if labels is not None else [])


def make_app_logic(
    manifest: AppManifestBase, labels: Sequence[str] | None = None
) -> dict[str, AppLogic]:
    """One logic per camera of ``manifest``, keyed by camera id (see :func:`make_logic`)."""
    return {
        camera_id: make_logic(manifest, camera_id, labels) for camera_id in manifest.camera_ids()
    }


def _make_detector_logic(
    manifest: AppManifestBase, camera_id: str, labels: Sequence[str]
) -> AppLogic:
    assert isinstance(manifest, DetectorManifest)
    return DetectorLogic(manifest.id, camera_id, manifest.params, labels or manifest.model.labels)


def _make_detector_runner(manifest: AppManifestBase, context: RunnerContext) -> AppRunner:
    return DetectorAppRunner(manifest, context, make_logic=make_logic)


def _detector_stored_models(manifest: AppManifestBase) -> list[str]:
    assert isinstance(manifest, DetectorManifest)
    return [] if manifest.model.file is not None else [manifest.model.name]


register_app_kind(
    AppKind(
        name="detector",
        manifest_type=DetectorManifest,
        make_runner=_make_detector_runner,
        validate=validate_detector_package,
        make_logic=_make_detector_logic,
        stored_models=_detector_stored_models,
        description="Declarative: one model, class filter, zones, counting lines and dwell limits.",
    )
)
