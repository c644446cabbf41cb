"""A code app's extra Python packages, installed offline into a virtualenv of its own.

A Panorama code package lists ``pip install`` lines in its Dockerfile. What
the device's Python already provides (numpy, OpenCV, boto3 on a standard
image) is used as is; for the rest the console bundles wheels built for this
device's platform and Python (``wheels/`` next to ``app.json``, see
:func:`python_environment`, which ``GetInfo`` reports). At deploy the device
makes ``<app data>/python/venv-<hash>``, a real ``python -m venv
--system-site-packages`` that also sees the runtime's own packages (a
``.pth`` file adds the runtime's site folders after the venv's own, so the
app gets the device's numpy and OpenCV but its own versions of what it
bundles), and installs the wheels there with pip, never from the network.
Its code nodes run with that venv's interpreter. The venv is keyed by the
requirements, the wheels and the Python version, so a redeploy of the same
package reuses it and an upgrade gets a fresh one.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import platform
import shutil
import site
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from packaging import tags

from device_runtime.errors import InvalidArgument
from device_runtime.protocol.panorama.requirements import installed_map, requirement_satisfied

log = logging.getLogger(__name__)

PIP_TIMEOUT_S = 600
VENV_TIMEOUT_S = 120
COMPLETE = ".complete"  # written last: a venv without it is half made and is made again
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class MissingWheels(InvalidArgument):
    """Requirements this Python lacks, and the package bundles no wheels to install them from."""


@functools.lru_cache(maxsize=1)
def python_environment() -> dict[str, Any]:
    """This Python as a console needs it to gather wheels: version, implementation, platforms, packages."""
    platforms = list(dict.fromkeys(t.platform for t in tags.sys_tags() if t.platform != "any"))
    packages = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in packages:
            packages[name] = dist.version
    names = set(installed_map(f"{n}==" for n in packages))
    if not names & {"opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"}:
        try:  # OpenCV from the system (a Jetson's apt packages) has no distribution metadata
            import cv2

            packages["opencv-python"] = cv2.__version__
        except ImportError:
            pass
    return {
        "version": platform.python_version(),
        "implementation": tags.interpreter_name(),
        "platforms": platforms,
        "packages": sorted(f"{name}=={version}" for name, version in packages.items()),
    }


def satisfied_here(requirement: str) -> bool:
    """Whether this Python already has a distribution that meets ``requirement``."""
    return requirement_satisfied(requirement, installed_map(python_environment()["packages"]))


def _key(requirements: list[str], wheels: list[Path]) -> str:
    digest = hashlib.sha256(sys.version.encode() + b"\0")
    for requirement in sorted(requirements):
        digest.update(requirement.encode() + b"\0")
    for wheel in wheels:
        digest.update(wheel.name.encode() + b"\0" + hashlib.sha256(wheel.read_bytes()).digest())
    return digest.hexdigest()[:16]


def venv_python(venv: Path) -> Path:
    """The interpreter of a venv made by :func:`install_requirements`."""
    return venv / "bin" / "python"


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _run(command: list[str], timeout: float, source: str, what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InvalidArgument(f"{source}: {what} took over {timeout:.0f} s") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "ERROR" in line), lines[-1] if lines else "it failed")
        raise InvalidArgument(f"{source}: {what}: {reason.strip()}")


def _make_venv(venv: Path, source: str) -> None:
    """``python -m venv --system-site-packages`` that also sees the runtime's own site folders."""
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
         VENV_TIMEOUT_S, source, "cannot make the app's virtualenv")
    site_packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    # The runtime may itself run in a venv, whose packages --system-site-packages does not reach:
    # add its site folders (and their .pth files) after the app's own.
    runtime_sites = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines = [f"import site; site.addsitedir({folder!r})" for folder in runtime_sites]
    (site_packages / "_sightline_runtime.pth").write_text("\n".join(lines) + "\n")


def install_requirements(requirements: list[str], wheels_dir: Path, target_root: Path, source: str) -> Path | None:
    """The venv holding what ``requirements`` need beyond this Python; None when nothing is missing.

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
            "package bundles no wheels (the console gathers them when it builds the package: set a wheelhouse "
            "folder or an index URL in its settings); the app may fail to import them"
        )
    venv = target_root / f"venv-{_key(missing, wheels)}"
    with _lock(venv):
        if (venv / COMPLETE).is_file():
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted deploy
        target_root.mkdir(parents=True, exist_ok=True)
        try:
            _make_venv(venv, source)
            _run(
                [
                    sys.executable, "-m", "pip", "--python", str(venv_python(venv)), "install",
                    "--no-index", "--find-links", str(wheels_dir), "--only-binary=:all:",
                    "--disable-pip-version-check", "--no-warn-script-location", "--quiet", *missing,
                ],
                PIP_TIMEOUT_S, source, f"cannot install {', '.join(missing)} from the package's wheels",
            )
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        (venv / COMPLETE).write_text("\n".join(missing) + "\n")
    log.info("installed %s for %s into %s", ", ".join(missing), source, venv)
    return venv
