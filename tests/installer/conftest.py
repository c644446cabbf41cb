"""Shared helpers for the installer tests: the installer/ modules, loaded by path.

installer/ is not a Python package (PyInstaller's spec imports its helpers
from their folder), so the tests load them the same way.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "installer"


def load_installer_module(relative: str):
    """Import ``installer/<relative>`` as a module (cached in sys.modules under its path)."""
    path = INSTALLER / relative
    name = "sightline_installer_" + relative.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def bundle_contents():
    return load_installer_module("console/bundle_contents.py")


@pytest.fixture(scope="session")
def version_module():
    return load_installer_module("version.py")
