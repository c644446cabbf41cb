"""The console benchmark's parts run and measure what they claim (short runs; the numbers are not judged here)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks import console  # noqa: E402


def test_percentile_takes_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert console.percentile(values, 50) in (50.0, 51.0)
    assert console.percentile(values, 99) == 99.0
    assert console.percentile([7.0], 99) == 7.0


def test_sixteen_tile_wall_paints_every_tile_and_reports_stall_and_cpu(qapp):
    result = console.measure_wall(seconds=3.0, quiet_s=0.0)
    assert result["tiles"] == 16
    assert result["painted_fps_per_tile"] > 1.0  # every tile paints (15 fps on a quiet machine)
    # The probe timer ticks about 30 times in 3 s on a quiet machine; a loaded one starves it, and
    # the numbers are not judged here: two ticks are enough for the percentiles to mean something.
    assert result["probe_ticks"] >= 2 and 0 < result["gui_stall_p50_ms"] <= result["gui_stall_p99_ms"]
    assert 0 < result["console_cores"]
    assert abs(result["console_cpu_share"] - result["console_cores"] / result["machine_cores"]) < 0.01


def test_startup_measures_a_fresh_console_process_until_its_window_paints():
    result = console.measure_startup(runs=1)
    assert len(result["runs_s"]) == 1 and 0.1 < result["first_s"] < 60
