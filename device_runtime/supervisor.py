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
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runtime.app_runner import DetectorAppRunner
from device_runtime.apps.registry import make_logic
from device_runtime.broadcast import Broadcast, Latest, LogEntry
from device_runtime.config import DeviceConfig
from device_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from device_runtime.inference.registry import ModelRegistry
from device_runtime.inference.session import ModelSession
from device_runtime.outputs.dispatcher import OutputDispatcher
from device_runtime.outputs.sinks.base import DeliveryError
from device_runtime.pipeline import PreviewItem, encode_jpeg
from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.protocol.apps.outputs import parse_output
from device_runtime.protocol.package_signature import key_fingerprint
from device_runtime.security.package_signing import verify_package_signature
from device_runtime.snapshots import SnapshotStore
from device_runtime.sources.factory import open_source
from device_runtime.sources_pool import SourcePool
from device_runtime.store.models import ModelStore
from device_runtime.store.packages import PackageStore
from device_runtime.store.state import DesiredState
from device_runtime.store.uploads import check_sha256, receive_upload
from device_runtime.types import Frame

log = logging.getLogger(__name__)

MANIFEST_FILE = "app.json"


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


class Supervisor:
    def __init__(self, config: DeviceConfig, *, open_source_fn: Callable[..., Any] = open_source):
        self.config = config
        data = Path(config.data_dir)
        self.packages = PackageStore(data, keep_versions=config.keep_versions)
        self.models = ModelStore(data)
        self.desired = DesiredState(data / "state.json")
        self.snapshots = SnapshotStore(data / "snapshots", limit=config.snapshot_limit)
        self.registry = ModelRegistry(providers=config.providers, cache_dir=data / "trt-cache")
        self.sources = SourcePool(open_source_fn)
        self.events: Broadcast[Any] = Broadcast(history=500)
        self.logs: Broadcast[LogEntry] = Broadcast(history=1000, queue_size=2000)
        self.previews: Latest[PreviewItem] = Latest()
        # App outputs (MQTT, PLCs, webhooks, ...) through the durable outbox; secrets come
        # from the runtime's SecretStore (DeviceRuntime calls outputs.use_secrets).
        self.outputs = OutputDispatcher(
            data,
            device=config.name,
            max_bytes=config.outbox_max_mb * 1024 * 1024,
            max_age_s=config.outbox_max_age_h * 3600.0,
        )
        self._runners: dict[str, DetectorAppRunner] = {}
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
        try:
            installed = self.packages.install(
                archive, identify=self._identify, validate=self._validate, sha256=spec.sha256.lower()
            )
        finally:
            archive.unlink(missing_ok=True)
        with self._lock:
            app_id, version = installed.app_id, installed.version
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
            self.packages.remove(app_id)
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
            self.desired.set(app_id, params=manifest.params_dict())
            log.info("app %s parameters changed", app_id)
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
        )

    def runners(self) -> list[DetectorAppRunner]:
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
                if manifest.model.file is None and name in manifest.model_names():
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

    # ------------------------------------------------------------------ internals

    def _on_events(self, app_id: str, frame: Frame, events: list[Any]) -> None:
        jpeg = encode_jpeg(frame.image, 960)
        snapshot_id = self.snapshots.save(jpeg)
        for event in events:
            event.snapshot_id = snapshot_id
            self.events.publish(event)
        self.outputs.submit(app_id, events, jpeg)

    def _on_preview(self, camera_id: str, item: PreviewItem) -> None:
        self.previews.put(camera_id, item)

    def _identify(self, folder: Path) -> tuple[str, str]:
        manifest = self._parse(folder)
        return manifest.id, manifest.version

    def _validate(self, folder: Path) -> None:
        manifest = self._parse(folder)
        for camera in manifest.cameras:
            self.sources.check(camera.id, camera.url, manifest.id)
        if manifest.model.file is not None:
            model_path = folder / manifest.model.file
            if not model_path.is_file():
                raise InvalidArgument(f"{MANIFEST_FILE}: model.file {manifest.model.file!r} is not in the package")
            ModelSession.inspect(model_path, decoder=manifest.model.decoder)
        else:
            self.models.get(manifest.model.name)  # NotFound names the model

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

    def _open_model(self, app_id: str, manifest: Any) -> Any:
        spec = manifest.model
        if spec.file is not None:
            path = self.packages.path(app_id, manifest.version) / spec.file
            return self.registry.acquire(
                spec.name or f"{app_id}/{spec.file}", path, decoder=spec.decoder, labels=spec.labels or None
            )
        stored = self.models.get(spec.name)
        return self.registry.acquire(
            spec.name, stored.path, decoder=spec.decoder or stored.decoder, labels=spec.labels or stored.labels or None
        )

    def _start(self, app_id: str) -> None:
        manifest = self._current_manifest(app_id)
        session = self._open_model(app_id, manifest)
        runner = DetectorAppRunner(
            manifest,
            session,
            self.sources,
            make_logic=lambda m, camera_id: make_logic(m, camera_id, labels=list(session.labels)),
            on_events=self._on_events,
            on_preview=self._on_preview,
        )
        self.outputs.attach(manifest)  # before the first frame, so no event misses its outputs
        try:
            runner.start()
        except Exception:
            self.outputs.detach(app_id)
            self.registry.release(session)
            raise
        self._runners[app_id] = runner
        self._errors.pop(app_id, None)

    def _stop(self, app_id: str) -> None:
        self.outputs.detach(app_id)
        runner = self._runners.pop(app_id, None)
        if runner is not None:
            self._release_runner(runner)

    def _release_runner(self, runner: DetectorAppRunner) -> None:
        runner.stop()
        for camera_id in runner.manifest.camera_ids():
            if self.sources.get(camera_id) is None:
                self.previews.discard(camera_id)
        self.registry.release(runner.model)

    def _restart(self, app_id: str) -> None:
        self._stop(app_id)
        self._start(app_id)
