"""Outputs: outbox throughput to a real Mosquitto, and what three outputs cost the pipeline.

    python -m benchmarks.outputs            # 20 000 events; 100 cycles of five 1 s pipeline windows
    python -m benchmarks.outputs --quick    # 5 000 events; 6 cycles of five 1 s windows
    python -m benchmarks.outputs --quick --cycles 10   # the same with 10 cycles

* **outbox**: an outage and its end. A dispatcher with one MQTT output (QoS
  1, so every message waits for the broker's PUBACK) to a Mosquitto started
  here on 127.0.0.1, which is stopped; N events are submitted as fast as one
  thread can. ``stored/s`` is N over the time until the outbox has all of
  them on disk (SQLite WAL, synchronous=FULL). Then the broker starts again;
  from the output's first delivery after its backoff, ``drained/s`` is N over
  the time until the broker acknowledged the last one and a subscriber
  received it.
* **cpu_by_thread**: where the CPU of one event delivered to three outputs
  (MQTT QoS 1, webhook, Modbus; receivers in another process) goes, in the
  dispatcher itself (run here, in this process, to see its threads): N
  events submitted at 40/s from this thread (as a camera's would), then
  each thread's CPU time (``/proc/self/task/*/stat``) divided by N. The
  camera's share is ``submit`` (``time.thread_time`` around it). Also
  counted: messages written to disk (the outbox writes behind, so with
  healthy receivers next to none are).
* **outputs_process**: the same events through the device's
  :class:`OutputsProcess` (the dispatcher in a child process at nice 19):
  the camera thread's ``submit`` and the outputs process's CPU per event.
* **pipeline**: the product pipeline of :mod:`benchmarks.pipeline` (one
  stream, the line-safety app, the demo model) with its events fed to one
  of five configurations: none; three outputs (MQTT to Mosquitto, a
  webhook to a local HTTP server, Modbus TCP to a pymodbus server; the last
  two in a process of their own) through the device's outputs process (nice
  19, the default); the same at the cameras' priority (nice 0); the same
  three in this process with delivery threads at nice 10 (the design before
  the outputs process, for comparison); the same three failing (wrong
  password, refused connection, refused write). The receivers run at idle
  priority (``SCHED_IDLE``): on a site they run on machines of their own,
  here they would take the CPU of the device being measured (their cores
  are recorded). One pipeline runs throughout; its events go to one
  configuration at a time, switched every window, and each cycle measures
  all five (see :func:`measure_pipeline_cost`). Ratio: the trimmed mean
  over cycles of the rate with outputs over the rate without in the same
  cycle, with its standard error; the outputs process's CPU against the
  device's; and each output's delivery latency (submit to the receiver's
  confirmation). Target: with / without >= 0.98.

Writes ``benchmarks/results/outputs.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from benchmarks.media import make_clip
from benchmarks.pipeline import LABELS, MODEL, pipeline_running
from device_runtime.apps.events import AppEvent
from device_runtime.inference.registry import ModelRegistry
from device_runtime.inference.settings import SessionSettings
from device_runtime.outputs.dispatcher import OutputDispatcher, output_key
from device_runtime.outputs.process import OutputsProcess
from device_runtime.protocol.apps.manifest import parse_manifest
from tests.peers.mosquitto import PASSWORD, USER, MosquittoBroker, Subscriber, free_port

RESULTS = RESULTS_DIR / "outputs.json"
TARGET_RATIO = 0.98
SECRET = "output/mqtt/password"
CHUNK = 5000  # events submitted between waits for the outbox writer (its memory queue holds 10 000)


@dataclass(frozen=True)
class Mode:
    events: int
    window_s: float
    warmup_s: float
    cycles: int
    quiet_wait_s: float


QUICK = Mode(events=5000, window_s=1.0, warmup_s=1.0, cycles=6, quiet_wait_s=3.0)
THREAD_EVENTS = {True: 400, False: 1200}  # quick, full
FULL = Mode(events=20000, window_s=1.0, warmup_s=2.0, cycles=100, quiet_wait_s=15.0)
SETTLE_S = 0.25  # after switching configuration, before the window opens
OUTPUT_THREADS = ("output-", "outbox-writer")  # the threads that do the outputs' work (besides the camera's)


def _manifest(app_id: str, outputs: list[dict]) -> object:
    return parse_manifest(
        {
            "schema": "sightline.app/v1", "id": app_id, "name": app_id, "version": "1.0.0", "kind": "detector",
            "cameras": [{"id": "bench-0", "url": "test://pattern"}], "model": {"name": "demo"}, "outputs": outputs,
        }
    )


def _submit_all(dispatcher: OutputDispatcher, events: int) -> float:
    """Submit ``events`` line crossings as fast as one thread can; seconds spent inside ``submit``."""
    now = time.time()
    submitting = 0.0
    for n in range(events):
        event = AppEvent(type="line_crossed", time=now + n * 1e-3, app_id="bench", camera_id="bench-0",
                         label="part", track_id=n, line="exit", direction="in", count=n)
        before = time.perf_counter()
        dispatcher.submit("bench", [event])
        submitting += time.perf_counter() - before
        if n % CHUNK == CHUNK - 1:
            # Bursts beyond the in-memory queue are dropped (counted) by design, never waited
            # for; the benchmark measures the disk, so it lets the writer catch up.
            dispatcher.outbox.flush(120)
    return submitting


def measure_outbox(folder: Path, broker: MosquittoBroker, events: int) -> dict:
    """An outage and its end, through one QoS 1 MQTT output: events/s stored, then delivered from disk.

    With the broker stopped every message must reach the disk (``stored/s``:
    N over the time until the outbox has all of them committed); the broker
    then starts again and ``drained/s`` is N over the time until it
    acknowledged the last one and a subscriber received it.
    """
    subscriber = Subscriber(broker, "bench/#")
    dispatcher = OutputDispatcher(folder / "outbox-bench", device="bench", secrets={SECRET: PASSWORD}.get)
    key = output_key("bench", "mqtt")
    try:
        dispatcher.attach(_manifest("bench", [{"kind": "mqtt", "name": "mqtt", "url": f"mqtt://127.0.0.1:{broker.port}",
                                               "username": USER, "password_secret": SECRET, "topic": "bench/{event}"}]))
        broker.stop()
        started = time.perf_counter()
        submitting = _submit_all(dispatcher, events)
        if not dispatcher.outbox.flush(120):
            raise BenchmarkError("the outbox did not store the events within 120 s")
        stored = time.perf_counter() - started
        written = dispatcher.outbox.messages_written
        if written < events:
            raise BenchmarkError(f"the broker was down, yet only {written} of {events} events were stored")
        broker.start()
        # The output notices at its next retry (backoff: 0.5 s doubling); the drain counts from its first delivery.
        resumed = time.perf_counter()
        deadline = time.monotonic() + 300
        while dispatcher.outbox.counters(key).delivered == 0:
            if time.monotonic() > deadline:
                raise BenchmarkError("the output did not deliver again within 300 s of the broker's restart")
            time.sleep(0.01)
        started = time.perf_counter()
        resumed = started - resumed
        while dispatcher.outbox.counters(key).delivered < events or len(subscriber.snapshot()) < events:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"only {dispatcher.outbox.counters(key).delivered} of {events} delivered in 300 s")
            time.sleep(0.01)
        drained = time.perf_counter() - started
        dropped = dispatcher.outbox.counters(key).dropped
    finally:
        dispatcher.close()
        subscriber.close()
    return {
        "events": events,
        "submit_us_per_event": round(submitting / events * 1e6, 1),
        "dropped": dropped,
        "stored_per_s": round(events / stored, 0),
        "resumed_after_s": round(resumed, 2),
        "drained_per_s": round(events / drained, 0),
        "qos": 1,
    }


def _thread_cpu_s() -> dict[str, float]:
    """CPU seconds per thread of this process, by thread name (Linux)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    result: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        name = names.get(int(tid), f"native-{tid}")
        result[name] = result.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return result


def _idle_priority(pid: int = 0) -> None:
    """Run ``pid`` (0: this process) only on CPU time nothing else wants (Linux ``SCHED_IDLE``).

    The receivers stand in for the broker's, the PLC's and the server's own
    machines: on this one they must not take CPU from the device measured.
    """
    os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


def _start_plant() -> tuple[subprocess.Popen, dict]:
    """The plant side (HTTP receiver with keep-alive, PLC) in its own process, as on its own machine."""
    plant = subprocess.Popen([sys.executable, "-m", "tests.peers.plant_servers"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=_idle_priority)
    line = plant.stdout.readline() if plant.stdout else ""
    if not line:
        raise BenchmarkError("the plant servers process did not start")
    return plant, json.loads(line)


def _three_outputs(broker: MosquittoBroker, ports: dict) -> list[dict]:
    return [
        {"kind": "mqtt", "name": "mqtt", "url": f"mqtt://127.0.0.1:{broker.port}", "username": USER,
         "password_secret": SECRET, "topic": "bench/{camera}/{event}"},
        {"kind": "webhook", "name": "hook", "url": f"{ports['http']}/events"},
        {"kind": "modbus", "name": "plc", "host": "127.0.0.1", "port": ports["modbus"], "address": 1, "mode": "occupied"},
    ]


def _crossing(n: int) -> AppEvent:
    return AppEvent(type="line_crossed", time=time.time(), app_id="line-safety", camera_id="bench-0",
                    label="part", track_id=n, line="exit", direction="in", count=n, confidence=0.9)


def _wait_delivered(target: Any, n: int) -> None:
    """Until each of the three outputs has confirmed ``n`` messages (``target``: a dispatcher or the outputs process)."""
    deadline = time.monotonic() + 120
    while sum(s.counters.delivered >= n for s in target.statuses()) < 3:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{n} events were not delivered to the three outputs within 120 s")
        time.sleep(0.2)


def _connect(target: Any) -> None:
    """One event through, so every output is connected before anything is counted."""
    target.submit("line-safety", [_crossing(0)])
    _wait_delivered(target, 1)


def _submit_at(target: Any, events: int, rate: float) -> float:
    """Submit ``events`` line crossings at ``rate`` per second, as a camera's thread would; CPU seconds in submit."""
    submit_s = 0.0
    for n in range(1, events + 1):
        item = _crossing(n)
        started = time.thread_time()
        target.submit("line-safety", [item])
        submit_s += time.thread_time() - started
        time.sleep(1.0 / rate)
    return submit_s


def measure_thread_cpu(folder: Path, broker: MosquittoBroker, events: int, rate: float = 40.0) -> dict:
    """CPU ms per event (three outputs) on the submitting (camera) thread and on each other thread."""
    plant, ports = _start_plant()
    dispatcher = OutputDispatcher(folder / "threads", device="bench", secrets={SECRET: PASSWORD}.get)
    keys = [output_key("line-safety", name) for name in ("mqtt", "hook", "plc")]
    try:
        dispatcher.attach(_manifest("line-safety", _three_outputs(broker, ports)))
        _connect(dispatcher)
        before = _thread_cpu_s()
        submit_s = _submit_at(dispatcher, events, rate)
        _wait_delivered(dispatcher, events + 1)
        after = _thread_cpu_s()
        written = dispatcher.outbox.messages_written
    finally:
        dispatcher.close()
        if plant.stdin:
            plant.stdin.close()
        plant.wait(30)
    main_thread = threading.main_thread().name
    # The output threads always (the writer may not use one clock tick over a short run), others that ran.
    others = {name: round((cpu - before.get(name, 0.0)) / events * 1000.0, 3)
              for name, cpu in after.items()
              if name != main_thread and (name.startswith(OUTPUT_THREADS) or cpu - before.get(name, 0.0) > 0)}
    # Per output, the delivery thread and (MQTT) the client's network thread.
    grouped: dict[str, float] = {}
    for name, ms in others.items():
        group = "outbox writer" if name == "outbox-writer" else next(
            (f"output {k.split('/')[1]}" for k in keys if name.endswith(k) or k.replace("/", "-") in name), "other")
        grouped[group] = round(grouped.get(group, 0.0) + ms, 3)
    camera_ms = submit_s / events * 1000.0
    return {
        "events": events,
        "events_per_s": rate,
        "camera_thread_submit_ms_per_event": round(camera_ms, 3),
        "other_threads_ms_per_event": dict(sorted(grouped.items(), key=lambda kv: -kv[1])),
        "total_ms_per_event": round(camera_ms + sum(grouped.values()), 3),
        # Write-behind: what the three outputs confirmed in time never went to disk.
        "messages_written_to_disk": written,
        "messages": 3 * (events + 1),
    }


def measure_process_cpu(folder: Path, broker: MosquittoBroker, events: int, rate: float = 40.0) -> dict:
    """CPU ms per event (three outputs) through the device's outputs process: the camera's and the process's."""
    plant, ports = _start_plant()
    outputs = OutputsProcess(folder / "process-cpu", device="bench", secrets={SECRET: PASSWORD}.get)
    try:
        outputs.attach(_manifest("line-safety", _three_outputs(broker, ports)))
        _connect(outputs)
        before = _process_cpu_s(outputs.pid)
        submit_s = _submit_at(outputs, events, rate)
        _wait_delivered(outputs, events + 1)
        process_s = _process_cpu_s(outputs.pid) - before
    finally:
        outputs.close()
        if plant.stdin:
            plant.stdin.close()
        plant.wait(30)
    camera_ms, process_ms = submit_s / events * 1000.0, process_s / events * 1000.0
    return {
        "events": events,
        "events_per_s": rate,
        "camera_thread_submit_ms_per_event": round(camera_ms, 3),
        "outputs_process_ms_per_event": round(process_ms, 3),
        "total_ms_per_event": round(camera_ms + process_ms, 3),
    }


def measure_pipeline_cost(folder: Path, broker: MosquittoBroker, mode: Mode) -> dict:
    """Pipeline results/s with three outputs attached against none, on one running pipeline.

    The pipeline's events go to one of five configurations at a time (none,
    three outputs through the outputs process, the same at the cameras'
    priority, the same three in this process, the same three failing),
    switched every ``window_s``; each cycle measures all five in turn (in a
    shuffled order), and a ratio is the mean over cycles (the top and bottom
    10 % left out) of the rate with outputs over the rate without in the same
    cycle, with its standard error. On this shared machine the pipeline's
    rate alone jumps by 6-9 % (standard deviation) from one window to the
    next, so only many cycles pin the ratio down; separate runs minutes
    apart differed by 10 %.

    Measured in the same windows, with far less noise: the outputs process's
    CPU as a share of the device's.
    """
    clip = make_clip()
    registry = ModelRegistry(SessionSettings())
    session = registry.acquire("sightline-demo", MODEL, labels=LABELS.read_text().split())
    plant, ports = _start_plant()
    _idle_priority(broker.pid)
    try:
        outputs = _three_outputs(broker, ports)
        # The same three, failing: a wrong password, a host that refuses, a PLC that refuses the write.
        failing = [
            dict(outputs[0], password_secret="output/wrong/password"),
            dict(outputs[1], url=f"http://127.0.0.1:{free_port()}/events"),
            dict(outputs[2], address=500),
        ]
        secrets = {SECRET: PASSWORD, "output/wrong/password": "not-the-password"}
        def process(name: str, specs: list[dict], nice: int = 19) -> OutputsProcess:
            outputs_process = OutputsProcess(folder / name, device="bench", secrets=secrets.get, nice=nice)
            outputs_process.attach(_manifest("line-safety", specs))
            return outputs_process

        in_process = OutputDispatcher(folder / "in-process", device="bench", secrets=secrets.get)
        in_process.attach(_manifest("line-safety", outputs))
        configurations: dict[str, Any] = {
            "none": process("none", []),
            "three": process("three", outputs),  # the device's default: the outputs process at nice 19
            "three_same_priority": process("same", outputs, nice=0),
            "three_in_process": in_process,  # the design before the outputs process: threads at nice 10
            "three_failing": process("failing", failing),
        }
        names = list(configurations)
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpu_ms: dict[str, list[float]] = {name: [] for name in names}
        events = {name: 0 for name in names}
        others: dict[str, list[float]] = {name: [] for name in names}
        output_cpu = [0.0, 0.0]  # CPU seconds of the outputs process, of the device's, in "three" windows
        outputs_pid = configurations["three"].pid
        current = ["none"]
        order = random.Random(2026)

        def on_events(app_id, frame, items):
            name = current[0]
            events[name] += len(items)
            configurations[name].submit(app_id, items)

        try:
            wait_for_quiet(mode.quiet_wait_s)
            with pipeline_running(clip, session, 1, on_events) as collector:
                time.sleep(mode.warmup_s)
                for _ in range(mode.cycles):
                    # A new order each cycle (seeded: runs repeat it), so no configuration always
                    # follows the same one and inherits its leftovers or its place in the cycle.
                    for name in order.sample(names, len(names)):
                        current[0] = name
                        # What the previous configuration still had in hand (deliveries, the
                        # outbox's write-behind) finishes before the window opens.
                        time.sleep(SETTLE_S)
                        meter = CpuMeter()
                        outputs_before = _process_cpu_s(outputs_pid)
                        start = time.monotonic()
                        time.sleep(mode.window_s)
                        end = time.monotonic()
                        own_cores, other_cores = meter.stop()
                        others[name].append(other_cores)
                        if name == "three":
                            output_cpu[0] += _process_cpu_s(outputs_pid) - outputs_before
                            output_cpu[1] += own_cores * (end - start)
                        rate = len(collector.between(start, end)) / (end - start)
                        rates[name].append(rate)
                        # CPU this process spent per result.
                        cpu_ms[name].append(own_cores / max(rate, 1e-6) * 1000.0)
            statuses = {name: {s.name: s for s in configurations[name].statuses()}
                        for name in ("three", "three_same_priority", "three_in_process")}
            errors = {s.name: s.counters.last_error for s in configurations["three_failing"].statuses()}
        finally:
            for dispatcher in configurations.values():
                dispatcher.close()
            registry.release(session)
    finally:
        if plant.stdin:
            plant.stdin.close()
        plant.wait(30)

    def paired(name: str, values: dict[str, list[float]], invert: bool = False) -> list[float]:
        pairs = zip(values[name], values["none"], strict=True)
        return sorted((b / a) if invert else (a / b) for a, b in pairs)

    ratios, failing_ratios = paired("three", rates), paired("three_failing", rates)
    same_ratio, same_error = _trimmed_mean(paired("three_same_priority", rates))
    in_process_ratio, in_process_error = _trimmed_mean(paired("three_in_process", rates))
    cpu_ratios = paired("three", cpu_ms, invert=True)
    ratio, error = _trimmed_mean(ratios)
    measured_s = mode.cycles * mode.window_s
    return {
        "results_per_s_no_outputs": round(statistics.median(rates["none"]), 1),
        "results_per_s_three_outputs": round(statistics.median(rates["three"]), 1),
        "ratio": round(ratio, 3),
        "ratio_standard_error": round(error, 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_quartiles": [round(q, 3) for q in _quartiles(ratios)],
        "outputs_process_cpu_share": round(output_cpu[0] / max(output_cpu[1], 1e-9), 4),
        "cpu_ms_per_result_no_outputs": round(statistics.median(cpu_ms["none"]), 2),
        "cpu_ms_per_result_three_outputs": round(statistics.median(cpu_ms["three"]), 2),
        "cpu_ratio": round(_trimmed_mean(cpu_ratios)[0], 3),
        # Cores the receivers (and anything else on the machine) used meanwhile, at idle priority.
        "other_cores_no_outputs": round(statistics.median(others["none"]), 3),
        "other_cores_three_outputs": round(statistics.median(others["three"]), 3),
        "ratio_same_priority": round(same_ratio, 3),
        "ratio_same_priority_standard_error": round(same_error, 3),
        "ratio_in_process": round(in_process_ratio, 3),
        "ratio_in_process_standard_error": round(in_process_error, 3),
        # Submit to the receiver's confirmation, per output, over its last 1000 messages.
        "delivery_latency_ms": {name: {output: s.latency_ms for output, s in by_output.items()}
                                for name, by_output in statuses.items()},
        "results_per_s_three_failing_outputs": round(statistics.median(rates["three_failing"]), 1),
        "ratio_failing": round(_trimmed_mean(failing_ratios)[0], 3),
        "failing_outputs_errors": errors,
        "target": TARGET_RATIO,
        "events_per_s": round(events["three"] / measured_s, 1),
        "delivered": {name: s.counters.delivered for name, s in statuses["three"].items()},
        "cycles": mode.cycles,
        "seconds_per_window": mode.window_s,
        "provider": session.active_provider,
    }


def _process_cpu_s(pid: int | None) -> float:
    """CPU seconds process ``pid`` has used (Linux; 0 when it is not running)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _trimmed_mean(values: list[float], cut: float = 0.1) -> tuple[float, float]:
    """The mean of ``values`` without the top and bottom ``cut``, and its standard error."""
    ordered = sorted(values)
    k = int(len(ordered) * cut)
    kept = ordered[k : len(ordered) - k] or ordered
    error = statistics.stdev(kept) / len(kept) ** 0.5 if len(kept) > 1 else 0.0
    return statistics.fmean(kept), error


def _quartiles(values: list[float]) -> tuple[float, float]:
    """The first and third quartile: how far the cycles' ratios spread."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outputs", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, one short round")
    parser.add_argument("--cycles", type=int, default=0, help="pipeline cycles, one window per configuration each (default: the mode's)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    if args.cycles > 0:
        mode = dataclasses.replace(mode, cycles=args.cycles)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    print(f"outputs benchmark ({'quick' if args.quick else 'full'})", flush=True)
    print(f"machine: {machine()}; onnxruntime {ort.__version__}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sightline-bench-outputs-") as tmp:
        folder = Path(tmp)
        with MosquittoBroker(folder / "mosquitto") as broker:
            outbox = measure_outbox(folder, broker, mode.events)
            threads = measure_thread_cpu(folder, broker, THREAD_EVENTS[args.quick])
            process = measure_process_cpu(folder, broker, THREAD_EVENTS[args.quick])
            pipeline = measure_pipeline_cost(folder, broker, mode)
    verdict = "ok" if pipeline["ratio"] >= TARGET_RATIO else "MISS"
    print(f"outbox: {outbox['events']} events, submit {outbox['submit_us_per_event']} us/event; broker down: "
          f"stored {outbox['stored_per_s']:.0f}/s; broker back: delivered from disk (QoS 1) {outbox['drained_per_s']:.0f}/s")
    print(f"CPU per event to three outputs: camera thread {threads['camera_thread_submit_ms_per_event']} ms, "
          f"total {threads['total_ms_per_event']} ms; other threads: {threads['other_threads_ms_per_event']}; "
          f"{threads['messages_written_to_disk']} of {threads['messages']} messages written to disk")
    print(f"the same through the outputs process: camera thread {process['camera_thread_submit_ms_per_event']} ms, "
          f"outputs process {process['outputs_process_ms_per_event']} ms per event")
    print(f"pipeline: {pipeline['results_per_s_no_outputs']} results/s without outputs, "
          f"{pipeline['results_per_s_three_outputs']} with three; ratio {pipeline['ratio']:.3f} "
          f"± {pipeline['ratio_standard_error']:.3f} (target {TARGET_RATIO}) {verdict}; "
          f"{pipeline['events_per_s']} events/s; the outputs process used {pipeline['outputs_process_cpu_share']:.1%} "
          f"of the device's CPU")
    print(f"CPU per result: {pipeline['cpu_ms_per_result_no_outputs']} ms without outputs, "
          f"{pipeline['cpu_ms_per_result_three_outputs']} ms with three (ratio {pipeline['cpu_ratio']:.3f})")
    print(f"pipeline with the outputs process at the cameras' priority: ratio "
          f"{pipeline['ratio_same_priority']:.3f} ± {pipeline['ratio_same_priority_standard_error']:.3f}; "
          f"with the outputs in the device's process (threads at nice 10): ratio "
          f"{pipeline['ratio_in_process']:.3f} ± {pipeline['ratio_in_process_standard_error']:.3f}")
    print(f"delivery latency (ms): {pipeline['delivery_latency_ms']}")
    print(f"pipeline with the three outputs failing: {pipeline['results_per_s_three_failing_outputs']} results/s, "
          f"ratio {pipeline['ratio_failing']:.3f}; their errors: {pipeline['failing_outputs_errors']}")
    results = {"machine": machine(), "outbox": outbox, "cpu_by_thread": threads, "outputs_process": process,
               "pipeline": pipeline}
    write_results(args.output, results)
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
