"""Device health readings and hardware facts.

This machine has neither a Jetson nor an NVIDIA GPU, so the Jetson sysfs tree,
``/proc/device-tree`` and ``nvidia-smi`` are replaced by files and small
scripts the tests write (copied from real devices' output); the readers run
against them unchanged. The real machine is read too, in the sanity tests.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import stat
import sys
import time
from pathlib import Path

import psutil
import pytest

from device_runtime.health import (
    HealthReader,
    NvidiaSmi,
    TegrastatsMonitor,
    find_jetson_gpu_load_file,
    hardware_info,
    jetson_platform_slug,
    parse_nvidia_smi_csv,
    parse_tegrastats_line,
    read_device_health,
    read_thermal_zones,
)

MIB = 1024 * 1024

ORIN_JP6_LINE = (
    "11-21-2024 10:00:00 RAM 2452/7620MB (lfb 1114x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [2%@729,1%@729,0%@729,0%@729,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 45%@[305] "
    "NVENC off NVDEC off VIC off APE 174 cpu@45.5C soc2@44.218C soc0@44.5C gpu@44C "
    "tj@46.5C soc1@44.093C VDD_IN 4808mW/4808mW VDD_CPU_GPU_CV 481mW/481mW"
)
NANO_JP4_LINE = (
    "RAM 1234/3964MB (lfb 1x4MB) SWAP 0/1982MB (cached 0MB) CPU [12%@1479,8%@1479,off,off] "
    "EMC_FREQ 3%@1600 GR3D_FREQ 7%@921 APE 25 PLL@36C CPU@38.5C PMIC@100C GPU@36.5C "
    "AO@44C thermal@37.25C iwlwifi@-256C POM_5V_IN 2000/2000"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def script(path: Path, body: str) -> list[str]:
    """An executable shell script standing in for a command-line tool."""
    write(path, "#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return [str(path)]


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def absent_nvidia_smi(tmp_path: Path) -> NvidiaSmi:
    return NvidiaSmi(command=[str(tmp_path / "no-such-nvidia-smi")])


def jetson_sysfs(root: Path, load_per_mille: str = "453") -> Path:
    """A Jetson Nano-style sysfs: gpu.0 load and thermal zones including PMIC and offline."""
    write(root / "devices" / "gpu.0" / "load", load_per_mille + "\n")
    zones = [
        ("CPU-therm", "45500"),
        ("GPU-therm", "47000"),
        ("PMIC-Die", "100000"),
        ("AO-therm", "44000"),
        ("thermal-fan-est", "-256000"),
    ]
    for index, (kind, millidegrees) in enumerate(zones):
        write(root / "class" / "thermal" / f"thermal_zone{index}" / "type", kind + "\n")
        write(root / "class" / "thermal" / f"thermal_zone{index}" / "temp", millidegrees + "\n")
    return root


# ------------------------------------------------------------------ parsers


def test_tegrastats_line_from_an_orin_on_jetpack_6_is_parsed():
    reading = parse_tegrastats_line(ORIN_JP6_LINE)

    assert reading.gpu_percent == 45.0
    assert reading.ram_used_bytes == 2452 * MIB
    assert reading.ram_total_bytes == 7620 * MIB
    assert reading.temperatures_c == {
        "cpu": 45.5,
        "soc2": 44.218,
        "soc0": 44.5,
        "gpu": 44.0,
        "tj": 46.5,
        "soc1": 44.093,
    }


def test_tegrastats_line_from_a_nano_drops_pmic_and_offline_sensors():
    reading = parse_tegrastats_line(NANO_JP4_LINE)

    assert reading.gpu_percent == 7.0
    assert reading.temperatures_c == {
        "PLL": 36.0,
        "CPU": 38.5,
        "GPU": 36.5,
        "AO": 44.0,
        "thermal": 37.25,
    }


def test_tegrastats_line_without_known_parts_reads_as_unknown():
    reading = parse_tegrastats_line("tegrastats: permission denied")

    assert reading.gpu_percent is None and reading.ram_used_bytes is None
    assert reading.temperatures_c == {}


def test_nvidia_smi_csv_for_two_gpus_with_unsupported_fields():
    readings = parse_nvidia_smi_csv("37, 1024, 4096, 61\n[N/A], 512, 8192, [N/A]\nbogus\n")

    assert [r.utilization_percent for r in readings] == [37.0, None]
    assert [r.memory_used_bytes for r in readings] == [1024 * MIB, 512 * MIB]
    assert [r.memory_total_bytes for r in readings] == [4096 * MIB, 8192 * MIB]
    assert [r.temperature_c for r in readings] == [61.0, None]


# ------------------------------------------------------------ Jetson sysfs


def test_jetson_gpu_load_and_hottest_plausible_thermal_zone_from_sysfs(tmp_path):
    reader = HealthReader(
        sysfs_root=jetson_sysfs(tmp_path / "sys"),
        nvidia_smi=absent_nvidia_smi(tmp_path),
        psutil_sensors=False,
    )

    sample = reader.read()

    assert sample.gpu_percent == pytest.approx(45.3)
    assert sample.gpu_memory_percent is None  # Jetsons share system RAM
    assert sample.temperature_c == 47.0  # PMIC's constant 100 C and -256 C are ignored


def test_orin_gpu_is_found_through_its_devfreq_entry(tmp_path):
    sys_root = tmp_path / "sys"
    device = sys_root / "class" / "devfreq" / "17000000.gpu" / "device"
    write(device / "of_node" / "name", "ga10b\x00")
    write(device / "load", "1000\n")
    write(sys_root / "class" / "devfreq" / "15340000.vic" / "device" / "of_node" / "name", "vic")

    assert find_jetson_gpu_load_file(sys_root) == device / "load"
    reader = HealthReader(sys_root, nvidia_smi=absent_nvidia_smi(tmp_path), psutil_sensors=False)
    assert reader.read().gpu_percent == 100.0


def test_thermal_zones_with_the_same_type_are_all_kept(tmp_path):
    for index, temp in enumerate(["40000", "52000"]):
        write(tmp_path / "class" / "thermal" / f"thermal_zone{index}" / "type", "acpitz")
        write(tmp_path / "class" / "thermal" / f"thermal_zone{index}" / "temp", temp)

    assert read_thermal_zones(tmp_path) == {"acpitz": 40.0, "acpitz:thermal_zone1": 52.0}


# ------------------------------------------------------------- nvidia-smi


def test_discrete_gpu_load_memory_and_temperature_from_nvidia_smi(tmp_path):
    smi = NvidiaSmi(command=script(tmp_path / "nvidia-smi", 'echo "37, 1024, 4096, 61"'))
    reader = HealthReader(tmp_path / "empty-sys", nvidia_smi=smi, psutil_sensors=False)

    sample = reader.read()

    assert sample.gpu_percent == 37.0
    assert sample.gpu_memory_percent == 25.0
    assert sample.temperature_c == 61.0


def test_nvidia_smi_runs_at_most_once_per_second(tmp_path):
    runs = tmp_path / "runs"
    clock = ManualClock()
    smi = NvidiaSmi(
        command=script(tmp_path / "nvidia-smi", f'echo run >> {runs}\necho "1, 1, 2, 30"'),
        cache_s=0.1,  # raised to the 1 s floor
        clock=clock,
    )

    smi.read()
    clock.now += 0.9
    smi.read()
    assert runs.read_text().count("run") == 1
    clock.now += 0.1
    smi.read()
    assert runs.read_text().count("run") == 2


def test_failing_nvidia_smi_reads_as_unknown_and_is_logged_once(tmp_path, caplog):
    clock = ManualClock()
    smi = NvidiaSmi(
        command=script(tmp_path / "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2\nexit 9"),
        retry_after_s=30,
        clock=clock,
    )

    with caplog.at_level(logging.WARNING, logger="device_runtime.health"):
        assert smi.read() is None
        clock.now += 30
        assert smi.read() is None

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "exit status 9" in warnings[0].getMessage()
    assert "NVIDIA-SMI has failed" in warnings[0].getMessage()


def test_hanging_nvidia_smi_is_cut_off_by_the_timeout(tmp_path):
    """The script hangs on purpose: that is the fault under test."""
    smi = NvidiaSmi(command=script(tmp_path / "nvidia-smi", "exec sleep 30"), timeout_s=0.3)

    assert smi.read() is None


def test_missing_nvidia_smi_is_not_looked_for_again(tmp_path):
    smi = absent_nvidia_smi(tmp_path)
    assert smi.read() is None
    script(tmp_path / "no-such-nvidia-smi", 'echo "1, 1, 2, 30"')

    assert smi.read() is None


# --------------------------------------------------------------- tegrastats


def test_tegrastats_monitor_supplies_gpu_load_when_sysfs_hides_it(tmp_path):
    fake_tegrastats = [
        sys.executable,
        "-c",
        f"import time; print({ORIN_JP6_LINE!r}, flush=True); time.sleep(60)",
    ]
    monitor = TegrastatsMonitor(command=fake_tegrastats)
    monitor.start()
    try:
        assert monitor.wait_for_reading(timeout=10), "the fake tegrastats printed nothing"
        reader = HealthReader(
            tmp_path / "empty-sys",
            nvidia_smi=absent_nvidia_smi(tmp_path),
            tegrastats=monitor,
            psutil_sensors=False,
        )
        sample = reader.read()
    finally:
        monitor.stop()

    assert sample.gpu_percent == 45.0
    assert sample.temperature_c == 46.5


# ---------------------------------------------------------- this machine


def test_reading_this_machine_gives_sane_cpu_memory_and_uptime():
    sample = read_device_health()

    assert 0.0 <= sample.cpu_percent <= 100.0
    assert 0.0 < sample.memory_percent < 100.0
    assert 0 < sample.memory_used_bytes < psutil.virtual_memory().total
    assert sample.uptime_s > 0
    has_gpu = shutil.which("nvidia-smi") is not None or find_jetson_gpu_load_file(Path("/sys"))
    if has_gpu:
        assert sample.gpu_percent is not None and 0.0 <= sample.gpu_percent <= 100.0
    else:
        assert sample.gpu_percent is None and sample.gpu_memory_percent is None


def test_cpu_percent_measures_the_time_between_reads_and_repeats_within_half_a_second():
    reader = HealthReader(psutil_sensors=False)
    # Keep this core busy for longer than the shortest measured window.
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        sum(range(10_000))

    first = reader.read().cpu_percent
    again = reader.read().cpu_percent

    assert 0.0 < first <= 100.0
    assert again == first


def test_hardware_info_of_this_machine():
    info = hardware_info()

    assert info["cpu_cores"] == os.cpu_count()
    assert info["memory_bytes"] == psutil.virtual_memory().total
    assert isinstance(info["cpu_model"], str) and info["cpu_model"]
    assert info["platform"].startswith(f"{platform.system()}-")
    assert isinstance(info["gpus"], list)


def test_hardware_info_of_a_jetson_orin_nx(tmp_path):
    proc = tmp_path / "proc"
    write(
        proc / "device-tree" / "model",
        "NVIDIA Jetson Orin NX Engineering Reference Developer Kit\x00",
    )
    write(proc / "cpuinfo", "processor\t: 0\nmodel name\t: ARMv8 Processor rev 1 (v8l)\n")
    sys_root = tmp_path / "sys"
    write(sys_root / "class" / "devfreq" / "17000000.gpu" / "device" / "of_node" / "name", "ga10b")
    write(sys_root / "class" / "devfreq" / "17000000.gpu" / "device" / "load", "0")

    info = hardware_info(proc, sys_root, nvidia_smi_command=[str(tmp_path / "no-smi")])

    assert info["platform"] == "jetson-orin-nx"
    assert info["cpu_model"] == "ARMv8 Processor rev 1 (v8l)"
    assert info["gpus"] == ["NVIDIA ga10b (integrated)"]


def test_jetson_models_become_short_platform_names():
    assert jetson_platform_slug("NVIDIA Jetson AGX Orin Developer Kit") == "jetson-agx-orin"
    assert jetson_platform_slug("NVIDIA Jetson Xavier NX Developer Kit") == "jetson-xavier-nx"
    assert jetson_platform_slug("NVIDIA Jetson Nano Developer Kit") == "jetson-nano"
    assert (
        jetson_platform_slug("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super")
        == "jetson-orin-nano"
    )
