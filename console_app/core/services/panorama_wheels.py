"""Wheels for a Panorama app's Dockerfile ``pip install`` requirements, for the devices it goes to.

A device installs a code app's extra packages offline, from the wheels its
package bundles (``device_runtime.panorama.dependencies``). The console
gathers them when it builds the package:

    targets = [WheelTarget.from_device_info(client.info()) for client in paired_devices]
    wheels = gather_wheels(["shapely==2.0.4"], targets, settings.python_packages, Path("build/wheels"))

For each distinct device Python (version, platform tags) the requirements it
does not already have are fetched with ``pip download --only-binary=:all:
--platform ... --python-version ... --implementation cp`` from the site's
wheelhouse folder (offline) and/or the index URL of the console's settings.
Wheels for several platforms may sit side by side: pip on each device picks
the ones that fit it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console_app.core.settings import PythonPackagesSettings
from device_runtime.protocol.panorama.requirements import installed_map, requirement_satisfied

PIP_TIMEOUT_S = 900


class WheelError(Exception):
    """The wheels cannot be gathered; the message names the requirement, the device and why."""


@dataclass(frozen=True)
class WheelTarget:
    """One device's Python, as ``GetInfo`` reports it (``DeviceInfo.python``)."""

    name: str  # the device, for messages
    version: str  # "3.10.12"
    implementation: str = "cp"
    platforms: tuple[str, ...] = ()
    packages: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_device_info(cls, info: Any) -> WheelTarget | None:
        """None for a device whose runtime does not report its Python (older than this field)."""
        python = info.python
        if not python.version or not python.platforms:
            return None
        return cls(
            name=info.name or info.device_id, version=python.version, implementation=python.implementation or "cp",
            platforms=tuple(python.platforms), packages=installed_map(python.packages),
        )

    @property
    def python_version(self) -> str:
        """``major.minor``, as ``pip --python-version`` takes it."""
        return ".".join(self.version.split(".")[:2])

    def missing(self, requirements: Iterable[str]) -> list[str]:
        """The requirements this device's Python does not already meet."""
        return [r for r in dict.fromkeys(requirements) if not requirement_satisfied(r, self.packages)]


def _pip_python(settings: PythonPackagesSettings) -> str:
    if settings.python:
        return settings.python
    if getattr(sys, "frozen", False):  # an installed (PyInstaller) console has no pip of its own
        found = shutil.which("python3")
        if found is None:
            raise WheelError("no Python to run pip: install python3 or set 'Python for pip' in the settings")
        return found
    return sys.executable


def _source_args(settings: PythonPackagesSettings) -> list[str]:
    args: list[str] = []
    if settings.wheelhouse:
        folder = Path(settings.wheelhouse).expanduser()
        if not folder.is_dir():
            raise WheelError(f"the wheelhouse folder {folder} of the settings does not exist")
        args += ["--find-links", str(folder)]
    if settings.index_url:
        args += ["--index-url", settings.index_url]
    elif args:
        args.append("--no-index")
    return args


def _reason(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "pip failed")


def gather_wheels(
    requirements: list[str], targets: Iterable[WheelTarget], settings: PythonPackagesSettings, dest: Path,
) -> list[Path]:
    """Download into ``dest`` the wheels each target needs for ``requirements``; the wheels there after.

    Raises :class:`WheelError` naming the requirement and the device when pip
    cannot find a wheel for that device's platform and Python.
    """
    groups: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for target in targets:
        missing = target.missing(requirements)
        if missing:
            key = (target.python_version, target.implementation, target.platforms, tuple(missing))
            groups.setdefault(key, []).append(target.name)
    if not groups:
        return []
    if not settings.wheelhouse and not settings.index_url:
        names = sorted({name for devices in groups.values() for name in devices})
        wanted = sorted({r for key in groups for r in key[3]})
        raise WheelError(
            f"{', '.join(names)} lack(s) the app's pip requirement(s) {', '.join(wanted)}: set a wheelhouse "
            "folder or a package index URL under Python packages in the console's settings"
        )
    dest.mkdir(parents=True, exist_ok=True)
    python, source = _pip_python(settings), _source_args(settings)
    for (version, implementation, platforms, missing), devices in groups.items():
        command = [
            python, "-m", "pip", "download", "--only-binary=:all:", "--implementation", implementation,
            "--python-version", version, *[arg for p in platforms for arg in ("--platform", p)],
            "--dest", str(dest), "--disable-pip-version-check", "--quiet", *source, *missing,
        ]
        where = f"{', '.join(devices)} (Python {version}, {platforms[0] if platforms else 'any platform'})"
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except FileNotFoundError:
            raise WheelError(f"cannot run pip: {python} not found") from None
        except subprocess.TimeoutExpired:
            raise WheelError(f"gathering wheels for {where} took over {PIP_TIMEOUT_S} s") from None
        if result.returncode != 0:
            raise WheelError(
                f"no wheel of {', '.join(missing)} for {where}: {_reason(result.stderr or result.stdout)}"
            )
    return sorted(dest.glob("*.whl"))
