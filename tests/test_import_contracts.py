"""The import-linter contracts in pyproject.toml hold, and they catch a layer broken on purpose.

``lint-imports`` is run as the engineer would run it; the layers themselves are described in
pyproject.toml ([tool.importlinter]) and docs/architecture.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_import_contract_holds():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_ui_page_calling_a_gateway_and_persistence_calling_a_device_break_their_contracts(tmp_path: Path):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("console_app", "device_runtime"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "console_app" / "ui" / "bridge.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom console_app.core.gateways import device_client  # noqa: E402\n")
    with (tmp_path / "console_app" / "core" / "persistence" / "devices.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom console_app.core.gateways import device_tls  # noqa: E402\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "2 broken" in result.stdout, result.stdout
    assert "console_app.ui.bridge -> console_app.core.gateways.device_client" in result.stdout
    assert "console_app.core.persistence.devices -> console_app.core.gateways.device_tls" in result.stdout
