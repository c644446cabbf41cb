"""Where the console's bundled resources (icons, styles, sample apps) live.

From a source checkout they are in ``resources/`` at the repository root; in
a PyInstaller build the installer copies that folder next to the unpacked
code (``sys._MEIPASS/resources``). Every lookup goes through
:func:`resource_path` so both layouts work. No Qt here.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

# Written into a frozen bundle by installer/console/sightline-console.spec
# (the name is installer/version.py's VERSION_FILE_NAME).
VERSION_FILE_NAME = "sightline-version.txt"


class ResourceMissing(FileNotFoundError):
    """A bundled resource is not where the console expects it (a broken install)."""


def frozen_base() -> Path | None:
    """The unpacked bundle folder (``sys._MEIPASS``) of a PyInstaller build; None from source."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else None


def resource_root() -> Path:
    """The ``resources`` folder of this installation."""
    base = frozen_base()
    if base is not None:
        return base / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def installed_version() -> str:
    """Sightline's version: stamped into a frozen bundle at build time, else the package's metadata.

    Raises :class:`ResourceMissing` when a frozen bundle lacks its version file.
    """
    base = frozen_base()
    if base is not None:
        path = base / VERSION_FILE_NAME
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            raise ResourceMissing(f"the bundle's version file is missing (looked for {path})") from None
    try:
        return metadata.version("sightline")
    except metadata.PackageNotFoundError:  # a checkout used without `pip install -e .`
        return "0+unknown"


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("icons", "devices.svg")``.

    Raises :class:`ResourceMissing` naming the full path when it does not exist.
    """
    path = resource_root().joinpath(*parts)
    if not path.exists():
        raise ResourceMissing(f"bundled resource {'/'.join(parts)} is missing (looked for {path})")
    return path


def icon_names() -> list[str]:
    """Names (without ``.svg``) of every bundled icon."""
    return sorted(p.stem for p in resource_path("icons").glob("*.svg"))
