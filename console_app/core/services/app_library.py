"""The application library: versioned app definitions, and the packages built from them.

An app version is immutable: its manifest (no camera passwords in it) and
the id of the library model it bundles. Saving a changed app makes a new
semantic version (minor bump by default, patch for a tuned parameter set);
saving an unchanged one returns the latest version.

Storage: the inventory (``apps``, ``app_versions``, ``app_version_sources``)
when a SQLAlchemy session factory is given, else JSON files in
``data_dir/apps/<app id>/<version>.json``.

Manifests are stored in the current schema (``sightline.app/v2``: zones and
lines per camera). A version saved by an older console (``sightline.app/v1``)
is upgraded in place the first time it is read: the same version, with its
zones and lines moved onto the cameras they applied to (logged once).

:meth:`AppLibrary.package` builds what ``client.deploy`` uploads: app.json
(camera URLs with the user name from the credential store, never a password)
and the model file from the model library bundled under ``models/``.
:meth:`AppLibrary.deploy_package` adds the camera passwords as named secrets
(``camera/<camera id>/password``) that the deploy sends beside the package;
they are read from the credential store per deploy and never stored, logged,
signed or exported.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import exc, select
from sqlalchemy.orm.exc import StaleDataError

from console_app.core.files import write_atomically
from console_app.core.packaging import PackageBuildError, build_package_from_members
from console_app.core.persistence.app_models import AppVersionSource
from console_app.core.persistence.models import App
from console_app.core.persistence.models import AppVersion as VersionRow
from console_app.core.persistence.records import strip_credentials
from console_app.core.services.deployer import DeployPackage
from console_app.core.services.output_drafts import MissingOutputSecrets, output_secrets
from device_runtime.media.redact import with_credentials
from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.manifest import (
    APP_ID_PATTERN,
    SCHEMA,
    SCHEMA_V1,
    migrate_manifest,
)
from device_runtime.protocol.apps.params import v1_geometry
from device_runtime.protocol.apps.specs import camera_password_secret

log = logging.getLogger(__name__)

VERSION_PATTERN = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?([-+][0-9A-Za-z.-]+)?$")
BUMPS = ("major", "minor", "patch")
#: URL schemes whose streams take a user and password in the URL.
CREDENTIAL_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https"})

CameraCredentialLookup = Callable[[str], "tuple[str, str] | None"]


class AppLibraryError(Exception):
    """The library refused an operation; the message names the app, version or field."""


class UnknownApp(AppLibraryError):
    """No app (or no such version of it) in the library."""


@dataclass(frozen=True)
class AppVersion:
    """One saved version of an app."""

    app_id: str
    version: str
    manifest: dict[str, Any]
    model_id: str
    created_at: datetime
    created_by: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.app_id))


@dataclass(frozen=True)
class AppSummary:
    """One row of the library list: an app and its versions (oldest first)."""

    app_id: str
    name: str
    versions: tuple[str, ...]
    model_id: str

    @property
    def latest(self) -> str:
        return self.versions[-1]


def version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key of a version string (``1.2`` sorts like ``1.2.0``)."""
    match = VERSION_PATTERN.match(version)
    if not match:
        return (-1, -1, -1, version)
    major, minor, patch, suffix = match.groups()
    return (int(major), int(minor), int(patch or 0), suffix or "~")  # "~": releases after -rc suffixes


def bump_version(version: str, bump: str = "minor") -> str:
    """The next version: ``bump`` is major, minor or patch (suffixes are dropped)."""
    if bump not in BUMPS:
        raise AppLibraryError(f"bump must be one of {', '.join(BUMPS)}, got {bump!r}")
    major, minor, patch, _ = version_key(version)
    if major < 0:
        raise AppLibraryError(f"version {version!r} is not MAJOR.MINOR[.PATCH]; cannot bump it")
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


class InventoryCameraCredentials:
    """Credentials of registered cameras, found by their stream URI (for :class:`AppLibrary`)."""

    def __init__(self, cameras: Any):
        self._cameras = cameras  # a CameraRepository

    def __call__(self, url: str) -> tuple[str, str] | None:
        for camera in self._cameras.list_cameras():
            uris = {camera.stream_uri, *(p.stream_uri for p in camera.profiles if p.stream_uri)}
            if url in uris:
                password = self._cameras.camera_password(camera.id) or ""
                if not camera.username and not password:
                    return None
                return camera.username or "", password
        return None


def _content(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without its version: what decides whether a save is a change."""
    return {k: v for k, v in manifest.items() if k != "version"}


def _same_model(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two manifest model specs name the same model (same sha256, or same name without one)."""
    if old.get("sha256") or new.get("sha256"):
        return old.get("sha256") == new.get("sha256")
    return bool(new.get("name")) and old.get("name") == new.get("name")


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    problems = []
    app_id = manifest.get("id")
    if not isinstance(app_id, str) or not APP_ID_PATTERN.match(app_id):
        problems.append(f"id: app id {app_id!r} is not valid (1-63 lowercase letters, digits, '_' or '-')")
    if manifest.get("schema") != SCHEMA:
        problems.append(f"schema: expected {SCHEMA!r}, got {manifest.get('schema')!r}")
    if not manifest.get("name"):
        problems.append("name: give the app a name")
    cameras = manifest.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        problems.append("cameras: at least one camera")
    if manifest.get("kind") == "detector" and not isinstance(manifest.get("model"), Mapping):
        problems.append("model: a detector app needs a model")
    if problems:
        raise AppLibraryError(f"app {app_id!r} cannot be saved: " + "; ".join(problems))


class AppLibrary:
    """Versioned app definitions; see the module docstring.

    ``model_library``: a ``ModelLibrary`` (anything with ``get(model_id)``;
    ``list()`` too, to find a model by its sha256). ``camera_credentials``:
    ``url -> (username, password) | None`` for the cameras' stream URLs
    (:class:`InventoryCameraCredentials` over the inventory).
    """

    def __init__(self, data_dir: Path, session_factory: Any = None, model_library: Any = None,
                 camera_credentials: CameraCredentialLookup | None = None, editor: str | None = None,
                 output_secret_store: Any = None):
        self.folder = Path(data_dir) / "apps"
        self._sessions = session_factory
        self.model_library = model_library
        self.camera_credentials = camera_credentials
        #: The console's credential store, where the builder's Outputs step keeps output secrets.
        self.output_secret_store = output_secret_store
        self.editor = editor or socket.gethostname()
        self._store: JsonAppStore | DatabaseAppStore = (
            JsonAppStore(self.folder) if session_factory is None else DatabaseAppStore(session_factory))

    # ------------------------------------------------------------ reading

    def list(self) -> list[AppSummary]:
        """Every app, by name."""
        summaries = []
        for app_id in self._store.app_ids():
            versions = self.versions(app_id)
            if versions:
                latest = versions[-1]
                summaries.append(AppSummary(app_id, latest.name, tuple(v.version for v in versions),
                                            latest.model_id))
        return sorted(summaries, key=lambda s: (s.name.lower(), s.app_id))

    def versions(self, app_id: str) -> list[AppVersion]:
        """The app's versions, oldest first (empty when the app is unknown); v1 manifests are upgraded."""
        found = [self._upgraded(v) for v in self._store.versions(app_id)]
        return sorted(found, key=lambda v: version_key(v.version))

    def _upgraded(self, version: AppVersion) -> AppVersion:
        """``version`` with its manifest in the current schema, rewritten in the store when it was older."""
        if version.manifest.get("schema") != SCHEMA_V1:
            return version
        try:
            manifest = migrate_manifest(version.manifest, f"app {version.app_id} {version.version}")
        except ManifestError as exc:
            log.warning("app %s version %s keeps its old manifest: %s", version.app_id, version.version, exc)
            return version
        upgraded = AppVersion(version.app_id, version.version, manifest, version.model_id, version.created_at,
                              version.created_by, version.note)
        try:
            self._store.replace_manifest(upgraded)
        except (OSError, exc.SQLAlchemyError) as error:
            log.warning("app %s version %s: upgraded manifest not saved (%s); upgrading again next time",
                        version.app_id, version.version, error)
        else:
            log.info("upgraded app %s version %s to manifest schema %s (zones and lines per camera)",
                     version.app_id, version.version, SCHEMA)
        return upgraded

    def get(self, app_id: str, version: str | None = None) -> AppVersion:
        """One version (``None``: the latest); :class:`UnknownApp` when there is none."""
        versions = self.versions(app_id)
        if not versions:
            raise UnknownApp(f"there is no app {app_id!r} in the library")
        if version is None:
            return versions[-1]
        for found in versions:
            if found.version == version:
                return found
        raise UnknownApp(f"app {app_id!r} has no version {version!r} "
                         f"(versions: {', '.join(v.version for v in versions)})")

    def import_version(self, version: AppVersion) -> bool:
        """Add a version made on another workstation (site import); False when it is already here."""
        _check_manifest(version.manifest)
        if any(v.version == version.version for v in self.versions(version.app_id)):
            return False
        self._store.add(version)
        return True

    def models_in_use(self, model: Any) -> list[str]:
        """Apps whose versions bundle ``model`` (a LibraryModel or its id), for the model library."""
        model_id = str(getattr(model, "id", model))
        users = []
        for app_id in self._store.app_ids():
            versions = self.versions(app_id)
            hits = [v.version for v in versions if v.model_id == model_id]
            if hits:
                users.append(f"{versions[-1].name} ({', '.join(hits)})")
        return users

    # ------------------------------------------------------------ saving

    def save_version(self, manifest: Mapping[str, Any], model_id: str | None = None, bump: str = "minor",
                     note: str = "") -> AppVersion:
        """Save ``manifest`` as the app's next version and return it.

        The first version keeps the manifest's version (default 1.0.0); later
        ones bump the latest (``bump``: major, minor, patch). An unchanged
        manifest returns the latest version instead of adding one. Camera
        passwords are stripped. ``model_id`` defaults to the library model
        whose sha256 or name the manifest's model names.
        """
        manifest = copy.deepcopy(dict(manifest))
        if manifest.get("schema") == SCHEMA_V1:
            try:
                manifest = migrate_manifest(manifest)
            except ManifestError as error:
                raise AppLibraryError(f"app {manifest.get('id')!r} cannot be saved: {error}") from None
        _check_manifest(manifest)
        for camera in manifest["cameras"]:
            camera["url"] = strip_credentials(camera.get("url", "")) or camera.get("url", "")
        model_spec = manifest.get("model") or {}
        model_spec.pop("file", None)  # the package decides where the model file goes
        app_id = manifest["id"]
        existing = self.versions(app_id)
        if not model_id and existing and _same_model(existing[-1].manifest.get("model") or {}, model_spec):
            model_id = existing[-1].model_id
        model_id = model_id or self._resolve_model_id(model_spec)
        if existing:
            latest = existing[-1]
            if _content(latest.manifest) == _content(manifest) and latest.model_id == model_id:
                return latest
            manifest["version"] = bump_version(latest.version, bump)
        elif not VERSION_PATTERN.match(str(manifest.get("version", ""))):
            manifest["version"] = "1.0.0"
        version = AppVersion(app_id, manifest["version"], manifest, model_id,
                             datetime.now(timezone.utc), self.editor, note)
        self._store.add(version)
        log.info("saved app %s version %s", app_id, version.version)
        return version

    def save_tuned_version(self, app_id: str, params: Mapping[str, Any], note: str = "tuned live") -> AppVersion:
        """The latest version with ``params`` merged in, as a patch bump.

        Keys replace; ``tracking`` merges key by key and ``geometry`` camera by
        camera (a camera not in ``params`` keeps its zones and lines).
        """
        latest = self.get(app_id)
        manifest = copy.deepcopy(latest.manifest)
        merged = dict(manifest.get("params", {}))
        if "zones" in params or "lines" in params:  # a schema-v1 parameter set: per camera now
            camera_ids = [str(c.get("id")) for c in manifest.get("cameras", []) if isinstance(c, Mapping)]
            params = v1_geometry(params, camera_ids)
        for key, value in params.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = copy.deepcopy(value)
        manifest["params"] = merged
        return self.save_version(manifest, latest.model_id, bump="patch", note=note)

    def _resolve_model_id(self, spec: Mapping[str, Any]) -> str:
        library = self.model_library
        if library is None or not hasattr(library, "list"):
            raise AppLibraryError("model: say which library model the app uses (model_id)")
        models = library.list()
        sha = str(spec.get("sha256", "")).lower()
        name = spec.get("name", "")
        for model in models:
            if sha and model.sha256 == sha:
                return str(model.id)
        for model in models:
            if model.name == name:
                return str(model.id)
        raise AppLibraryError(f"model: no model in the library has sha256 {sha or '-'} or name {name!r}")

    # ------------------------------------------------------------ packaging

    def package(self, app_id: str, version: str | None = None) -> bytes:
        """The deployable package of one version (``None``: the latest), model file included."""
        saved = self.get(app_id, version)
        if self.model_library is None:
            raise AppLibraryError(f"app {app_id} {saved.version}: no model library to take the model file from")
        try:
            model = self.model_library.get(saved.model_id)
        except Exception as exc:
            raise AppLibraryError(f"app {app_id} {saved.version}: its model {saved.model_id!r} is not in the "
                                  f"library any more ({exc})") from exc
        path = Path(model.path)
        if not path.is_file():
            raise AppLibraryError(f"app {app_id} {saved.version}: model file {path} is missing")
        manifest = copy.deepcopy(saved.manifest)
        spec = manifest.setdefault("model", {})
        name = spec.get("name") or re.sub(r"[^A-Za-z0-9._-]+", "-", model.name).strip("-._") or "model"
        spec["name"] = name
        spec["file"] = f"models/{name}.onnx"
        if getattr(model, "sha256", ""):
            spec["sha256"] = model.sha256
        if not spec.get("labels") and getattr(model, "labels", None):
            spec["labels"] = list(model.labels)
        if not spec.get("decoder") and getattr(model, "decoder", None):
            spec["decoder"] = model.decoder
        for camera in manifest["cameras"]:
            found = self._credentials(camera["url"])
            if found and found[0]:
                camera["url"] = with_credentials(camera["url"], found[0], None)  # the user name only
        try:
            return build_package_from_members(manifest, {spec["file"]: path})
        except PackageBuildError as exc:
            raise AppLibraryError(f"app {app_id} {saved.version}: {exc}") from exc

    def deploy_secrets(self, app_id: str, version: str | None = None) -> dict[str, str]:
        """The named secrets a deploy of this version sends beside its package: its cameras'
        passwords and the secrets its outputs name (AppLibraryError naming any the console lacks)."""
        saved = self.get(app_id, version)
        secrets = {}
        for camera in saved.manifest["cameras"]:
            found = self._credentials(camera["url"])
            if found and found[1]:
                secrets[camera_password_secret(camera["id"])] = found[1]
        if saved.manifest.get("outputs") and self.output_secret_store is not None:
            try:
                secrets.update(output_secrets(saved.manifest, self.output_secret_store))
            except MissingOutputSecrets as exc:
                raise AppLibraryError(f"app {app_id} {saved.version}: {exc}") from exc
        return secrets

    def deploy_package(self, app_id: str, version: str | None = None) -> DeployPackage:
        """:meth:`package` with :meth:`deploy_secrets`: what the deployer sends to each device."""
        return DeployPackage(self.package(app_id, version), self.deploy_secrets(app_id, version))

    def _credentials(self, url: str) -> tuple[str, str] | None:
        # Only network streams take a login; a device renders sim:// itself and refuses userinfo in it.
        if self.camera_credentials is None or urlsplit(url).scheme.lower() not in CREDENTIAL_SCHEMES:
            return None
        return self.camera_credentials(url)


class JsonAppStore:
    """Versions as ``<folder>/<app id>/<version>.json`` (no database)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def app_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and APP_ID_PATTERN.match(p.name))

    def versions(self, app_id: str) -> list[AppVersion]:
        folder = self.folder / app_id
        if not APP_ID_PATTERN.match(app_id) or not folder.is_dir():
            return []
        found = []
        for path in folder.glob("*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(AppVersion(app_id, data["manifest"]["version"], data["manifest"], data["model_id"],
                                        datetime.fromisoformat(data["created_at"]), data.get("created_by", ""),
                                        data.get("note", "")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable app version %s: %s", path, exc)
        return found

    def add(self, version: AppVersion) -> None:
        path = self.folder / version.app_id / f"{version.version}.json"
        data = {"manifest": version.manifest, "model_id": version.model_id,
                "created_at": version.created_at.isoformat(), "created_by": version.created_by,
                "note": version.note}
        try:
            write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False), exclusive=True)
        except FileExistsError:
            raise AppLibraryError(f"app {version.app_id} version {version.version} was saved meanwhile "
                                  "(by another console?); save again to make the next version") from None

    def replace_manifest(self, version: AppVersion) -> None:
        """Rewrite a stored version's manifest (a schema upgrade; the version stays the same)."""
        path = self.folder / version.app_id / f"{version.version}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["manifest"] = version.manifest
        write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False))


class DatabaseAppStore:
    """Versions in the inventory: ``apps``, ``app_versions`` and ``app_version_sources``."""

    def __init__(self, sessions: Any):
        self._sessions = sessions

    def app_ids(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(App.app_id).order_by(App.app_id)))

    def versions(self, app_id: str) -> list[AppVersion]:
        with self._sessions() as session:
            rows = session.execute(
                select(VersionRow, AppVersionSource)
                .join(App, VersionRow.app_id == App.id)
                .outerjoin(AppVersionSource, AppVersionSource.app_version_id == VersionRow.id)
                .where(App.app_id == app_id))
            return [AppVersion(app_id, row.version, row.manifest, source.model_id if source else "",
                               _utc(row.created_at), (source.created_by or "") if source else "",
                               (source.note or "") if source else "") for row, source in rows]

    def add(self, version: AppVersion) -> None:
        digest = hashlib.sha256(json.dumps(version.manifest, sort_keys=True).encode()).hexdigest()
        try:
            with self._sessions() as session, session.begin():
                app = session.scalar(select(App).where(App.app_id == version.app_id))
                if app is None:
                    app = App(app_id=version.app_id, name=version.name[:200])
                    session.add(app)
                else:
                    app.name = version.name[:200]
                session.flush()
                # package_sha256 holds the digest of the stored manifest: the package
                # itself is built per deploy, with credentials that are never stored.
                row = VersionRow(app_id=app.id, version=version.version, manifest=version.manifest,
                                 package_sha256=digest, created_at=version.created_at)
                session.add(row)
                session.flush()
                session.add(AppVersionSource(app_version_id=row.id, model_id=version.model_id,
                                             created_by=version.created_by, note=version.note))
        except (exc.IntegrityError, StaleDataError):
            raise AppLibraryError(f"app {version.app_id} version {version.version} was saved meanwhile "
                                  "(by another console?); save again to make the next version") from None

    def replace_manifest(self, version: AppVersion) -> None:
        """Rewrite a stored version's manifest (a schema upgrade; the version stays the same)."""
        digest = hashlib.sha256(json.dumps(version.manifest, sort_keys=True).encode()).hexdigest()
        with self._sessions() as session, session.begin():
            row = session.scalar(select(VersionRow).join(App, VersionRow.app_id == App.id)
                                 .where(App.app_id == version.app_id, VersionRow.version == version.version))
            if row is not None:
                row.manifest, row.package_sha256 = version.manifest, digest


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
