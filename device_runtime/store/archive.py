"""Unpack a package archive (.tar.gz or plain .tar) without trusting it.

Python's ``tarfile.extractall`` follows whatever the archive says; its
safety filters only exist on recent patch releases (not every Jetson's
Python 3.10 has them). So this module reads the archive as a stream and writes
every member itself: only regular files and folders, only relative names
with no ``..``, no links of any kind, never following a link already on disk,
and within limits on member count and unpacked size checked from each header
before its data is read (so a compression bomb is refused without inflating it).
"""

from __future__ import annotations

import errno
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from device_runtime.store.atomic import disk_full_error, fsync_dir
from device_runtime.store.errors import InvalidPackage, PackageTooLarge, UnsafePackage
from device_runtime.store.uploads import format_size

_COPY_BUFFER = 1024 * 1024
_WRITE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True)
class ExtractLimits:
    """How much an archive may unpack to; anything over is refused, not truncated."""

    max_members: int = 10_000
    max_unpacked_bytes: int = 2 * 1024**3


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a named pipe (fifo)"
    if member.issparse():
        return "a sparse file"
    return f"an entry of unknown type {member.type!r}"


def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path a member name stands for; None for the archive's root (``.``).

    Raises UnsafePackage for names that could land outside the package folder.
    """
    if "\x00" in name:
        raise UnsafePackage(f"package member {name!r} has a NUL character in its name")
    if "\\" in name:
        raise UnsafePackage(
            f"package member {name!r} uses '\\' in its name; use '/' to separate folders"
        )
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":" and name[0].isalpha()):
        raise UnsafePackage(
            f"package member {name!r} has an absolute path; members must be relative to the package"
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePackage(
            f"package member {name!r} has a '..' component and could write outside the package"
        )
    if not parts:
        return None
    return PurePosixPath(*parts)


def _open_archive(archive: Path) -> tarfile.TarFile:
    try:
        # Stream mode: members are read in order, so headers are checked
        # before any of their data is inflated.
        return tarfile.open(archive, mode="r|*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidPackage(
            f"package {archive.name} is not a tar or tar.gz archive ({exc})"
        ) from exc


def extract_package(archive: Path, dest: Path, limits: ExtractLimits | None = None) -> int:
    """Unpack ``archive`` into the new folder ``dest`` and return the number of files.

    ``dest`` must not exist; it is created here. Every file written is fsynced,
    and so is every folder, so the tree survives a power cut once this returns.
    On error ``dest`` may hold a partial tree: the caller unpacks into a staging
    folder and deletes it.
    """
    limits = limits or ExtractLimits()
    archive = Path(archive)
    dest = Path(dest)
    dest.mkdir()
    seen: dict[PurePosixPath, bool] = {}  # path -> is a folder
    folders = {dest}
    members = 0
    unpacked = 0
    files = 0
    current = "(archive header)"
    try:
        with _open_archive(archive) as tar:
            for member in tar:
                current = member.name
                members += 1
                if members > limits.max_members:
                    raise PackageTooLarge(
                        f"package has more than {limits.max_members:,} members "
                        f"(stopped at {member.name!r})"
                    )
                relative = safe_member_path(member.name)
                if not (member.isreg() and not member.issparse()) and not member.isdir():
                    raise UnsafePackage(
                        f"package member {member.name!r} is {_member_kind(member)}; packages "
                        "may contain only regular files and folders"
                    )
                if relative is None:
                    continue  # "./": the package folder itself
                _check_placement(relative, member, seen)
                target = dest.joinpath(*relative.parts)
                # Every folder that gains an entry is fsynced at the end.
                folders.update(dest.joinpath(*p.parts) for p in relative.parents if p.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    folders.add(target)
                    continue
                unpacked += member.size
                if unpacked > limits.max_unpacked_bytes:
                    raise PackageTooLarge(
                        f"package member {member.name!r} ({format_size(member.size)}) brings the "
                        f"unpacked package to {format_size(unpacked)}; this device accepts at most "
                        f"{format_size(limits.max_unpacked_bytes)}"
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_member(tar, member, target)
                files += 1
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise InvalidPackage(
            f"package {archive.name} is damaged near member {current!r}: {exc}"
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidPackage(
                f"package member {current!r} has a name too long for this device's disk"
            ) from exc
        full = disk_full_error(exc, f"package {archive.name}")
        if full is not None:
            raise full from exc
        raise
    if files == 0:
        raise InvalidPackage(f"package {archive.name} contains no files")
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)
    return files


def _check_placement(
    relative: PurePosixPath, member: tarfile.TarInfo, seen: dict[PurePosixPath, bool]
) -> None:
    """Refuse duplicates and names that are both a file and a folder (``a`` and ``a/b``).

    ``seen`` maps every path placed so far, including implied parent folders,
    to whether it is a folder.
    """
    for parent in relative.parents:
        if parent == PurePosixPath("."):
            continue
        if seen.get(parent) is False:
            raise UnsafePackage(
                f"package member {member.name!r} is inside {parent.as_posix()!r}, "
                "which the package also lists as a file"
            )
        seen[parent] = True
    previous = seen.get(relative)
    if previous is True and not member.isdir():
        raise UnsafePackage(
            f"package member {member.name!r} is a file, but the package also uses "
            f"{relative.as_posix()!r} as a folder"
        )
    if previous is False:
        raise UnsafePackage(f"package lists {member.name!r} more than once")
    seen[relative] = member.isdir()


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    # Executable bits are kept (code nodes may ship scripts); nothing else from
    # the header (owner, setuid, sticky) is.
    mode = 0o755 if member.mode & 0o111 else 0o644
    source = tar.extractfile(member)
    if source is None:  # only for non-regular members, which were refused above
        raise UnsafePackage(f"package member {member.name!r} has no data")
    try:
        fd = os.open(target, _WRITE_FLAGS, mode)
    except FileExistsError as exc:
        # Only on case-insensitive disks (a workstation running the runtime
        # locally): "App.json" and "app.json" are one file there.
        raise UnsafePackage(
            f"package member {member.name!r} collides with another member whose name "
            "differs only in letter case"
        ) from exc
    with os.fdopen(fd, "wb") as out, source:
        shutil.copyfileobj(source, out, _COPY_BUFFER)
        out.flush()
        os.fsync(out.fileno())
