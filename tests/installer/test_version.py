"""installer/version.py: the version every installer stamps."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tomllib

from .conftest import INSTALLER, ROOT


def test_project_version_is_the_pyproject_version(version_module):
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version_module.project_version() == expected
    printed = subprocess.run([sys.executable, str(INSTALLER / "version.py")], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert printed == expected


def test_project_version_without_a_version_names_the_file(version_module, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(version_module.VersionError, match=r"pyproject.toml: \[project\] version is missing"):
        version_module.project_version(pyproject)


def test_windows_file_version_has_four_numbers_from_the_release_part(version_module):
    assert version_module.windows_file_version("0.1.0") == (0, 1, 0, 0)
    assert version_module.windows_file_version("1.2.0rc1") == (1, 2, 0, 0)
    assert version_module.windows_file_version("1.2.3.4.5+local") == (1, 2, 3, 4)


def test_the_console_reads_the_version_file_name_the_spec_writes(version_module):
    from console_app.resources import VERSION_FILE_NAME

    assert VERSION_FILE_NAME == version_module.VERSION_FILE_NAME
