"""What running a Panorama app in its own process costs, against bare onnxruntime and a detector app.

    python -m benchmarks.panorama            # 10 s per measurement
    python -m benchmarks.panorama --quick    # 3 s per measurement

On the demo model (``resources/models/sightline-demo.onnx``) and one
1280x720 camera that always has a new frame ready (the same picture with a
new sequence number, published about every millisecond, so no measurement
waits for a camera), it measures:

* **bare**: in this process, the app's own preprocessing (``cv2.resize`` to
  the model's input, CHW float32) plus ``onnxruntime.InferenceSession.run``
  in a tight loop (CPU, no thread spinning, like the product's sessions): the
  cost of the work itself;
* **panorama**: a Panorama-style app (subclass of ``panoramasdk.node``) in
  its code-node process: ``get()`` the frame, preprocess, ``call()`` the
  model on the runtime's shared session, ``put()`` the frame to the display.
  The app times each step; the runtime reports the model run of each call.
  The *overhead per frame* is what the process boundary adds: ``get``
  (frame copied into shared memory and the reply) + the call's round trip
  (app's call time minus that call's model run) + ``put``, medians over
  the measured frames. The issue's target: ≤ 2 ms;
* **detector**: a detector app (``CameraWorker`` with the product's logic)
  on the same session and camera: results per second. Target: the code app
  delivers ≥ 0.85 x as many;
* **idle memory**: resident and proportional set size of a code-node
  process that waits in ``get()`` for a camera that sends nothing.

Writes ``benchmarks/results/panorama.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from benchmarks.common import (
    RESULTS_DIR,
    ROOT,
    BenchmarkError,
    CpuMeter,
    machine,
    wait_for_quiet,
    write_results,
)
from device_runtime.apps.registry import make_logic
from device_runtime.inference import ModelRegistry
from device_runtime.panorama.app_host import PanoramaAppHost, StreamBinding
from device_runtime.panorama.node_process import OutputMedia
from device_runtime.pipeline import CameraWorker, PreviewItem
from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.protocol.panorama.project import load_project
from device_runtime.types import Frame, StreamState

MODEL = ROOT / "resources" / "models" / "sightline-demo.onnx"
LABELS = MODEL.with_suffix(".labels")
APP = ROOT / "resources" / "apps" / "line-safety" / "app.json"
RESULTS = RESULTS_DIR / "panorama.json"
WIDTH, HEIGHT = 1280, 720
TARGET_OVERHEAD_MS = 2.0
TARGET_RATIO = 0.85

BENCH_APP = '''
import json, os, time
import cv2
import numpy as np
import panoramasdk

class Bench(panoramasdk.node):
    def __init__(self):
        self.times = {"get": [], "preprocess": [], "call": [], "model": [], "put": []}

    def run(self):
        last = time.monotonic()
        while True:
            t0 = time.perf_counter()
            streams = self.inputs.video_in.get()
            t1 = time.perf_counter()
            x = cv2.resize(streams[0].image, ({W}, {H})).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            t2 = time.perf_counter()
            outputs = self.call({"images": x}, "model_node")
            t3 = time.perf_counter()
            streams[0].add_rect(0.1, 0.1, 0.2, 0.2)
            self.outputs.video_out.put(streams)
            t4 = time.perf_counter()
            for key, a, b in (("get", t0, t1), ("preprocess", t1, t2), ("call", t2, t3), ("put", t3, t4)):
                self.times[key].append((b - a) * 1000.0)
            self.times["model"].append(panoramasdk._call_stats.model_ms)
            if time.monotonic() - last > 0.5:
                last = time.monotonic()
                with open("/opt/aws/panorama/storage/times.json.tmp", "w") as f:
                    json.dump(self.times, f)
                os.replace("/opt/aws/panorama/storage/times.json.tmp", "/opt/aws/panorama/storage/times.json")

Bench().run()
'''

IDLE_APP = '''
import panoramasdk
node = panoramasdk.node()
while True:
    node.inputs.video_in.get()
'''


class _Subscription:
    """A new frame (same pixels, next seq) every millisecond at most; none when ``silent``."""

    def __init__(self, image: np.ndarray, silent: bool):
        self._image = image
        self._silent = silent
        self._seq = 0
        self._last = 0.0
        self._closed = threading.Event()
        self.dropped = 0

    def get(self, timeout: float | None = None) -> Frame | None:
        if self._silent:
            self._closed.wait(timeout if timeout is not None else 0.5)
            return None
        # A camera at 1000 fps: a consumer slower than that never waits, a faster one (the code
        # node's feed thread) waits for the next millisecond instead of spinning.
        due = self._last + 0.001 - time.monotonic()
        if due > 0 and self._closed.wait(due):
            return None
        if self._closed.is_set():
            return None
        self._last = time.monotonic()
        self._seq += 1
        return Frame(self._image, stream_id="bench", seq=self._seq)

    def close(self) -> None:
        self._closed.set()


class FlatOutSource:
    """A stand-in camera whose newest frame is always fresh: measures the app, not the camera."""

    def __init__(self, image: np.ndarray, silent: bool = False):
        self.image = image
        self.silent = silent
        self.url = "bench://flat-out"
        self.state = StreamState.LIVE
        self.state_reason = ""
        self.camera_fps = 1000.0
        self.width, self.height = image.shape[1], image.shape[0]

    def subscribe(self, name: str) -> _Subscription:
        return _Subscription(self.image, self.silent)


class FlatOutPool:
    """The SourcePool surface the app host uses, over one :class:`FlatOutSource`."""

    def __init__(self, source: FlatOutSource):
        self.source = source

    def acquire(self, camera_id: str, url: str, user: str) -> FlatOutSource:
        return self.source

    def release(self, camera_id: str, user: str) -> None:
        pass


def bench_image() -> np.ndarray:
    """A 1280x720 frame of the synthetic production line (any picture serves; this one is realistic)."""
    rng = np.random.default_rng(7)
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(0, WIDTH - 120)), int(rng.integers(0, HEIGHT - 120))
        cv2.rectangle(image, (x, y), (x + 100, y + 80), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return image


def preprocess(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return cv2.resize(image, (width, height)).astype(np.float32).transpose(2, 0, 1)[None] / 255.0


def measure_bare(image: np.ndarray, size: tuple[int, int], seconds: float) -> dict[str, float]:
    """Preprocess + ``InferenceSession.run`` in a loop; onnxruntime's defaults but no spinning (as the product)."""
    options = ort.SessionOptions()
    # Spinning threads would measure the machine's other load more than the model on a shared box.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for _ in range(5):
        session.run(None, {name: preprocess(image, size)})
    pre, run = [], []
    meter = CpuMeter()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        x = preprocess(image, size)
        t1 = time.perf_counter()
        session.run(None, {name: x})
        t2 = time.perf_counter()
        pre.append((t1 - t0) * 1000.0)
        run.append((t2 - t1) * 1000.0)
    total = [a + b for a, b in zip(pre, run, strict=True)]
    return {
        "fps": round(len(total) / seconds, 1),
        "preprocess_ms": round(statistics.median(pre), 3),
        "run_ms": round(statistics.median(run), 3),
        "frame_ms": round(statistics.median(total), 3),
        "other_cores": round(meter.stop()[1], 2),
    }


def write_bench_project(root: Path, app: str, size: tuple[int, int]) -> Path:
    """A Panorama project around the demo model; the app source is ``app``."""
    from tests.device_runtime.panorama.fixture_apps import ACCOUNT, MODEL_PKG, write_project  # noqa: PLC0415

    write_project(root, app, model_shape=[1, 3, size[1], size[0]])
    shutil.copy(MODEL, root / "packages" / f"{ACCOUNT}-{MODEL_PKG}-1.0" / "model.onnx")
    return root


def _run_app(
    app: str, image: np.ndarray, size: tuple[int, int], session: Any, seconds: float, warmup_s: float,
    work: Path, silent: bool = False,
) -> tuple[PanoramaAppHost, list[float], dict[str, Any]]:
    project = load_project(write_bench_project(work / "project", app, size))
    puts: list[float] = []

    def on_output(item: OutputMedia) -> None:
        puts.append(time.monotonic())

    host = PanoramaAppHost(
        "bench", project, streams=[StreamBinding("camera_node", "bench", "bench://flat-out")],
        sources=FlatOutPool(FlatOutSource(image, silent)), models={"model_node": session},
        params=project.parameter_values(), data_dir=work / "data", on_output=on_output,
    )
    host.start()
    extra: dict[str, Any] = {}
    try:
        node = host.nodes[0]
        if silent:
            deadline = time.monotonic() + 30
            while not node.used_sdk.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(warmup_s)
            extra["memory"] = process_memory(node.pid)
            return host, puts, extra
        deadline = time.monotonic() + 60
        while not puts and time.monotonic() < deadline:
            time.sleep(0.05)
        if not puts:
            raise BenchmarkError(f"the code app put nothing within 60 s: {node.last_traceback or node.state}")
        time.sleep(warmup_s)
        calls0, call_ms0 = node.stats.calls, node.stats.call_ms
        meter = CpuMeter()
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        extra["cores"] = meter.stop()
        extra["window"] = (start, end)
        extra["runtime_call_ms"] = (node.stats.call_ms - call_ms0) / max(node.stats.calls - calls0, 1)
        time.sleep(0.7)  # the app writes its timings every 0.5 s
        extra["app_times"] = json.loads((work / "data" / "storage" / "times.json").read_text())
        return host, puts, extra
    finally:
        host.stop()


def process_memory(pid: int | None) -> dict[str, float]:
    """Resident and proportional set size of ``pid`` in MiB (Linux /proc)."""
    if pid is None:
        raise BenchmarkError("the idle code node is not running")
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            values[key] = int(rest.split()[0]) / 1024.0
    return {
        "rss_mib": round(values.get("Rss", 0.0), 1),
        "pss_mib": round(values.get("Pss", 0.0), 1),
        "private_mib": round(values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0), 1),
    }


def measure_detector(image: np.ndarray, session: Any, seconds: float, warmup_s: float) -> tuple[float, float]:
    """Results per second of the product's detector worker on the same session and camera, and the
    cores other processes used meanwhile. Its frames go through the whole detector path (letterbox,
    decode, NMS at the app's confidence, tracking, zones and lines), the code app's only through
    its own resize and the raw model."""
    manifest = parse_manifest(json.loads(APP.read_text()), source=str(APP))
    camera_id = manifest.camera_ids()[0]
    times: list[float] = []

    def on_preview(camera: str, item: PreviewItem) -> None:
        times.append(time.monotonic())

    worker = CameraWorker(
        app_id=manifest.id, camera_id=camera_id, source=FlatOutSource(image), session=session,
        logic=make_logic(manifest, camera_id, labels=session.labels), params=lambda: manifest.live_params,
        on_events=lambda frame, events: None, on_preview=on_preview,
    )
    worker.start()
    try:
        time.sleep(warmup_s)
        meter = CpuMeter()
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        others = meter.stop()[1]
    finally:
        worker.stop()
    return sum(1 for t in times if start <= t < end) / (end - start), others


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.panorama", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measurement instead of 10")
    args = parser.parse_args(argv)
    seconds, warmup, quiet = (3.0, 1.0, 3.0) if args.quick else (10.0, 2.0, 15.0)
    image = bench_image()
    probe = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    _, _, in_h, in_w = probe.get_inputs()[0].shape
    size = (int(in_w), int(in_h))
    registry = ModelRegistry(providers=["cpu"])
    labels = LABELS.read_text().split()
    session = registry.acquire("sightline-demo", MODEL, labels=labels)
    work = Path(tempfile.mkdtemp(prefix="bench-panorama-"))
    try:
        wait_for_quiet(quiet)
        bare = measure_bare(image, size, seconds)
        wait_for_quiet(quiet)
        app = BENCH_APP.replace("{W}", str(size[0])).replace("{H}", str(size[1]))
        _, puts, extra = _run_app(app, image, size, session, seconds, warmup, work / "run")
        start, end = extra["window"]
        app_fps = sum(1 for t in puts if start <= t < end) / (end - start)
        # Medians of the later half of the frames (after warm-up); the round trip per call is
        # the app's call time minus the model time the runtime reported for that very call.
        recent = {key: values[-max(10, len(values) // 2):] for key, values in extra["app_times"].items()}
        times = {key: statistics.median(values) for key, values in recent.items()}
        round_trip = statistics.median(c - m for c, m in zip(recent["call"], recent["model"], strict=True))
        overhead = times["get"] + round_trip + times["put"]
        wait_for_quiet(quiet)
        detector_fps, detector_others = measure_detector(image, session, seconds, warmup)
        _, _, idle = _run_app(IDLE_APP, image, size, session, seconds, warmup, work / "idle", silent=True)
    finally:
        registry.release(session)
        registry.close()
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "machine": machine(),
        "provider": "CPUExecutionProvider",
        "model": MODEL.name,
        "frame": f"{WIDTH}x{HEIGHT}",
        "seconds_per_measurement": seconds,
        "bare": bare,
        "panorama": {
            "fps": round(app_fps, 1),
            "app_ms": {key: round(value, 3) for key, value in times.items()},
            "runtime_model_ms": round(times["model"], 3),
            "call_round_trip_ms": round(round_trip, 3),
            "overhead_ms": round(overhead, 3),
            "overhead_target_ms": TARGET_OVERHEAD_MS,
            "runtime_cores": round(extra["cores"][0], 2),
            "other_cores_incl_code_node": round(extra["cores"][1], 2),
        },
        "detector_fps": round(detector_fps, 1),
        "detector_other_cores": round(detector_others, 2),
        "ratio_vs_detector": round(app_fps / max(detector_fps, 1e-6), 3),
        "ratio_target": TARGET_RATIO,
        "idle_code_node_memory": idle["memory"],
    }
    write_results(RESULTS, [result])
    p = result["panorama"]
    print(f"machine: {result['machine']}")
    print(f"bare onnxruntime (preprocess + run, {WIDTH}x{HEIGHT}): {bare['fps']} fps, {bare['frame_ms']} ms/frame")
    print(f"code app: {p['fps']} results/s; per frame get {p['app_ms']['get']} ms, preprocess {p['app_ms']['preprocess']} ms, "
          f"call {p['app_ms']['call']} ms (model {p['runtime_model_ms']} ms), put {p['app_ms']['put']} ms")
    print(f"overhead per frame: {p['overhead_ms']} ms (target <= {TARGET_OVERHEAD_MS} ms)")
    print(f"detector app: {result['detector_fps']} results/s; code app / detector = {result['ratio_vs_detector']} (target >= {TARGET_RATIO})")
    print(f"idle code node: {idle['memory']}")
    return result


if __name__ == "__main__":
    main()
