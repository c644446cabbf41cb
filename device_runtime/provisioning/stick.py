"""Automatic pick-up: a USB stick is plugged in, its bundles are applied, the reports go back on it.

udev (``installer/device/70-sightline-provision.rules``) starts
``sightline-provision@DEV.service`` for a USB block device with a FAT or exFAT
filesystem; that runs ``sightline-device provision-stick /dev/DEV``, which is
:func:`provision_stick`: mount the stick (no exec, no device files, no setuid)
in a private folder, stop the device service, apply every
``*.sightline-provision.zip`` at the stick's top level, hand the data folder
back to the service's user, start the service again, flush and unmount, so the
technician can pull the stick when the unit has finished.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from device_runtime.errors import FailedPrecondition
from device_runtime.protocol.provisioning.manifest import BUNDLE_SUFFIX

log = logging.getLogger(__name__)

SERVICE = "sightline-device.service"
MOUNT_BASE = Path("/run/sightline")


def find_bundles(folder: Path) -> list[Path]:
    """Bundles at the top of ``folder``, by name."""
    return sorted(p for p in Path(folder).iterdir() if p.name.endswith(BUNDLE_SUFFIX) and p.is_file())


def match_owner(data_dir: Path) -> int:
    """Give everything under ``data_dir`` to the folder's owner (provisioning runs as root; the service does not).

    Returns how many entries changed owner. Does nothing unless running as root.
    """
    if os.geteuid() != 0:
        return 0
    top = os.stat(data_dir)
    changed = 0
    for folder, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (top.st_uid, top.st_gid):
                os.lchown(path, top.st_uid, top.st_gid)
                changed += 1
    return changed


def _service_active(run: Callable[..., subprocess.CompletedProcess]) -> bool:
    try:
        return run(["systemctl", "is-active", "--quiet", SERVICE], check=False).returncode == 0
    except OSError:
        return False


def provision_stick(device: Path, apply: Callable[[Path], int], data_dir: Path,
                    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                    mount_base: Path = MOUNT_BASE) -> int:
    """Mount ``device``, call ``apply(folder)`` (returns an exit status), put everything back. Returns that status."""
    mountpoint = Path(mount_base) / f"stick-{Path(device).name}"
    mountpoint.mkdir(parents=True, exist_ok=True, mode=0o700)
    mounted = run(["mount", "-o", "nosuid,nodev,noexec,sync", str(device), str(mountpoint)],
                  capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        raise FailedPrecondition(f"could not mount {device}: {mounted.stderr.strip() or mounted.returncode}")
    was_running = _service_active(run)
    try:
        if not find_bundles(mountpoint):
            log.info("no provisioning bundle on %s; nothing to do", device)
            return 0
        if was_running:
            run(["systemctl", "stop", SERVICE], check=False)
        status = apply(mountpoint)
        match_owner(data_dir)
        return status
    finally:
        if was_running:
            run(["systemctl", "start", SERVICE], check=False)
        run(["sync"], check=False)
        run(["umount", str(mountpoint)], check=False)
