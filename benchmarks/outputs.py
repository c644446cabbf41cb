"""Outputs: outbox throughput to a real Mosquitto, and what three outputs cost the pipeline.

    python -m benchmarks.outputs            # 20 000 events; 5 rounds of 10 s per pipeline configuration
    python -m benchmarks.outputs --quick    # 5 000 events; 1 round of 4 s

* **outbox**: a dispatcher with one MQTT output (QoS 1, so every message waits
  for the broker's PUBACK) to a Mosquitto started here on 127.0.0.1. N events
  are submitted as fast as one thread can; ``persisted/s`` is N over the time
  until the outbox reports all of them on disk (SQLite WAL, synchronous=FULL),
  ``delivered/s`` N over the time until the broker acknowledged the last one
  and a subscriber received it.
* **pipeline**: the product pipeline of :mod:`benchmarks.pipeline` (one
  stream, the line-safety app, the demo model) with its events fed to an
  :class:`OutputDispatcher` that has three outputs attached (MQTT to
  Mosquitto, a webhook to a local HTTP server, Modbus TCP to a pymodbus
  server; the last two in a process of their own), the same three failing
  (wrong password, refused connection, refused write), and none. Rounds
  alternate; each configuration's best round counts. Target: with / without
  >= 0.98.

Writes ``benchmarks/results/outputs.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from benchmarks.common import (
    RESULTS_DIR,
    ROOT,
    BenchmarkError,
    machine,
    wait_for_quiet,
    write_results,
)
from benchmarks.media import make_clip
from benchmarks.pipeline import LABELS, MODEL, measure_pipeline
from device_runtime.apps.events import AppEvent
from device_runtime.inference.registry import ModelRegistry
from device_runtime.inference.settings import SessionSettings
from device_runtime.outputs.dispatcher import OutputDispatcher, output_key
from device_runtime.protocol.apps.manifest import parse_manifest
from tests.peers.mosquitto import PASSWORD, USER, MosquittoBroker, Subscriber, free_port

RESULTS = RESULTS_DIR / "outputs.json"
TARGET_RATIO = 0.98
SECRET = "output/mqtt/password"
CHUNK = 5000  # events submitted between waits for the outbox writer (its memory queue holds 10 000)


@dataclass(frozen=True)
class Mode:
    events: int
    pipeline_s: float
    warmup_s: float
    rounds: int
    quiet_wait_s: float


QUICK = Mode(events=5000, pipeline_s=4.0, warmup_s=1.0, rounds=1, quiet_wait_s=3.0)
FULL = Mode(events=20000, pipeline_s=10.0, warmup_s=2.0, rounds=5, quiet_wait_s=15.0)


def _manifest(app_id: str, outputs: list[dict]) -> object:
    return parse_manifest(
        {
            "schema": "sightline.app/v1", "id": app_id, "name": app_id, "version": "1.0.0", "kind": "detector",
            "cameras": [{"id": "bench-0", "url": "test://pattern"}], "model": {"name": "demo"}, "outputs": outputs,
        }
    )


def measure_outbox(folder: Path, broker: MosquittoBroker, events: int) -> dict:
    """Events/s persisted and delivered (PUBACK + received) through one QoS 1 MQTT output."""
    subscriber = Subscriber(broker, "bench/#")
    dispatcher = OutputDispatcher(folder / "outbox-bench", device="bench", secrets={SECRET: PASSWORD}.get)
    try:
        dispatcher.attach(_manifest("bench", [{"kind": "mqtt", "name": "mqtt", "url": f"mqtt://127.0.0.1:{broker.port}",
                                               "username": USER, "password_secret": SECRET, "topic": "bench/{event}"}]))
        now = time.time()
        started = time.perf_counter()
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
        if not dispatcher.outbox.flush(120):
            raise BenchmarkError("the outbox did not persist the events within 120 s")
        persisted = time.perf_counter() - started
        key = output_key("bench", "mqtt")
        deadline = time.monotonic() + 300
        while dispatcher.outbox.counters(key).delivered < events or len(subscriber.snapshot()) < events:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"only {dispatcher.outbox.counters(key).delivered} of {events} delivered in 300 s")
            time.sleep(0.01)
        delivered = time.perf_counter() - started
        dropped = dispatcher.outbox.counters(key).dropped
    finally:
        dispatcher.close()
        subscriber.close()
    return {
        "events": events,
        "submit_us_per_event": round(submitting / events * 1e6, 1),
        "dropped": dropped,
        "persisted_per_s": round(events / persisted, 0),
        "delivered_per_s": round(events / delivered, 0),
        "qos": 1,
    }


def measure_pipeline_cost(folder: Path, broker: MosquittoBroker, mode: Mode) -> dict:
    """Pipeline results/s with three outputs attached against none, alternating rounds."""
    clip = make_clip()
    registry = ModelRegistry(SessionSettings())
    session = registry.acquire("sightline-demo", MODEL, labels=LABELS.read_text().split())
    # The plant side (HTTP receiver, PLC) runs in its own process, as on its own machine.
    plant = subprocess.Popen([sys.executable, "-m", "tests.peers.plant_servers"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = plant.stdout.readline() if plant.stdout else ""
        if not line:
            raise BenchmarkError("the plant servers process did not start")
        ports = json.loads(line)
        outputs = [
            {"kind": "mqtt", "name": "mqtt", "url": f"mqtt://127.0.0.1:{broker.port}", "username": USER,
             "password_secret": SECRET, "topic": "bench/{camera}/{event}"},
            {"kind": "webhook", "name": "hook", "url": f"{ports['http']}/events"},
            {"kind": "modbus", "name": "plc", "host": "127.0.0.1", "port": ports["modbus"], "address": 1, "mode": "occupied"},
        ]
        # The same three, failing: a wrong password, a host that refuses, a PLC that refuses the write.
        failing = [
            dict(outputs[0], password_secret="output/wrong/password"),
            dict(outputs[1], url=f"http://127.0.0.1:{free_port()}/events"),
            dict(outputs[2], address=500),
        ]
        secrets = {SECRET: PASSWORD, "output/wrong/password": "not-the-password"}
        with_outputs = OutputDispatcher(folder / "with", device="bench", secrets=secrets.get)
        with_failing = OutputDispatcher(folder / "failing", device="bench", secrets=secrets.get)
        without = OutputDispatcher(folder / "without", device="bench")
        with_outputs.attach(_manifest("line-safety", outputs))
        with_failing.attach(_manifest("line-safety", failing))
        without.attach(_manifest("line-safety", []))
        configurations = (("none", without), ("three", with_outputs), ("three_failing", with_failing))
        rates: dict[str, list[float]] = {name: [] for name, _ in configurations}
        cpu_ms: dict[str, list[float]] = {name: [] for name, _ in configurations}
        events = {name: 0 for name, _ in configurations}
        try:
            for _ in range(mode.rounds):
                for name, dispatcher in configurations:
                    counted = [0]

                    def on_events(app_id, frame, items, dispatcher=dispatcher, counted=counted):
                        counted[0] += len(items)
                        dispatcher.submit(app_id, items)

                    wait_for_quiet(mode.quiet_wait_s)
                    sample = measure_pipeline(clip, session, 1, mode.pipeline_s, mode.warmup_s, on_events=on_events)
                    rates[name].append(sample.fps)
                    # CPU this process spent per result: far less disturbed by other processes than a rate.
                    cpu_ms[name].append(sample.own_cores / max(sample.fps, 1e-6) * 1000.0)
                    events[name] += counted[0]
            statuses = {s.name: s.counters for s in with_outputs.statuses()}
            errors = {s.name: s.counters.last_error for s in with_failing.statuses()}
        finally:
            with_outputs.close()
            with_failing.close()
            without.close()
            registry.release(session)
    finally:
        if plant.stdin:
            plant.stdin.close()
        plant.wait(30)
    none, three, broken = max(rates["none"]), max(rates["three"]), max(rates["three_failing"])
    return {
        "results_per_s_no_outputs": round(none, 1),
        "results_per_s_three_outputs": round(three, 1),
        "ratio": round(three / none, 3),
        "cpu_ms_per_result_no_outputs": round(min(cpu_ms["none"]), 2),
        "cpu_ms_per_result_three_outputs": round(min(cpu_ms["three"]), 2),
        "cpu_ratio": round(min(cpu_ms["none"]) / min(cpu_ms["three"]), 3),
        "results_per_s_three_failing_outputs": round(broken, 1),
        "ratio_failing": round(broken / none, 3),
        "failing_outputs_errors": errors,
        "target": TARGET_RATIO,
        "events_per_round": round(events["three"] / mode.rounds, 1),
        "delivered": {name: c.delivered for name, c in statuses.items()},
        "rounds": mode.rounds,
        "seconds_per_round": mode.pipeline_s,
        "provider": session.active_provider,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outputs", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, one short round")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    print(f"outputs benchmark ({'quick' if args.quick else 'full'})", flush=True)
    print(f"machine: {machine()}; onnxruntime {ort.__version__}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sightline-bench-outputs-") as tmp:
        folder = Path(tmp)
        with MosquittoBroker(folder / "mosquitto") as broker:
            outbox = measure_outbox(folder, broker, mode.events)
            pipeline = measure_pipeline_cost(folder, broker, mode)
    verdict = "ok" if pipeline["ratio"] >= TARGET_RATIO else "MISS"
    print(f"outbox: {outbox['events']} events, submit {outbox['submit_us_per_event']} us/event, "
          f"persisted {outbox['persisted_per_s']:.0f}/s, delivered to Mosquitto (QoS 1) {outbox['delivered_per_s']:.0f}/s")
    print(f"pipeline: {pipeline['results_per_s_no_outputs']} results/s without outputs, "
          f"{pipeline['results_per_s_three_outputs']} with three; ratio {pipeline['ratio']:.3f} "
          f"(target {TARGET_RATIO}) {verdict}; {pipeline['events_per_round']} events per round")
    print(f"CPU per result: {pipeline['cpu_ms_per_result_no_outputs']} ms without outputs, "
          f"{pipeline['cpu_ms_per_result_three_outputs']} ms with three (ratio {pipeline['cpu_ratio']:.3f})")
    print(f"pipeline with the three outputs failing: {pipeline['results_per_s_three_failing_outputs']} results/s, "
          f"ratio {pipeline['ratio_failing']:.3f}; their errors: {pipeline['failing_outputs_errors']}")
    results = {"machine": machine(), "outbox": outbox, "pipeline": pipeline}
    write_results(args.output, results)
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
