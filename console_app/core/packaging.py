"""Build an application package (a .tar.gz with app.json at its root).

Two ways in: :func:`build_package` packs a folder (``sightline-ctl``), and
:func:`build_package_from_members` packs a manifest plus named files (the app
library, which keeps models elsewhere and must not copy them into a temporary
folder first). Both are deterministic: the same content gives the same bytes
(sorted members, fixed mtimes and owners), so the sha256 of a package
identifies its content.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from device_runtime.media.redact import split_url_password
from device_runtime.protocol.apps.specs import camera_password_secret

MANIFEST_FILE = "app.json"


class PackageBuildError(Exception):
    """The folder or members cannot become a package; the message says why."""


def _gzip(raw: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw)
    return out.getvalue()


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    return info


def build_package(folder: Path) -> bytes:
    """The package of ``folder`` (which must hold ``app.json``), as bytes."""
    folder = Path(folder)
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        raise PackageBuildError(f"{folder}: no {MANIFEST_FILE} in this folder")
    try:
        json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageBuildError(f"{manifest}: not valid JSON ({exc})") from None
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                raise PackageBuildError(f"{path}: packages may not contain symbolic links")
            if not path.is_file():
                continue
            info = _member(path.relative_to(folder).as_posix(), path.stat().st_size)
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return _gzip(raw.getvalue())


def build_package_without_passwords(folder: Path) -> tuple[bytes, dict[str, str]]:
    """The package of ``folder`` with camera passwords taken out of its app.json, and those passwords.

    A hand-written app folder may have ``rtsp://user:password@…`` in its
    camera URLs; the package then carries the user name only and the
    passwords come back as named secrets (``camera/<id>/password``) for
    ``DeviceClient.deploy(secrets=...)``. A folder without passwords gives
    the same bytes as :func:`build_package`.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST_FILE
    package = build_package(folder)  # checks the folder and its JSON first
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    secrets: dict[str, str] = {}
    for camera in manifest.get("cameras", []) if isinstance(manifest, dict) else []:
        if isinstance(camera, dict) and isinstance(camera.get("url"), str) and isinstance(camera.get("id"), str):
            stripped, password = split_url_password(camera["url"])
            if password is not None:
                camera["url"] = stripped
                secrets[camera_password_secret(camera["id"])] = password
    if not secrets:
        return package, {}
    files: dict[str, bytes | Path] = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST_FILE:
            files[name] = path
    return build_package_from_members(manifest, files), secrets


def _check_member_name(name: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise PackageBuildError(
            f"package member {name!r} must be a relative path with '/' separators and no '..'"
        )
    if name == MANIFEST_FILE:
        raise PackageBuildError(f"{MANIFEST_FILE} comes from the manifest, not from the files")
    return path.as_posix()


def build_package_from_members(manifest: Mapping[str, Any], files: Mapping[str, bytes | Path]) -> bytes:
    """A package of ``manifest`` (written as app.json) and ``files`` (name inside the package -> bytes or a file).

    Files given as paths are streamed from disk, so a large model is not held
    twice in memory.
    """
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8")
    members: dict[str, bytes | Path] = {MANIFEST_FILE: text}
    for name, content in files.items():
        members[_check_member_name(name)] = content
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            content = members[name]
            if isinstance(content, bytes):
                tar.addfile(_member(name, len(content)), io.BytesIO(content))
                continue
            path = Path(content)
            if not path.is_file():
                raise PackageBuildError(f"{path}: no such file (wanted for {name} in the package)")
            with open(path, "rb") as f:
                tar.addfile(_member(name, path.stat().st_size), f)
    return _gzip(raw.getvalue())
