"""The pipeline benchmark: its test media, its measurements on the real product, its report."""

from __future__ import annotations

import json
from dataclasses import asdict

import cv2
import pytest

from benchmarks import pipeline
from benchmarks.__main__ import main as run_benchmarks
from benchmarks.common import write_results
from benchmarks.media import Clip, decode_all, make_clip
from device_runtime.inference import ModelRegistry, SessionSettings

SMALL = Clip(frames=12, width=320, height=240, fps=25, seed=3)


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    return make_clip(SMALL, tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def demo_session():
    registry = ModelRegistry(SessionSettings(providers=("cpu",)))
    session = registry.acquire(
        "sightline-demo", pipeline.MODEL, labels=pipeline.LABELS.read_text().split()
    )
    yield session
    registry.close()


def test_test_clip_is_h264_of_the_requested_size_and_is_encoded_once(small_clip):
    capture = cv2.VideoCapture(str(small_clip), cv2.CAP_FFMPEG)
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    capture.release()
    frames = decode_all(small_clip)
    modified = small_clip.stat().st_mtime_ns

    assert fourcc in ("avc1", "h264", "H264")
    assert len(frames) == SMALL.frames
    assert frames[0].shape == (SMALL.height, SMALL.width, 3)
    assert make_clip(SMALL, small_clip.parent) == small_clip
    assert small_clip.stat().st_mtime_ns == modified, "the cached clip was encoded again"


def test_pipeline_measurement_counts_results_of_every_stream_with_their_latency(
    small_clip, demo_session
):
    sample = pipeline.measure_pipeline(
        small_clip, demo_session, streams=2, seconds=0.6, warmup_s=0.2
    )

    assert sample.fps > 0
    assert len(sample.latencies_ms) == pytest.approx(sample.fps * 0.6, abs=2)
    assert all(0 < ms < 5000 for ms in sample.latencies_ms)
    assert {"preprocess", "inference", "postprocess", "app"} <= set(sample.stages_ms)
    assert sample.own_cores > 0


def test_pipeline_measurement_hands_the_apps_events_to_on_events(demo_session):
    # The default clip: parts cross the line-safety app's line (the outputs benchmark feeds these to outputs).
    seen = []
    pipeline.measure_pipeline(make_clip(), demo_session, streams=1, seconds=2.0, warmup_s=0.2,
                              on_events=lambda app_id, frame, events: seen.extend((app_id, e.type) for e in events))

    assert seen, "no events reached on_events"
    assert {app_id for app_id, _ in seen} == {"line-safety"}


def test_bare_loop_runs_the_model_on_preprocessed_frames(small_clip, demo_session):
    bare = pipeline.BareLoop(decode_all(small_clip), demo_session.image_input.size)

    fps, other_cores = bare.measure(0.3)

    assert bare.provider == demo_session.active_provider
    assert bare.tensors[0].shape == (1, 3, 240, 320)
    assert fps > 0 and other_cores >= 0


def _run(streams: int, ratio: float, others: float) -> pipeline.Run:
    return pipeline.Run(
        streams=streams, pipeline_fps=ratio * 200, bare_fps=200.0, ratio=ratio,
        latency_ms_p50=10.0, latency_ms_p99=20.0, provider="CPUExecutionProvider",
        model="m.onnx", target=pipeline.TARGETS.get(streams), rounds=1, seconds_per_round=4.0,
        other_cores=others,
    )  # fmt: skip


def test_table_says_which_targets_were_missed_and_which_runs_were_disturbed():
    runs = [_run(1, 0.95, 0.0), _run(4, 0.5, 0.9), _run(2, 0.7, 0.0)]
    runs[2].target = None

    rows = pipeline.format_table(runs).splitlines()[2:]

    assert rows[0].endswith(" ok")
    assert rows[1].endswith(" MISS (noisy: other processes were busy)")
    assert rows[2].endswith(" -"), "a stream count without a target has no verdict"


def test_results_are_a_json_list_of_runs_with_the_fields_the_issue_asks_for(tmp_path):
    path = tmp_path / "results" / "pipeline.json"

    write_results(path, [asdict(_run(1, 0.5, 0.0))])

    [run] = json.loads(path.read_text())
    issue_fields = {"streams", "pipeline_fps", "bare_fps", "ratio", "latency_ms_p50",
                    "latency_ms_p99", "provider", "model"}  # fmt: skip
    assert issue_fields <= set(run)
    assert list(path.parent.iterdir()) == [path], "the temporary file was left behind"


def test_running_an_unknown_benchmark_is_refused_with_the_known_names(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_benchmarks(["nope"])

    assert exit_info.value.code == 2
    assert "unknown benchmark(s) nope; known: render, pipeline, outputs, discovery" in capsys.readouterr().err


def test_dynamic_batch_copy_of_the_model_batches_the_frames_of_several_streams(small_clip, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "CACHE", tmp_path)
    model = pipeline.dynamic_batch_model()
    registry = ModelRegistry(SessionSettings(providers=("cpu",), max_batch=4))
    session = registry.acquire("demo-dynamic", model, labels=pipeline.LABELS.read_text().split())
    try:
        assert session.max_batch == 4  # the copy's batch dimension is dynamic; the original's is 1
        frames = decode_all(small_clip)[:3]
        before = session.batch_counts
        results = session.submit(frames).result()  # three frames queued together: one run
        runs, images = (after - start for after, start in zip(session.batch_counts, before, strict=True))
    finally:
        registry.close()
    assert (runs, images) == (1, 3) and len(results) == 3


def test_pipeline_measurement_reports_the_mean_batch_of_its_runs(small_clip, demo_session):
    sample = pipeline.measure_pipeline(small_clip, demo_session, streams=2, seconds=0.5, warmup_s=0.2)
    assert sample.mean_batch == 1.0  # the demo model's batch dimension is fixed at 1
