"""How close the whole detector pipeline comes to the model's bare inference rate.

    python -m benchmarks.pipeline            # full: 3 rounds, 10 s per configuration
    python -m benchmarks.pipeline --quick    # one short round, well under a minute

On the same model (``resources/models/sightline-demo.onnx``) and the same
frames (the synthetic production line at 640x480, encoded once as H.264 into
``build/bench/``, see :mod:`benchmarks.media`) it measures:

* **bare**: ``onnxruntime.InferenceSession.run`` in a tight loop on tensors
  pre-processed once with the product's letterbox, intra-op threads = all
  physical cores, onnxruntime's defaults otherwise, on the provider the
  product would choose: the physical limit of this machine for this model;
* **pipeline**: the product's own objects. Per stream a ``FileSource``
  (``realtime=False``: real H.264 decoding, flat out) feeds a
  ``CameraWorker`` running the shared ``ModelSession`` of a
  ``ModelRegistry`` (product settings) and the ``DetectorLogic`` of
  ``resources/apps/line-safety/app.json``. Results are counted in the
  preview callback: one per frame whose detections went through the app
  logic. A newest-frame source drops frames inference cannot keep up with;
  that is right, the metric is results, not frames decoded. Latency runs
  from a frame's ``capture_time`` (set when the source publishes it) to its
  preview callback.

Bare and pipeline alternate in every round. Other processes can only slow a
measurement down, so the bare rate is the best bare loop of the invocation
and a configuration's rate its best round; before each measurement the
benchmark waits (bounded) for other processes to calm down, and each run
records the cores they used anyway (``other_cores``). Targets (the issue's):
ratio >= 0.90 for one stream; four streams together >= 1.0 x the bare
single-stream rate (1.2 x with ``--dynamic-batch``, where the four streams'
frames share batched runs). Writes ``benchmarks/results/pipeline.json`` and
prints a table.

On a GPU (``scripts/gpu-check.sh`` runs it so)::

    python -m benchmarks pipeline --providers cuda tensorrt --streams 1 4 16 \
        --size 1280x720 --dynamic-batch --output benchmarks/results/pipeline-gpu.json

``--providers`` measures each preference in turn (what actually ran is in
each run's ``provider``); ``--size`` sets the clip's frame size;
``--dynamic-batch`` uses a copy of the demo model whose batch dimension is
dynamic (made with ``onnx`` into ``build/bench/``), so cross-stream batching
(:mod:`device_runtime.inference.batching`) combines the streams' frames; each
run records the mean batch size its runs had.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.common import (
    CACHE,
    RESULTS_DIR,
    ROOT,
    BenchmarkError,
    CpuMeter,
    gpu_name,
    machine,
    wait_for_quiet,
    write_results,
)
from benchmarks.media import Clip, decode_all, make_clip
from device_runtime.apps.registry import make_logic
from device_runtime.inference import ModelRegistry, ModelSession, SessionSettings, physical_cores
from device_runtime.inference.preprocess import prepare_batch
from device_runtime.inference.providers import create_session
from device_runtime.pipeline import CameraWorker, PreviewItem
from device_runtime.protocol.apps.manifest import parse_manifest
from device_runtime.sources.file import FileSource

MODEL = ROOT / "resources" / "models" / "sightline-demo.onnx"
LABELS = MODEL.with_suffix(".labels")
APP = ROOT / "resources" / "apps" / "line-safety" / "app.json"
RESULTS = RESULTS_DIR / "pipeline.json"

# The targets: pipeline / bare for one stream, and for four streams together
# (1.2 when the four streams' frames are batched: a model with a dynamic batch dimension).
TARGETS = {1: 0.90, 4: 1.0}
BATCHED_TARGETS = {1: 0.90, 4: 1.2}
NOISY_CORES = 0.25  # other processes using more than this during a run: flagged in the table

# A file read flat out can wait until its consumers took the last frame before it
# publishes the next (``wait_for_consumers``); without that option its decoder runs
# free and spends CPU on frames that are then dropped. Runs say which was measured.
_CONSUMER_PACING = "wait_for_consumers" in inspect.signature(FileSource).parameters
SOURCE_PACING = "consumers" if _CONSUMER_PACING else "free"


@dataclass(frozen=True)
class Mode:
    """How long to measure: seconds per bare loop and per pipeline run, rounds, quiet wait."""

    bare_s: float
    pipeline_s: float
    warmup_s: float
    rounds: int
    quiet_wait_s: float  # longest wait for other processes to calm down before a measurement


QUICK = Mode(bare_s=2.0, pipeline_s=4.0, warmup_s=1.0, rounds=1, quiet_wait_s=3.0)
FULL = Mode(bare_s=5.0, pipeline_s=10.0, warmup_s=2.0, rounds=3, quiet_wait_s=15.0)


@dataclass
class Run:
    """One configuration's result, as written to pipeline.json."""

    streams: int
    pipeline_fps: float  # results per second, all streams together (best round)
    bare_fps: float  # best bare loop of the invocation
    ratio: float  # pipeline_fps / bare_fps
    latency_ms_p50: float  # capture to result, all rounds pooled
    latency_ms_p99: float
    provider: str
    model: str
    target: float | None  # the ratio target; None for stream counts it names none for
    rounds: int
    seconds_per_round: float
    source_pacing: str = SOURCE_PACING  # "free": decoder flat out; "consumers": paced by them
    stages_ms: dict[str, float] = field(default_factory=dict)  # mean cost per frame by stage
    pipeline_cores: float = 0.0  # CPU cores the pipeline kept busy (best round)
    other_cores: float = 0.0  # most cores other processes used during its measurements
    requested_provider: str = ""  # the preference measured ("" = the product's default)
    provider_warning: str = ""  # why it runs on a slower provider than requested
    frame_size: str = "640x480"
    dynamic_batch: bool = False  # the model's batch dimension is dynamic (streams batch together)
    mean_batch: float = 1.0  # images per inference run in the best round
    precision: str = "fp32"  # TensorRT engine precision where TensorRT ran
    gpu: str = ""  # the GPU's name, where there is one


# ---------------------------------------------------------------- bare loop


class BareLoop:
    """``InferenceSession.run`` in a tight loop on pre-processed tensors, all cores."""

    def __init__(
        self,
        frames: list[np.ndarray],
        input_size: tuple[int, int],
        model: Path = MODEL,
        preference: tuple[str, ...] | None = None,
    ):
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = physical_cores()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The provider the product would choose here, so GPU devices compare like with like.
        self.session, choice = create_session(
            str(model), options, preference, trt_cache_dir=CACHE / "trt-bare", fp16=True
        )
        self.provider = choice.active
        self.input_name = self.session.get_inputs()[0].name
        self.tensors = [prepare_batch([frame], input_size)[0] for frame in frames]
        for tensor in self.tensors[:10]:
            self.session.run(None, {self.input_name: tensor})

    def measure(self, seconds: float) -> tuple[float, float]:
        """(results per second, cores other processes used) over ``seconds``."""
        run, name, tensors = self.session.run, self.input_name, self.tensors
        count = 0
        meter = CpuMeter()
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            run(None, {name: tensors[count % len(tensors)]})
            count += 1
        fps = count / (time.perf_counter() - started)
        return fps, meter.stop()[1]


# ---------------------------------------------------------------- pipeline


class _Collector:
    """Records every result the workers publish; called from the worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: list[tuple[float, float, dict[str, float]]] = []  # (monotonic, ms, stages)
        self.first_result = threading.Event()

    def on_preview(self, camera_id: str, item: PreviewItem) -> None:
        latency_ms = (time.time() - item.frame.capture_time) * 1000.0
        now = time.monotonic()
        with self._lock:
            self._results.append((now, latency_ms, item.timings_ms))
        self.first_result.set()

    def between(self, start: float, end: float) -> list[tuple[float, float, dict[str, float]]]:
        with self._lock:
            return [r for r in self._results if start <= r[0] < end]


@dataclass
class PipelineSample:
    """One pipeline measurement."""

    fps: float
    own_cores: float
    other_cores: float
    latencies_ms: list[float]
    stages_ms: dict[str, float]
    mean_batch: float = 1.0


@contextmanager
def pipeline_running(
    clip: Path,
    session: ModelSession,
    streams: int,
    on_events: Callable[[str, Any, list[Any]], None] | None = None,
) -> Iterator[_Collector]:
    """``streams`` file cameras running through the product pipeline until the block ends.

    Yields once the first result is out; the collector counts every result.
    ``on_events(app_id, frame, events)`` receives the app's events (as the
    supervisor's does); unset, events are dropped.
    """
    raw = json.loads(APP.read_text())
    camera_ids = [f"bench-{index}" for index in range(streams)]
    raw["cameras"] = [{"id": c, "name": c, "url": clip.as_uri()} for c in camera_ids]
    # The clip is the first sample camera's scene: every stream gets that camera's zones and lines.
    first = next(iter(raw["params"]["geometry"].values()))
    raw["params"]["geometry"] = {c: first for c in camera_ids}
    manifest = parse_manifest(raw, source=str(APP))
    pacing = {"wait_for_consumers": True} if _CONSUMER_PACING else {}
    collector = _Collector()
    sources, workers = [], []
    try:
        for camera_id in camera_ids:
            source = FileSource(clip.as_uri(), camera_id, realtime=False, **pacing)
            sources.append(source)
            workers.append(
                CameraWorker(
                    app_id=manifest.id,
                    camera_id=camera_id,
                    source=source,
                    session=session,
                    logic=make_logic(manifest, camera_id, labels=session.labels),
                    params=lambda: manifest.live_params,
                    # The pipeline passes the frame's PreviewItem too (for snapshots); not needed here.
                    on_events=lambda frame, events, item=None: on_events and on_events(manifest.id, frame, events),
                    on_preview=collector.on_preview,
                )
            )
        for worker in workers:
            worker.start()
        for source in sources:
            source.start()
        if not collector.first_result.wait(30.0):
            errors = "; ".join(w.error for w in workers if w.error) or "no worker error"
            states = ", ".join(f"{s.stream_id}: {s.state.value} {s.state_reason}" for s in sources)
            raise BenchmarkError(f"no pipeline result within 30 s ({errors}; sources {states})")
        yield collector
    finally:
        for worker in workers:
            worker.stop()
        for source in sources:
            source.stop()


def measure_pipeline(
    clip: Path,
    session: ModelSession,
    streams: int,
    seconds: float,
    warmup_s: float,
    on_events: Callable[[str, Any, list[Any]], None] | None = None,
) -> PipelineSample:
    """Run ``streams`` file cameras through the product pipeline; count results after warm-up.

    ``on_events`` as in :func:`pipeline_running`.
    """
    with pipeline_running(clip, session, streams, on_events) as collector:
        # What is measured is a fixed window of time: there is no event to wait on.
        time.sleep(warmup_s)
        meter = CpuMeter()
        runs_before, images_before = session.batch_counts
        start = time.monotonic()
        time.sleep(seconds)
        end = time.monotonic()
        own_cores, other_cores = meter.stop()
        runs_after, images_after = session.batch_counts
    window = collector.between(start, end)
    if not window:
        raise BenchmarkError(f"{streams} stream(s): no results in the {seconds:.1f} s window")
    stages: dict[str, list[float]] = {}
    for _, _, timings in window:
        for stage, ms in timings.items():
            stages.setdefault(stage, []).append(ms)
    return PipelineSample(
        fps=len(window) / (end - start),
        own_cores=own_cores,
        other_cores=other_cores,
        latencies_ms=[latency for _, latency, _ in window],
        stages_ms={stage: round(statistics.fmean(v), 2) for stage, v in stages.items()},
        mean_batch=(images_after - images_before) / max(1, runs_after - runs_before),
    )


# ---------------------------------------------------------------- driver


def measure_all(
    streams: list[int],
    clip: Path,
    bare: BareLoop,
    session: ModelSession,
    mode: Mode,
    targets: dict[int, float] = TARGETS,
) -> list[Run]:
    """Alternate bare loop and pipeline for every stream count, ``mode.rounds`` times."""
    bare_rates: list[float] = []
    samples: dict[int, list[PipelineSample]] = {n: [] for n in streams}
    others: dict[int, list[float]] = {n: [] for n in streams}
    for _ in range(mode.rounds):
        for n in streams:
            wait_for_quiet(mode.quiet_wait_s)
            fps, bare_others = bare.measure(mode.bare_s)
            bare_rates.append(fps)
            wait_for_quiet(mode.quiet_wait_s)
            sample = measure_pipeline(clip, session, n, mode.pipeline_s, mode.warmup_s)
            samples[n].append(sample)
            others[n] += [bare_others, sample.other_cores]
    bare_fps = max(bare_rates)
    runs = []
    for n in streams:
        best = max(samples[n], key=lambda s: s.fps)
        latencies = [ms for s in samples[n] for ms in s.latencies_ms]
        runs.append(
            Run(
                streams=n,
                pipeline_fps=round(best.fps, 1),
                bare_fps=round(bare_fps, 1),
                ratio=round(best.fps / bare_fps, 3),
                latency_ms_p50=round(float(np.percentile(latencies, 50)), 1),
                latency_ms_p99=round(float(np.percentile(latencies, 99)), 1),
                provider=session.active_provider,
                model=MODEL.name,
                target=targets.get(n),
                rounds=mode.rounds,
                seconds_per_round=mode.pipeline_s,
                stages_ms=best.stages_ms,
                pipeline_cores=round(best.own_cores, 2),
                other_cores=round(max(others[n]), 2),
                provider_warning=session.provider_warning,
                mean_batch=round(best.mean_batch, 2),
                precision=session.precision,
            )
        )
    return runs


def format_table(runs: list[Run]) -> str:
    """The runs as a fixed-width text table."""
    header = (
        f"{'streams':>7} {'pipeline/s':>10} {'bare/s':>7} {'ratio':>6} {'target':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'cores':>5} {'others':>6} {'batch':>5}  verdict"
    )
    lines = [header, "-" * len(header)]
    for r in runs:
        target = "-" if r.target is None else f"{r.target:.2f}"
        verdict = "-" if r.target is None else "ok" if r.ratio >= r.target else "MISS"
        if r.other_cores > NOISY_CORES:
            verdict += " (noisy: other processes were busy)"
        lines.append(
            f"{r.streams:>7} {r.pipeline_fps:>10.1f} {r.bare_fps:>7.1f} {r.ratio:>6.2f} "
            f"{target:>6} {r.latency_ms_p50:>7.1f} {r.latency_ms_p99:>7.1f} "
            f"{r.pipeline_cores:>5.2f} {r.other_cores:>6.2f} {r.mean_batch:>5.2f}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    """Measure, print the table, write ``benchmarks/results/pipeline.json``; returns the runs."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline",
        description="Pipeline results/s against a bare onnxruntime loop on the same model and frames.",
    )
    parser.add_argument("--quick", action="store_true", help="one short round (under a minute)")
    parser.add_argument(
        "--streams", type=int, nargs="+", default=sorted(TARGETS), help="stream counts to measure"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--providers", nargs="+", default=[""], metavar="PROVIDER",
        help="provider preferences to measure in turn (cuda, tensorrt, cpu; default: the product's)",
    )
    parser.add_argument("--size", default="640x480", help="frame size of the clip, WIDTHxHEIGHT")
    parser.add_argument("--rounds", type=int, help="rounds per configuration (default: 1 quick, 3 full)")
    parser.add_argument(
        "--dynamic-batch", action="store_true",
        help="use a copy of the model with a dynamic batch dimension (streams batch together)",
    )
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.streams):
        parser.error(f"--streams: every count must be at least 1, got {args.streams}")
    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: expected WIDTHxHEIGHT such as 1280x720, got {args.size!r}")
    mode = QUICK if args.quick else FULL
    if args.rounds:
        mode = replace(mode, rounds=max(1, args.rounds))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"pipeline benchmark ({'quick' if args.quick else 'full'})", flush=True)
    gpu = gpu_name()
    print(f"machine: {machine()}; GPU: {gpu or 'none'}; onnxruntime {ort.__version__}", flush=True)
    clip = make_clip(Clip(width=width, height=height))
    model = dynamic_batch_model() if args.dynamic_batch else MODEL
    targets = BATCHED_TARGETS if args.dynamic_batch else TARGETS
    frames = decode_all(clip)[:100]
    results: list[dict] = []
    for provider in args.providers:
        preference = (provider, "cpu") if provider else None
        settings = SessionSettings(
            providers=preference,
            trt_cache_dir=str(CACHE / "trt-cache"),
            max_batch=max(8, max(args.streams)) if args.dynamic_batch else 8,
        )
        registry = ModelRegistry(settings)
        # Held for the whole measurement, so every run shares one loaded session as apps do.
        session = registry.acquire("sightline-demo", model, labels=LABELS.read_text().split())
        try:
            assert session.image_input is not None
            bare = BareLoop(frames, session.image_input.size, model, preference)
            runs = measure_all(args.streams, clip, bare, session, mode, targets)
        finally:
            registry.release(session)
        for run in runs:
            run.requested_provider = provider
            run.frame_size = f"{width}x{height}"
            run.dynamic_batch = args.dynamic_batch
            run.gpu = gpu
        print(f"requested {provider or 'default'}: provider {runs[0].provider} ({runs[0].precision}), "
              f"source pacing {SOURCE_PACING}, {mode.rounds} round(s) of {mode.pipeline_s:.0f} s")
        if runs[0].provider_warning:
            print(f"  warning: {runs[0].provider_warning}")
        print(format_table(runs), flush=True)
        results += [asdict(run) for run in runs]
    write_results(args.output, results)
    print(f"wrote {args.output}")
    return results


def dynamic_batch_model() -> Path:
    """A copy of the demo model whose batch dimension is dynamic, in ``build/bench/`` (needs onnx)."""
    path = CACHE / "sightline-demo-dynamic-batch.onnx"
    if path.is_file():
        return path
    try:
        import onnx
    except ImportError:
        raise BenchmarkError("--dynamic-batch needs the onnx package (pip install onnx)") from None
    model = onnx.load(str(MODEL))
    for value in [*model.graph.input, *model.graph.output]:
        batch = value.type.tensor_type.shape.dim[0]
        batch.ClearField("dim_value")
        batch.dim_param = "batch"
    del model.graph.value_info[:]  # inferred shapes with batch 1 would contradict it
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    onnx.save(model, str(partial))
    partial.replace(path)
    return path


if __name__ == "__main__":
    main()
