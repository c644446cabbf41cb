"""The console's one asyncio loop, running in a daemon thread.

ARCHITECTURE.md: the GUI thread never waits on I/O; grpc.aio and zeroconf
share one asyncio loop in a thread of its own. The GUI hands that loop
coroutines (:meth:`AsyncLoop.submit`) or blocking calls
(:meth:`AsyncLoop.run_blocking`, run in the loop's executor) and gets a
:class:`concurrent.futures.Future` back, whose result it receives through
the UI bridge, never by calling ``result()`` on the GUI thread.

No Qt here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Blocking calls (gRPC unary calls, TLS handshakes, ONVIF SOAP) that may run at once.
DEFAULT_EXECUTOR_WORKERS = 8


class AsyncLoopClosed(RuntimeError):
    """Work was handed to an :class:`AsyncLoop` that is not running."""


class AsyncLoop:
    """An asyncio event loop in a daemon thread, with an executor for blocking calls.

    Use as a context manager or call :meth:`start` / :meth:`stop`. Both
    :meth:`submit` and :meth:`run_blocking` may be called from any thread.
    """

    def __init__(self, name: str = "sightline-asyncio", executor_workers: int = DEFAULT_EXECUTOR_WORKERS):
        self._name = name
        self._executor_workers = executor_workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the loop thread is up and accepting work."""
        return self._loop is not None and self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (for libraries that want it, e.g. zeroconf's async API)."""
        if self._loop is None:
            raise AsyncLoopClosed("the console's asyncio loop is not running")
        return self._loop

    def start(self) -> AsyncLoop:
        """Start the loop thread; returns once the loop runs."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("AsyncLoop.start() called twice")
            loop = asyncio.new_event_loop()
            executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._executor_workers, thread_name_prefix=f"{self._name}-io"
            )
            loop.set_default_executor(executor)
            ready = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(loop, ready), name=self._name, daemon=True
            )
            self._loop, self._executor, self._thread = loop, executor, thread
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the asyncio loop thread did not start within 10 s")
        return self

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; the returned future can be cancelled."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()  # never awaited: close it so Python does not warn
            raise AsyncLoopClosed("the console's asyncio loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run a blocking ``fn(*args, **kwargs)`` in the loop's executor.

        Cancelling the returned future before the call starts prevents it;
        a call already running finishes (Python threads cannot be killed),
        so long operations should also watch a cancel flag of their own.
        """
        executor = self._executor
        if executor is None:
            raise AsyncLoopClosed("the console's asyncio loop is not running")
        try:
            return executor.submit(functools.partial(fn, *args, **kwargs))
        except RuntimeError as exc:  # executor already shut down
            raise AsyncLoopClosed(f"the console's asyncio loop is shutting down: {exc}") from exc

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel pending coroutines, stop the loop, join its thread. Idempotent.

        Blocking calls still running in the executor are not waited for
        (their results are dropped); new ones are refused.
        """
        with self._lock:
            loop, thread, executor = self._loop, self._thread, self._executor
            self._loop = self._thread = self._executor = None
        if loop is None or thread is None:
            return
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

        async def _cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            asyncio.get_running_loop().stop()

        if thread.is_alive():
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop)
            thread.join(timeout)
            if thread.is_alive():
                log.warning("asyncio loop thread did not stop within %.1f s", timeout)

    def __enter__(self) -> AsyncLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
