"""Specifications of a code app's extra Python packages: offline installs from bundled wheels."""

from __future__ import annotations

import pytest

from device_runtime.panorama.dependencies import MissingWheels, install_requirements, satisfied_here
from tests.device_runtime.panorama.fixture_apps import write_wheel


def test_what_the_device_python_has_is_not_installed_again(tmp_path):
    assert satisfied_here("numpy") and satisfied_here("numpy>=1.0")
    assert not satisfied_here("numpy<1.0") and not satisfied_here("tinylib")

    assert install_requirements(["numpy>=1.0"], tmp_path / "wheels", tmp_path / "site", "Dockerfile") is None


@pytest.mark.integration
def test_a_missing_requirement_is_installed_offline_from_the_bundled_wheels_once(tmp_path):
    write_wheel(tmp_path / "wheels")

    site = install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")

    assert (site / "tinylib" / "__init__.py").read_text() == "VALUE = 42\n"
    assert install_requirements(["tinylib==1.0"], tmp_path / "wheels", tmp_path / "python", "Dockerfile") == site


def test_a_requirement_without_a_wheel_is_named(tmp_path):
    with pytest.raises(MissingWheels, match="Dockerfile: pip requirement\\(s\\) tinylib are not installed on this device"):
        install_requirements(["tinylib"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")
    write_wheel(tmp_path / "wheels", name="otherlib")
    with pytest.raises(Exception, match="Dockerfile: cannot install tinylib from the package's wheels: ERROR"):
        install_requirements(["tinylib"], tmp_path / "wheels", tmp_path / "python", "Dockerfile")
