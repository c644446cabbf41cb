"""``sightline-device provision``: verify a bundle, then make this device what it asks for.

Order, chosen so that a refusal changes nothing and a failure leaves a
working device:

1. read and verify (:mod:`reader`: size, copy off the stick, names,
   signature, digests), check the target device, open the secrets, detect
   the network tool and check that no current address is cut off. Any
   problem here ends it: report written, nothing changed.
2. a dry run stops here and reports every change it would make, exactly.
3. device name, named secrets, models and apps (through the supervisor, the
   same atomic install as a deploy; apps are left to start with the device
   service), the console's pre-authorisation to pair, and last the network
   and time settings.
4. the report (next to the bundle and in ``data_dir/provisioning/``) and an
   audit entry.

Each step checks what is already so, so applying a bundle twice changes
nothing the second time. The device service must not be running meanwhile
(both would write the same stores): the shipped ``sightline-provision``
unit stops and restarts it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from device_runtime.config import DeviceConfig
from device_runtime.datadir_lock import exclusive
from device_runtime.errors import FailedPrecondition, SightlineError
from device_runtime.protocol.package_signature import key_fingerprint
from device_runtime.protocol.provisioning.manifest import (
    DEFAULT_MAX_BUNDLE_BYTES,
    ProvisionReport,
    report_name,
)
from device_runtime.protocol.provisioning.secrets_box import SecretsError, open_secrets
from device_runtime.provisioning import network
from device_runtime.provisioning.reader import VerifiedBundle, read_bundle
from device_runtime.security.audit import LOCAL, Actor, AuditLog
from device_runtime.security.identity import DeviceIdentity, write_atomically
from device_runtime.security.pairing import PairingManager
from device_runtime.security.secret_store import SecretStore

log = logging.getLogger(__name__)

PROVISIONING_DIR = "provisioning"


@dataclass
class ProvisionOptions:
    """How to apply: dry run, passphrase, confirmations, where system files live (tests: a scratch root)."""

    dry_run: bool = False
    passphrase: str | None = None
    confirm_network_change: bool = False
    root: Path = Path("/")
    network_tool: str = ""
    config_path: Path | None = None
    report_dir: Path | None = None
    max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES
    run: Callable[..., object] | None = None
    addresses: Callable[[], dict[str, list[dict]]] | None = None


@dataclass
class _Outcome:
    applied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Provisioner:
    """Applies bundles to the device whose configuration is ``config``."""

    def __init__(self, config: DeviceConfig, options: ProvisionOptions | None = None):
        self.config = config
        self.options = options or ProvisionOptions()
        self.data_dir = Path(config.data_dir)
        self.identity = DeviceIdentity.load_or_create(self.data_dir, config.name)
        self.pairing = PairingManager(self.data_dir, self.identity)
        self.audit = AuditLog(self.data_dir)
        self._secrets: dict[str, str] = {}

    # ---------------------------------------------------------------- entry

    def provision(self, bundle_path: Path) -> ProvisionReport:
        """Apply (or dry-run) the bundle; always returns the report, also written next to the bundle."""
        bundle_path = Path(bundle_path)
        outcome = _Outcome()
        bundle: VerifiedBundle | None = None
        name = self.config.name
        try:
            if self.options.dry_run:
                bundle, steps = self._prepare(bundle_path, outcome)
                outcome.applied += [c.describe().rstrip("\n") for c in steps.changes]
                outcome.unchanged += steps.unchanged
                name = bundle.manifest.device_name or name
            else:
                with exclusive(self.data_dir, "provisioning"):
                    bundle, steps = self._prepare(bundle_path, outcome)
                    name = self._apply(bundle, steps, outcome)
        except (SightlineError, SecretsError) as exc:
            outcome.errors.append(str(exc))
        except OSError as exc:
            outcome.errors.append(f"could not apply the bundle: {exc}")
        report = self._report(bundle, outcome, name)
        self._finish(bundle_path, bundle, report)
        return report

    # ---------------------------------------------------------------- checks

    def _trusted_keys(self) -> list[bytes] | None:
        keys = self.pairing.signing_keys() + self.pairing.preauthorized.signing_keys()
        return list(dict.fromkeys(keys)) or None

    def _prepare(self, bundle_path: Path, outcome: _Outcome) -> tuple[VerifiedBundle, network.Plan]:
        staging = self.data_dir / PROVISIONING_DIR / "staging"
        max_bytes = min(self.options.max_bundle_bytes, DEFAULT_MAX_BUNDLE_BYTES)
        bundle = read_bundle(bundle_path, staging, max_bytes=max_bytes, trusted_keys=self._trusted_keys())
        manifest = bundle.manifest
        target = manifest.target
        if target.device_id and target.device_id != self.identity.device_id:
            raise FailedPrecondition(
                f"this bundle is for device {target.device_id}; this is {self.identity.device_id}. Nothing was changed")
        if target.device_fingerprint and target.device_fingerprint.lower() != self.identity.fingerprint:
            raise FailedPrecondition(
                "this bundle is for a device with another certificate "
                f"({target.device_fingerprint[:16]}…); nothing was changed")
        if bundle.secrets_blob is not None:
            self._secrets = open_secrets(bundle.secrets_blob, manifest.bundle_id, passphrase=self.options.passphrase,
                                         device_key=self.identity.private_key)
        else:
            self._secrets = {}
        settings = manifest.network
        run = self.options.run or network.subprocess.run
        if settings.interfaces or settings.ntp_servers is not None or settings.timezone:
            backend = network.detect_backend(self.options.root, run=run, prefer=self.options.network_tool)
            if isinstance(backend, network.NmcliBackend) and Path(self.options.root) != Path("/") \
                    and not self.options.dry_run:
                raise FailedPrecondition("NetworkManager changes the running system: --root works only with "
                                         "--network-tool networkd (files) or --dry-run")
            if settings.interfaces:
                current = (self.options.addresses or (lambda: network.current_addresses(run)))()
                problems = network.check_reachability(
                    settings, current, managed=bool(self.pairing.trusted_clients()),
                    confirmed=settings.allow_address_change or self.options.confirm_network_change)
                if problems:
                    raise network.NetworkCutOff("; ".join(problems) + ". Nothing was changed")
            steps = network.plan(settings, manifest.bundle_id, backend, self.options.root)
        else:
            steps = network.Plan("none", [], [])
        return bundle, steps

    # ---------------------------------------------------------------- apply

    def _apply(self, bundle: VerifiedBundle, steps: network.Plan, outcome: _Outcome) -> str:
        manifest = bundle.manifest
        name = self._apply_name(manifest.device_name, outcome)
        store = SecretStore(self.data_dir)
        for secret_name, value in sorted(self._secrets.items()):
            if store.get(secret_name) == value:
                outcome.unchanged.append(f"secret {secret_name}")
            else:
                store.put(secret_name, value)
                outcome.applied.append(f"secret {secret_name} stored")
        if manifest.models or manifest.apps:
            self._install(bundle, outcome)
        trust = manifest.trust
        if self.pairing.preauthorized.add(trust.pairing_secret_sha256, trust.console_name,
                                          trust.signing_public_key, manifest.bundle_id):
            outcome.applied.append(f"console {trust.console_name!r} may pair on first contact")
        else:
            outcome.unchanged.append(f"console {trust.console_name!r} already pre-authorised")
        run = self.options.run or network.subprocess.run
        done, warnings, errors = network.execute(steps.changes, run)
        outcome.applied += done
        outcome.unchanged += steps.unchanged
        outcome.warnings += warnings
        outcome.errors += errors
        return name

    def _apply_name(self, wanted: str, outcome: _Outcome) -> str:
        if not wanted or wanted == self.config.name:
            if wanted:
                outcome.unchanged.append(f"device name {wanted}")
            return self.config.name
        path = self.options.config_path
        if path is None:
            outcome.warnings.append(
                f"device name {wanted!r} not saved: no --config file given; pass --name {wanted} to serve")
            return wanted
        doc = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        doc["name"] = wanted
        before = path.stat() if path.exists() else None
        write_atomically(path, (json.dumps(doc, indent=2) + "\n").encode(),
                         mode=before.st_mode & 0o777 if before else 0o644)
        if before is not None and os.geteuid() == 0:
            os.chown(path, before.st_uid, before.st_gid)  # root:sightline 0640 stays so
        outcome.applied.append(f"device name {wanted} (in {path})")
        return wanted

    def _install(self, bundle: VerifiedBundle, outcome: _Outcome) -> None:
        # Imported here: the supervisor pulls in onnxruntime and OpenCV, which a bundle
        # with only network settings does not need.
        from device_runtime.supervisor import Supervisor, UploadSpec

        supervisor = Supervisor(self.config)
        try:
            stored = {m.name: m.sha256 for m in supervisor.list_models()}
            for item in bundle.manifest.models:
                if stored.get(item.name) == item.sha256:
                    outcome.unchanged.append(f"model {item.name}")
                    continue
                spec = UploadSpec(filename=Path(item.file).name, size=item.size, sha256=item.sha256,
                                  name=item.name, labels="\n".join(item.labels), decoder=item.decoder)
                supervisor.upload_model(spec, _chunks(bundle.path(item.file)))
                outcome.applied.append(f"model {item.name} stored (sha256 {item.sha256[:12]})")
            for app in bundle.manifest.apps:
                spec = UploadSpec(filename=Path(app.file).name, size=app.size, sha256=app.sha256,
                                  signature=bytes.fromhex(app.signature))
                installed = _installed_digest(supervisor, app.sha256)
                if installed:
                    outcome.unchanged.append(f"app {installed}")
                    continue
                # The same transaction as DeployApp, signature included; it starts with the service.
                view = supervisor.deploy(spec, _chunks(bundle.path(app.file)), start=False,
                                         trusted_keys=[bundle.signing_key])
                supervisor.desired.set(view.app_id, running=True)
                outcome.applied.append(f"app {view.app_id} {view.version} installed; it starts with the device service")
        finally:
            supervisor.close()

    # ---------------------------------------------------------------- report

    def _addresses(self, bundle: VerifiedBundle | None) -> list[str]:
        """The static addresses just configured (the network tool may not have applied them yet), then the current ones."""
        found: list[str] = []
        if bundle is not None and not self.options.dry_run:
            found += [f"{i.name}: {i.address}" for i in bundle.manifest.network.interfaces if i.method == "static"]
        try:
            run = self.options.run or network.subprocess.run
            current = (self.options.addresses or (lambda: network.current_addresses(run)))()
        except (OSError, ValueError, network.subprocess.SubprocessError):
            current = {}
        found += [f"{name}: {a['address']}" for name, addrs in sorted(current.items()) if name != "lo" for a in addrs]
        return list(dict.fromkeys(found))

    def _report(self, bundle: VerifiedBundle | None, outcome: _Outcome, name: str) -> ProvisionReport:
        return ProvisionReport(
            bundle_id=bundle.manifest.bundle_id if bundle else "",
            ok=not outcome.errors, dry_run=self.options.dry_run, time=_now(),
            device_id=self.identity.device_id, device_name=name,
            cert_fingerprint=self.identity.fingerprint, cert_pem=self.identity.cert_pem.decode(),
            port=self.config.port, addresses=self._addresses(bundle),
            applied=outcome.applied, unchanged=outcome.unchanged, errors=outcome.errors, warnings=outcome.warnings,
        )

    def _finish(self, bundle_path: Path, bundle: VerifiedBundle | None, report: ProvisionReport) -> None:
        text = report.model_dump_json(indent=2) + "\n"
        folder = self.data_dir / PROVISIONING_DIR
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / "last-report.json", text.encode(), mode=0o600)
        target_dir = self.options.report_dir or bundle_path.parent
        try:
            write_atomically(Path(target_dir) / report_name(bundle_path.name), text.encode(), mode=0o644)
        except OSError as exc:
            log.error("could not write the report next to the bundle in %s: %s", target_dir, exc)
        if not self.options.dry_run:
            actor = LOCAL
            if bundle is not None:
                actor = Actor(f"{LOCAL.name}, bundle from {bundle.manifest.trust.console_name}",
                              signing_key=key_fingerprint(bundle.signing_key))
            self.audit.record("provision", actor, target=f"{bundle_path.name} {report.bundle_id}".strip(),
                              outcome="ok" if report.ok else "FAILED",
                              detail="; ".join(report.errors) or f"{len(report.applied)} change(s)")
        staging = self.data_dir / PROVISIONING_DIR / "staging"
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        level = logging.INFO if report.ok else logging.ERROR
        log.log(level, "provisioning from %s: %s", bundle_path,
                "ok" if report.ok else "refused: " + "; ".join(report.errors))


def _installed_digest(supervisor, sha256: str) -> str:
    """``"APP VERSION"`` when a package with this digest is installed and active already, else ``""``."""
    packages = supervisor.packages
    for app_id in packages.list_apps():
        active = packages.active_version(app_id)
        if active is not None and packages.get(app_id, active).sha256 == sha256:
            return f"{app_id} {active}"
    return ""


def _chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk
