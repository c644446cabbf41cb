"""Whether a Dockerfile's pip requirement is already met by a Python's installed distributions.

Shared by the device (which installs only what its Python lacks) and the
console (which gathers wheels only for what the target device lacks, from
the ``packages`` the device reports in ``DeviceInfo.python``), so both
decide alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: One ``import cv2`` under several distribution names: any of them meets a requirement for another
#: (a Jetson's OpenCV comes from apt, which the device reports as ``opencv-python``).
OPENCV_DISTRIBUTIONS = frozenset(
    {"opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"}
)


def installed_map(packages: Iterable[str]) -> dict[str, str]:
    """``["NumPy==1.26.4", ...]`` → ``{"numpy": "1.26.4", ...}`` (canonical names)."""
    result = {}
    for entry in packages:
        name, _, version = entry.partition("==")
        if name.strip():
            result[canonicalize_name(name.strip())] = version.strip()
    return result


def requirement_name(requirement: str) -> str:
    """The canonical distribution name of a requirement, or the text itself when it does not parse."""
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return requirement


def requirement_satisfied(requirement: str, installed: Mapping[str, str]) -> bool:
    """Whether ``installed`` (canonical name → version) meets ``requirement``; unparsable: no."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return False
    if parsed.url:
        return False
    name = canonicalize_name(parsed.name)
    names = OPENCV_DISTRIBUTIONS if name in OPENCV_DISTRIBUTIONS else {name}
    for candidate in names:
        version = installed.get(candidate)
        if version is None:
            continue
        if not parsed.specifier or parsed.specifier.contains(version, prereleases=True):
            return True
    return False
