"""The wheels a device .deb carries: targets, pins, selection and verification.

Run by scripts/package.sh with the build Python (needs ``packaging``); not
part of the installed runtime. A *target* is one Python version on one
machine with a glibc no older than the one given (JetPack 6 / Ubuntu 22.04:
2.35). Subcommands (``python installer/device/wheels.py -h``):

  pip-args        pip's --platform/--python-version arguments for a target
  cpu-requirements  the device extra with onnxruntime (CPU) for onnxruntime-gpu
  constraints     a constraints file with the pins of EXTRA_WHEELS' wheels put in
  caps            a constraints file's pins turned into upper bounds (for re-resolving)
  lock            the ``name==version`` lines of pip --report files (one set, checked)
  files           the wheel files a pip --report installs
  verify          every wheel in a folder fits one of the targets
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}
GPU_RUNTIME, CPU_RUNTIME = "onnxruntime-gpu", "onnxruntime"
# manylinux's pre-PEP 600 names, by the glibc minor version they stand for.
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


class WheelError(Exception):
    """A wheel, pin or report that does not fit the package being built."""


@dataclass(frozen=True)
class Target:
    """One system the .deb installs on: CPython ``python`` on ``machine`` with glibc >= ``glibc``."""

    python: str  # "3.10"
    machine: str  # "aarch64"
    glibc: str = "2.35"

    @classmethod
    def for_arch(cls, arch: str, python: str, glibc: str = "2.35") -> Target:
        """The target of a Debian architecture (amd64, arm64)."""
        if arch not in MACHINES:
            raise WheelError(f"architecture {arch!r}: expected one of {', '.join(MACHINES)}")
        return cls(python, MACHINES[arch], glibc)

    @property
    def abi(self) -> str:
        """The CPython ABI tag: "cp310"."""
        return "cp{}{}".format(*self.version_tuple)

    @property
    def version_tuple(self) -> tuple[int, int]:
        major, minor = self.python.split(".")
        return int(major), int(minor)

    def platforms(self) -> list[str]:
        """Platform tags this target accepts, most specific first (pip does not widen them itself)."""
        newest = int(self.glibc.split(".")[1])
        tags = []
        for minor in range(newest, 4, -1):
            tags.append(f"manylinux_2_{minor}_{self.machine}")
            if minor in LEGACY_MANYLINUX:
                tags.append(f"{LEGACY_MANYLINUX[minor]}_{self.machine}")
        return tags + [f"linux_{self.machine}"]

    def tags(self) -> frozenset[Tag]:
        """Every wheel tag an installer on this target accepts (cpXY, abi3, py3; these platforms or any)."""
        version, platforms = self.version_tuple, self.platforms()
        return frozenset(cpython_tags(version, platforms=platforms)) | frozenset(
            compatible_tags(version, interpreter=self.abi, platforms=platforms))

    def pip_args(self) -> list[str]:
        """Arguments that make ``pip download``/``pip install --target`` resolve for this target."""
        args = []
        for platform in self.platforms():
            args += ["--platform", platform]
        return args + ["--python-version", self.python, "--implementation", "cp", "--only-binary=:all:"]


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file, by canonical name (comments, markers ignored)."""
    return read_pins_text(Path(path).read_text(encoding="utf-8"))


def read_pins_text(text: str) -> dict[str, str]:
    """``name==version`` lines of a constraints file's text, by canonical name."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def fits(wheel: Path, target: Target) -> bool:
    """Whether pip on ``target`` would install this wheel file (by its tags)."""
    return bool(parse_wheel_filename(Path(wheel).name)[3] & target.tags())


def verify(wheels: Path, targets: list[Target]) -> list[str]:
    """Problems with the wheels in a folder: ones no target can install. Empty when all fit."""
    files = sorted(Path(wheels).glob("*.whl"))
    if not files:
        return [f"no wheels in {wheels}"]
    return [f"{wheel.name}: fits none of {', '.join(f'{t.abi} {t.machine}' for t in targets)}"
            for wheel in files if not any(fits(wheel, target) for target in targets)]


def device_requirements(pyproject: Path) -> list[Requirement]:
    """The ``device`` extra of pyproject.toml."""
    import tomllib  # build-time only (the build Python is 3.11+)

    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["optional-dependencies"]["device"]]


def cpu_requirements(pyproject: Path, version: str) -> list[str]:
    """sightline and its device extra with onnxruntime (CPU) in place of onnxruntime-gpu.

    What make-venv.sh installs where no onnxruntime-gpu wheel fits (a Jetson
    before NVIDIA's wheel is added: PyPI has no aarch64 onnxruntime-gpu).
    """
    lines = [f"sightline=={version}"]
    for requirement in device_requirements(pyproject):
        if canonicalize_name(requirement.name) == GPU_RUNTIME:
            requirement.name = CPU_RUNTIME
        lines.append(str(requirement))
    if not any(line.startswith(CPU_RUNTIME) for line in lines):
        raise WheelError(f"{pyproject}: the device extra does not require {GPU_RUNTIME}")
    return lines


def constraints_with_extra_wheels(base: Path, extra: Path | None, target: Target) -> str:
    """``base``'s pins with those of the wheels in ``extra`` that fit ``target`` put in their place.

    NVIDIA's onnxruntime-gpu for JetPack is whatever version NVIDIA built;
    the wheel a site supplies is the pin.
    """
    overrides = {}
    for wheel in sorted(Path(extra).glob("*.whl")) if extra else []:
        if fits(wheel, target):
            name, version = parse_wheel_filename(wheel.name)[:2]
            overrides[canonicalize_name(name)] = str(version)
    lines = [f"# {base}, for {target.abi} {target.machine}"]
    for line in Path(base).read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>!~;\s]", line.strip(), maxsplit=1)[0]
        if name and not line.lstrip().startswith("#") and canonicalize_name(name) in overrides:
            continue
        lines.append(line)
    lines += [f"{name}=={version}  # from EXTRA_WHEELS" for name, version in sorted(overrides.items())]
    return "\n".join(lines) + "\n"


def caps(base: Path, also: dict[str, str]) -> str:
    """``base``'s pins as ``<=`` bounds: the resolver keeps a pin where the target has it, else goes older."""
    pins = read_pins(base)
    for name, like in also.items():  # e.g. onnxruntime no newer than onnxruntime-gpu
        pins.setdefault(canonicalize_name(name), pins[canonicalize_name(like)])
    return "".join(f"{name}<={version}\n" for name, version in sorted(pins.items()))


def report_installs(report: Path) -> list[dict]:
    """The ``install`` entries of a ``pip install --dry-run --report`` file."""
    return json.loads(Path(report).read_text(encoding="utf-8"))["install"]


def lock(reports: list[Path], lowest: bool = False, skip: tuple[str, ...] = ("sightline",)) -> dict[str, str]:
    """One ``name -> version`` set from several resolutions.

    A package resolved to two versions is an error, or with ``lowest`` takes
    the older one (a first pass, re-resolved with the result to check it).
    """
    resolved: dict[str, str] = {}
    for report in reports:
        for item in report_installs(report):
            name, version = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
            if name in skip:
                continue
            if lowest and name in resolved:
                resolved[name] = min(resolved[name], version, key=Version)
            elif resolved.setdefault(name, version) != version:
                raise WheelError(f"{name} resolved to {resolved[name]} and {version} ({report}): "
                                 "pin it to one version both targets have")
    return resolved


def report_files(report: Path) -> list[Path]:
    """The local wheel files a ``pip install --dry-run --report`` (with --no-index) would install."""
    files = []
    for item in report_installs(report):
        url = urlparse(item["download_info"]["url"])
        if url.scheme != "file":
            raise WheelError(f"{report}: {item['metadata']['name']} comes from {url.geturl()}, not a local wheel")
        files.append(Path(unquote(url.path)))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_target(name: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name)
        sub.add_argument("--arch", required=True, choices=sorted(MACHINES))
        sub.add_argument("--glibc", default="2.35")
        return sub

    with_target("pip-args").add_argument("--python", required=True)
    sub = commands.add_parser("cpu-requirements")
    sub.add_argument("--pyproject", type=Path, required=True)
    sub.add_argument("--version", required=True)
    sub = with_target("constraints")
    sub.add_argument("--python", required=True)
    sub.add_argument("--base", type=Path, required=True)
    sub.add_argument("--extra-wheels", type=Path)
    sub = commands.add_parser("caps")
    sub.add_argument("--base", type=Path, required=True)
    sub = commands.add_parser("lock")
    sub.add_argument("--lowest", action="store_true")
    sub.add_argument("reports", type=Path, nargs="+")
    sub = commands.add_parser("files")
    sub.add_argument("report", type=Path)
    sub = with_target("verify")
    sub.add_argument("--pythons", required=True, help='e.g. "3.10 3.11"')
    sub.add_argument("wheels", type=Path)
    args = parser.parse_args(argv)

    try:
        if args.command == "pip-args":
            print(" ".join(Target.for_arch(args.arch, args.python, args.glibc).pip_args()))
        elif args.command == "cpu-requirements":
            print("\n".join(cpu_requirements(args.pyproject, args.version)))
        elif args.command == "constraints":
            target = Target.for_arch(args.arch, args.python, args.glibc)
            print(constraints_with_extra_wheels(args.base, args.extra_wheels, target), end="")
        elif args.command == "caps":
            print(caps(args.base, {CPU_RUNTIME: GPU_RUNTIME}), end="")
        elif args.command == "lock":
            print("".join(f"{name}=={version}\n" for name, version in sorted(lock(args.reports, args.lowest).items())), end="")
        elif args.command == "files":
            print("\n".join(str(path) for path in report_files(args.report)))
        elif args.command == "verify":
            targets = [Target.for_arch(args.arch, python, args.glibc) for python in args.pythons.split()]
            problems = verify(args.wheels, targets)
            for problem in problems:
                print(f"wheels.py verify: {problem}", file=sys.stderr)
            if problems:
                return 1
            count = len(list(args.wheels.glob("*.whl")))
            print(f"   {count} wheels, each for {' or '.join(t.abi for t in targets)} "
                  f"on {targets[0].machine} (glibc <= {args.glibc}) or any")
    except WheelError as error:
        print(f"wheels.py {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
