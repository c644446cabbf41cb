"""The console's named worker pool for blocking calls."""

from __future__ import annotations

import threading

import pytest

from console_app.core.workers import WorkerPool, WorkerPoolClosed

WAIT_S = 5.0


def test_blocking_call_runs_in_a_named_worker_thread():
    with WorkerPool(name="test-io") as pool:
        name = pool.run_blocking(lambda: threading.current_thread().name).result(WAIT_S)
    assert name.startswith("test-io") and name != threading.current_thread().name


def test_blocking_call_exception_reaches_the_future():
    with WorkerPool() as pool:
        future = pool.run_blocking(int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            future.result(WAIT_S)


def test_stop_drops_queued_calls_and_does_not_wait_for_the_running_one():
    pool = WorkerPool(name="test-stop", workers=1).start()
    release = threading.Event()
    started = threading.Event()

    def hold() -> str:
        started.set()
        release.wait(WAIT_S)
        return "done"

    running = pool.run_blocking(hold)
    queued = pool.run_blocking(lambda: "never")
    assert started.wait(WAIT_S), "the first call never started"
    pool.stop()
    assert queued.cancelled()
    assert not pool.running
    release.set()
    assert running.result(WAIT_S) == "done"


def test_work_handed_to_a_stopped_pool_is_refused_clearly():
    pool = WorkerPool().start()
    pool.stop()
    pool.stop()  # idempotent
    with pytest.raises(WorkerPoolClosed, match="not running"):
        pool.run_blocking(print)
