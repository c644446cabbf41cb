"""The app manifest (``app.json`` at the root of an app package), versioned and validated.

A manifest names its ``schema`` (``sightline.app/v2``) and its ``kind``. The
kind picks the model class from a registry (:func:`register_manifest_kind`),
so a later kind, such as ``"panorama"`` (a code app in its own process,
described by its own graph.json), adds a class and one registration without
touching the detector. Every kind shares :class:`AppManifestBase`: id, name,
version and cameras, plus the operations the runtime needs from any app
(redaction, live parameters, models used).

Example (kind ``detector``)::

    {"schema": "sightline.app/v2", "id": "line3-safety", "name": "Line 3", "version": "1.0.0",
     "kind": "detector",
     "cameras": [{"id": "cam-1", "url": "rtsp://10.0.0.5/stream1"}],
     "model": {"name": "sightline-demo", "labels": ["part", "person"]},
     "params": {"confidence": 0.4, "classes": ["person"],
                "geometry": {"cam-1": {"zones": [], "lines": []}}}}

Schema history: ``sightline.app/v1`` had app-wide ``params.zones`` and
``params.lines``, each with a ``cameras`` filter (empty: every camera). v2
keys them by camera (``params.geometry``), since every camera sees its own
scene. :func:`parse_manifest` still reads v1 and migrates it
(:func:`migrate_manifest`); what it returns, and writes back, is v2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from device_runtime.protocol.apps.errors import ManifestError, UnknownCamera
from device_runtime.media.redact import redact_url
from device_runtime.protocol.apps.outputs import OutputSpec, output_problems
from device_runtime.protocol.apps.params import DetectorParams, reference_problems, v1_geometry
from device_runtime.protocol.apps.specs import CameraSpec, ModelSpec
from device_runtime.protocol.apps.validation import (
    FieldProblems,
    StrictModel,
    describe_validation_error,
    format_loc,
    json_type_name,
    show_value,
)

SCHEMA_V1 = "sightline.app/v1"
SCHEMA_V2 = "sightline.app/v2"
SCHEMA = SCHEMA_V2
"""The schema this runtime writes; :data:`READABLE_SCHEMAS` lists what it reads."""
READABLE_SCHEMAS = (SCHEMA_V1, SCHEMA_V2)

APP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION_PATTERN = re.compile(r"^\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$")


class AppManifestBase(StrictModel):
    """What every kind of app declares. Subclasses set ``kind`` to a Literal and register."""

    schema_: Literal["sightline.app/v2"] = Field(
        alias="schema",
        title="Manifest schema",
        description=f"Format and version of this file: '{SCHEMA_V2}' (files of "
        f"'{SCHEMA_V1}' are read and migrated).",
    )
    id: str = Field(
        title="App id",
        description="Unique on the device; 1-63 lowercase letters, digits, '_' or '-', "
        "starting with a letter or digit.",
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        title="Display name",
        description="What the console shows for this app.",
    )
    version: str = Field(
        title="Version",
        description="Version of this app, like 1.2 or 1.2.3, optionally with a -suffix or "
        "+build; the device keeps earlier versions for rollback.",
    )
    kind: str = Field(
        title="App kind",
        description="What runs the app: 'detector' (declarative zones and lines).",
    )
    description: str = Field(
        default="",
        max_length=2000,
        title="Description",
        description="Free text for the engineer who maintains the app.",
    )
    cameras: list[CameraSpec] = Field(
        min_length=1,
        max_length=64,
        title="Cameras",
        description="The streams the app reads; at least one.",
    )

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not APP_ID_PATTERN.match(value):
            raise ValueError(
                f"app id {show_value(value)} is not valid: use 1-63 lowercase letters, digits, "
                "'_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("version")
    @classmethod
    def _valid_version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError(
                f"version {show_value(value)} is not valid: expected MAJOR.MINOR or "
                "MAJOR.MINOR.PATCH, optionally with -suffix or +build (e.g. 1.0.0, 2.1-rc1)"
            )
        return value

    @field_validator("cameras")
    @classmethod
    def _unique_camera_ids(cls, cameras: list[CameraSpec]) -> list[CameraSpec]:
        first: dict[str, int] = {}
        problems = []
        for index, camera in enumerate(cameras):
            if camera.id in first:
                problems.append(
                    (
                        (index, "id"),
                        f"camera id {show_value(camera.id)} is already used by "
                        f"cameras[{first[camera.id]}]",
                    )
                )
            first.setdefault(camera.id, index)
        if problems:
            raise FieldProblems(problems)
        return cameras

    def camera_ids(self) -> list[str]:
        """Ids of the app's cameras, in manifest order."""
        return [camera.id for camera in self.cameras]

    def camera(self, camera_id: str) -> CameraSpec:
        """The camera with this id; :class:`UnknownCamera` if the app has none."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise UnknownCamera(
            f"app '{self.id}' has no camera '{camera_id}' (cameras: {', '.join(self.camera_ids())})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, with every default filled in (parses back to an equal manifest)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def redacted(self) -> dict[str, Any]:
        """:meth:`to_dict` with camera passwords replaced by ``***`` (what the API returns)."""
        data = self.to_dict()
        for camera in data["cameras"]:
            camera["url"] = redact_url(camera["url"])
        return data

    def redacted_json(self, indent: int | None = None) -> str:
        """:meth:`redacted` as JSON text."""
        return json.dumps(self.redacted(), indent=indent, ensure_ascii=False)

    def model_names(self) -> list[str]:
        """Names of the device models this app uses (for "model in use" checks)."""
        return []

    def params_dict(self) -> dict[str, Any]:
        """The app's live parameters as JSON-ready data; empty for kinds without any."""
        return {}

    @property
    def live_params(self) -> Any:
        """The parameter object this kind's logic takes in ``update_params``; ``None`` if none."""
        return None

    def with_params(
        self, patch: Mapping[str, Any] | str | bytes, source: str = "params_json"
    ) -> AppManifestBase:
        """A copy with ``patch`` merged into the live parameters (validated); see :func:`merge_params`."""
        raise ManifestError([f"{source}: apps of kind '{self.kind}' have no live parameters"])


class DetectorManifest(AppManifestBase):
    """A declarative app: one model, a class filter, and zones and counting lines per camera."""

    kind: Literal["detector"] = Field(
        title="App kind",
        description="'detector': the runtime runs the model and this file's zones and lines.",
    )
    model: ModelSpec = Field(
        title="Model", description="The model to run on every camera's frames."
    )
    params: DetectorParams = Field(
        default_factory=DetectorParams,
        title="Parameters",
        description="Confidence, classes, zones and lines per camera, and tracking; changeable "
        "while the app runs.",
    )
    outputs: list[OutputSpec] = Field(
        default_factory=list,
        max_length=32,
        title="Outputs",
        description="Where events go besides the console: MQTT, webhook, Modbus TCP, OPC UA, S3, "
        "CloudWatch (see device_runtime/protocol/apps/outputs.py). Delivered through the device's "
        "durable outbox.",
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> DetectorManifest:
        problems = reference_problems(self.params, self.camera_ids(), self.model.labels)
        problems = [(("params",) + loc, message) for loc, message in problems]
        problems += [
            (("outputs",) + loc, message)
            for loc, message in output_problems(
                self.outputs,
                camera_ids=self.camera_ids(),
                labels=self.model.labels or None,
                # Names from every camera: an output's filter may name a zone that two cameras share.
                zones=sorted({z.name for drawn in self.params.geometry.values() for z in drawn.zones}),
                lines=sorted({ln.name for drawn in self.params.geometry.values() for ln in drawn.lines}),
            )
        ]
        if problems:
            raise FieldProblems(problems)
        return self

    def model_names(self) -> list[str]:
        return [self.model.ref]

    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    @property
    def live_params(self) -> DetectorParams:
        return self.params

    def with_params(
        self, patch: Mapping[str, Any] | str | bytes, source: str = "params_json"
    ) -> DetectorManifest:
        params = merge_params(
            self.params,
            patch,
            camera_ids=self.camera_ids(),
            labels=self.model.labels,
            source=source,
        )
        return self.model_copy(update={"params": params})


AppManifest = AppManifestBase
"""The type to annotate "any kind of manifest" with."""

_MANIFEST_KINDS: dict[str, type[AppManifestBase]] = {}
_RUNTIMES: dict[str, Any] = {}


def register_manifest_kind(
    kind: str, manifest_type: type[AppManifestBase], runtime: Any = None
) -> None:
    """Make :func:`parse_manifest` accept ``"kind": kind`` and validate it with ``manifest_type``.

    This is the one registry of app kinds. The device attaches what runs a
    kind as ``runtime`` (an ``device_runtime.apps.registry.AppKind``); the
    console registers and reads only manifest types. Registering again
    replaces the earlier entry; ``runtime=None`` keeps an attached runtime.
    """
    _MANIFEST_KINDS[kind] = manifest_type
    if runtime is not None:
        _RUNTIMES[kind] = runtime


def kind_runtime(kind: str) -> Any:
    """What the device attached to ``kind`` with :func:`register_manifest_kind`; ``None`` if nothing."""
    return _RUNTIMES.get(kind)


def manifest_kinds() -> list[str]:
    """The app kinds this runtime can parse, sorted."""
    return sorted(_MANIFEST_KINDS)


register_manifest_kind("detector", DetectorManifest)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {show_value(key)} appears twice in one object")
        result[key] = value
    return result


def load_json_object(
    data: bytes | str | Mapping[str, Any], source: str, what: str
) -> dict[str, Any]:
    """``data`` as a dict: JSON text is parsed (duplicate keys rejected); anything else is an error naming ``source``."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ManifestError([f"{source}: not UTF-8 text (byte {error.start})"]) from None
    if isinstance(data, str):
        try:
            data = json.loads(data, object_pairs_hook=_reject_duplicate_keys)
        except json.JSONDecodeError as error:
            raise ManifestError(
                [
                    f"{source}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
                ]
            ) from None
        except ValueError as error:
            raise ManifestError([f"{source}: not valid JSON: {error}"]) from None
    if not isinstance(data, Mapping):
        raise ManifestError(
            [f"{source}: expected {what} (a JSON object), got {json_type_name(data)}"]
        )
    return dict(data)


def parse_manifest(
    data: bytes | str | Mapping[str, Any], source: str = "app.json"
) -> AppManifestBase:
    """Validate a manifest (JSON bytes or text, or already-parsed data) into its kind's model.

    Raises :class:`ManifestError` listing every problem as
    ``"<source>: <field path>: <problem>"``.
    """
    raw = migrate_manifest(load_json_object(data, source, "an app manifest"), source)
    kind = raw.get("kind")
    manifest_type = _MANIFEST_KINDS.get(kind) if isinstance(kind, str) else None
    if manifest_type is None:
        known = ", ".join(manifest_kinds())
        got = "it is missing" if "kind" not in raw else f"got {show_value(kind)}"
        raise ManifestError(
            [f"{source}: kind: must be one of the app kinds this runtime knows ({known}), {got}"]
        )
    try:
        return manifest_type.model_validate(raw)
    except ValidationError as error:
        raise ManifestError(describe_validation_error(error, source)) from None


def migrate_manifest(raw: Mapping[str, Any], source: str = "app.json") -> dict[str, Any]:
    """Manifest data of any readable schema, as data of the current schema (:data:`SCHEMA`).

    v1 → v2 moves ``params.zones`` / ``params.lines`` into ``params.geometry``
    per camera (see :func:`v1_geometry`). Data already at v2 comes back as a
    copy. An unknown or missing schema is a :class:`ManifestError`. Nothing
    is validated beyond what the move needs; :func:`parse_manifest` does that.
    """
    data = dict(raw)
    schema = data.get("schema")
    if schema not in READABLE_SCHEMAS:
        got = "it is missing" if "schema" not in data else f"got {show_value(schema)}"
        readable = "' or '".join(READABLE_SCHEMAS)
        raise ManifestError(
            [f"{source}: schema: this runtime reads manifests of schema '{readable}', {got}"]
        )
    if schema == SCHEMA_V1:
        params = data.get("params")
        if isinstance(params, Mapping):
            cameras = data.get("cameras")
            camera_ids = [
                str(c["id"])
                for c in (cameras if isinstance(cameras, list) else [])
                if isinstance(c, Mapping) and isinstance(c.get("id"), str)
            ]
            data["params"] = v1_geometry(params, camera_ids)
        data["schema"] = SCHEMA_V2
    return data


def _deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_params(
    current: DetectorParams,
    patch: Mapping[str, Any] | str | bytes,
    *,
    camera_ids: list[str] | None = None,
    labels: list[str] | None = None,
    source: str = "params_json",
) -> DetectorParams:
    """``current`` with ``patch`` applied, validated as a whole; the live ``SetParams`` path.

    Each key in ``patch`` replaces that parameter; objects (``tracking``,
    ``geometry`` and each camera's entry in it) merge key by key, lists
    (``classes``, a camera's ``zones`` and ``lines``) are replaced whole, so
    removing a zone means sending that camera's list without it; other
    cameras keep theirs. Unknown keys are rejected. With ``camera_ids`` /
    ``labels`` the geometry's cameras and all class names are checked against
    them. A schema-v1 patch (app-wide ``zones`` / ``lines``, as a console of
    that time sends and as live-tuned parameters were saved) is migrated
    first when ``camera_ids`` are given. Raises :class:`ManifestError` with
    paths like ``params.geometry.cam-1.zones[0].points``.
    """
    patch_data = load_json_object(patch, source, "a parameter object")
    if camera_ids and ("zones" in patch_data or "lines" in patch_data):
        patch_data = v1_geometry(patch_data, camera_ids)
    merged = _deep_merge(current.model_dump(mode="json"), patch_data)
    try:
        params = DetectorParams.model_validate(merged)
    except ValidationError as error:
        raise ManifestError(describe_validation_error(error, source, ("params",))) from None
    problems = reference_problems(params, camera_ids, labels)
    if problems:
        raise ManifestError(
            [f"{source}: {format_loc(('params',) + loc)}: {message}" for loc, message in problems]
        )
    return params


def manifest_json_schema(kind: str = "detector") -> dict[str, Any]:
    """JSON Schema of one kind's manifest, with every field's title and description (for docs and editors)."""
    if kind not in _MANIFEST_KINDS:
        raise ManifestError(
            [f"kind: unknown app kind {show_value(kind)} (known: {', '.join(manifest_kinds())})"]
        )
    return _MANIFEST_KINDS[kind].model_json_schema(by_alias=True)
