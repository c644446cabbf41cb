"""The Panorama benchmark's measurements work and give the fields the issue asks for (no timing targets here)."""

from __future__ import annotations

import pytest

from benchmarks import panorama
from device_runtime.inference import ModelRegistry


@pytest.mark.integration
def test_the_code_app_measurement_splits_each_frame_into_handoff_model_and_output(tmp_path):
    image = panorama.bench_image()
    registry = ModelRegistry(providers=["cpu"])
    session = registry.acquire("sightline-demo", panorama.MODEL)
    try:
        app = panorama.BENCH_APP.replace("{W}", "320").replace("{H}", "240")
        _, puts, extra = panorama._run_app(app, image, (320, 240), session, 1.0, 0.3, tmp_path / "run")
        _, _, idle = panorama._run_app(panorama.IDLE_APP, image, (320, 240), session, 0.5, 0.2, tmp_path / "idle", silent=True)
    finally:
        registry.release(session)
        registry.close()

    start, end = extra["window"]
    assert any(start <= t < end for t in puts)
    assert set(extra["app_times"]) == {"get", "preprocess", "call", "model", "put"}
    assert all(m > 0 for m in extra["app_times"]["model"])
    assert extra["runtime_call_ms"] > 0
    assert idle["memory"]["rss_mib"] > 0 and idle["memory"]["pss_mib"] > 0


def test_bare_onnxruntime_loop_reports_per_frame_costs():
    bare = panorama.measure_bare(panorama.bench_image(), (320, 240), 0.3)

    assert bare["fps"] > 0 and bare["frame_ms"] >= bare["run_ms"] > 0
