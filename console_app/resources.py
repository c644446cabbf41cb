"""Where the console's bundled resources (icons, styles, sample apps) live.

From a source checkout they are in ``resources/`` at the repository root; in
a PyInstaller build the installer copies that folder next to the unpacked
code (``sys._MEIPASS/resources``). Every lookup goes through
:func:`resource_path` so both layouts work. No Qt here.
"""

from __future__ import annotations

import sys
from pathlib import Path


class ResourceMissing(FileNotFoundError):
    """A bundled resource is not where the console expects it (a broken install)."""


def resource_root() -> Path:
    """The ``resources`` folder of this installation."""
    frozen_base = getattr(sys, "_MEIPASS", None)
    if frozen_base:
        return Path(frozen_base) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


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
