"""The device's secret store: camera passwords, output tokens and keys, by name.

Secrets arrive over the paired TLS connection (never inside a package, its
signature or a manifest) and are kept in one JSON file in the data dir that
only the service user may read (0600). Manifests refer to a secret by name,
for example ``camera/<camera id>/password`` or ``output/<output name>/password``.

At start the file's permissions are checked: a store readable by group or
others is refused with an error that says how to fix it, rather than used.
Writes are atomic (temp file with 0600 from the first byte, fsync, rename), so
a power cut leaves the old or the new store, never a torn one.

Values never appear in logs, errors or ``repr``: only names do.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from pathlib import Path

from device_runtime.errors import FailedPrecondition, InvalidArgument
from device_runtime.security.identity import write_atomically

log = logging.getLogger(__name__)

FILE_NAME = "secrets.json"
MAX_NAME_LENGTH = 200
MAX_VALUE_BYTES = 64 * 1024
MAX_SECRETS = 4096


class SecretStore:
    """Named secrets in ``<data_dir>/secrets.json`` (mode 0600), safe to share between threads."""

    def __init__(self, data_dir: Path) -> None:
        self._path = Path(data_dir) / FILE_NAME
        self._lock = threading.Lock()
        self._values: dict[str, str] = self._load()

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SecretStore({str(self._path)!r}, names={sorted(self._values)})"

    def names(self) -> list[str]:
        """The names of every stored secret, sorted (values are never listed)."""
        with self._lock:
            return sorted(self._values)

    def get(self, name: str) -> str | None:
        """The secret called ``name``, or None when there is none."""
        with self._lock:
            return self._values.get(name)

    def require(self, name: str) -> str:
        """The secret called ``name``; FailedPrecondition naming it when it is missing."""
        value = self.get(name)
        if value is None:
            raise FailedPrecondition(
                f"secret {name!r} is not on this device; deploy again from a console that has it"
            )
        return value

    def put_many(self, secrets: dict[str, str]) -> None:
        """Store (or replace) several secrets in one atomic write."""
        for name, value in secrets.items():
            _check(name, value)
        if not secrets:
            return
        with self._lock:
            merged = {**self._values, **secrets}
            if len(merged) > MAX_SECRETS:
                raise InvalidArgument(f"too many secrets (more than {MAX_SECRETS})")
            if merged == self._values:
                return
            self._write(merged)
            self._values = merged

    def put(self, name: str, value: str) -> None:
        """Store (or replace) one secret."""
        self.put_many({name: value})

    def delete(self, *names: str) -> None:
        """Forget secrets by name; unknown names are ignored."""
        with self._lock:
            remaining = {k: v for k, v in self._values.items() if k not in names}
            if remaining != self._values:
                self._write(remaining)
                self._values = remaining

    def _load(self) -> dict[str, str]:
        if not self._path.exists():
            return {}
        _check_private(self._path)
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FailedPrecondition(f"the secret store {self._path} is unreadable: {exc}") from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise FailedPrecondition(f"the secret store {self._path} is not a name → text map")
        return data

    def _write(self, values: dict[str, str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(values, indent=2, sort_keys=True).encode()
        write_atomically(self._path, data, mode=0o600)


def _check(name: str, value: str) -> None:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"a secret name must be 1..{MAX_NAME_LENGTH} characters")
    if any(ch in name for ch in "\0\n\r"):
        raise InvalidArgument(f"secret name {name!r} contains a control character")
    if not isinstance(value, str):
        raise InvalidArgument(f"secret {name!r} must be text")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidArgument(f"secret {name!r} is larger than {MAX_VALUE_BYTES} bytes")


def _check_private(path: Path) -> None:
    """Refuse a store that others can read or that another user owns."""
    if os.name == "nt":
        return
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FailedPrecondition(
            f"the secret store {path} is readable by others (mode {stat.S_IMODE(info.st_mode):o});"
            f" run: chmod 600 {path}"
        )
    if info.st_uid != os.geteuid():
        raise FailedPrecondition(
            f"the secret store {path} belongs to uid {info.st_uid}, not to the service user"
            f" (uid {os.geteuid()}); run: chown {os.geteuid()} {path}"
        )
