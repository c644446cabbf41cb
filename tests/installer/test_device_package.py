"""The device .deb's parts (installer/device/): unit, config template, maintainer scripts.

The .deb itself is built and unpacked by scripts/package.sh (make package,
.ci/run); these check its inputs quickly.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys

from .conftest import INSTALLER, ROOT

DEVICE = INSTALLER / "device"
UNIT = DEVICE / "sightline-device.service"
EXEC_START = "/opt/sightline-device/venv/bin/sightline-device serve --config /etc/sightline/device.json"


def read_unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    return unit


def test_unit_runs_the_venv_as_the_sightline_user_restarts_on_failure_and_is_hardened():
    service = read_unit()["Service"]
    expected = {
        "ExecStart": EXEC_START, "User": "sightline", "Restart": "on-failure",
        "StateDirectory": "sightline", "ConfigurationDirectory": "sightline",
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    }
    assert {key: service.get(key) for key in expected} == expected
    assert service.get("RestartSec"), "RestartSec keeps a crashing runtime from spinning"
    assert "PrivateDevices" not in service, "CUDA needs /dev/nvidia*"
    assert read_unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verifies_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd; scripts/system-deps.sh test)"
    # The runtime's executable only exists once postinst made the venv: point
    # ExecStart at one that exists so verify checks everything else.
    unit = tmp_path / "sightline-device.service"
    unit.write_text(UNIT.read_text().replace(EXEC_START.split()[0], "/bin/true"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_config_template_is_a_valid_device_config_with_data_in_var_lib():
    from device_runtime.config import load_config

    config = load_config(DEVICE / "device.json")
    assert str(config.data_dir) == "/var/lib/sightline"
    assert config.port == 7443


def test_config_is_a_conffile_at_the_path_the_unit_reads():
    conffiles = (DEVICE / "debian" / "conffiles").read_text().split()
    assert conffiles == ["/etc/sightline/device.json"]
    assert f"--config {conffiles[0]}" in read_unit()["Service"]["ExecStart"]


def test_maintainer_scripts_are_executable_valid_sh_and_build_the_venv_with_the_shared_script():
    for name in ("postinst", "prerm", "postrm"):
        script = DEVICE / "debian" / name
        assert os.access(script, os.X_OK), f"{script} is not executable"
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stderr}"
    postinst = (DEVICE / "debian" / "postinst").read_text()
    assert '"$PREFIX/make-venv.sh" "$PREFIX"' in postinst
    assert "useradd --system" in postinst and "systemctl enable sightline-device.service" in postinst
    assert "make-venv.sh" in (ROOT / "scripts" / "package.sh").read_text(), \
        "the package check must build the venv with the same script"


def test_make_venv_installs_offline_only_and_says_when_there_are_no_wheels(tmp_path):
    script = DEVICE / "make-venv.sh"
    text = script.read_text()
    assert "--no-index" in text and "--find-links" in text
    (tmp_path / "wheels").mkdir()
    (tmp_path / "VERSION").write_text("0.1.0\n")
    result = subprocess.run([str(script), str(tmp_path), sys.executable], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert f"no wheels in {tmp_path}/wheels" in result.stderr
    assert not (tmp_path / "venv").exists()


PROVISION_UNIT = DEVICE / "sightline-provision@.service"
UDEV_RULE = DEVICE / "70-sightline-provision.rules"


def test_a_usb_stick_starts_the_provisioning_unit_which_runs_provision_stick(tmp_path):
    rule = UDEV_RULE.read_text(encoding="utf-8")
    match = [line for line in rule.splitlines() if line and not line.startswith("#")]
    assert len(match) == 1
    keys = dict(part.strip().split("==", 1) for part in match[0].split(",") if "==" in part)
    assert keys == {"ACTION": '"add"', "SUBSYSTEM": '"block"', "ENV{ID_BUS}": '"usb"',
                    "ENV{ID_FS_USAGE}": '"filesystem"', "ENV{ID_FS_TYPE}": '"vfat|exfat"'}
    assert 'ENV{SYSTEMD_WANTS}+="sightline-provision@%k.service"' in match[0]

    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    unit.read_string(PROVISION_UNIT.read_text(encoding="utf-8"))
    exec_start = unit["Service"]["ExecStart"].split()
    assert exec_start[:3] == ["/opt/sightline-device/venv/bin/sightline-device", "provision-stick", "/dev/%I"]
    # The command line is one the runtime's parser accepts.
    from device_runtime.__main__ import _parser

    args = _parser().parse_args([a.replace("%I", "sdz1") for a in exec_start[1:]])
    assert args.command == "provision-stick" and str(args.path) == "/dev/sdz1"
    assert unit["Unit"]["BindsTo"] == "dev-%i.device", "pulling the stick stops the unit"

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd)"
    instance = tmp_path / "sightline-provision@sdz1.service"
    instance.write_text(PROVISION_UNIT.read_text().replace(exec_start[0], "/bin/true"))
    result = subprocess.run([analyze, "verify", str(instance)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_script_ships_the_provisioning_unit_and_udev_rule():
    script = (ROOT / "scripts" / "package.sh").read_text(encoding="utf-8")
    assert "installer/device/sightline-provision@.service" in script
    assert "lib/udev/rules.d/70-sightline-provision.rules" in script


def test_a_staged_update_starts_the_root_updater_whose_command_the_runtime_accepts(tmp_path):
    path_unit = configparser.ConfigParser(interpolation=None, strict=True)
    path_unit.optionxform = str
    path_unit.read_string((DEVICE / "sightline-update.path").read_text(encoding="utf-8"))
    assert path_unit["Path"]["PathExists"] == "/var/lib/sightline/updates/pending.json"
    assert path_unit["Path"]["Unit"] == "sightline-update.service"
    service = configparser.ConfigParser(interpolation=None, strict=True)
    service.optionxform = str
    service.read_string((DEVICE / "sightline-update.service").read_text(encoding="utf-8"))
    exec_start = service["Service"]["ExecStart"].split()
    from device_runtime.__main__ import _parser

    assert _parser().parse_args(exec_start[1:]).command == "apply-update"
    assert "User" not in service["Service"], "dpkg needs root"
    script = (ROOT / "scripts" / "package.sh").read_text(encoding="utf-8")
    assert "installer/device/sightline-update.path" in script and "sightline-update.service" in script
    for name in ("sightline-update.path", "sightline-update.service"):
        unit = tmp_path / name
        unit.write_text((DEVICE / name).read_text().replace(exec_start[0], "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "sightline-update.path")],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
