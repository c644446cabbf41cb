"""What the store remembers about each app: its versions in install order and the active one.

Persisted per app as ``apps/<app_id>/_versions.json`` (the pointer file);
this module holds the in-memory record and its JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device_runtime.store.errors import InvalidName
from device_runtime.store.names import check_version

VERSIONS_FILE = "_versions.json"
_FORMAT = 1


@dataclass(frozen=True)
class InstalledPackage:
    """One installed version of an app.

    ``sha256`` is the digest of the archive as uploaded (what a signature
    covers; empty if the version list had to be rebuilt after corruption);
    ``content_sha256`` is the digest of the unpacked files (see
    ``digests.tree_sha256``), which decides whether a re-install is the same
    package.
    """

    app_id: str
    version: str
    path: Path
    sha256: str
    content_sha256: str
    installed_at: float


@dataclass(frozen=True)
class AppRecord:
    """An app's installed versions (oldest first) and which one is active."""

    active: str | None
    packages: tuple[InstalledPackage, ...]  # oldest first

    def find(self, version: str) -> InstalledPackage | None:
        return next((p for p in self.packages if p.version == version), None)

    @property
    def versions(self) -> list[str]:
        return [p.version for p in self.packages]

    def previous_of_active(self) -> str | None:
        """The version installed just before the active one: the default rollback target."""
        versions = self.versions
        if self.active not in versions:
            return None
        index = versions.index(self.active)
        return versions[index - 1] if index > 0 else None


def check_versions_file(data: Any) -> None:
    """Raise ValueError, TypeError or KeyError if ``data`` is not a valid pointer file."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"expected an object with format {_FORMAT}")
    if not isinstance(data["versions"], list):
        raise ValueError("'versions' is not a list")
    versions = [entry["version"] for entry in data["versions"]]
    if len(set(versions)) != len(versions):
        raise ValueError(f"a version is listed twice: {versions}")
    for entry in data["versions"]:
        try:
            check_version(entry["version"])
        except InvalidName as exc:
            raise ValueError(str(exc)) from exc
        for key in ("sha256", "content_sha256"):
            if not isinstance(entry[key], str):
                raise ValueError(f"'{key}' of version {entry['version']!r} is not a string")
        float(entry["installed_at"])
    if data["active"] is not None and not isinstance(data["active"], str):
        raise ValueError("'active' is neither null nor a string")


def record_to_json(record: AppRecord) -> dict[str, Any]:
    """The pointer file's content for ``record``."""
    return {
        "format": _FORMAT,
        "active": record.active,
        "versions": [
            {
                "version": p.version,
                "sha256": p.sha256,
                "content_sha256": p.content_sha256,
                "installed_at": p.installed_at,
            }
            for p in record.packages
        ],
    }


def record_from_json(app_id: str, app_dir: Path, data: dict[str, Any]) -> AppRecord:
    """The record a pointer file (already checked by ``check_versions_file``) describes."""
    packages = tuple(
        InstalledPackage(
            app_id,
            entry["version"],
            app_dir / entry["version"],
            entry["sha256"],
            entry["content_sha256"],
            float(entry["installed_at"]),
        )
        for entry in data["versions"]
    )
    return AppRecord(active=data["active"], packages=packages)
