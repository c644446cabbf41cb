"""What every benchmark needs: errors, the machine's description, CPU noise, writing results.

The dev machine (2 cores) is shared with other work, so a benchmark measures
how much CPU other processes used while it ran (:class:`CpuMeter`), can wait
a bounded time for them to calm down (:func:`wait_for_quiet`), and writes
that next to its numbers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE = ROOT / "build" / "bench"  # generated test media; gitignored with build/


class BenchmarkError(RuntimeError):
    """A benchmark could not run (no encoder, unreadable media, no results); says why."""


class CpuMeter:
    """CPU cores used by this process, and by every other process, since it was made."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        own = self._process.cpu_times()
        total = psutil.cpu_times()
        busy = total.user + total.nice + total.system + total.irq + total.softirq + total.steal
        return time.monotonic(), own.user + own.system, busy

    def stop(self) -> tuple[float, float]:
        """(cores used by this process, cores used by others), averaged since the start."""
        wall0, own0, busy0 = self._start
        wall, own, busy = self._read()
        elapsed = max(wall - wall0, 1e-6)
        mine = (own - own0) / elapsed
        return mine, max(0.0, (busy - busy0) / elapsed - mine)


def wait_for_quiet(max_wait_s: float, threshold_cores: float = 0.25) -> float:
    """Wait (at most ``max_wait_s``) until other processes use under ``threshold_cores``.

    Returns the cores others used in the last half-second sample. Polls: the
    load of other processes has no event to wait on.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        meter = CpuMeter()
        time.sleep(0.5)
        others = meter.stop()[1]
        if others < threshold_cores or time.monotonic() >= deadline:
            return others


def machine() -> str:
    """One line about where the numbers come from: CPU, cores, load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    logical = os.cpu_count()
    physical = psutil.cpu_count(logical=False) or logical
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cpu}; {physical} physical / {logical} logical cores; load average {load}"


def gpu_name() -> str:
    """The first NVIDIA GPU's name through the CUDA driver ("" without one)."""
    import ctypes

    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return ""
    if driver.cuInit(0) != 0:
        return ""
    device = ctypes.c_int(0)
    if driver.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return ""
    name = ctypes.create_string_buffer(256)
    driver.cuDeviceGetName(name, 256, device)
    return name.value.decode(errors="replace")


def write_results(path: Path, results: list[dict]) -> None:
    """Write ``results`` as indented JSON, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(partial, path)
