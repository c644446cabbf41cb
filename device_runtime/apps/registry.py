"""App kinds and how to make their logic, so the runner never switches on ``kind``.

The runner's whole dialogue with this package::

    manifest = parse_manifest(package_dir.joinpath("app.json").read_bytes())
    logics = make_app_logic(manifest, labels=model.labels)   # camera id → AppLogic
    ...
    result = logics[camera_id].process(detections, frame.capture_time, frame.width, frame.height)
    ...
    manifest = manifest.with_params(request.params_json)       # SetParams, validated
    for logic in logics.values():
        logic.update_params(manifest.live_params)

Adding a kind (the planned ``"panorama"``: a Panorama-compatible code app in
its own process, with its graph.json read from the package) means writing its
manifest class (a subclass of :class:`AppManifestBase` with
``kind: Literal["panorama"]``) and calling :func:`register_app_kind` once.
A kind whose work does not fit per-frame logic in the pipeline registers
``make_logic=None`` and ``runs_in_process=False``; :func:`make_app_logic`
then refuses it with :class:`UnsupportedAppKind` until its runner exists, and
the detector code stays untouched either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from device_runtime.apps.detector import DetectorLogic, LogicResult
from device_runtime.protocol.apps.errors import UnsupportedAppKind
from device_runtime.protocol.apps.manifest import (
    AppManifestBase,
    DetectorManifest,
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


@dataclass(frozen=True)
class AppKind:
    """One kind of app: its manifest model and how to build its per-camera logic."""

    name: str
    manifest_type: type[AppManifestBase]
    make_logic: LogicFactory | None
    description: str = ""
    runs_in_process: bool = True  # False: the app runs outside the frame pipeline (own process)


_KINDS: dict[str, AppKind] = {}


def register_app_kind(kind: AppKind) -> None:
    """Make ``kind`` parseable and runnable; replaces an earlier registration of the same name."""
    _KINDS[kind.name] = kind
    register_manifest_kind(kind.name, kind.manifest_type)


def app_kinds() -> list[str]:
    """Names of the registered app kinds, sorted."""
    return sorted(_KINDS)


def app_kind(name: str) -> AppKind:
    """The registered kind called ``name``; :class:`UnsupportedAppKind` if there is none."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnsupportedAppKind(
            f"this runtime cannot run apps of kind '{name}' (it runs: {', '.join(app_kinds())})"
        ) from None


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


"""Another name for :func:`make_logic`."""


def _make_detector_logic(
    manifest: AppManifestBase, camera_id: str, labels: Sequence[str]
) -> AppLogic:
    assert isinstance(manifest, DetectorManifest)
    return DetectorLogic(manifest.id, camera_id, manifest.params, labels or manifest.model.labels)


register_app_kind(
    AppKind(
        name="detector",
        manifest_type=DetectorManifest,
        make_logic=_make_detector_logic,
        description="Declarative: one model, class filter, zones, counting lines and dwell limits.",
    )
)
