"""A code app's extra Python packages, installed offline into a folder of its own.

A Panorama code package lists ``pip install`` lines in its Dockerfile. What
the device's Python already provides (numpy, OpenCV, boto3 on a standard
image) is used as is; the rest is installed with pip from the wheels the
package bundles (``wheels/`` next to ``app.json``), never from the network,
into ``<app data>/python/site-<hash>``, which the code nodes get on their
``PYTHONPATH``. The folder is keyed by the requirements and the wheels, so a
redeploy of the same package reuses it and an upgrade gets a fresh one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from device_runtime.errors import InvalidArgument

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 600


class MissingWheels(InvalidArgument):
    """Requirements this Python lacks, and the package bundles no wheels to install them from."""


def satisfied_here(requirement: str) -> bool:
    """Whether this Python already has a distribution that meets ``requirement``."""
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return False
    try:
        version = importlib.metadata.version(parsed.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return not parsed.specifier or parsed.specifier.contains(version, prereleases=True)


def _key(requirements: list[str], wheels: list[Path]) -> str:
    digest = hashlib.sha256()
    for requirement in sorted(requirements):
        digest.update(requirement.encode() + b"\0")
    for wheel in wheels:
        digest.update(wheel.name.encode() + b"\0" + hashlib.sha256(wheel.read_bytes()).digest())
    return digest.hexdigest()[:16]


def install_requirements(requirements: list[str], wheels_dir: Path, target_root: Path, source: str) -> Path | None:
    """The folder holding what ``requirements`` need beyond this Python; None when nothing is missing.

    Raises :class:`InvalidArgument` naming the requirement when it cannot be
    installed from ``wheels_dir`` (``source`` says where it was asked for).
    """
    missing = [r for r in dict.fromkeys(requirements) if not satisfied_here(r)]
    if not missing:
        return None
    wheels = sorted(wheels_dir.glob("*.whl")) if wheels_dir.is_dir() else []
    if not wheels:
        raise MissingWheels(
            f"{source}: pip requirement(s) {', '.join(missing)} are not installed on this device and the "
            "package bundles no wheels (put them in wheels/ next to app.json); the app may fail to import them"
        )
    target = target_root / f"site-{_key(missing, wheels)}"
    if (target / ".complete").is_file():
        return target
    target_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="site-", dir=target_root))
    command = [
        sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels_dir),
        "--target", str(work), "--disable-pip-version-check", "--no-warn-script-location", "--quiet", *missing,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        shutil.rmtree(work, ignore_errors=True)
        raise InvalidArgument(f"{source}: installing {', '.join(missing)} took over {PIP_TIMEOUT_S} s") from None
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "ERROR" in line), lines[-1] if lines else "pip failed")
        raise InvalidArgument(
            f"{source}: cannot install {', '.join(missing)} from the package's wheels: {reason.strip()}"
        )
    (work / ".complete").write_text("\n".join(missing) + "\n")
    try:
        work.rename(target)
    except OSError:  # another start made it first
        shutil.rmtree(work, ignore_errors=True)
    log.info("installed %s for %s into %s", ", ".join(missing), source, target)
    return target
