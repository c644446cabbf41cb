"""The console's one asyncio loop thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from console_app.core.async_loop import AsyncLoop, AsyncLoopClosed

WAIT_S = 5.0


def test_submitted_coroutine_runs_on_the_loop_thread_and_returns_its_result():
    with AsyncLoop(name="test-loop") as loop:
        async def where():
            await asyncio.sleep(0)
            return threading.current_thread().name

        assert loop.submit(where()).result(WAIT_S) == "test-loop"


def test_blocking_call_runs_in_the_executor_not_on_the_loop_thread():
    with AsyncLoop(name="test-loop") as loop:
        name = loop.run_blocking(lambda: threading.current_thread().name).result(WAIT_S)
    assert name.startswith("test-loop-io")


def test_blocking_call_exception_reaches_the_future():
    with AsyncLoop() as loop:
        future = loop.run_blocking(int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            future.result(WAIT_S)


def test_stop_cancels_pending_coroutines_and_ends_the_thread():
    loop = AsyncLoop(name="test-stop").start()
    started = threading.Event()

    async def forever():
        started.set()
        await asyncio.Event().wait()

    future = loop.submit(forever())
    assert started.wait(WAIT_S), "the coroutine never started"
    thread = loop._thread
    loop.stop()
    assert future.cancelled()
    assert thread is not None and not thread.is_alive()
    assert not loop.running


def test_work_handed_to_a_stopped_loop_is_refused_clearly():
    loop = AsyncLoop().start()
    loop.stop()
    loop.stop()  # idempotent

    async def nothing():
        return None

    with pytest.raises(AsyncLoopClosed, match="not running"):
        loop.submit(nothing())
    with pytest.raises(AsyncLoopClosed, match="not running"):
        loop.run_blocking(print)
