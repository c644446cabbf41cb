"""The device's domain facade: apps, models, cameras, events, previews.

gRPC servicers call this and nothing else. It owns the stores (packages,
models, desired state), the shared model sessions, the shared camera
sources and the running apps, and keeps the persisted desired state in step
with what runs, so a restart (or a power cut) resumes every app.

Deploy is a transaction: verify the signature → receive → install (staged,
validated) → prepare the new version's model → swap runners. The signature is
checked against the header's SHA-256 before a single byte is read, and
:func:`receive_upload` then refuses bytes that do not hash to that digest, so
nothing unsigned or tampered ever reaches the staging folder. Anything that
fails before the swap leaves the running version untouched; a failure at the
swap restarts the previous version.

Camera passwords are secrets, not package content: a deploy stores the
``secrets`` sent beside the package (and any password an older console left
in the package's app.json, which is rewritten without it) in the secret store
before the version activates; the runner gets the passwords back in its
camera URLs in memory only. On start, installed versions that still hold a
password are migrated the same way (``_move_installed_passwords``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_runtime.app_runner import MANIFEST_FILE, AppRunner, NodeStatus, RunnerContext
from device_runtime.apps.registry import app_kind, make_runner, validate_package
from device_runtime.broadcast import Broadcast, Latest, LogEntry
from device_runtime.config import DeviceConfig
from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from device_runtime.inference.registry import ModelRegistry
from device_runtime.inference.session import ModelSession
from device_runtime.outputs.process import OutputsProcess
from device_runtime.outputs.sinks.base import DeliveryError
from device_runtime.pipeline import PreviewItem, encode_jpeg, snapshot_meta
from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.protocol.apps.outputs import parse_output
from device_runtime.protocol.apps.specs import camera_password_secret
from device_runtime.protocol.package_signature import key_fingerprint
from device_runtime.raw_view import RawViews
from device_runtime.security.camera_secrets import take_camera_passwords, with_camera_passwords
from device_runtime.security.package_signing import verify_package_signature
from device_runtime.security.secret_store import SecretStore
from device_runtime.snapshots import SnapshotStore
from device_runtime.sources.factory import open_source
from device_runtime.sources_pool import SourcePool
from device_runtime.store.models import ModelStore
from device_runtime.store.packages import PackageStore
from device_runtime.store.state import DesiredState
from device_runtime.store.uploads import check_sha256, receive_upload
from device_runtime.types import Frame

log = logging.getLogger(__name__)


@dataclass
class AppView:
    """What the API reports about one installed app."""

    app_id: str
    name: str
    kind: str
    version: str
    state: str
    error: str
    versions: list[str]
    params_json: str
    camera_ids: list[str]
    model: str
    manifest_json: str
    nodes: list[NodeStatus] = field(default_factory=list)


@dataclass
class UploadSpec:
    """The header of an upload, independent of protobuf."""

    size: int
    sha256: str
    filename: str = ""
    name: str = ""
    labels: str = ""
    decoder: str = ""
    signature: bytes = b""
    # Named secrets sent beside an app package (camera/<id>/password, ...); never logged.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


class Supervisor:
    def __init__(self, config: DeviceConfig, *, open_source_fn: Callable[..., Any] = open_source,
                 secrets: SecretStore | None = None):
        self.config = config
        data = Path(config.data_dir)
        self.secrets = secrets if secrets is not None else SecretStore(data)
        self.packages = PackageStore(data, keep_versions=config.keep_versions)
        self.models = ModelStore(data)
        self.desired = DesiredState(data / "state.json")
        self.snapshots = SnapshotStore(data / "snapshots", limit=config.snapshot_limit)
        self.registry = ModelRegistry(providers=config.providers, cache_dir=data / "trt-cache")
        self.sources = SourcePool(open_source_fn)
        #: Raw camera pictures for the console's preview (cameras no app reads get a source of their own).
        self.raw_views = RawViews(self.sources, open_source_fn)
        self.events: Broadcast[Any] = Broadcast(history=500)
        self.logs: Broadcast[LogEntry] = Broadcast(history=1000, queue_size=2000)
        self.previews: Latest[PreviewItem] = Latest()
        # App outputs (MQTT, PLCs, webhooks, ...) through the durable outbox, delivered from a process
        # of their own; secrets come from the runtime's SecretStore (DeviceRuntime calls outputs.use_secrets).
        self.outputs = OutputsProcess(
            data,
            device=config.name,
            max_bytes=config.outbox_max_mb * 1024 * 1024,
            max_age_s=config.outbox_max_age_h * 3600.0,
            write_behind_s=config.outbox_write_behind_s,
            nice=config.outputs_nice,
        )
        self._runners: dict[str, AppRunner] = {}
        self._errors: dict[str, str] = {}
        self._model_meta: dict[str, Any] = {}
        self._manifests: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()
        self.started_at = time.time()

    # ------------------------------------------------------------------ lifecycle

    def resume(self) -> None:
        """Start every app the persisted desired state says should run."""
        for warning in self.packages.warnings + self.models.warnings + self.desired.warnings:
            log.warning("storage repaired on start: %s", warning)
        self._move_installed_passwords()
        for app_id, want in self.desired.apps().items():
            if not want.running:
                continue
            try:
                self._start(app_id)
                log.info("resumed app %s version %s", app_id, want.version)
            except Exception as exc:
                self._errors[app_id] = str(exc)
                log.error("could not resume app %s: %s", app_id, exc)

    def close(self) -> None:
        with self._lock:
            runners, self._runners = list(self._runners.values()), {}
        for runner in runners:
            self._release_runner(runner)
        self.outputs.close()
        self.sources.close()
        self.registry.close()

    # ------------------------------------------------------------------ apps

    def deploy(
        self,
        spec: UploadSpec,
        chunks: Iterable[bytes],
        *,
        start: bool = True,
        trusted_keys: Iterable[bytes] = (),
    ) -> AppView:
        """Verify, receive, install and switch to a package; the old version runs on if anything fails.

        ``trusted_keys``: the raw Ed25519 signing keys of the paired clients.
        With ``require_signed_packages`` (the default) ``spec.signature`` must
        verify with one of them, or the deploy is refused with
        ``PERMISSION_DENIED`` before anything is received.
        """
        self._check_signature(spec, trusted_keys)
        archive = receive_upload(
            spec.size, spec.sha256, chunks, self.packages.staging_dir, self.config.max_upload_bytes, label="package"
        )
        secrets: dict[str, str] = {}

        def validate(folder: Path) -> None:
            # Before the content digest is taken: the installed app.json never holds a password.
            secrets.update(take_camera_passwords(folder / MANIFEST_FILE))
            self._validate(folder)

        try:
            installed = self.packages.install(
                archive, identify=self._identify, validate=validate, sha256=spec.sha256.lower()
            )
        finally:
            archive.unlink(missing_ok=True)
        with self._lock:
            app_id, version = installed.app_id, installed.version
            secrets.update(spec.secrets)  # what the console sent wins over a password left in the package
            self.secrets.put_many(secrets)
            if secrets:
                log.info("app %s version %s: stored secrets %s", app_id, version, ", ".join(sorted(secrets)))
            previous = self.packages.active_version(app_id)
            self.packages.activate(app_id, version)
            want = self.desired.apps().get(app_id)
            running = start if want is None else (start or want.running)
            try:
                if running:
                    self._restart(app_id)
            except Exception as exc:
                log.error("app %s version %s failed to start: %s", app_id, version, exc)
                if previous is not None:
                    self.packages.activate(app_id, previous)
                    if app_id in self._runners or (want and want.running):
                        self._restart(app_id)
                raise FailedPrecondition(
                    f"app {app_id} version {version} failed to start: {exc}"
                    + (f"; version {previous} is still active" if previous else "")
                ) from exc
            manifest = self._manifest(app_id, version)
            self.desired.set(app_id, version=version, running=running, params=manifest.params_dict())
            self._errors.pop(app_id, None)
            log.info("deployed app %s version %s%s", app_id, version, " (running)" if running else "")
            return self.app_view(app_id)

    def _check_signature(self, spec: UploadSpec, trusted_keys: Iterable[bytes]) -> None:
        digest = check_sha256(spec.sha256, "package sha256")
        if not self.config.require_signed_packages:
            log.warning(
                "installing package %s without checking its signature: require_signed_packages is off",
                digest[:12],
            )
            return
        try:
            signer = verify_package_signature(trusted_keys, digest, spec.signature)
        except PermissionDenied as exc:
            # Worth an audit line on the device: someone tried to install code it does not trust.
            log.warning("refused package %s: %s", digest[:12], exc)
            raise
        log.info("package %s is signed by trusted console key %s", digest[:12], key_fingerprint(signer)[:16])

    def start_app(self, app_id: str) -> AppView:
        with self._lock:
            self._require(app_id)
            if app_id not in self._runners:
                self._start(app_id)
            self.desired.set(app_id, running=True)
            return self.app_view(app_id)

    def stop_app(self, app_id: str) -> AppView:
        with self._lock:
            self._require(app_id)
            self._stop(app_id)
            self.desired.set(app_id, running=False)
            return self.app_view(app_id)

    def remove_app(self, app_id: str) -> None:
        with self._lock:
            self._require(app_id)
            self._stop(app_id)
            cameras = self._camera_ids_of(app_id)
            self.packages.remove(app_id)
            still_used = {c for other in self.packages.list_apps() for c in self._camera_ids_of(other)}
            unused = [camera_password_secret(c) for c in sorted(cameras - still_used)]
            self.secrets.delete(*unused)  # a password stays on the device only while an app needs it
            self.desired.remove(app_id)
            self._errors.pop(app_id, None)
            self._manifests = {k: v for k, v in self._manifests.items() if k[0] != app_id}
            log.info("removed app %s", app_id)

    def rollback_app(self, app_id: str, version: str = "") -> AppView:
        with self._lock:
            self._require(app_id)
            current = self.packages.active_version(app_id)
            target = self.packages.rollback(app_id, version or None)
            want = self.desired.apps().get(app_id)
            try:
                if app_id in self._runners or (want and want.running):
                    self._restart(app_id)
            except Exception as exc:
                if current is not None:
                    self.packages.activate(app_id, current)
                    self._restart(app_id)
                raise FailedPrecondition(f"rollback of {app_id} to {target} failed to start: {exc}") from exc
            manifest = self._manifest(app_id, target)
            self.desired.set(app_id, version=target, params=manifest.params_dict())
            log.info("rolled app %s back from %s to %s", app_id, current, target)
            return self.app_view(app_id)

    def set_params(self, app_id: str, params_json: str) -> AppView:
        """Merge and validate new parameters; apply them live and persist them."""
        with self._lock:
            self._require(app_id)
            manifest = self._current_manifest(app_id).with_params(params_json)
            runner = self._runners.get(app_id)
            if runner is not None:
                runner.set_params(manifest.live_params)
            self.outputs.update_params(app_id, manifest.live_params)
            self.desired.set(app_id, params=manifest.params_dict())
            log.info("app %s parameters changed", app_id)
            return self.app_view(app_id)

    def set_camera_paused(self, app_id: str, camera_id: str, paused: bool) -> AppView:
        """Pause or resume one camera of a running app (only kinds that support it)."""
        with self._lock:
            self._require(app_id)
            self._current_manifest(app_id).camera(camera_id)  # UnknownCamera names the app's cameras
            runner = self._runners.get(app_id)
            if runner is None:
                raise FailedPrecondition(f"app {app_id} is not running; start it before pausing a camera")
            runner.set_paused(camera_id, paused)
            log.info("app %s camera %s %s", app_id, camera_id, "paused" if paused else "resumed")
            return self.app_view(app_id)

    def list_apps(self) -> list[AppView]:
        with self._lock:
            return [self.app_view(app_id) for app_id in self.packages.list_apps()]

    def app_view(self, app_id: str) -> AppView:
        self._require(app_id)
        version = self.packages.active_version(app_id) or ""
        manifest = self._current_manifest(app_id)
        runner = self._runners.get(app_id)
        error = self._errors.get(app_id, "") or (runner.error if runner else "")
        if runner is not None:
            state = "running"
        elif app_id in self._errors:
            state = "failed"
        else:
            state = "stopped"
        return AppView(
            app_id=app_id,
            name=manifest.name,
            kind=manifest.kind,
            version=version,
            state=state,
            error=error,
            versions=self.packages.versions(app_id),
            params_json=json.dumps(manifest.params_dict()),
            camera_ids=manifest.camera_ids(),
            model=", ".join(manifest.model_names()),
            manifest_json=manifest.redacted_json(),
            nodes=runner.nodes() if runner is not None else [],
        )

    def runners(self) -> list[AppRunner]:
        with self._lock:
            return list(self._runners.values())

    # ------------------------------------------------------------------ models

    def upload_model(self, spec: UploadSpec, chunks: Iterable[bytes]) -> Any:
        if not spec.name:
            raise InvalidArgument("a model upload needs a name (the name apps refer to)")
        path = receive_upload(
            spec.size, spec.sha256, chunks, self.models.staging_dir, self.config.max_upload_bytes, label="model"
        )
        try:
            labels = [line.strip() for line in spec.labels.splitlines() if line.strip()]
            # Load it once before storing: a corrupt model is refused here, not at app start.
            ModelSession.inspect(path, decoder=spec.decoder or None)
            stored = self.models.add(
                path, spec.name, labels=labels, decoder=spec.decoder or None, sha256=spec.sha256.lower(), move=True
            )
        finally:
            path.unlink(missing_ok=True)
        log.info("stored model %s (%s)", spec.name, stored.sha256[:12])
        return stored

    def list_models(self) -> list[Any]:
        return self.models.list()

    def remove_model(self, name: str) -> None:
        self.models.remove(name, in_use_by=self._apps_using_model)

    def _apps_using_model(self, name: str) -> list[str]:
        users = []
        for app_id in self.packages.list_apps():
            for version in self.packages.versions(app_id):
                manifest = self._manifest(app_id, version)
                if name in app_kind(manifest.kind).stored_models(manifest):
                    users.append(app_id)
                    break
        return users

    def model_users(self, name: str) -> list[str]:
        return self._apps_using_model(name)

    def model_metadata(self, stored: Any) -> Any:
        """Inputs, outputs and decoder of a stored model (inspected once per content)."""
        meta = self._model_meta.get(stored.sha256)
        if meta is None:
            meta = ModelSession.inspect(stored.path, decoder=stored.decoder, labels=stored.labels or None)
            self._model_meta[stored.sha256] = meta
        return meta

    # ------------------------------------------------------------------ cameras

    def snapshot(self, camera_id: str = "", snapshot_id: str = "", max_width: int = 0) -> tuple[bytes, PreviewItem | None]:
        """An event's stored snapshot, or the newest processed frame of a camera."""
        if snapshot_id:
            return self.snapshots.load(snapshot_id), None
        item = self.previews.get(camera_id)
        if item is None:
            known = ", ".join(sorted(self.previews.keys())) or "none running"
            raise NotFound(f"no frames from camera {camera_id!r} (cameras with frames: {known})")
        return encode_jpeg(item.frame.image, max_width), item

    def snapshot_meta(self, snapshot_id: str) -> dict[str, Any] | None:
        """The boxes and counts stored with an event's snapshot (None for a snapshot stored without)."""
        return self.snapshots.load_meta(snapshot_id)

    # ------------------------------------------------------------------ outputs

    def test_output(self, output_json: str, secrets: dict[str, str], app_id: str = "test") -> tuple[bool, str]:
        """Send one sample event to the output described by ``output_json``: (delivered?, the answer).

        ``secrets`` are used for this call only, before the device's own store.
        A malformed output is InvalidArgument naming the field.
        """
        spec = parse_output(output_json)
        try:
            return True, self.outputs.send_test(spec, app_id, extra_secrets=secrets)
        except DeliveryError as exc:
            return False, str(exc)

    def camera_ids(self) -> list[str]:
        return [cid for cid, _ in self.sources.items()]

    def preview_ids(self) -> list[str]:
        """Everything a preview can watch: running cameras and the apps' own preview streams."""
        return self.camera_ids() + [pid for runner in self.runners() for pid in runner.preview_ids()]

    # ------------------------------------------------------------------ internals

    def _on_events(self, app_id: str, frame: Frame, events: list[Any], item: PreviewItem | None = None) -> None:
        meta = snapshot_meta(item) if item is not None else None
        jpeg = encode_jpeg(frame.image, 960)
        snapshot_id = self.snapshots.save(jpeg, meta)
        for event in events:
            event.snapshot_id = snapshot_id
            self.events.publish(event)
        self.outputs.submit(app_id, events, jpeg, overlay=meta)

    def _on_preview(self, camera_id: str, item: PreviewItem) -> None:
        self.previews.put(camera_id, item)

    def _identify(self, folder: Path) -> tuple[str, str]:
        manifest = self._parse(folder)
        return manifest.id, manifest.version

    def _validate(self, folder: Path) -> None:
        manifest = self._parse(folder)
        validate_package(manifest, self._context(manifest.id, folder))

    def _parse(self, folder: Path) -> Any:
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise InvalidArgument(f"the package has no {MANIFEST_FILE} at its top level")
        return parse_manifest(path.read_bytes(), source=MANIFEST_FILE)

    def _manifest(self, app_id: str, version: str) -> Any:
        # An installed version's folder never changes, so each is parsed once;
        # health streams list every app every second.
        key = (app_id, version)
        manifest = self._manifests.get(key)
        if manifest is None:
            manifest = self._manifests[key] = self._parse(self.packages.path(app_id, version))
        return manifest

    def _current_manifest(self, app_id: str) -> Any:
        version = self.packages.active_version(app_id)
        if version is None:
            raise NotFound(f"app {app_id} has no active version")
        manifest = self._manifest(app_id, version)
        want = self.desired.apps().get(app_id)
        if want is not None and want.version == version and want.params:
            manifest = manifest.with_params(want.params)
        return manifest

    def _require(self, app_id: str) -> None:
        if app_id not in self.packages.list_apps():
            known = ", ".join(self.packages.list_apps()) or "none installed"
            raise NotFound(f"no app {app_id!r} on this device (apps: {known})")

    def _context(self, app_id: str, package_dir: Path) -> RunnerContext:
        return RunnerContext(
            app_id=app_id,
            package_dir=package_dir,
            data_dir=Path(self.config.data_dir) / "app-data" / app_id,
            sources=self.sources,
            registry=self.registry,
            models=self.models,
            on_events=self._on_events,
            on_preview=self._on_preview,
        )

    def _camera_ids_of(self, app_id: str) -> set[str]:
        """Camera ids any installed version of ``app_id`` reads (unparseable versions count for none)."""
        ids: set[str] = set()
        for version in self.packages.versions(app_id):
            try:
                ids.update(self._manifest(app_id, version).camera_ids())
            except Exception as exc:  # a broken version must not block removing the app
                log.warning("app %s version %s: manifest unreadable (%s)", app_id, version, exc)
        return ids

    def _move_installed_passwords(self) -> None:
        """Take camera passwords out of installed versions' app.json into the secret store (once)."""
        for app_id in self.packages.list_apps():
            active = self.packages.active_version(app_id)
            # The active version last: its password wins for a camera id several versions share.
            for version in sorted(self.packages.versions(app_id), key=lambda v: v == active):
                package = self.packages.get(app_id, version)
                taken = take_camera_passwords(package.path / MANIFEST_FILE)
                if not taken:
                    continue
                self.secrets.put_many(taken)
                old, new = self.packages.refresh_content_digest(app_id, version)
                self._manifests.pop((app_id, version), None)
                log.warning(
                    "app %s version %s (package sha256 %s): moved %s out of its app.json into the secret "
                    "store; content digest %s -> %s",
                    app_id, version, package.sha256[:16] or "unknown", ", ".join(sorted(taken)),
                    old[:16], new[:16],
                )

    def _start(self, app_id: str) -> None:
        # Camera passwords live in the secret store; they join the URLs in memory only.
        manifest = with_camera_passwords(self._current_manifest(app_id), self.secrets)
        runner = make_runner(manifest, self._context(app_id, self.packages.path(app_id, manifest.version)))
        self.outputs.attach(manifest)  # before the first frame, so no event misses its outputs
        try:
            runner.start()
        except Exception:
            self.outputs.detach(app_id)
            raise
        self._runners[app_id] = runner
        self._errors.pop(app_id, None)

    def _stop(self, app_id: str) -> None:
        self.outputs.detach(app_id)
        runner = self._runners.pop(app_id, None)
        if runner is not None:
            self._release_runner(runner)

    def _release_runner(self, runner: AppRunner) -> None:
        runner.stop()
        for camera_id in runner.manifest.camera_ids():
            if self.sources.get(camera_id) is None:
                self.previews.discard(camera_id)

    def _restart(self, app_id: str) -> None:
        self._stop(app_id)
        self._start(app_id)
