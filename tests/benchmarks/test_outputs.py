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
    pipeline = results["pipeline"]
    assert pipeline["cycles"] == 2 and pipeline["results_per_s_no_outputs"] > 0
    assert pipeline["delivered"]["mqtt"] > 0 and pipeline["delivered"]["hook"] > 0 and pipeline["delivered"]["plc"] > 0
    # Side by side: the same three outputs at the cameras' priority, and how long deliveries took at both.
    assert pipeline["ratio_same_priority"] > 0
    latency = pipeline["delivery_latency_ms"]
    assert latency["three"]["messages"] > 0 and latency["three_same_priority"]["messages"] > 0
    assert 0 < latency["three"]["p50"] <= latency["three"]["p99"] <= latency["three"]["max"]
    errors = pipeline["failing_outputs_errors"]
    assert "Not authorized" in errors["mqtt"] and "connection refused" in errors["hook"]
    assert "illegal data address" in errors["plc"]
