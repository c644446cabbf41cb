"""Combine inference requests from several stream threads into batched runs.

There is no worker thread. A caller queues its pre-processed images and then
waits; whichever waiting caller finds a free run slot takes everything queued
(up to the batch limit), runs it as one batch, hands each request its slice of
the outputs and wakes the others ("caller runs", a.k.a. flat combining). So:

* a lone stream never waits for anyone: a slot is free, it runs at once;
* while the run slots are busy, frames from other streams pile up and go into
  the next run together: the busier the session, the bigger the batches;
* requests queued together with :meth:`BatchQueue.submit` before anyone waits
  run as one batch, which is deterministic and what the tests use.

``max_wait_ms`` can add a short wait for other streams' frames before a run
that is not full, but only while more than one thread has been submitting.
It is off by default (see ``SessionSettings.batch_wait_ms`` for the measurement).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from device_runtime.inference.errors import InferenceError

# How long a thread that submitted counts as an active stream for max_wait_ms.
_ACTIVE_STREAM_WINDOW_S = 1.0


class BatchItem:
    """One image in the queue: its tensor, then its outputs (or the run's error)."""

    __slots__ = ("tensor", "outputs", "error", "queued_at", "started_at", "run_ms", "done")

    def __init__(self, tensor: np.ndarray):
        self.tensor = tensor
        self.outputs: list[np.ndarray] | None = None
        self.error: BaseException | None = None
        self.queued_at = time.perf_counter()
        self.started_at = 0.0
        self.run_ms = 0.0
        self.done = False


class BatchQueue:
    """Queue of single-image items run in batches through ``run``.

    ``run`` takes a stacked input (first dimension = batch) and returns the
    model outputs, each with the same first dimension. ``capacity`` is the
    most images per run; ``fixed_batch`` (a model whose batch dimension is a
    fixed number) pads every run to exactly that many. ``max_concurrent_runs``
    lets that many batches run at once (onnxruntime sessions are thread-safe).
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], Sequence[np.ndarray]],
        capacity: int,
        *,
        fixed_batch: int | None = None,
        max_concurrent_runs: int = 1,
        max_wait_ms: float = 0.0,
    ):
        self._run = run
        self.capacity = max(1, int(fixed_batch or capacity))
        self._fixed_batch = fixed_batch
        self._max_concurrent = max(1, int(max_concurrent_runs))
        self._max_wait_s = max(0.0, float(max_wait_ms)) / 1000.0
        self._queue: deque[BatchItem] = deque()
        self._running = 0
        self._cond = threading.Condition()
        self._submitters: dict[int, float] = {}
        self.run_count = 0
        self.images_run = 0

    def submit(self, tensors: np.ndarray) -> list[BatchItem]:
        """Queue each image of ``tensors`` (first dimension = images); returns at once."""
        items = [BatchItem(tensor) for tensor in tensors]
        with self._cond:
            self._queue.extend(items)
            if self._max_wait_s:
                self._submitters[threading.get_ident()] = time.monotonic()
            self._cond.notify_all()
        return items

    def wait(self, items: Sequence[BatchItem], timeout: float | None = None) -> None:
        """Block until every item has run, running queued batches while the session is free."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                while True:
                    if all(item.done for item in items):
                        return
                    if self._running < self._max_concurrent and self._queue:
                        self._wait_for_more_streams(items, deadline)
                        if self._running < self._max_concurrent and self._queue:
                            batch = self._take()
                            self._running += 1
                            break
                        continue
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise InferenceError(
                            f"inference did not finish within {timeout:.1f} s "
                            f"({len(self._queue)} images still queued)"
                        )
                    self._cond.wait(remaining)
            try:
                self._execute(batch)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def fail_queued(self, error: Exception) -> None:
        """Give every queued (not yet running) item ``error`` and wake its waiter."""
        with self._cond:
            while self._queue:
                item = self._queue.popleft()
                item.error = error
                item.done = True
            self._cond.notify_all()

    def _active_streams(self) -> int:
        horizon = time.monotonic() - _ACTIVE_STREAM_WINDOW_S
        for ident in [i for i, seen in self._submitters.items() if seen < horizon]:
            del self._submitters[ident]
        return len(self._submitters)

    def _wait_for_more_streams(self, items: Sequence[BatchItem], deadline: float | None) -> None:
        # Called with the lock held. Only worth it when other streams are feeding
        # this model; a lone stream must not pay any latency.
        if not self._max_wait_s or self._active_streams() < 2:
            return
        wanted = min(self.capacity, self._active_streams())
        until = time.monotonic() + self._max_wait_s
        if deadline is not None:
            until = min(until, deadline)
        # Stop early when another waiter took the queue (it may hold our items).
        while 0 < len(self._queue) < wanted and not all(item.done for item in items):
            remaining = until - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _take(self) -> list[BatchItem]:
        batch = []
        while self._queue and len(batch) < self.capacity:
            batch.append(self._queue.popleft())
        return batch

    def _execute(self, batch: list[BatchItem]) -> None:
        started = time.perf_counter()
        for item in batch:
            item.started_at = started
        try:
            stacked = np.stack([item.tensor for item in batch])
            if self._fixed_batch and len(batch) < self._fixed_batch:
                padding = np.zeros(
                    (self._fixed_batch - len(batch),) + stacked.shape[1:], stacked.dtype
                )
                stacked = np.concatenate([stacked, padding])
            with self._cond:
                self.run_count += 1
                self.images_run += len(batch)
            outputs = self._run(stacked)
            for output in outputs:
                if output.ndim == 0 or output.shape[0] != stacked.shape[0]:
                    raise InferenceError(
                        f"an output has shape {list(output.shape)}; expected its first dimension "
                        f"to be the batch of {stacked.shape[0]} images"
                    )
        except Exception as exc:  # every request in the batch gets the error, the runner too
            for item in batch:
                item.error = exc
                item.done = True
            return
        run_ms = (time.perf_counter() - started) * 1000.0
        for index, item in enumerate(batch):
            item.outputs = [output[index] for output in outputs]
            item.run_ms = run_ms
            item.done = True
