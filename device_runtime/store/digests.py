"""SHA-256 of a file, and of an unpacked folder tree.

The tree digest identifies a package by what it contains rather than by the
bytes of its archive: the same files packed twice (a new gzip timestamp, a
different member order) give the same digest, so re-installing a package is
recognised as the same content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

_READ_BUFFER = 1024 * 1024


def file_sha256(path: Path) -> str:
    """Lowercase hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_READ_BUFFER), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(root: Path) -> str:
    """Digest of every file under ``root``: relative path, executable bit, size and content.

    Entries are visited in sorted order so the result does not depend on the
    filesystem's listing order. Empty folders do not count; anything that is
    not a regular file or folder (never produced by the unpacker) is hashed as
    its kind, so it still changes the digest.
    """
    root = Path(root)
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                executable = "x" if info.st_mode & 0o111 else "-"
                line = f"{relative}\0{executable}\0{info.st_size}\0{file_sha256(path)}\n"
            else:
                line = f"{relative}\0special\0{stat.S_IFMT(info.st_mode)}\n"
            digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
