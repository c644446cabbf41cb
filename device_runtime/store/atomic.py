"""Crash-safe small files: write-to-temp, fsync, rename, fsync the folder.

A power cut at any instant leaves either the old file or the new one, never a
torn mix: the new bytes go to a temp file in the same folder (same filesystem,
so the rename is atomic), are flushed to disk, then ``os.replace`` swaps the
name, and the folder is flushed so the rename itself survives. A process killed
mid-write leaves only a stale temp file, which :func:`remove_stale_temp_files`
deletes on the next start.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device_runtime.store.errors import DiskFull

log = logging.getLogger(__name__)

# Out-of-space errors become DiskFull (RESOURCE_EXHAUSTED) rather than INTERNAL.
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new, renamed, removed names) to disk.

    Windows cannot open a folder for fsync and journals renames itself, so
    there this does nothing.
    """
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def disk_full_error(exc: OSError, what: str) -> DiskFull | None:
    """Return a DiskFull naming ``what`` if ``exc`` means the disk or a size limit ran out."""
    if exc.errno in _DISK_FULL_ERRNOS:
        return DiskFull(f"no space left while writing {what}: {exc.strerror}")
    return None


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new content."""
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_name, path)
    except BaseException as exc:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            full = disk_full_error(exc, str(path))
            if full is not None:
                raise full from exc
        raise
    fsync_dir(path.parent)


def dumps_json(data: Any) -> bytes:
    """Serialize the way every store file is written: stable, readable, strict JSON.

    Raises ValueError or TypeError for values JSON cannot hold (NaN, sets, objects).
    """
    return (
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode()


def atomic_write_json(path: Path, data: Any) -> None:
    """Serialize ``data`` (see :func:`dumps_json`) and write it with :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, dumps_json(data))


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files an interrupted :func:`atomic_write_bytes` of ``path`` left behind."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.glob(f"{_temp_prefix(path)}*.tmp"):
        try:
            candidate.unlink()
            removed.append(candidate)
        except FileNotFoundError:
            pass
    return removed


def quarantine(path: Path, reason: str) -> Path:
    """Move an unreadable file aside to ``<name>.corrupt-<UTC timestamp>`` and log why.

    The file is kept, not deleted, so someone can look at what went wrong.
    """
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    fsync_dir(path.parent)
    log.error("%s is unreadable (%s); moved it aside to %s", path, reason, target.name)
    return target


def load_json_file(
    path: Path, check: Callable[[Any], None]
) -> tuple[Any | None, Path | None, str | None]:
    """Read a JSON file written by :func:`atomic_write_json`, quarantining it if unreadable.

    ``check`` inspects the parsed value and raises ValueError (with a message
    naming the bad field) when its shape is wrong. Returns ``(data, None,
    None)`` on success, ``(None, None, None)`` when the file does not exist,
    and ``(None, moved_to, warning)`` when it was corrupt and moved aside.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None, None
    try:
        data = json.loads(raw.decode("utf-8"))
        check(data)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        moved_to = quarantine(path, reason)
        return None, moved_to, f"{path} was unreadable ({reason}); moved it aside to {moved_to}"
    return data, None, None
