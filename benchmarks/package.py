"""The packaged console: bundle size unpacked, and frozen start to main window.

    python -m benchmarks package [--runs 5] [--bundle dist/sightline-console]

Needs the bundle `make package` (scripts/package.sh console) builds. Writes
benchmarks/results/package.json:

- ``bundle_mb``: every file under dist/sightline-console/ (apparent size,
  links not followed), target <= 200 MB; ``largest`` names where it goes.
- ``start_to_window_s``: median over ``runs`` fresh processes of the time from
  starting ``sightline-console --self-test`` (offscreen) to its "main window
  shown" line, printed right after the window is shown and painted. That
  start includes what a real start does before its window (Python and Qt
  start, the inventory migrated, the console services started); target <= 3 s.
  Each run is a new process but the page cache stays warm (dropping it needs
  privileges and would slow everyone else on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, BenchmarkError, CpuMeter, machine, wait_for_quiet, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "package.json"
BUNDLE = ROOT / "dist" / "sightline-console"
SIZE_TARGET_MB = 200.0
START_TARGET_S = 3.0
RUN_TIMEOUT_S = 120.0


def bundle_size(bundle: Path) -> tuple[int, dict[str, int]]:
    """(total bytes, bytes per top-level entry of the bundle's ``_internal`` folder or the bundle)."""
    inner = bundle / "_internal" if (bundle / "_internal").is_dir() else bundle
    total = 0
    per_entry: dict[str, int] = {}
    for folder, _, files in os.walk(bundle):
        for name in files:
            path = Path(folder) / name
            size = path.lstat().st_size
            total += size
            try:
                top = path.relative_to(inner).parts[0]
            except ValueError:
                top = path.relative_to(bundle).parts[0]
            per_entry[top] = per_entry.get(top, 0) + size
    return total, per_entry


def time_to_window(executable: Path) -> float:
    """Seconds from starting a frozen self-test until it reports its main window shown."""
    from console_app.ui.self_test import WINDOW_SHOWN_MARKER

    with tempfile.TemporaryDirectory(prefix="sightline-bench-package-") as scratch:
        env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "QT_QPA_PLATFORM": "offscreen"}
        started = time.monotonic()
        process = subprocess.Popen([str(executable), "--self-test", str(Path(scratch) / "shot.png")],
                                   cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        shown = None
        output = []
        assert process.stdout is not None
        for line in process.stdout:  # ends when the process closes its output
            output.append(line)
            if shown is None and line.startswith(WINDOW_SHOWN_MARKER):
                shown = time.monotonic() - started
            if time.monotonic() - started > RUN_TIMEOUT_S:
                process.kill()
                break
        try:
            stderr = process.communicate(timeout=RUN_TIMEOUT_S)[1]
        except subprocess.TimeoutExpired:
            process.kill()
            stderr = process.communicate()[1]
        if process.returncode != 0 or shown is None:
            raise BenchmarkError(f"{executable} --self-test failed (exit {process.returncode}):\n"
                                 + "".join(output) + stderr)
        return shown


def measure(bundle: Path, runs: int) -> dict:
    executable = bundle / ("sightline-console.exe" if sys.platform == "win32" else "sightline-console")
    if not executable.is_file():
        raise BenchmarkError(f"no bundle at {bundle}: run `make package` (or scripts/package.sh console) first")
    total, per_entry = bundle_size(bundle)
    wait_for_quiet(20.0)
    meter = CpuMeter()
    times = [time_to_window(executable) for _ in range(runs)]
    _, others = meter.stop()
    largest = sorted(per_entry.items(), key=lambda item: -item[1])[:12]
    return {
        "bundle": str(bundle.relative_to(ROOT)) if bundle.is_relative_to(ROOT) else str(bundle),
        "bundle_mb": round(total / 1e6, 1),
        "bundle_target_mb": SIZE_TARGET_MB,
        "largest_mb": {name: round(size / 1e6, 1) for name, size in largest},
        "start_to_window_s": round(statistics.median(times), 3),
        "start_target_s": START_TARGET_S,
        "start_runs_s": [round(t, 3) for t in times],
        "others_cores_during_runs": round(others, 2),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict:
    """Measure, print two lines and write ``benchmarks/results/package.json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.package", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh starts to take the median of (default 5)")
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="the one-folder bundle (default dist/sightline-console)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    result = measure(args.bundle.resolve(), max(1, args.runs))
    write_results(args.output, result)  # type: ignore[arg-type]  # one object, not a list
    size_verdict = "within" if result["bundle_mb"] <= SIZE_TARGET_MB else "OVER"
    start_verdict = "within" if result["start_to_window_s"] <= START_TARGET_S else "OVER"
    print(f"package: bundle {result['bundle_mb']} MB unpacked ({size_verdict} the {SIZE_TARGET_MB:g} MB target); "
          f"largest: " + ", ".join(f"{k} {v}" for k, v in list(result["largest_mb"].items())[:5]))
    print(f"package: frozen start to main window {result['start_to_window_s']} s, median of {len(result['start_runs_s'])} "
          f"({start_verdict} the {START_TARGET_S:g} s target; others used {result['others_cores_during_runs']} cores)")
    return result


if __name__ == "__main__":
    try:
        main()
    except BenchmarkError as exc:
        print(f"package benchmark: {exc}", file=sys.stderr)
        sys.exit(1)
