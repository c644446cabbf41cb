"""Run every benchmark: ``python -m benchmarks [--quick] [name ...]`` (what ``make bench`` does).

Each benchmark is a module run as ``python -m <module>`` that prints its
table and writes ``benchmarks/results/<name>.json``. Each runs in a process
of its own, so process-wide settings of one (OpenCV's thread count, say)
cannot change another's numbers. Add new ones to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

# name -> (module, whether it takes --quick), in the order they run.
BENCHMARKS: dict[str, tuple[str, bool]] = {
    "render": ("benchmarks.render", False),
    "pipeline": ("benchmarks.pipeline", True),
    "outputs": ("benchmarks.outputs", True),
    "discovery": ("benchmarks.discovery", False),
    "console": ("benchmarks.console", True),
    "package": ("benchmarks.package", False),  # needs `make package` first
    "panorama": ("benchmarks.panorama", True),
    "decode": ("benchmarks.decode", True),
}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (default: all) one after another; 1 if any failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run Sightline's benchmarks."
    )
    parser.add_argument("--quick", action="store_true", help="short runs where a benchmark has them")
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"any of: {', '.join(BENCHMARKS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    failed = []
    for name in args.names or list(BENCHMARKS):
        module, takes_quick = BENCHMARKS[name]
        command = [sys.executable, "-m", module] + (["--quick"] if args.quick and takes_quick else [])
        print(f"== {name}", flush=True)
        started = time.monotonic()
        if subprocess.run(command).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.monotonic() - started:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
