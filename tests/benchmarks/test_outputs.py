"""The outputs benchmark: an outage stored and drained, and one pipeline measured with and without outputs."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import outputs


def test_quick_run_stores_an_outage_drains_it_and_reports_the_pipeline_ratio(tmp_path: Path) -> None:
    result_file = tmp_path / "outputs.json"
    results = outputs.main(["--quick", "--cycles", "2", "--output", str(result_file)])

    assert json.loads(result_file.read_text())["pipeline"]["ratio"] == results["pipeline"]["ratio"]
    outbox = results["outbox"]
    # The broker was down: every event was stored, none dropped, all delivered once it came back.
    assert outbox["dropped"] == 0 and outbox["stored_per_s"] > 0 and outbox["drained_per_s"] > 0
    threads = results["cpu_by_thread"]
    assert threads["camera_thread_submit_ms_per_event"] < threads["total_ms_per_event"]
    assert {"outbox writer", "output mqtt", "output hook", "output plc"} <= set(threads["other_threads_ms_per_event"])
    process = results["outputs_process"]
    # Through the outputs process the camera pays a socket write; the client libraries' work is the child's.
    assert 0 < process["camera_thread_submit_ms_per_event"] < process["outputs_process_ms_per_event"]
    pipeline = results["pipeline"]
    assert pipeline["cycles"] == 2 and pipeline["results_per_s_no_outputs"] > 0
    assert pipeline["delivered"]["mqtt"] > 0 and pipeline["delivered"]["hook"] > 0 and pipeline["delivered"]["plc"] > 0
    # Side by side: the outputs process at the cameras' priority, the outputs in the device's own process,
    # and how long each output's deliveries took in all three.
    assert pipeline["ratio_same_priority"] > 0 and pipeline["ratio_in_process"] > 0
    assert pipeline["outputs_process_cpu_share"] > 0
    latency = pipeline["delivery_latency_ms"]
    for name in ("three", "three_same_priority", "three_in_process"):
        for output in ("mqtt", "hook", "plc"):
            summary = latency[name][output]
            assert summary["messages"] > 0 and 0 < summary["p50"] <= summary["p99"] <= summary["max"]
    errors = pipeline["failing_outputs_errors"]
    assert "Not authorized" in errors["mqtt"] and "connection refused" in errors["hook"]
    assert "illegal data address" in errors["plc"]
