"""Builders for real tar archives (honest and malicious) used by the store tests.

The store does not know the manifest format; these tests stand in for the
caller with the smallest real reader: ``app.json`` holding ``id`` and
``version``.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes | None]


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None, **attrs) -> Member:
    """One tar member of any type (symlink, hard link, fifo, device...) with ``attrs`` set."""
    info = tarfile.TarInfo(name)
    info.type = kind
    if data is not None:
        info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def write_archive(
    path: Path,
    files: dict[str, bytes],
    extra: Sequence[Member] = (),
    *,
    compress: bool = True,
    gzip_mtime: int = 0,
) -> Path:
    """Write a real tar (gzip-compressed unless ``compress`` is False): ``files`` then ``extra``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info, _ = member(name, data=data, mode=0o644)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    payload = raw.getvalue()
    if compress:
        payload = gzip.compress(payload, mtime=gzip_mtime)
    path.write_bytes(payload)
    return path


def app_files(app_id: str = "line3", version: str = "1.0.0") -> dict[str, bytes]:
    """The one file every test package has: app.json with its id and version."""
    return {"app.json": json.dumps({"id": app_id, "version": version}).encode()}


def read_app_json(folder: Path) -> tuple[str, str]:
    """The ``identify`` callable a real caller would pass: read id and version from app.json."""
    manifest = json.loads((folder / "app.json").read_text())
    return manifest["id"], manifest["version"]


def tree_listing(root: Path) -> list[str]:
    """Every path under ``root`` (relative, sorted); [] if it does not exist."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
