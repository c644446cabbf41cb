"""Specifications of a code app's extra Python packages: a venv of its own, installed offline from bundled wheels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from device_runtime.panorama.dependencies import (
    MissingWheels,
    install_requirements,
    python_environment,
    satisfied_here,
    venv_python,
)
from tests.device_runtime.panorama.fixture_apps import write_wheel


def test_what_the_device_python_has_is_not_installed_again(tmp_path):
    assert satisfied_here("numpy") and satisfied_here("numpy>=1.0")
    assert not satisfied_here("numpy<1.0") and not satisfied_here("tinylib")
    assert satisfied_here("opencv-python") and satisfied_here("opencv-contrib-python-headless")

    assert install_requirements(["numpy>=1.0"], tmp_path / "wheels", tmp_path / "site", "Dockerfile") is None


def test_the_device_reports_the_python_a_consoles_wheels_must_fit():
    env = python_environment()

    assert env["version"] == ".".join(map(str, sys.version_info[:3])) and env["implementation"] == "cp"
    assert env["platforms"][0].endswith(__import__("platform").machine()) and "any" not in env["platforms"]
    assert any(p.startswith("numpy==") for p in env["packages"])


@pytest.mark.integration
def test_a_missing_requirement_goes_into_a_venv_of_its_own_that_also_sees_the_devices_packages(tmp_path):
    write_wheel(tmp_path / "wheels")

    venv = install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")

    assert (venv / "pyvenv.cfg").read_text().count("include-system-site-packages = true") == 1
    probe = "import json, sys, numpy, cv2, tinylib; print(json.dumps([sys.prefix, tinylib.VALUE, tinylib.__file__]))"
    prefix, value, where = json.loads(subprocess.run([str(venv_python(venv)), "-c", probe], check=True,
                                                     capture_output=True, text=True).stdout)
    assert (prefix, value) == (str(venv), 42) and where.startswith(str(venv))
    assert not satisfied_here("tinylib"), "the device's own Python stays as it was"
    assert install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile") == venv


@pytest.mark.integration
def test_a_half_made_venv_is_made_again(tmp_path):
    write_wheel(tmp_path / "wheels")
    venv = install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")
    (venv / ".complete").unlink()  # as if the device lost power mid-install
    (venv / "bin" / "python").unlink()

    assert install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile") == venv
    assert subprocess.run([str(venv_python(venv)), "-c", "import tinylib"]).returncode == 0


def test_a_requirement_without_a_wheel_is_named(tmp_path):
    with pytest.raises(MissingWheels, match="Dockerfile: pip requirement\\(s\\) tinylib are not installed on this device"):
        install_requirements(["tinylib"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")
    write_wheel(tmp_path / "wheels", name="otherlib")
    with pytest.raises(Exception, match="Dockerfile: cannot install tinylib from the package's wheels: ERROR"):
        install_requirements(["tinylib"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")
    assert not list((tmp_path / "python").glob("venv-*")), "no half-made venv is left behind"
