"""The arm64 (Jetson) and multi-Python parts of the device .deb: pins, wheel tags, control, make-venv.

Fast: nothing is downloaded or packaged (scripts/package.sh builds and
checks the real .debs). make-venv.sh runs for real on small stand-in wheels
built here, because the choice it makes (onnxruntime-gpu when its wheel fits,
else onnxruntime) does not depend on what the wheels contain.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import INSTALLER, ROOT, load_installer_module

PY310_CONSTRAINTS = ROOT / "requirements" / "constraints-device-py310.txt"
MAKE_VENV = INSTALLER / "device" / "make-venv.sh"


@pytest.fixture(scope="module")
def wheels():
    return load_installer_module("device/wheels.py")


@pytest.fixture(scope="module")
def control():
    return load_installer_module("device/control.py")


def project_requirements(extra: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"][extra]]


def test_py310_constraints_pin_every_requirement_of_sightline_and_its_device_extra(wheels):
    pins = wheels.read_pins(PY310_CONSTRAINTS)
    for requirement in project_requirements("device"):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{PY310_CONSTRAINTS.name} does not pin {name}"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {requirement}"
    # JetPack 6 is Python 3.10: numpy 2.3+ needs 3.11; aarch64 gets onnxruntime (CPU) from PyPI.
    assert pins["numpy"].startswith("2.2.")
    assert pins["onnxruntime"] == pins["onnxruntime-gpu"]
    assert "scripts/package.sh device-constraints 3.10" in PY310_CONSTRAINTS.read_text(), \
        "the file says how it is regenerated"


def test_aarch64_cp310_target_takes_cp310_abi3_and_pure_wheels_for_its_glibc_only(wheels):
    jetson = wheels.Target.for_arch("arm64", "3.10", "2.35")
    fitting = [
        "numpy-2.2.6-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "opencv_python_headless-5.0.0.93-cp37-abi3-manylinux_2_28_aarch64.whl",
        "cryptography-50.0.2-cp39-abi3-manylinux_2_34_aarch64.whl",
        "pydantic-2.14.3-py3-none-any.whl",
        "onnxruntime_gpu-1.23.0-cp310-cp310-linux_aarch64.whl",  # NVIDIA's JetPack wheel
    ]
    misfits = [
        "numpy-2.4.6-cp311-cp311-manylinux_2_28_aarch64.whl",
        "numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "grpcio-1.85.1-cp310-cp310-manylinux_2_39_aarch64.whl",  # needs a newer glibc than JetPack 6's
    ]
    assert [name for name in fitting if not wheels.fits(Path(name), jetson)] == []
    assert [name for name in misfits if wheels.fits(Path(name), jetson)] == []
    assert "manylinux_2_35_aarch64" in jetson.pip_args() and "3.10" in jetson.pip_args()


def test_verify_names_each_wheel_no_target_can_install(wheels, tmp_path):
    for name in ("pydantic-2.14.3-py3-none-any.whl", "numpy-2.2.6-cp310-cp310-manylinux2014_aarch64.whl",
                 "numpy-2.2.6-cp310-cp310-manylinux2014_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    problems = wheels.verify(tmp_path, [wheels.Target.for_arch("arm64", "3.10")])
    assert problems == ["numpy-2.2.6-cp310-cp310-manylinux2014_x86_64.whl: fits none of cp310 aarch64"]
    assert wheels.verify(tmp_path / "missing", []) == [f"no wheels in {tmp_path / 'missing'}"]


def test_extra_wheels_replace_the_pin_of_their_package_for_the_target_they_fit(wheels, tmp_path):
    base = tmp_path / "constraints.txt"
    base.write_text("numpy==2.2.6\nonnxruntime-gpu==1.23.2\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "onnxruntime_gpu-1.20.0-cp310-cp310-linux_aarch64.whl").write_bytes(b"")
    (extra / "numpy-1.26.4-cp311-cp311-linux_aarch64.whl").write_bytes(b"")  # another Python: ignored
    text = wheels.constraints_with_extra_wheels(base, extra, wheels.Target.for_arch("arm64", "3.10"))
    assert wheels.read_pins_text(text) == {"numpy": "2.2.6", "onnxruntime-gpu": "1.20.0"}


def test_cpu_requirements_are_the_device_extra_with_onnxruntime_for_onnxruntime_gpu(wheels):
    lines = wheels.cpu_requirements(ROOT / "pyproject.toml", "0.1.0")
    device = [r for r in project_requirements("device") if r not in project_requirements("gpu")]
    assert lines[0] == "sightline==0.1.0"
    names = [canonicalize_name(Requirement(line).name) for line in lines[1:]]
    assert "onnxruntime" in names and "onnxruntime-gpu" not in names
    assert {canonicalize_name(r.name) for r in device} - {"onnxruntime-gpu"} <= set(names)


@pytest.mark.parametrize(("arch", "pythons", "depends"), [
    ("arm64", ["3.10"], "python3 (>= 3.10), python3 (<< 3.11), python3-venv"),
    ("amd64", ["3.11", "3.10"], "python3 (>= 3.10), python3 (<< 3.12), python3-venv"),
])
def test_control_names_the_architecture_and_the_python_range_the_wheels_are_for(control, arch, pythons, depends):
    text = control.render("0.1.0", arch, pythons, 1234)
    fields = dict(line.split(": ", 1) for line in text.splitlines() if line and not line.startswith(" "))
    assert fields["Architecture"] == arch and fields["Version"] == "0.1.0"
    assert fields["Depends"].startswith(depends) and fields["Installed-Size"] == "1234"
    assert "@" not in text.replace("@localhost", ""), "every placeholder is filled"


def test_control_refuses_an_architecture_it_has_no_wheels_for(control):
    with pytest.raises(ValueError, match="architecture 'riscv64'"):
        control.render("0.1.0", "riscv64", ["3.10"], 1)


def stand_in_wheel(folder: Path, name: str, files: dict[str, str], metadata: str = "") -> None:
    """A minimal valid py3-none-any wheel ``name``-1.0 (sightline-0.1.0 for "sightline")."""
    version = "0.1.0" if name == "sightline" else "1.0"
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def package_prefix(tmp_path: Path, with_gpu_wheel: bool) -> Path:
    """An /opt/sightline-device look-alike: stand-in wheels, VERSION, PYTHONS, requirements-cpu.txt."""
    prefix = tmp_path / "opt"
    (prefix / "wheels").mkdir(parents=True)
    stand_in_wheel(prefix / "wheels", "sightline", {
        "sightline_stub.py": "def main():\n    print('sightline-device 0.1.0')\n",
        "sightline-0.1.0.dist-info/entry_points.txt": "[console_scripts]\nsightline-device = sightline_stub:main\n",
    }, "Provides-Extra: device\nRequires-Dist: onnxruntime-gpu; extra == \"device\"\n")
    stand_in_wheel(prefix / "wheels", "onnxruntime", {"onnxruntime/__init__.py": "FLAVOUR = 'cpu'\n"})
    if with_gpu_wheel:
        stand_in_wheel(prefix / "wheels", "onnxruntime-gpu", {"onnxruntime/__init__.py": "FLAVOUR = 'gpu'\n"})
    (prefix / "VERSION").write_text("0.1.0\n")
    (prefix / "PYTHONS").write_text("{}.{}\n".format(*sys.version_info[:2]))
    (prefix / "requirements-cpu.txt").write_text("sightline==0.1.0\nonnxruntime\n")
    return prefix


def installed_flavour(prefix: Path) -> str:
    return subprocess.run([str(prefix / "venv" / "bin" / "python"), "-c", "import onnxruntime; print(onnxruntime.FLAVOUR)"],
                          capture_output=True, text=True, timeout=60, check=True).stdout.strip()


@pytest.mark.parametrize(("with_gpu_wheel", "flavour"), [(True, "gpu"), (False, "cpu")])
def test_make_venv_installs_onnxruntime_gpu_when_its_wheel_fits_else_onnxruntime(tmp_path, with_gpu_wheel, flavour):
    prefix = package_prefix(tmp_path, with_gpu_wheel)
    result = subprocess.run([str(MAKE_VENV), str(prefix), sys.executable], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("sightline-device 0.1.0")
    assert installed_flavour(prefix) == flavour
    assert ("installing onnxruntime (CPU only)" in result.stderr) is (flavour == "cpu"), result.stderr
    if flavour == "cpu":
        assert "dpkg-reconfigure sightline-device" in result.stderr, "says how to get the GPU"


def test_make_venv_refuses_a_python_the_wheels_are_not_for_and_names_both(tmp_path):
    prefix = package_prefix(tmp_path, with_gpu_wheel=True)
    (prefix / "PYTHONS").write_text("3.10\n")
    result = subprocess.run([str(MAKE_VENV), str(prefix), sys.executable], capture_output=True, text=True, timeout=60)
    running = "{}.{}".format(*sys.version_info[:2])
    assert result.returncode == 1
    assert f"is Python {running}, but the wheels in {prefix}/wheels are for Python 3.10" in result.stderr
    assert not (prefix / "venv").exists()
