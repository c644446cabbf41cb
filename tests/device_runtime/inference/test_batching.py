"""Several streams sharing one session: combined runs, and each caller gets its own results.

The channel-mean model scores each image by its mean R, G, B, so a result
shows which picture it was computed from: a mix-up inside a batch would show.
"""

from __future__ import annotations

import threading

import pytest

from device_runtime.inference import ModelClosedError, ModelSession, SessionSettings
from device_runtime.inference.batching import BatchQueue
from tests.device_runtime.inference.helpers import make_frame
from tests.peers.onnx_models import make_channel_mean_classifier

# Pure colours (BGR) whose best RGB channel is class 0, 1, 2 respectively.
COLOURS = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


def shade(index: int) -> tuple[int, int, int]:
    """A distinct colour per index; its brightest channel is class index % 3."""
    colour = [0, 0, 0]
    colour[2 - index % 3] = 255 - 10 * (index // 3)
    return tuple(colour)


def expected_score(index: int) -> float:
    return (255 - 10 * (index // 3)) / 255.0


@pytest.fixture
def dynamic_model(tmp_path):
    return make_channel_mean_classifier(tmp_path / "mean.onnx", dynamic_batch=True)


def test_requests_queued_together_run_as_one_batch_when_the_batch_is_dynamic(
    dynamic_model, settings
):
    session = ModelSession(dynamic_model, settings=settings)
    runs = session.run_count

    pending = [session.submit([make_frame(64, 64, colour)], confidence=0.0) for colour in COLOURS]
    results = [p.result(timeout=10)[0] for p in pending]

    assert session.run_count == runs + 1
    assert [r.classes[0][0] for r in results] == [0, 1, 2]


def test_a_batch_never_exceeds_max_batch(dynamic_model):
    session = ModelSession(dynamic_model, settings=SessionSettings(intra_op_threads=1, max_batch=2))
    runs = session.run_count

    pending = [session.submit([make_frame(64, 64, shade(i))], confidence=0.0) for i in range(5)]
    results = [p.result(timeout=10)[0] for p in pending]

    assert session.run_count == runs + 3  # 2 + 2 + 1
    assert [r.classes[0] for r in results] == [
        (i % 3, pytest.approx(expected_score(i), abs=1e-4)) for i in range(5)
    ]


def test_a_fixed_batch_of_one_runs_each_image_on_its_own(tmp_path, settings):
    session = ModelSession(
        make_channel_mean_classifier(tmp_path / "b1.onnx", dynamic_batch=False), settings=settings
    )
    runs = session.run_count

    pending = [session.submit([make_frame(64, 64, colour)], confidence=0.0) for colour in COLOURS]
    results = [p.result(timeout=10)[0] for p in pending]

    assert session.max_batch == 1
    assert session.run_count == runs + 3
    assert [r.classes[0][0] for r in results] == [0, 1, 2]


def test_concurrent_stream_threads_each_get_their_own_results(dynamic_model, settings):
    session = ModelSession(dynamic_model, settings=settings)
    streams, calls = 4, 15
    start = threading.Barrier(streams)
    mismatches: list[str] = []
    runs = session.run_count

    def stream(index: int) -> None:
        start.wait(timeout=10)
        for call in range(calls):
            colour_index = index * calls + call
            (result,) = session.infer([make_frame(64, 64, shade(colour_index))], confidence=0.0)
            class_id, score = result.classes[0]
            if class_id != colour_index % 3 or abs(score - expected_score(colour_index)) > 1e-4:
                mismatches.append(f"stream {index} call {call}: got {result.classes[0]}")

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads), "a stream thread hung"
    assert mismatches == []
    assert session.run_count - runs <= streams * calls


def test_a_lone_stream_never_waits_for_a_batch_to_fill(dynamic_model):
    session = ModelSession(
        dynamic_model, settings=SessionSettings(intra_op_threads=1, batch_wait_ms=60_000)
    )

    (result,) = session.submit([make_frame(64, 64)], confidence=0.0).result(timeout=5)

    assert result.timings_ms["queue"] < 5_000


def test_with_a_batch_wait_frames_from_active_streams_share_a_run(dynamic_model):
    session = ModelSession(
        dynamic_model, settings=SessionSettings(intra_op_threads=1, batch_wait_ms=10_000)
    )
    both_queued, both_done = threading.Barrier(2), threading.Barrier(2)
    runs_before = session.run_count
    runs_after_first_round = []
    results = {}

    def stream(index: int) -> None:
        # Round 1: queue a frame before anyone waits; the session now knows two streams.
        pending = session.submit([make_frame(64, 64, COLOURS[index])], confidence=0.0)
        both_queued.wait(timeout=10)
        pending.result(timeout=10)
        both_done.wait(timeout=10)
        runs_after_first_round.append(session.run_count)
        # Round 2: whoever comes first waits (up to 10 s) for the other stream's frame.
        results[index] = session.infer([make_frame(64, 64, COLOURS[index + 1])], confidence=0.0)[0]

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert runs_after_first_round == [runs_before + 1] * 2
    assert session.run_count == runs_before + 2
    assert {i: r.classes[0][0] for i, r in results.items()} == {0: 1, 1: 2}


def test_closing_the_session_fails_requests_still_queued(dynamic_model, settings):
    session = ModelSession(dynamic_model, name="mean", settings=settings)
    pending = session.submit([make_frame(64, 64)])

    session.close()

    with pytest.raises(ModelClosedError, match="model 'mean' was unloaded"):
        pending.result(timeout=5)


def test_a_failing_run_reaches_every_caller_in_the_batch():
    """A fake run function: onnxruntime cannot be made to fail on demand mid-session."""

    def broken_run(batch):
        raise RuntimeError("device lost")

    queue = BatchQueue(broken_run, capacity=4)
    items = queue.submit(make_frame(2, 2)[None].repeat(3, axis=0))

    queue.wait(items, timeout=5)

    assert queue.run_count == 1
    assert [str(item.error) for item in items] == ["device lost"] * 3
