"""Consoles pre-authorised to pair by a provisioning bundle: a one-time secret instead of the printed code.

A provisioning bundle carries the SHA-256 of a random secret the console
keeps, with the console's package signing key. The device records both here
(``data_dir/preauthorized_consoles.json``, 0600). The console then pairs on
first contact by sending the secret as the pairing code together with that
same signing key; the device accepts it once (:meth:`PreauthorizedConsoles.find`,
then :meth:`PreauthorizedConsoles.mark_used`). Only
the hash is on the stick, so whoever copies the stick cannot pair with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from device_runtime.security.identity import write_atomically

PREAUTH_FILE = "preauthorized_consoles.json"


@dataclass(frozen=True)
class Preauthorization:
    secret_sha256: str
    console_name: str
    signing_public_key: str
    bundle_id: str
    added_at: str
    used_at: str = ""


class PreauthorizedConsoles:
    """The file of pre-authorisations; re-read on every use, since ``sightline-device provision`` writes it."""

    def __init__(self, data_dir: Path):
        self._path = Path(data_dir) / PREAUTH_FILE
        self._lock = threading.Lock()

    def _load(self) -> list[Preauthorization]:
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
            return [Preauthorization(**e) for e in doc.get("entries", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError):
            # A damaged file pre-authorises nobody; pairing by the printed code still works.
            return []

    def _save(self, entries: list[Preauthorization]) -> None:
        doc = {"version": 1, "entries": [asdict(e) for e in entries]}
        write_atomically(self._path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)

    def add(self, secret_sha256: str, console_name: str, signing_public_key: str, bundle_id: str) -> bool:
        """Record a pre-authorisation; False when this secret was recorded before (used or not)."""
        with self._lock:
            entries = self._load()
            if any(e.secret_sha256 == secret_sha256 for e in entries):
                return False
            now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            entries.append(Preauthorization(secret_sha256, console_name, signing_public_key, bundle_id, now))
            self._save(entries)
            return True

    def find(self, secret: str, signing_public_key: bytes) -> Preauthorization | None:
        """The unused pre-authorisation this secret and signing key match, or ``None``."""
        digest = hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()
        with self._lock:
            for entry in self._load():
                if entry.used_at or not hmac.compare_digest(entry.secret_sha256, digest):
                    continue
                return entry if bytes(signing_public_key).hex() == entry.signing_public_key else None
        return None

    def mark_used(self, secret_sha256: str) -> None:
        """Use the pre-authorisation up: its secret pairs nobody again."""
        with self._lock:
            entries = self._load()
            now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self._save([Preauthorization(**{**asdict(e), "used_at": e.used_at or now})
                        if e.secret_sha256 == secret_sha256 else e for e in entries])

    def signing_keys(self) -> list[bytes]:
        """Keys of consoles that provisioned this device (trusted for later bundles)."""
        with self._lock:
            return [bytes.fromhex(e.signing_public_key) for e in self._load()]
