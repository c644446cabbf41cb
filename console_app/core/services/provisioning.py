"""Provisioning bundles, console side: build one for a new device, read its report, adopt the device.

:func:`build_bundle` writes ``NAME.sightline-provision.zip`` (format in
``device_runtime.protocol.provisioning.manifest``) into a folder, usually a
USB stick: the signed manifest, the app packages (each signed like a deploy),
models, and the named secrets encrypted under a passphrase or for the device's
key. Cameras bound to the ids apps use are written into those apps' app.json
and their passwords become the secrets ``camera/<id>/password``
(:mod:`provisioning_cameras`). It makes a one-time pairing secret, puts only its SHA-256 in the bundle
and keeps the secret in the console's credential store; :meth:`ProvisioningService.adopt`
reads the device's report back, finds the device at the address it reported,
checks its certificate against the reported fingerprint and pairs with the
secret, so the device is paired and pinned without anyone typing a code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets as random
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from console_app.core.credentials import CredentialStore
from console_app.core.persistence.errors import NotFound
from console_app.core.persistence.records import strip_credentials
from console_app.core.services.model_catalog import ModelLibraryError
from console_app.core.services.provisioning_cameras import (
    CameraBindingError,
    CameraToBind,
    bind_package,
    check_bindings,
    default_camera_id,
    registered_camera,
)
from console_app.core.signing import PackageSigner
from device_runtime.protocol.apps.validation import describe_validation_error
from device_runtime.protocol.provisioning.manifest import (
    BUNDLE_SUFFIX,
    MANIFEST_NAME,
    SECRETS_NAME,
    SIGNATURE_NAME,
    AppItem,
    ModelItem,
    NetworkSettings,
    ProvisionManifest,
    ProvisionReport,
    SecretsInfo,
    Target,
    Trust,
    report_name,
)
from device_runtime.protocol.provisioning.secrets_box import seal_for_device, seal_with_passphrase

#: Largest report accepted from a stick.
MAX_REPORT_BYTES = 1024 * 1024
SECRET_REF_PREFIX = "provisioning-pairing-secret/"


class ProvisioningError(Exception):
    """A bundle could not be built, or a report read or acted on; the message says why."""


class NotReachableYet(ProvisioningError):
    """The provisioned device answered at none of its addresses (yet): adopt it when it appears."""


@dataclass(frozen=True)
class ModelFile:
    """A model file to carry, with the name apps use."""

    path: Path
    name: str
    labels: tuple[str, ...] = ()
    decoder: str = ""


@dataclass
class BundleRequest:
    """What the engineer asked for in *Provision new device…*."""

    device_name: str
    network: NetworkSettings = field(default_factory=NetworkSettings)
    apps: Sequence[Path] = ()
    models: Sequence[ModelFile] = ()
    #: Registered cameras, bound to the camera ids the bundle's apps use.
    cameras: Sequence[CameraToBind] = ()
    secrets: dict[str, str] = field(default_factory=dict)
    passphrase: str = ""
    #: Encrypt the secrets for this device certificate instead of a passphrase (a device already known).
    device_cert_pem: str = ""
    target: Target = field(default_factory=Target)


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    bundle_id: str
    manifest: ProvisionManifest
    #: Camera id → the app packages (file names) it was bound in.
    bound_cameras: dict[str, list[str]] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return self.path.with_name(report_name(self.path.name))


def _safe_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
    return stem or "device"


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class PairingSecrets:
    """Where the console keeps each bundle's one-time pairing secret (the credential store)."""

    def __init__(self, credentials: CredentialStore):
        self._credentials = credentials

    def put(self, bundle_id: str, secret: str) -> None:
        self._credentials.put(SECRET_REF_PREFIX + bundle_id, secret)

    def get(self, bundle_id: str) -> str | None:
        return self._credentials.get(SECRET_REF_PREFIX + bundle_id)

    def delete(self, bundle_id: str) -> None:
        self._credentials.delete(SECRET_REF_PREFIX + bundle_id)


def build_bundle(request: BundleRequest, signer: PackageSigner, console_name: str, folder: Path,
                 keeper: PairingSecrets) -> BuiltBundle:
    """Write the bundle into ``folder``; the pairing secret goes to ``keeper``. Raises :class:`ProvisioningError`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ProvisioningError(f"{folder} is not a folder (is the stick mounted?)")
    with tempfile.TemporaryDirectory(prefix="sightline-bundle-") as scratch:
        return _build(request, signer, console_name, folder, keeper, Path(scratch))


def _bind_apps(request: BundleRequest, scratch: Path) -> tuple[list[Path], dict[str, str], dict[str, list[str]]]:
    """The app packages with the bound cameras written in, the cameras' password secrets, and who uses which."""
    try:
        check_bindings(request.cameras)
        packages, used = [], {c.id: [] for c in request.cameras}
        for package in request.apps:
            bound, ids = bind_package(Path(package), request.cameras, scratch) if request.cameras else (Path(package), [])
            packages.append(bound)
            for camera_id in ids:
                used[camera_id].append(Path(package).name)
    except CameraBindingError as exc:
        raise ProvisioningError(str(exc)) from None
    unused = [camera_id for camera_id, apps in used.items() if not apps]
    if unused:
        raise ProvisioningError(
            f"no app in the bundle uses camera id(s) {', '.join(unused)}: bind each camera to an id an app "
            "names in its cameras (or add that app)")
    secrets = {}
    for camera in request.cameras:
        if camera.password:
            if camera.secret_name in request.secrets and request.secrets[camera.secret_name] != camera.password:
                raise ProvisioningError(f"secret {camera.secret_name} is typed in and comes from the bound camera "
                                        f"{camera.name or camera.id}; keep one")
            secrets[camera.secret_name] = camera.password
    return packages, secrets, used


def _build(request: BundleRequest, signer: PackageSigner, console_name: str, folder: Path,
           keeper: PairingSecrets, scratch: Path) -> BuiltBundle:
    app_packages, camera_secrets, bound = _bind_apps(request, scratch)
    all_secrets = {**request.secrets, **camera_secrets}
    if all_secrets and not (request.passphrase or request.device_cert_pem):
        raise ProvisioningError("the bundle carries secrets (camera passwords or typed secrets): type a passphrase "
                                "to protect them, or encrypt them for a paired device")
    bundle_id = random.token_urlsafe(12)
    pairing_secret = random.token_hex(32)
    apps, models, payload = [], [], []
    used: set[str] = set()

    def member(prefix: str, path: Path) -> str:
        name = _safe_stem(path.name.removesuffix(".tar.gz").removesuffix(".onnx"))
        suffix = ".tar.gz" if path.name.endswith(".tar.gz") else path.suffix
        candidate, n = f"{prefix}/{name}{suffix}", 1
        while candidate in used:
            n += 1
            candidate = f"{prefix}/{name}-{n}{suffix}"
        used.add(candidate)
        return candidate

    try:
        for original, package in zip(request.apps, app_packages, strict=True):
            sha, size = _sha256(package)
            name = member("apps", Path(original))
            apps.append(AppItem(file=name, sha256=sha, size=size, signature=signer.sign_package(sha).hex()))
            payload.append((name, package))
        for model in request.models:
            sha, size = _sha256(model.path)
            name = member("models", model.path)
            models.append(ModelItem(file=name, sha256=sha, size=size, name=model.name, labels=list(model.labels),
                                    decoder=model.decoder))
            payload.append((name, model.path))
    except OSError as exc:
        raise ProvisioningError(f"could not read {exc.filename}: {exc.strerror}") from exc
    secrets_blob = None
    secrets_info = None
    if all_secrets:
        try:
            if request.device_cert_pem:
                secrets_blob = seal_for_device(all_secrets, request.device_cert_pem, bundle_id)
            else:
                secrets_blob = seal_with_passphrase(all_secrets, request.passphrase, bundle_id)
        except ValueError as exc:
            raise ProvisioningError(str(exc)) from exc
        secrets_info = SecretsInfo(scheme="device-key" if request.device_cert_pem else "passphrase",
                                   names=sorted(all_secrets), sha256=hashlib.sha256(secrets_blob).hexdigest())
    try:
        manifest = ProvisionManifest(
            bundle_id=bundle_id, created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            device_name=request.device_name, target=request.target, network=request.network,
            trust=Trust(console_name=console_name[:64], signing_public_key=signer.public_key_bytes().hex(),
                        pairing_secret_sha256=hashlib.sha256(pairing_secret.encode()).hexdigest()),
            apps=apps, models=models, secrets=secrets_info,
        )
    except ValidationError as exc:
        raise ProvisioningError(describe_validation_error(exc, "bundle")) from None
    manifest_bytes = (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")
    signature = signer.sign_provisioning_manifest(manifest_bytes)
    path = folder / f"{_safe_stem(request.device_name or 'device')}{BUNDLE_SUFFIX}"
    tmp = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST_NAME, manifest_bytes)
            archive.writestr(SIGNATURE_NAME, signature)
            if secrets_blob is not None:
                archive.writestr(SECRETS_NAME, secrets_blob)
            for name, source in payload:
                archive.write(source, name)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProvisioningError(f"could not write the bundle to {folder}: {exc.strerror or exc}") from exc
    # Kept only after the bundle exists, so a failed write leaves nothing behind.
    keeper.put(bundle_id, pairing_secret)
    return BuiltBundle(path, bundle_id, manifest, bound)


def read_report(path: Path) -> ProvisionReport:
    """The report a device wrote next to a bundle. Raises :class:`ProvisioningError` naming the problem."""
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise ProvisioningError(f"{path} is {size} bytes; a report is at most {MAX_REPORT_BYTES}")
        return ProvisionReport.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ProvisioningError(
            f"no report at {path}: has the device applied the bundle yet? (it writes the report next to it)") from None
    except OSError as exc:
        raise ProvisioningError(f"could not read {path}: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        raise ProvisioningError(describe_validation_error(exc, str(path))) from None


def find_reports(folder: Path) -> list[Path]:
    """Every ``*.report.json`` in a folder (a stick that went round several devices)."""
    return sorted(p for p in Path(folder).glob("*.report.json") if p.is_file())


def report_hosts(report: ProvisionReport) -> list[str]:
    """The addresses the device reported, without prefixes, in its order."""
    hosts = []
    for line in report.addresses:
        _, _, address = line.partition(": ")
        host = address.split("/")[0].strip()
        if host and host not in hosts:
            hosts.append(host)
    return hosts


@dataclass(frozen=True)
class CameraChoice:
    """A registered camera the engineer may bind (no password here: it is read when the bundle is written)."""

    camera_id: int
    name: str
    url: str
    bind_as: str


@dataclass(frozen=True)
class ProvisionChoices:
    """What *Provision new device…* offers: registered cameras, library models, paired devices, time zones."""

    cameras: list[CameraChoice] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    devices: list[Any] = field(default_factory=list)
    timezones: list[str] = field(default_factory=list)


class ProvisioningService:
    """Builds bundles with the console's key and adopts provisioned devices into the Devices list.

    ``cameras`` and ``model_library`` are callables returning the inventory's
    ``CameraRepository`` and the ``ModelLibrary`` (or None where there is
    none); asked when the choices are listed or a bundle is built, so a
    library opened later is seen.
    """

    def __init__(self, appliances, credentials: CredentialStore, *, console_name: str | None = None,
                 cameras: Callable[[], Any] | None = None, model_library: Callable[[], Any] | None = None):
        self.appliances = appliances
        self.secrets = PairingSecrets(credentials)
        self.console_name = console_name or appliances.client_name
        self._cameras = cameras or (lambda: None)
        self._model_library = model_library or (lambda: None)
        self._pending: dict[str, ProvisionReport] = {}
        self._lock = threading.Lock()
        self._listening = False
        #: ``on_adopted(entry_or_exception, report)`` after a pending adoption ran (from a worker thread).
        self.on_adopted: Callable[[Any, ProvisionReport], None] | None = None

    def adopt_when_seen(self, report: ProvisionReport) -> None:
        """Adopt the device as soon as the Devices list sees it advertised (it may still be on its way)."""
        with self._lock:
            self._pending[report.device_id] = report
            if not self._listening:
                self.appliances.add_listener(self._on_devices)
                self._listening = True
        self._on_devices(self.appliances.entries())

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._pending)

    def _on_devices(self, entries) -> None:
        ready = []
        with self._lock:
            for entry in entries:
                report = self._pending.get(entry.device_id)
                if report is not None and entry.advertised and not entry.paired:
                    ready.append(self._pending.pop(entry.device_id))
        for report in ready:
            threading.Thread(target=self._adopt_pending, args=(report,), name="adopt", daemon=True).start()

    def _adopt_pending(self, report: ProvisionReport) -> None:
        try:
            result: Any = self.adopt(report)
        except Exception as exc:  # reported to the page; the report can be read again
            result = exc
        if self.on_adopted is not None:
            self.on_adopted(result, report)

    def choices(self) -> ProvisionChoices:
        """Registered cameras, library models (those whose file is here), paired devices, time zones; blocking."""
        import zoneinfo

        cameras, library = self._cameras(), self._model_library()
        camera_choices = [CameraChoice(c.id, c.name, strip_credentials(c.stream_uri) or c.stream_uri,
                                       default_camera_id(c.name))
                          for c in (cameras.list_cameras() if cameras is not None else [])]
        models = [m for m in (library.list() if library is not None else []) if m.available]
        devices = [e for e in self.appliances.paired_entries() if not e.fingerprint_changed]
        return ProvisionChoices(camera_choices, models, devices, sorted(zoneinfo.available_timezones()))

    def build(self, request: BundleRequest, folder: Path, *, registered_cameras: Sequence[tuple[int, str]] = (),
              library_models: Sequence[str] = (), for_device: str = "") -> BuiltBundle:
        """Write the bundle; blocking.

        ``registered_cameras``: (inventory camera id, the camera id apps use)
        pairs, bound with the password from the credential store.
        ``library_models``: model-library ids to carry. ``for_device``: a
        paired device's id: the secrets are encrypted for its certificate's
        key (no passphrase) and only that device may apply the bundle.
        """
        extra_cameras, extra_models = [], []
        if registered_cameras:
            cameras = self._cameras()
            if cameras is None:
                raise ProvisioningError("no inventory is open: registered cameras cannot be bound")
            for camera_id, bind_as in registered_cameras:
                try:
                    extra_cameras.append(registered_camera(cameras, camera_id, bind_as))
                except NotFound as exc:
                    raise ProvisioningError(str(exc)) from None
        if library_models:
            library = self._model_library()
            if library is None:
                raise ProvisioningError("no model library is open")
            for model_id in library_models:
                try:
                    model = library.get(model_id)
                except ModelLibraryError as exc:
                    raise ProvisioningError(str(exc).strip("'\"")) from None
                extra_models.append(ModelFile(Path(model.path), model.name, tuple(model.labels), model.decoder or ""))
        changes: dict[str, Any] = {"cameras": [*request.cameras, *extra_cameras],
                                   "models": [*request.models, *extra_models]}
        if for_device:
            entry = self.appliances.entry(for_device)
            pem = self.appliances.device_certificate(for_device)
            if not pem:
                raise ProvisioningError(f"{entry.name} is not paired with this console: use a passphrase")
            changes.update(device_cert_pem=pem, passphrase="",
                           target=Target(device_id=for_device, device_fingerprint=entry.pinned_fingerprint))
        request = dataclasses.replace(request, **changes)
        return build_bundle(request, self.appliances.signer, self.console_name, folder, self.secrets)

    def adopt(self, report: ProvisionReport, *, hosts: Sequence[str] = (), port: int | None = None,
              on_progress: Callable[[str], None] | None = None):
        """Add the reported device and pair with it by its bundle's secret; returns its ``DeviceEntry``.

        Tried in order: ``hosts`` (at ``port``), where the Devices list has seen
        it advertised, then the addresses it reported. The device's certificate
        must be the one it reported, or it is not adopted.
        """
        from console_app.core.services.appliances import ApplianceError

        if not report.ok:
            raise ProvisioningError("the device refused the bundle: " + "; ".join(report.errors))
        if report.dry_run:
            raise ProvisioningError("that report is from a dry run; apply the bundle on the device first")
        secret = self.secrets.get(report.bundle_id)
        if secret is None:
            raise ProvisioningError(
                f"this console did not make bundle {report.bundle_id} (or already used its pairing secret); "
                "pair the device with the code it prints instead")
        port = port or report.port or 7443
        candidates = [(host, port) for host in hosts]
        seen = next((e for e in self.appliances.entries() if e.device_id == report.device_id and e.host), None)
        if seen is not None:
            candidates.append((seen.host, seen.port))
        candidates += [(host, report.port or 7443) for host in report_hosts(report)]
        failures = []
        for host, port in dict.fromkeys(candidates):
            if on_progress:
                on_progress(f"Contacting {report.device_name or report.device_id} at {host}:{port}…")
            try:
                entry = self.appliances.add_by_address(host, port)
            except ApplianceError as exc:
                failures.append(str(exc))
                continue
            if entry.device_id != report.device_id or entry.fingerprint != report.cert_fingerprint:
                failures.append(f"{host}:{port} is another device ({entry.device_id}, certificate "
                                f"{entry.fingerprint[:16]}…), not the one that wrote the report")
                continue
            paired = self.appliances.pair(entry.device_id, secret)
            self.secrets.delete(report.bundle_id)
            return paired
        raise NotReachableYet(
            f"{report.device_name or report.device_id} is not reachable yet at "
            f"{', '.join(f'{h}:{p}' for h, p in candidates) or 'any reported address'}: " + "; ".join(failures))


def summarize(report: ProvisionReport) -> str:
    """A few lines for a dialog: what the device did."""
    lines = [f"{report.device_name or report.device_id}: {'applied' if report.ok else 'REFUSED'}"]
    lines += [f"• {line}" for line in report.applied]
    lines += [f"⚠ {line}" for line in report.warnings]
    lines += [f"✖ {line}" for line in report.errors]
    return "\n".join(lines)


def manifest_of(bundle: Path) -> ProvisionManifest:
    """The manifest inside a bundle (for showing what it holds; the device verifies, not this)."""
    with zipfile.ZipFile(bundle) as archive:
        return ProvisionManifest.model_validate(json.loads(archive.read(MANIFEST_NAME)))
