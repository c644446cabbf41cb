"""One lock file per data folder: the running service shares it, offline tools take it alone.

``sightline-device serve`` holds a shared ``flock`` on ``data_dir/runtime.lock``
while it runs; ``sightline-device provision`` (and the offline updater) need it
exclusively, so they refuse to write the stores a running service owns and say
how to stop it. The kernel drops the lock when a process dies, so a crash
never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from device_runtime.errors import FailedPrecondition

LOCK_FILE = "runtime.lock"


class DataDirBusy(FailedPrecondition):
    """The device service holds the data folder."""


def _open(data_dir: Path) -> int:
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return os.open(Path(data_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)


def hold_shared(data_dir: Path) -> int:
    """Take the shared lock for a running service; returns the descriptor to pass to :func:`release`."""
    fd = _open(data_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(f"{data_dir} is being provisioned or updated right now; start the service when it is done") from None
    return fd


def release(fd: int) -> None:
    os.close(fd)


@contextmanager
def exclusive(data_dir: Path, what: str) -> Iterator[None]:
    """Hold the folder alone for ``what``; raises :class:`DataDirBusy` while a service runs on it."""
    fd = _open(data_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(
                f"{data_dir} is in use by a running device service; stop it first "
                f"(systemctl stop sightline-device) before {what}") from None
        yield
    finally:
        os.close(fd)
