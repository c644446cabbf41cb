"""Detector applications: manifests, tracking, zones, counting lines and events.

Pure logic, no threads or I/O besides parsing: the runner feeds it frames'
detections and forwards what comes out. Start with :func:`parse_manifest`
and :func:`make_app_logic`; see ``registry`` for the runner's side and
``detector`` for the rules users see.
"""

from __future__ import annotations

from device_runtime.apps.detector import DetectorLogic, LogicResult
from device_runtime.apps.events import EVENT_TYPES, AppEvent
from device_runtime.apps.registry import (
    AppKind,
    AppLogic,
    app_kind,
    app_kinds,
    make_app_logic,
    make_logic,
    make_runner,
    register_app_kind,
    validate_package,
)
from device_runtime.apps.tracker import Track, Tracker
from device_runtime.media.redact import redact_url
from device_runtime.protocol.apps.errors import ManifestError, UnknownCamera, UnsupportedAppKind
from device_runtime.protocol.apps.manifest import (
    SCHEMA,
    SCHEMA_V1,
    SCHEMA_V2,
    AppManifest,
    AppManifestBase,
    DetectorManifest,
    manifest_json_schema,
    merge_params,
    migrate_manifest,
    parse_manifest,
)
from device_runtime.protocol.apps.params import (
    CameraGeometry,
    CountingLine,
    DetectorParams,
    TrackingParams,
    Zone,
)
from device_runtime.protocol.apps.specs import CameraSpec, ModelSpec

__all__ = [
    "EVENT_TYPES",
    "SCHEMA",
    "SCHEMA_V1",
    "SCHEMA_V2",
    "AppEvent",
    "AppKind",
    "AppLogic",
    "AppManifest",
    "AppManifestBase",
    "CameraGeometry",
    "CameraSpec",
    "CountingLine",
    "DetectorLogic",
    "DetectorManifest",
    "DetectorParams",
    "LogicResult",
    "ManifestError",
    "ModelSpec",
    "Track",
    "Tracker",
    "TrackingParams",
    "UnknownCamera",
    "UnsupportedAppKind",
    "Zone",
    "app_kind",
    "app_kinds",
    "make_app_logic",
    "make_logic",
    "make_runner",
    "manifest_json_schema",
    "merge_params",
    "migrate_manifest",
    "parse_manifest",
    "redact_url",
    "register_app_kind",
    "validate_package",
]

# Kinds that live outside this package register themselves on import.
import device_runtime.panorama.kind  # noqa: E402, F401  (the "panorama" code-app kind)
