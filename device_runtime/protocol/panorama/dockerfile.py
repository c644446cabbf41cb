"""What Sightline can take from a Panorama code package's Dockerfile, and clear warnings for the rest.

Panorama built each code node into a container from its Dockerfile. Sightline
runs the code directly with its own Python, which already has what Panorama's
base image apps import (numpy, OpenCV, boto3). :func:`read_dockerfile`
collects ``pip install`` requirements and warns, naming the line, about what
cannot be honoured: ``apt-get``/``yum`` installs, ``COPY``/``ADD`` of files
that are not in the package, and other ``RUN`` commands.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

_PIP = ("pip", "pip3", "python3 -m pip", "python -m pip")
_IGNORED = ("FROM", "WORKDIR", "ENV", "ARG", "LABEL", "ENTRYPOINT", "CMD", "USER", "EXPOSE", "SHELL")


@dataclass
class DockerfileInfo:
    """Requirements found and warnings about what Sightline ignores."""

    requirements: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    current, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if not current:
            start = number
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append((start, current + stripped))
        current = ""
    if current:
        lines.append((start, current))
    return lines


def _pip_requirements(command: str) -> list[str] | None:
    for prefix in _PIP:
        marker = prefix + " install"
        if command.startswith(marker):
            try:
                words = shlex.split(command[len(marker):])
            except ValueError:
                words = command[len(marker):].split()
            return [w for w in words if not w.startswith("-")]
    return None


def read_dockerfile(path: Path, package_dir: Path, source: str = "Dockerfile") -> DockerfileInfo:
    """Parse ``path``; ``package_dir`` is where COPY sources are looked up."""
    info = DockerfileInfo()
    if not path.is_file():
        return info
    for number, line in _logical_lines(path.read_text(encoding="utf-8", errors="replace")):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        where = f"{source} line {number}"
        if instruction in _IGNORED:
            continue
        if instruction in ("COPY", "ADD"):
            try:
                words = [w for w in shlex.split(rest) if not w.startswith("--")]
            except ValueError:
                words = rest.split()
            for src in words[:-1]:
                if not (package_dir / src).exists():
                    info.warnings.append(
                        f"{where}: {instruction} {src}: not in the package, so the app will not find it "
                        "(add the file to the package's folder)"
                    )
            continue
        if instruction == "RUN":
            for command in (c.strip() for c in rest.replace("&&", ";").split(";")):
                if not command:
                    continue
                requirements = _pip_requirements(command)
                if requirements is not None:
                    info.requirements.extend(requirements)
                elif command.split()[0] in ("apt-get", "apt", "yum", "apk", "dnf"):
                    info.warnings.append(
                        f"{where}: '{command}': Sightline cannot install system packages for an app; "
                        "install them on the device (or check the device image already has them)"
                    )
                else:
                    info.warnings.append(f"{where}: '{command}': not run by Sightline (only pip installs are)")
            continue
        info.warnings.append(f"{where}: {instruction}: ignored by Sightline")
    return info
