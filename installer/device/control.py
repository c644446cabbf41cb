"""The device .deb's DEBIAN/control, rendered from debian/control.in.

    python installer/device/control.py VERSION ARCH "3.10 3.11" INSTALLED_KB

Run by scripts/package.sh (build Python). The wheels inside are for the
Python versions given, so the package depends on a python3 in that range.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("debian") / "control.in"
ARCHITECTURES = ("amd64", "arm64")
MAINTAINER = "Sightline maintainers <sightline@localhost>"


def python_depends(pythons: list[str]) -> str:
    """``python3 (>= lowest), python3 (<< one past highest)`` for versions like ["3.10", "3.11"]."""
    if not pythons:
        raise ValueError("no Python versions: the .deb must carry wheels for at least one")
    versions = sorted(tuple(int(part) for part in python.split(".")) for python in pythons)
    (low_major, low_minor), (high_major, high_minor) = versions[0], versions[-1]
    return f"python3 (>= {low_major}.{low_minor}), python3 (<< {high_major}.{high_minor + 1})"


def render(version: str, arch: str, pythons: list[str], installed_kb: int) -> str:
    """The control file of sightline-device ``version`` for ``arch`` carrying wheels for ``pythons``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    fields = {"VERSION": version, "ARCH": arch, "MAINTAINER": MAINTAINER,
              "INSTALLED_SIZE": str(installed_kb), "PYTHON_DEPENDS": python_depends(pythons)}
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in fields.items():
        text = text.replace(f"@{key}@", value)
    return text


if __name__ == "__main__":
    version, arch, pythons, installed_kb = sys.argv[1:5]
    print(render(version, arch, pythons.split(), int(installed_kb)), end="")
