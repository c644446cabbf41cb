"""CPU per 1080p camera stream: the OpenCV backend against the GStreamer backend, side by side.

    python -m benchmarks.decode              # 3 rounds of 12 s
    python -m benchmarks.decode --quick      # 1 round of 6 s

One RTSP camera (tests/peers/rtsp_server.py, GStreamer's RTSP server) serves
a pre-encoded 1920x1080 H.264 clip of the synthetic production line at
25 fps, in real time, without encoding anything itself. Every round starts
one worker process per backend *at the same time* (same stream, same moment,
same noise from other processes); each opens the product's source
(``open_source(url, backend=...)``), consumes every frame it publishes, and
measures its own process's CPU time over the round, after a warm-up.
``cpu_ms_per_frame`` is that CPU time per frame received (receive, decode,
convert to BGR, publish); ``cores_per_stream`` is the same at the camera's
25 fps (1.0 = one core fully busy). Per frame, so that a busy machine, where
a worker falls behind the camera, still gives the cost of a frame
(``cores_measured`` and ``fps`` say what it really used and got).

Workers: ``opencv`` (FFmpeg in OpenCV), ``gstreamer-software``
(``avdec_h264``) and, where a hardware decoder element is present,
``gstreamer-hardware`` (the decoder the backend picks). Results go to
``benchmarks/results/decode.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import (
    RESULTS_DIR,
    BenchmarkError,
    CpuMeter,
    machine,
    wait_for_quiet,
    write_results,
)
from benchmarks.media import Clip, make_clip

CLIP = Clip(frames=500, width=1920, height=1080, fps=25, seed=7)  # 20 s: longer than any round
WARM_UP_S = 2.0


def worker(backend: str, url: str, seconds: float, warm_up_s: float = WARM_UP_S) -> dict:
    """Run one source for ``warm_up_s + seconds``; its CPU and frames over the last ``seconds``."""
    from device_runtime.sources import open_source

    options: dict[str, object] = {"read_timeout_s": 5.0}
    if backend == "opencv":
        options["backend"] = "opencv"
    else:
        options["backend"] = "gstreamer"
        options["decoder"] = "software" if backend == "gstreamer-software" else ""
    source = open_source(url, backend, **options)
    frames = source.subscribe("bench")
    source.start()
    try:
        first = frames.get(timeout=15)
        if first is None:
            raise BenchmarkError(f"{backend}: no frame within 15 s ({source.state.value}: {source.state_reason})")
        warm_until = time.monotonic() + warm_up_s
        while time.monotonic() < warm_until:
            frames.get(timeout=1)
        meter = CpuMeter()
        read_before = source.frames_read
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            frames.get(timeout=1)
        cores, others = meter.stop()
        received = source.frames_read - read_before
        if received == 0:
            raise BenchmarkError(f"{backend}: no frame in {seconds} s ({source.state.value}: {source.state_reason})")
        cpu_ms_per_frame = cores * seconds * 1000.0 / received
        return {
            "backend": backend,
            "decoder": source.decoder,
            "cpu_ms_per_frame": round(cpu_ms_per_frame, 2),
            "cores_per_stream": round(cpu_ms_per_frame * CLIP.fps / 1000.0, 3),
            "cores_measured": round(cores, 3),
            "fps": round(received / seconds, 1),
            "frames": received,
            "width": source.width,
            "height": source.height,
            "other_cores": round(others, 2),
        }
    finally:
        source.stop()


def backends_to_run() -> list[str]:
    """opencv and GStreamer software always; GStreamer hardware where a decoder element exists."""
    from device_runtime.sources.gst_support import gstreamer_status, hardware_decoder_present

    status = gstreamer_status()
    if not status.available:
        raise BenchmarkError(f"GStreamer backend unavailable: {status.reason}")
    names = ["opencv", "gstreamer-software"]
    if hardware_decoder_present():
        names.append("gstreamer-hardware")
    return names


def run_round(url: str, backends: list[str], seconds: float) -> list[dict]:
    """All workers at once, one process each; their results."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.decode", "--worker", name, "--url", url, "--seconds", str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in backends
    ]
    results = []
    for name, process in zip(backends, processes, strict=True):
        out, err = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise BenchmarkError(f"worker {name} failed: {err.strip()[-800:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 6 s")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "decode.json")
    parser.add_argument("--backends", nargs="+", help="a subset of the workers (default: all that can run here)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.url, args.seconds)))
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    seconds = args.seconds or (6.0 if args.quick else 12.0)
    if seconds + WARM_UP_S + 3 > CLIP.frames / CLIP.fps:
        raise BenchmarkError(f"a round of {seconds} s is longer than the {CLIP.frames / CLIP.fps:.0f} s clip")

    from tests.peers.rtsp_server import RtspServer

    clip = make_clip(CLIP)
    backends = args.backends or backends_to_run()
    rows: list[dict] = []
    with RtspServer(media_file=str(clip)) as camera:
        for number in range(rounds):
            wait_for_quiet(3 if args.quick else 15)
            for row in run_round(camera.url, backends, seconds):
                row["round"] = number + 1
                rows.append(row)
                print(
                    f"round {number + 1}  {row['backend']:<20} {row['decoder']:<16} "
                    f"{row['cpu_ms_per_frame']:6.2f} ms/frame = {row['cores_per_stream']:.2f} cores at 25 fps"
                    f"  (got {row['fps']:4.1f} fps)  "
                    f"(others used {row['other_cores']:.2f} cores)",
                    flush=True,
                )
    summary = {
        "benchmark": "decode",
        "machine": machine(),
        "clip": f"{CLIP.width}x{CLIP.height} H.264 {CLIP.fps} fps (synthetic production line, libx264 veryfast)",
        "seconds_per_round": seconds,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": rows,
        "best": {
            name: min((r for r in rows if r["backend"] == name), key=lambda r: r["cores_per_stream"])
            for name in backends
        },
    }
    write_results(args.output, [summary])
    print(f"wrote {args.output}")
    for name, row in summary["best"].items():
        print(f"best {name:<20} {row['cores_per_stream']:.2f} cores per 1080p25 stream ({row['cpu_ms_per_frame']:.2f} ms/frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
