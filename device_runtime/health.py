"""Device health readings (CPU, memory, GPU, temperature) and hardware facts for DeviceInfo.

NVML does not report on Jetsons, so the GPU is read from what each platform
offers:

* discrete NVIDIA GPUs: ``nvidia-smi --query-gpu=...`` (run at most once per
  ``cache_s``, with a timeout; after a failure it is left alone for
  ``retry_after_s`` and the failure is logged once);
* Jetson integrated GPUs: the per-mille load file in sysfs
  (``devices/gpu.0/load``, ``devices/platform/gpu.0/load``, or the device
  behind a ``class/devfreq`` entry named ga10b/gv11b/gp10b/gpu);
* optionally a running ``tegrastats`` (:class:`TegrastatsMonitor`), for
  containers that hide those sysfs files.

``temperature_c`` is the hottest plausible reading among the GPU, the sysfs
thermal zones and psutil's sensors: the number that predicts throttling.
Jetson PMIC zones (a constant 100 C on some modules) and offline sensors
(-256 C) are ignored. Every unreadable value is ``None``, never a guess.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

NVIDIA_SMI_QUERY = (
    "--query-gpu=utilization.gpu,memory.used,memory.total,temperature.gpu",
    "--format=csv,noheader,nounits",
)
JETSON_GPU_NAMES = ("ga10b", "gv11b", "gp10b", "gm20b", "gpu")
_PLAUSIBLE_C = (-40.0, 150.0)
# Shortest wall-clock window a CPU share is measured over; shorter ones are noise.
_MIN_CPU_WINDOW_S = 0.5
_MIB = 1024 * 1024
_UNIT_BYTES = {"k": 1024, "K": 1024, "M": _MIB, "G": 1024 * _MIB}


@dataclass(frozen=True)
class DeviceHealthSample:
    """One reading of the device; fields mirror ``DeviceHealth`` in the API."""

    cpu_percent: float
    memory_percent: float
    memory_used_bytes: int
    gpu_percent: float | None
    gpu_memory_percent: float | None
    temperature_c: float | None
    uptime_s: float


@dataclass(frozen=True)
class GpuReading:
    """One GPU line of ``nvidia-smi``; fields it reported as [N/A] are ``None``."""

    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_c: float | None


@dataclass(frozen=True)
class TegrastatsReading:
    """What one ``tegrastats`` line says; absent parts are ``None``/empty."""

    gpu_percent: float | None
    ram_used_bytes: int | None
    ram_total_bytes: int | None
    temperatures_c: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ parsers

_GR3D = re.compile(r"\bGR3D(?:_FREQ)? (\d+(?:\.\d+)?)%")
_RAM = re.compile(r"\bRAM (\d+)/(\d+)([kKMG])B")
_TEMP = re.compile(r"\b([A-Za-z][\w-]*)@(-?\d+(?:\.\d+)?)C\b")


def parse_tegrastats_line(line: str) -> TegrastatsReading:
    """Parse one line of ``tegrastats`` output (any JetPack from 4 to 6).

    Reads ``GR3D_FREQ 45%`` (also ``GR3D 45%@1300`` and ``45%@[305]``),
    ``RAM 1234/7620MB`` and temperatures such as ``CPU@45.5C`` or ``gpu@44C``.
    """
    gpu = _GR3D.search(line)
    ram = _RAM.search(line)
    temps = {
        name: float(value)
        for name, value in _TEMP.findall(line)
        if _plausible_temperature(name, float(value))
    }
    unit = _UNIT_BYTES[ram.group(3)] if ram else 0
    return TegrastatsReading(
        gpu_percent=float(gpu.group(1)) if gpu else None,
        ram_used_bytes=int(ram.group(1)) * unit if ram else None,
        ram_total_bytes=int(ram.group(2)) * unit if ram else None,
        temperatures_c=temps,
    )


def parse_nvidia_smi_csv(text: str) -> list[GpuReading]:
    """Parse ``nvidia-smi`` output for :data:`NVIDIA_SMI_QUERY`, one GPU per line.

    Memory is reported in MiB. Lines that do not have four fields are skipped.
    """
    readings = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            continue
        util, used, total, temp = (_number(f) for f in fields)
        readings.append(
            GpuReading(
                utilization_percent=util,
                memory_used_bytes=int(used * _MIB) if used is not None else None,
                memory_total_bytes=int(total * _MIB) if total is not None else None,
                temperature_c=temp,
            )
        )
    return readings


# ---------------------------------------------------------- GPU data sources


class NvidiaSmi:
    """Runs ``nvidia-smi`` for GPU readings, cached, bounded, and quiet on failure.

    ``command`` is the executable and any leading arguments (tests point it
    at a script). :meth:`read` returns ``None`` when no reading is available.
    """

    def __init__(
        self,
        command: Sequence[str] = ("nvidia-smi",),
        cache_s: float = 1.0,
        timeout_s: float = 2.0,
        retry_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = list(command)
        self.cache_s = max(cache_s, 1.0)
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: list[GpuReading] | None = None
        self._next_run = float("-inf")
        self._absent = False
        self._failure_logged = False

    def read(self) -> list[GpuReading] | None:
        """Current readings (possibly up to ``cache_s`` old), or ``None``."""
        with self._lock:
            if self._absent:
                return None
            now = self._clock()
            if now < self._next_run:
                return self._cached
            try:
                done = subprocess.run(
                    [*self.command, *NVIDIA_SMI_QUERY],
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_s,
                    check=False,
                )
            except FileNotFoundError:
                # No NVIDIA driver tools on this machine: never try again.
                self._absent = True
                log.info("%s not found; no discrete-GPU readings", self.command[0])
                return None
            except (OSError, subprocess.TimeoutExpired) as exc:
                return self._failed(now, f"{exc}")
            readings = parse_nvidia_smi_csv(done.stdout) if done.returncode == 0 else []
            if not readings:
                detail = (done.stderr or done.stdout).strip()[:200]
                return self._failed(now, f"exit status {done.returncode}: {detail!r}")
            self._cached = readings
            self._next_run = now + self.cache_s
            return readings

    def _failed(self, now: float, why: str) -> None:
        if not self._failure_logged:
            log.warning(
                "%s gave no GPU reading (%s); GPU load is reported as unknown, "
                "retrying every %.0f s (further failures are not logged)",
                " ".join(self.command),
                why,
                self.retry_after_s,
            )
            self._failure_logged = True
        self._cached = None
        self._next_run = now + self.retry_after_s
        return None


def find_jetson_gpu_load_file(sysfs_root: Path) -> Path | None:
    """The sysfs file with a Jetson GPU's load in per-mille, if this is a Jetson."""
    for relative in ("devices/gpu.0/load", "devices/platform/gpu.0/load"):
        if (sysfs_root / relative).is_file():
            return sysfs_root / relative
    devfreq = sysfs_root / "class" / "devfreq"
    if devfreq.is_dir():
        for entry in sorted(devfreq.iterdir()):
            name = _read_text(entry / "device" / "of_node" / "name")
            load = entry / "device" / "load"
            if name in JETSON_GPU_NAMES and load.is_file():
                return load
    return None


def read_thermal_zones(sysfs_root: Path) -> dict[str, float]:
    """``{zone type: degrees C}`` for every plausible ``class/thermal/thermal_zone*``."""
    zones: dict[str, float] = {}
    thermal = sysfs_root / "class" / "thermal"
    if not thermal.is_dir():
        return zones
    for zone in sorted(thermal.glob("thermal_zone*")):
        kind = _read_text(zone / "type") or zone.name
        millidegrees = _number(_read_text(zone / "temp") or "")
        if millidegrees is None:
            continue
        celsius = millidegrees / 1000.0
        if _plausible_temperature(kind, celsius):
            zones[kind if kind not in zones else f"{kind}:{zone.name}"] = celsius
    return zones


class TegrastatsMonitor:
    """Keeps the newest line of a running ``tegrastats`` for :class:`HealthReader`.

    For Jetson containers where the GPU's sysfs load file is hidden.
    ``command`` is a parameter so tests can run a script that prints lines.
    """

    def __init__(self, command: Sequence[str] = ("tegrastats", "--interval", "1000")) -> None:
        self.command = list(command)
        self._latest: TegrastatsReading | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._got_line = threading.Event()

    def start(self) -> None:
        """Start the command; raises ``OSError`` if it cannot be run."""
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self._thread = threading.Thread(target=self._read, name="tegrastats", daemon=True)
        self._thread.start()

    def wait_for_reading(self, timeout: float) -> bool:
        """Whether a line arrived within ``timeout`` seconds."""
        return self._got_line.wait(timeout)

    def latest(self) -> TegrastatsReading | None:
        """The newest parsed line, or ``None`` before the first one."""
        with self._lock:
            return self._latest

    def stop(self) -> None:
        """Stop the command and the reader thread."""
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if process is not None and process.stdout is not None:
            process.stdout.close()

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            reading = parse_tegrastats_line(line)
            with self._lock:
                self._latest = reading
            self._got_line.set()


# ------------------------------------------------------------------ reader


class HealthReader:
    """Takes :class:`DeviceHealthSample` readings of this machine.

    ``cpu_percent`` is the CPU use since the previous :meth:`read` (since
    construction for the first one), measured over at least half a second:
    reads closer together repeat the last value. ``sysfs_root``, ``nvidia_smi`` and
    ``tegrastats`` are parameters so tests can supply a made-up sysfs tree
    and commands; ``psutil_sensors=False`` leaves out the machine's own
    sensors for the same reason.
    """

    def __init__(
        self,
        sysfs_root: Path = Path("/sys"),
        nvidia_smi: NvidiaSmi | None = None,
        tegrastats: TegrastatsMonitor | None = None,
        psutil_sensors: bool = True,
    ) -> None:
        self.sysfs_root = Path(sysfs_root)
        self.nvidia_smi = nvidia_smi if nvidia_smi is not None else NvidiaSmi()
        self.tegrastats = tegrastats
        self.psutil_sensors = psutil_sensors
        self._jetson_load = find_jetson_gpu_load_file(self.sysfs_root)
        self._lock = threading.Lock()
        self._last_cpu = psutil.cpu_times()
        self._last_cpu_percent: float | None = None
        # cpu_times() sums over every core, so the window scales with them.
        self._min_cpu_window = _MIN_CPU_WINDOW_S * (psutil.cpu_count() or 1)

    def read(self) -> DeviceHealthSample:
        """A reading now; blocks at most for one ``nvidia-smi`` run (2 s timeout)."""
        memory = psutil.virtual_memory()
        gpu_percent, gpu_memory_percent, temps = self._gpu()
        temps.extend(read_thermal_zones(self.sysfs_root).values())
        if self.psutil_sensors:
            temps.extend(_psutil_temperatures())
        return DeviceHealthSample(
            cpu_percent=self._cpu_percent(),
            memory_percent=float(memory.percent),
            memory_used_bytes=int(memory.total - memory.available),
            gpu_percent=gpu_percent,
            gpu_memory_percent=gpu_memory_percent,
            temperature_c=max(temps) if temps else None,
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
        )

    def _gpu(self) -> tuple[float | None, float | None, list[float]]:
        temps: list[float] = []
        if self._jetson_load is not None:
            per_mille = _number(_read_text(self._jetson_load) or "")
            if per_mille is not None:
                # Jetson GPUs share system RAM; there is no separate GPU memory.
                return per_mille / 10.0, None, temps
        if self.tegrastats is not None:
            reading = self.tegrastats.latest()
            if reading is not None:
                temps.extend(reading.temperatures_c.values())
                if reading.gpu_percent is not None:
                    return reading.gpu_percent, None, temps
        gpus = self.nvidia_smi.read()
        if not gpus:
            return None, None, temps
        temps.extend(g.temperature_c for g in gpus if g.temperature_c is not None)
        utils = [g.utilization_percent for g in gpus if g.utilization_percent is not None]
        used = [g.memory_used_bytes for g in gpus if g.memory_used_bytes is not None]
        total = [g.memory_total_bytes for g in gpus if g.memory_total_bytes]
        util = sum(utils) / len(utils) if utils else None
        mem = 100.0 * sum(used) / sum(total) if used and total else None
        return util, mem, temps

    def _cpu_percent(self) -> float:
        now = psutil.cpu_times()
        busy, total = _busy_and_total(now)
        with self._lock:
            busy_before, total_before = _busy_and_total(self._last_cpu)
            if total - total_before < self._min_cpu_window:
                # Too short a window to mean anything (the first read right
                # after start, or several health streams reading at once):
                # repeat the last value, or the average since boot, and keep
                # the baseline so the next read measures a longer window.
                if self._last_cpu_percent is not None:
                    return self._last_cpu_percent
                return round(100.0 * busy / total, 1) if total > 0 else 0.0
            share = (busy - busy_before) / (total - total_before)
            self._last_cpu = now
            self._last_cpu_percent = round(min(100.0, max(0.0, 100.0 * share)), 1)
            return self._last_cpu_percent


_default_reader: HealthReader | None = None
_default_lock = threading.Lock()


def read_device_health() -> DeviceHealthSample:
    """A reading of this machine from a shared :class:`HealthReader`."""
    global _default_reader
    with _default_lock:
        if _default_reader is None:
            _default_reader = HealthReader()
        reader = _default_reader
    return reader.read()


# ---------------------------------------------------------------- hardware


def hardware_info(
    proc_root: Path = Path("/proc"),
    sysfs_root: Path = Path("/sys"),
    nvidia_smi_command: Sequence[str] = ("nvidia-smi",),
) -> dict[str, object]:
    """Facts for ``DeviceInfo.hardware``: cpu_model, cpu_cores, memory_bytes, gpus, platform.

    ``platform`` is a Jetson slug such as ``jetson-orin-nx`` (from the device
    tree model) or ``Linux-6.1.0-x86_64``.
    """
    jetson_model = _read_text(proc_root / "device-tree" / "model")
    gpus = _nvidia_smi_gpu_names(nvidia_smi_command)
    load_file = find_jetson_gpu_load_file(sysfs_root)
    if not gpus and (load_file is not None or jetson_model):
        chip = _jetson_gpu_chip(sysfs_root)
        gpus = [f"NVIDIA {chip} (integrated)" if chip else "NVIDIA Jetson GPU (integrated)"]
    return {
        "cpu_model": _cpu_model(proc_root) or jetson_model or platform.machine(),
        "cpu_cores": os.cpu_count() or 1,
        "memory_bytes": int(psutil.virtual_memory().total),
        "gpus": gpus,
        "platform": jetson_platform_slug(jetson_model)
        if jetson_model and "jetson" in jetson_model.lower()
        else f"{platform.system()}-{platform.release()}-{platform.machine()}",
    }


def jetson_platform_slug(model: str) -> str:
    """``NVIDIA Jetson Orin NX Engineering Reference Developer Kit`` -> ``jetson-orin-nx``."""
    words = []
    for word in re.split(r"\s+", model.replace("\x00", "").strip()):
        lowered = word.lower()
        if lowered in ("nvidia", ""):
            continue
        if lowered in ("developer", "engineering", "reference", "kit", "module", "devkit"):
            break
        words.append(re.sub(r"[^a-z0-9]+", "-", lowered).strip("-"))
    return "-".join(w for w in words if w) or "jetson"


def _cpu_model(proc_root: Path) -> str | None:
    text = _read_text(proc_root / "cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


def _nvidia_smi_gpu_names(command: Sequence[str]) -> list[str]:
    try:
        done = subprocess.run(
            [*command, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def _jetson_gpu_chip(sysfs_root: Path) -> str | None:
    devfreq = sysfs_root / "class" / "devfreq"
    if devfreq.is_dir():
        for entry in sorted(devfreq.iterdir()):
            name = _read_text(entry / "device" / "of_node" / "name")
            if name in JETSON_GPU_NAMES and name != "gpu":
                return name
    return None


def _psutil_temperatures() -> list[float]:
    reader = getattr(psutil, "sensors_temperatures", None)  # absent on some platforms
    if reader is None:
        return []
    try:
        sensors = reader()
    except (OSError, RuntimeError):
        return []
    return [
        float(entry.current)
        for chip, entries in sensors.items()
        for entry in entries
        if entry.current is not None and _plausible_temperature(chip, float(entry.current))
    ]


def _plausible_temperature(sensor: str, celsius: float) -> bool:
    low, high = _PLAUSIBLE_C
    return "pmic" not in sensor.lower() and low < celsius < high


def _busy_and_total(times: object) -> tuple[float, float]:
    values = times._asdict()  # type: ignore[attr-defined]
    # guest time is already counted in user time on Linux.
    total = sum(v for k, v in values.items() if k not in ("guest", "guest_nice"))
    idle = values.get("idle", 0.0) + values.get("iowait", 0.0)
    return total - idle, total


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "[N/A]", "[Not Supported]", empty
