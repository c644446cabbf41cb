"""Build an application package (a .tar.gz with app.json at its root) from a folder.

Deterministic: the same folder gives the same bytes (sorted members, fixed
mtimes and owners), so the sha256 of a package identifies its content.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

MANIFEST_FILE = "app.json"


class PackageBuildError(Exception):
    """The folder cannot become a package; the message says why."""


def build_package(folder: Path) -> bytes:
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
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with open(path, "rb") as f:
                tar.addfile(info, f)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
