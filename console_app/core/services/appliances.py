"""Appliances: discovery over mDNS, devices added by address, pairing and pinning.

One list of devices merges three sources: adverts seen by
:class:`~console_app.core.gateways.appliance_browser.ApplianceBrowser`,
devices the engineer added by address (other subnets), and devices paired
earlier (kept in a :class:`PairingStore`). Each entry says whether the
device is paired, reachable, and, loudly, whether it now presents a
certificate other than the one pinned at pairing; such a device is refused
(:meth:`ApplianceService.connect` raises ``FingerprintMismatch``).

No Qt. Blocking work (TLS handshakes, gRPC calls) runs in the caller's
thread for the public blocking methods (the UI calls them as background
tasks) and in the :class:`~console_app.core.workers.WorkerPool`
for checks the service starts itself. ``on_change(entries)`` is called from
any thread with a fresh snapshot of the whole list.

Packages: pairing sends the public key of the console's
:class:`~console_app.core.signing.PackageSigner`, and :meth:`ApplianceService.connect`
returns clients that sign every deploy with it, so callers just call
``client.deploy(package)``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from console_app.core.device_credentials import CredentialStore
from console_app.core.files import write_atomically
from console_app.core.gateways.appliance_browser import REMOVED, Appliance, ApplianceBrowser
from console_app.core.gateways.device_client import (
    DeviceCallError,
    DeviceClient,
    PairedCredentials,
    pair,
)
from console_app.core.gateways.device_tls import (
    DeviceTlsError,
    FingerprintMismatch,
    certificate_fingerprint,
    fetch_device_certificate,
    normalize_fingerprint,
)
from console_app.core.signing import PackageSigner, SigningKeyError, load_or_create_signer
from console_app.core.workers import WorkerPool

log = logging.getLogger(__name__)

CONTACT_TIMEOUT_S = 5.0


class ApplianceError(Exception):
    """A device operation the engineer asked for failed; the message says why."""


class UnknownDevice(ApplianceError):
    """No device with that id is in the list."""


class NotPaired(ApplianceError):
    """The device must be paired before this call."""


class PairingFailed(ApplianceError):
    """The device refused the pairing (wrong code, locked out) or could not be reached."""


@dataclass(frozen=True)
class DeviceEntry:
    """One row of the Devices list.

    ``fingerprint`` is what the device advertises or last presented;
    ``pinned_fingerprint`` is what this console pinned at pairing (empty when
    unpaired). ``reachable`` is ``None`` until checked. ``problem`` holds the
    last error, e.g. the fingerprint warning.
    """

    device_id: str
    name: str
    host: str
    port: int
    version: str = ""
    fingerprint: str = ""
    pinned_fingerprint: str = ""
    reachable: bool | None = None
    advertised: bool = False
    added_by_address: bool = False
    problem: str = ""

    @property
    def paired(self) -> bool:
        return bool(self.pinned_fingerprint)

    @property
    def fingerprint_changed(self) -> bool:
        """The device presents (or advertises) a certificate other than the pinned one."""
        return bool(self.pinned_fingerprint and self.fingerprint
                    and self.fingerprint != self.pinned_fingerprint)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class KnownDevice:
    """What is kept about a paired device between runs."""

    device_id: str
    name: str
    host: str
    port: int
    credentials: PairedCredentials


class PairingStore(Protocol):
    """Where paired devices are kept (a file store now; the inventory later)."""

    def load_all(self) -> list[KnownDevice]: ...

    def save(self, device: KnownDevice) -> None: ...

    def forget(self, device_id: str) -> None: ...


class FilePairingStore:
    """Paired devices in a private folder: credentials via ``CredentialStore``, addresses in ``devices.json``.

    The client key sits in a 0600 file like sightline-ctl's; moving it to the
    OS keyring is the inventory's credential store's job.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._credentials = CredentialStore(self.folder)
        self._index = self.folder / "devices.json"
        self._lock = threading.Lock()

    def _read_index(self) -> dict[str, dict]:
        if not self._index.exists():
            return {}
        try:
            data = json.loads(self._index.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ApplianceError(f"{self._index} is not readable JSON: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def load_all(self) -> list[KnownDevice]:
        with self._lock:
            index = self._read_index()
        devices = []
        for device_id, row in index.items():
            creds = self._credentials.load(device_id)
            if creds is None:
                log.warning("paired device %s has no stored credentials in %s", device_id, self.folder)
                continue
            devices.append(KnownDevice(device_id, row.get("name", device_id), row["host"], int(row["port"]), creds))
        return devices

    def save(self, device: KnownDevice) -> None:
        with self._lock:
            self._credentials.save(device.device_id, device.credentials)
            index = self._read_index()
            index[device.device_id] = {"name": device.name, "host": device.host, "port": device.port}
            write_atomically(self._index, json.dumps(index, indent=2))

    def forget(self, device_id: str) -> None:
        with self._lock:
            index = self._read_index()
            index.pop(device_id, None)
            write_atomically(self._index, json.dumps(index, indent=2))
            self._credentials._path(device_id).unlink(missing_ok=True)


ChangeListener = Callable[[list[DeviceEntry]], None]


def default_client_name() -> str:
    """How this console names itself to devices (shown in their paired-client list)."""
    return f"Sightline console on {socket.gethostname()}"


class ApplianceService:
    """The Devices list: browse, add by address, pair, check, connect.

    ``interfaces``: local IPv4 addresses to browse on (``None``: all).
    ``workers``: runs the reachability checks the service starts on its own.
    ``signer``: the console's package signer. ``None``: loaded (or made) on
    first use by :func:`~console_app.core.signing.load_or_create_signer` with
    the store's ``credentials`` and ``folder`` when it has them (the
    inventory store keeps it in the credential store; the file store in its
    folder, 0600), else in the user data folder.
    """

    def __init__(self, store: PairingStore, workers: WorkerPool, interfaces: list[str] | None = None,
                 on_change: ChangeListener | None = None, client_name: str | None = None,
                 signer: PackageSigner | None = None):
        self._store = store
        self._signer = signer
        self._workers = workers
        self._interfaces = interfaces
        self._listeners: list[ChangeListener] = [on_change] if on_change else []
        self.client_name = client_name or default_client_name()
        self._lock = threading.RLock()
        self._entries: dict[str, DeviceEntry] = {}
        self._credentials: dict[str, PairedCredentials] = {}
        self._browser: ApplianceBrowser | None = None
        self.browsing = False

    # ----------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Load paired devices, start browsing; returns at once."""
        self._merge_known(self._store.load_all())
        self._browser = ApplianceBrowser(self._interfaces, on_change=self._on_advert)
        self._browser.start()
        self.browsing = True
        self._notify()
        for device_id in list(self._entries):
            self._check_later(device_id)

    def load_stored(self) -> list[str]:
        """Add the paired devices the store holds and this list lacks (a site import wrote them); blocking.

        Returns their ids; each is checked in the background, as at start.
        """
        added = self._merge_known(self._store.load_all())
        if added:
            self._notify()
            for device_id in added:
                self._check_later(device_id)
        return added

    def remember(self, device_id: str, name: str, host: str, port: int) -> bool:
        """List an unpaired device known by its address (as *Add by address* would) and check it.

        False when the list has it already. Like any device added by address,
        it stays listed until the console restarts (or for good once paired).
        """
        with self._lock:
            if device_id in self._entries:
                return False
            self._entries[device_id] = DeviceEntry(device_id, name, host, port, added_by_address=True)
        self._notify()
        self._check_later(device_id)
        return True

    def _merge_known(self, known_devices: list[KnownDevice]) -> list[str]:
        """Take in the stored pairings of devices not paired in this list yet; returns their ids."""
        added = []
        with self._lock:
            for known in known_devices:
                if known.device_id in self._credentials:
                    continue
                self._credentials[known.device_id] = known.credentials
                base = self._entries.get(known.device_id) or DeviceEntry(
                    known.device_id, known.name, known.host, known.port)
                self._entries[known.device_id] = self._with_pin_check(
                    replace(base, pinned_fingerprint=known.credentials.fingerprint))
                added.append(known.device_id)
        return added

    def stop(self) -> None:
        """Stop browsing. Idempotent."""
        browser, self._browser = self._browser, None
        self.browsing = False
        if browser is not None:
            browser.stop()

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def entries(self) -> list[DeviceEntry]:
        """Every device, sorted by name."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: (e.name.lower(), e.device_id))

    def entry(self, device_id: str) -> DeviceEntry:
        with self._lock:
            found = self._entries.get(device_id)
        if found is None:
            raise UnknownDevice(f"no device with id {device_id!r} in the list")
        return found

    @property
    def signer(self) -> PackageSigner:
        """The console's package signer (loaded or made on first use; raises ``ApplianceError``)."""
        with self._lock:
            if self._signer is None:
                credentials = getattr(self._store, "credentials", None)
                folder = getattr(self._store, "folder", None)
                if folder is None:
                    from console_app.core.settings import default_data_dir

                    folder = default_data_dir()
                try:
                    self._signer = load_or_create_signer(credentials, Path(folder))
                except SigningKeyError as exc:
                    raise ApplianceError(str(exc)) from None
            return self._signer

    # ----------------------------------------------------------- blocking operations

    def add_by_address(self, host: str, port: int) -> DeviceEntry:
        """Contact ``host:port`` (GetInfo as a guest) and add the device it is.

        For a paired device the presented certificate must be the pinned one.
        """
        host = host.strip()
        if not host or not 0 < port < 65536:
            raise ApplianceError(f"expected a host and a port 1..65535, got {host!r}:{port}")
        try:
            with DeviceClient(host, port, timeout=CONTACT_TIMEOUT_S) as client:
                info = client.info()
                presented = client.fingerprint
        except (DeviceTlsError, DeviceCallError) as exc:
            raise ApplianceError(f"no Sightline device answered at {host}:{port}: {exc}") from exc
        with self._lock:
            old = self._entries.get(info.device_id)
            base = old or DeviceEntry(info.device_id, info.name, host, port)
            entry = replace(base, name=info.name or base.name, host=host, port=port,
                            version=info.runtime_version, fingerprint=presented, reachable=True,
                            added_by_address=True, problem="")
            entry = self._with_pin_check(entry)
            self._entries[entry.device_id] = entry
        self._notify()
        return entry

    def pair(self, device_id: str, code: str) -> DeviceEntry:
        """Pair with the device using the code it printed; pins its certificate."""
        entry = self.entry(device_id)
        code = code.strip()
        if not code:
            raise PairingFailed("type the pairing code the device printed")
        signer = self.signer
        try:
            creds = pair(entry.host, entry.port, code, self.client_name,
                         expected_fingerprint=entry.fingerprint or None, timeout=CONTACT_TIMEOUT_S,
                         signer=signer)
        except FingerprintMismatch:
            raise
        except DeviceCallError as exc:
            raise PairingFailed(f"{entry.name} at {entry.address} refused pairing: {exc.message}") from exc
        except DeviceTlsError as exc:
            raise PairingFailed(f"could not reach {entry.name} at {entry.address}: {exc}") from exc
        if creds.device_id != device_id:
            raise PairingFailed(
                f"the device at {entry.address} is {creds.device_id}, not {device_id}; "
                "refresh the list and pair again")
        self._store.save(KnownDevice(device_id, entry.name, entry.host, entry.port, creds))
        with self._lock:
            self._credentials[device_id] = creds
            entry = replace(self._entries.get(device_id, entry), fingerprint=creds.fingerprint,
                            pinned_fingerprint=creds.fingerprint, reachable=True, problem="")
            self._entries[device_id] = entry
        self._notify()
        return entry

    def check(self, device_id: str) -> DeviceEntry:
        """Handshake with the device: updates reachable, fingerprint and problem."""
        entry = self.entry(device_id)
        try:
            presented = certificate_fingerprint(
                fetch_device_certificate(entry.host, entry.port, timeout=CONTACT_TIMEOUT_S))
            update = {"fingerprint": presented, "reachable": True, "problem": ""}
        except DeviceTlsError as exc:
            update = {"reachable": False, "problem": str(exc)}
        with self._lock:
            current = self._entries.get(device_id)
            if current is None:  # removed while we were checking
                return replace(entry, **update)
            if not update["reachable"] and current.fingerprint_changed:
                update.pop("problem")  # keep the louder warning
            entry = self._with_pin_check(replace(current, **update))
            self._entries[device_id] = entry
        self._notify()
        return entry

    def refresh(self) -> None:
        """Re-check every device in the background."""
        for device_id in [e.device_id for e in self.entries()]:
            self._check_later(device_id)

    def connect(self, device_id: str) -> DeviceClient:
        """A paired client for the device that signs its deploys with the console's signer.

        Raises ``NotPaired``, or ``FingerprintMismatch`` if its certificate changed.
        """
        entry = self.entry(device_id)
        with self._lock:
            creds = self._credentials.get(device_id)
        if creds is None:
            raise NotPaired(f"{entry.name} ({entry.address}) is not paired with this console; pair it first")
        if entry.fingerprint_changed:
            raise FingerprintMismatch(entry.host, entry.port, entry.fingerprint, entry.pinned_fingerprint)
        try:
            return DeviceClient(entry.host, entry.port, creds, timeout=CONTACT_TIMEOUT_S * 3,
                                signer=self.signer)
        except FingerprintMismatch as exc:
            with self._lock:
                self._entries[device_id] = replace(
                    self._entries[device_id], fingerprint=exc.presented, reachable=False, problem=str(exc))
            self._notify()
            raise

    def device_certificate(self, device_id: str) -> str:
        """The device certificate (PEM) pinned when this console paired with it; ``""`` if not paired."""
        with self._lock:
            creds = self._credentials.get(device_id)
        return creds.device_cert_pem if creds is not None else ""

    def paired_entries(self) -> list[DeviceEntry]:
        return [e for e in self.entries() if e.paired]

    def forget(self, device_id: str) -> None:
        """Drop the pairing (and the entry unless it is advertised)."""
        self._store.forget(device_id)
        with self._lock:
            self._credentials.pop(device_id, None)
            entry = self._entries.get(device_id)
            if entry is not None:
                if entry.advertised:
                    self._entries[device_id] = replace(entry, pinned_fingerprint="", problem="")
                else:
                    del self._entries[device_id]
        self._notify()

    # ----------------------------------------------------------- internals

    def _with_pin_check(self, entry: DeviceEntry) -> DeviceEntry:
        if entry.fingerprint_changed:
            message = str(FingerprintMismatch(entry.host, entry.port, entry.fingerprint, entry.pinned_fingerprint))
            return replace(entry, problem=message)
        return entry

    def _on_advert(self, event: str, appliance: Appliance) -> None:
        recheck: list[str] = []
        with self._lock:
            old = self._entries.get(appliance.device_id)
            if event == REMOVED:
                if old is None:
                    return
                if old.paired or old.added_by_address:
                    self._entries[appliance.device_id] = replace(old, advertised=False)
                else:
                    del self._entries[appliance.device_id]
            else:
                base = old or DeviceEntry(appliance.device_id, appliance.name, appliance.address, appliance.port)
                entry = replace(base, name=appliance.name, host=appliance.address or base.host,
                                port=appliance.port or base.port, version=appliance.version,
                                fingerprint=normalize_fingerprint(appliance.fingerprint) or base.fingerprint,
                                advertised=True)
                self._entries[appliance.device_id] = self._with_pin_check(entry)
                recheck.append(appliance.device_id)
                # A paired device that used to answer at this address may have been
                # replaced (reinstalled, or impersonated): check what it presents now.
                recheck += [e.device_id for e in self._entries.values()
                            if e.paired and e.device_id != appliance.device_id
                            and (e.host, e.port) == (appliance.address, appliance.port)]
        self._notify()
        for device_id in recheck:
            self._check_later(device_id)

    def _check_later(self, device_id: str) -> None:
        if not self._workers.running:
            return
        future = self._workers.run_blocking(self.check, device_id)
        future.add_done_callback(_log_failure)

    def _notify(self) -> None:
        snapshot = self.entries()
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:
                log.exception("devices listener failed")


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        exc = future.exception()
        if not isinstance(exc, UnknownDevice):
            log.warning("device check failed: %s", exc)
