"""The console's Linux menu entry, Windows installer script and CI workflow."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess

import yaml

from .conftest import INSTALLER, ROOT

DESKTOP = INSTALLER / "console" / "sightline-console.desktop"
ISS = INSTALLER / "windows" / "sightline-console.iss"
WORKFLOW = ROOT / ".github" / "workflows" / "package.yml"
PACKAGE_SH = ROOT / "scripts" / "package.sh"


def test_desktop_entry_validates_and_starts_the_command_the_deb_puts_on_path():
    validate = shutil.which("desktop-file-validate")
    assert validate, "desktop-file-validate is needed (Debian package desktop-file-utils)"
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read_string(DESKTOP.read_text())
    section = entry["Desktop Entry"]
    script = PACKAGE_SH.read_text()
    assert section["Exec"] == "sightline-console" and '"$root/usr/bin/sightline-console"' in script
    assert section["Icon"] == "sightline" and "scalable/apps/sightline.svg" in script
    assert (ROOT / "resources" / "icons" / "sightline.svg").is_file()


def test_inno_script_packs_the_spec_output_and_needs_a_version(bundle_contents):
    text = ISS.read_text()
    bundle_dir = re.search(r'#define BundleDir "([^"]+)"', text).group(1)
    assert (ISS.parent / bundle_dir.replace("\\", "/")).resolve() == ROOT / "dist" / bundle_contents.BUNDLE_NAME
    assert re.search(r'#define AppExe "([^"]+)"', text).group(1) == bundle_contents.BUNDLE_NAME + ".exe"
    assert "#ifndef AppVersion" in text and "#error" in text
    assert re.search(r'^Source: "\{#BundleDir\}\\\*".*recursesubdirs', text, re.M)
    assert 'Name: "{group}\\{#AppName}"' in text, "a Start-menu shortcut"
    assert "{uninstallexe}" in text and "UninstallDisplayIcon" in text


def test_workflow_builds_both_platforms_self_tests_and_makes_the_windows_installer():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    job = workflow["jobs"]["console"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "windows-latest"}
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("actions/setup-python") for u in uses)
    assert any(step.get("with", {}).get("python-version") == "3.11" for step in job["steps"])
    assert "-c requirements/constraints.txt '.[console,package]'" in runs
    assert "installer/console/sightline-console.spec" in runs and "--self-test" in runs
    assert "choco install innosetup" in runs and str(ISS.relative_to(ROOT)) in runs
    assert "/DAppVersion=$(python installer/version.py)" in runs
    assert any(u.startswith("actions/upload-artifact") for u in uses)
