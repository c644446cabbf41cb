"""A USB stick for tests: a real FAT32 filesystem image (mkfs.vfat from dosfstools).

Where the kernel can loop-mount it (root, vfat available) the stick is mounted and
its folder is used directly, as the device's automount would present it. Where it
cannot (this CI's kernel has no vfat module), its files are copied out with mtools
(``mcopy``, reading the FAT image in user space) into a folder that is handed to the
device instead, and what the device writes there is copied back onto the image, so
the console reads the report from the FAT32 image either way. ``mounted`` says which.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class UsbStick:
    """``put(file)`` as the console writes it; ``device_view()`` for the device; ``sync_back()``; ``read(name)``."""

    def __init__(self, workdir: Path, size_mb: int = 64, label: str = "SIGHTLINE"):
        if shutil.which("mkfs.vfat") is None or shutil.which("mcopy") is None:
            raise RuntimeError("the USB stick needs dosfstools and mtools (scripts/system-deps.sh test)")
        self.image = workdir / "stick.img"
        with open(self.image, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        subprocess.run(["mkfs.vfat", "-F", "32", "-n", label, str(self.image)], check=True, capture_output=True)
        self.mountpoint = workdir / "stick"
        self.mountpoint.mkdir()
        mount = subprocess.run(["mount", "-o", "loop", str(self.image), str(self.mountpoint)], capture_output=True,
                               text=True)
        self.mounted = mount.returncode == 0
        self.mount_error = mount.stderr.strip()

    # ------------------------------------------------------------ console side

    def put(self, source: Path) -> None:
        if self.mounted:
            shutil.copy(source, self.mountpoint / source.name)
            subprocess.run(["sync"], check=True)
        else:
            subprocess.run(["mcopy", "-o", "-i", str(self.image), str(source), f"::/{source.name}"], check=True,
                           capture_output=True)

    def names(self) -> list[str]:
        if self.mounted:
            return sorted(p.name for p in self.mountpoint.iterdir())
        out = subprocess.run(["mdir", "-b", "-i", str(self.image), "::/"], check=True, capture_output=True, text=True)
        return sorted(line.rsplit("/", 1)[-1] for line in out.stdout.splitlines() if line.strip())

    def read(self, name: str, into: Path) -> Path:
        """Copy ``name`` off the stick into folder ``into`` (as the console would read it)."""
        into.mkdir(parents=True, exist_ok=True)
        if self.mounted:
            shutil.copy(self.mountpoint / name, into / name)
        else:
            subprocess.run(["mcopy", "-o", "-i", str(self.image), f"::/{name}", str(into / name)], check=True,
                           capture_output=True)
        return into / name

    # ------------------------------------------------------------ device side

    def device_view(self) -> Path:
        """The folder the device reads the stick through (the mount, or the stick's files copied out)."""
        if self.mounted:
            return self.mountpoint
        for name in self.names():
            self.read(name, self.mountpoint)
        return self.mountpoint

    def sync_back(self) -> None:
        """Make what the device wrote in :meth:`device_view` part of the FAT image."""
        if self.mounted:
            subprocess.run(["sync"], check=True)
            return
        on_stick = set(self.names())
        for path in sorted(self.mountpoint.iterdir()):
            if path.name not in on_stick:
                self.put(path)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.mountpoint)], check=False, capture_output=True)
            self.mounted = False
