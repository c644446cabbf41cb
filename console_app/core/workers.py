"""The console's pool of named worker threads for blocking calls.

The GUI thread never waits on I/O: it hands blocking calls (gRPC unary
calls, TLS handshakes, ONVIF SOAP, file imports) to :meth:`WorkerPool.run_blocking`
and gets a :class:`concurrent.futures.Future` back, whose result it receives
through the UI bridge, never by calling ``result()`` on the GUI thread.
Zeroconf runs its own thread; streams (live feeds, health, events, logs)
run in threads of their own services.

No Qt here.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Blocking calls that may run at once.
DEFAULT_WORKERS = 8


class WorkerPoolClosed(RuntimeError):
    """Work was handed to a :class:`WorkerPool` that is not running."""


class WorkerPool:
    """A thread pool whose threads are named ``<name>-<n>`` (they show so in a debugger or py-spy).

    Use as a context manager or call :meth:`start` / :meth:`stop`;
    :meth:`run_blocking` may be called from any thread.
    """

    def __init__(self, name: str = "sightline-io", workers: int = DEFAULT_WORKERS):
        self._name = name
        self._workers = workers
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the pool accepts work."""
        return self._executor is not None

    def start(self) -> WorkerPool:
        """Make the pool (threads start as work arrives)."""
        with self._lock:
            if self._executor is not None:
                raise RuntimeError("WorkerPool.start() called twice")
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix=self._name
            )
        return self

    def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run a blocking ``fn(*args, **kwargs)`` in the pool.

        Cancelling the returned future before the call starts prevents it;
        a call already running finishes (Python threads cannot be killed),
        so long operations should also watch a cancel flag of their own.
        """
        executor = self._executor
        if executor is None:
            raise WorkerPoolClosed("the console's worker pool is not running")
        try:
            return executor.submit(functools.partial(fn, *args, **kwargs))
        except RuntimeError as exc:  # shut down meanwhile
            raise WorkerPoolClosed(f"the console's worker pool is shutting down: {exc}") from exc

    def stop(self) -> None:
        """Refuse new work and drop queued calls. Idempotent.

        Calls still running are not waited for (their results are dropped).
        """
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
