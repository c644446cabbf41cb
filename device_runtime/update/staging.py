"""Offline device software updates, the service's half: verify, check and stage a .deb.

The console uploads a ``sightline-device`` .deb over the paired API
(``UpdateSoftware``). Before a byte is stored the signature is checked against
the paired consoles' keys (the update domain, ``protocol/update_signature``);
the bytes must then hash to the signed digest. ``dpkg-deb`` reads the
package's control fields: it must be ``sightline-device``, for this machine's
architecture, and another version than the one running. The .deb is then
staged as ``data_dir/updates/staged.deb`` with ``pending.json``; the service
itself (unprivileged, hardened) installs nothing. ``sightline-update.path``
sees ``pending.json`` and starts the root updater (:mod:`device_runtime.update.apply`).

``state.json`` records where the last update is (staged, installing,
installed, rolled-back, failed) for ``GetUpdateStatus``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device_runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
)
from device_runtime.protocol.update_signature import signed_message
from device_runtime.security.identity import write_atomically
from device_runtime.store.uploads import check_sha256, receive_upload

log = logging.getLogger(__name__)

PACKAGE_NAME = "sightline-device"
UPDATES_DIR = "updates"
STAGED = "staged.deb"
PENDING = "pending.json"
STATE = "state.json"
DEFAULT_MAX_UPDATE_BYTES = 3 * 1024**3


@dataclass(frozen=True)
class UpdateState:
    """Where the last update is. ``time`` is unix seconds of the last change."""

    state: str = "none"
    version: str = ""
    previous_version: str = ""
    detail: str = ""
    time: float = 0.0


@dataclass(frozen=True)
class DebInfo:
    package: str
    version: str
    architecture: str


def read_deb_fields(path: Path) -> DebInfo:
    """Package, Version and Architecture of a .deb, read by dpkg-deb; ``InvalidArgument`` if it is none."""
    try:
        result = subprocess.run(["dpkg-deb", "--field", str(path), "Package", "Version", "Architecture"],
                                capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise FailedPrecondition("dpkg-deb is not installed; this device cannot take .deb updates") from None
    if result.returncode != 0:
        raise InvalidArgument(f"the update is not a Debian package: {result.stderr.strip()}")
    fields = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return DebInfo(fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", ""))


def machine_architecture() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except FileNotFoundError:
        return ""


class UpdateStore:
    """The service's side: stage a verified update, report the state."""

    def __init__(self, data_dir: Path, running_version: str, *, max_bytes: int = DEFAULT_MAX_UPDATE_BYTES,
                 require_signed: bool = True, architecture: str | None = None):
        self.folder = Path(data_dir) / UPDATES_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        self.running_version = running_version
        self.max_bytes = max_bytes
        self.require_signed = require_signed
        self._architecture = architecture
        # One staging at a time: two consoles pushing at once must not interleave their files.
        self._lock = threading.Lock()

    def state(self) -> UpdateState:
        try:
            return UpdateState(**json.loads((self.folder / STATE).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return UpdateState()

    def _check_signature(self, sha256: str, signature: bytes, trusted_keys: Iterable[bytes]) -> None:
        if not self.require_signed:
            log.warning("staging update %s without checking its signature: require_signed_packages is off",
                        sha256[:12])
            return
        if not signature:
            raise PermissionDenied("the update is not signed; only updates signed by a paired console are installed")
        message = signed_message(sha256)
        for key in trusted_keys:
            try:
                Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
                return
            except (InvalidSignature, ValueError):
                continue
        raise PermissionDenied("the update's signature matches no paired console's key (tampered, or signed "
                               "by a console this device does not trust)")

    def stage(self, size: int, sha256: str, signature: bytes, chunks: Iterable[bytes],
              trusted_keys: Iterable[bytes], requested_by: str = "") -> UpdateState:
        """Verify and stage one .deb; raises a domain error naming the problem (nothing staged then)."""
        digest = check_sha256(sha256, "update sha256")
        self._check_signature(digest, signature, list(trusted_keys))
        if not self._lock.acquire(blocking=False):
            raise FailedPrecondition("another update is being uploaded to this device right now; try again later")
        try:
            return self._stage(size, digest, chunks, requested_by)
        finally:
            self._lock.release()

    def _stage(self, size: int, digest: str, chunks: Iterable[bytes], requested_by: str) -> UpdateState:
        current = self.state()
        if current.state in ("staged", "installing"):
            raise FailedPrecondition(
                f"update {current.version} is {current.state} already; wait for it to finish (GetUpdateStatus)")
        staging = self.folder / ".incoming"
        staging.mkdir(exist_ok=True)
        received = receive_upload(size, digest, chunks, staging, self.max_bytes, label="update")
        try:
            info = read_deb_fields(received)
            arch = self._architecture if self._architecture is not None else machine_architecture()
            if info.package != PACKAGE_NAME:
                raise InvalidArgument(f"the update is package {info.package!r}, not {PACKAGE_NAME}")
            if arch and info.architecture not in (arch, "all"):
                raise InvalidArgument(f"the update is for {info.architecture}; this device is {arch}")
            if info.version == self.running_version:
                raise AlreadyExists(f"version {info.version} is already running")
            received.replace(self.folder / STAGED)
        finally:
            received.unlink(missing_ok=True)
        pending = {"version": info.version, "previous_version": self.running_version, "sha256": digest,
                   "requested_by": requested_by, "staged_at": time.time()}
        state = UpdateState("staged", info.version, self.running_version, "waiting for the updater", time.time())
        write_atomically(self.folder / STATE, json.dumps(asdict(state)).encode(), mode=0o644)
        # Written last: the path unit starts the root updater as soon as it appears.
        write_atomically(self.folder / PENDING, json.dumps(pending).encode(), mode=0o644)
        log.info("staged device software %s (running %s); the updater installs it", info.version,
                 self.running_version)
        return state
