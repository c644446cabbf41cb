"""The version every installer stamps: ``[project] version`` in pyproject.toml.

Used by the PyInstaller spec, scripts/package.sh (``python installer/version.py``
prints it) and the tests. Reads the file rather than the installed package's
metadata, which in an editable install can lag behind pyproject.toml.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
# What the frozen console reads (console_app.resources.installed_version).
VERSION_FILE_NAME = "sightline-version.txt"


class VersionError(ValueError):
    """pyproject.toml has no usable ``[project] version``."""


def project_version(pyproject: Path = PYPROJECT) -> str:
    """The ``version`` of the ``[project]`` table, e.g. ``"0.1.0"``."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+

        version = tomllib.loads(text).get("project", {}).get("version")
    except ModuleNotFoundError:  # Python 3.10: the one line we need
        match = re.search(r'(?ms)^\[project\]\s*$.*?^version\s*=\s*"([^"]+)"', text)
        version = match.group(1) if match else None
    if not isinstance(version, str) or not re.fullmatch(r"\d+(\.\d+){1,3}([.-]?\w+)*", version):
        raise VersionError(f"{pyproject}: [project] version is missing or not a version: {version!r}")
    return version


def windows_file_version(version: str) -> tuple[int, int, int, int]:
    """The four numbers a Windows version resource holds (``0.1.0rc1`` -> ``(0, 1, 0, 0)``)."""
    release = re.match(r"\d+(?:\.\d+)*", version)
    numbers = [int(part) for part in release.group(0).split(".")[:4]] if release else []
    return tuple((numbers + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


if __name__ == "__main__":
    print(project_version(Path(sys.argv[1]) if len(sys.argv) > 1 else PYPROJECT))
