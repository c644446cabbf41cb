"""Fan-out of events, log records and preview frames to API streams.

A publisher (a pipeline thread) must never wait for a subscriber (a gRPC
stream to a console on a slow link). Each subscriber therefore gets its own
bounded queue; when it is full the oldest item is dropped and counted.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """One consumer's view of a :class:`Broadcast`."""

    def __init__(self, owner: Broadcast[T], maxlen: int, accept: Callable[[T], bool] | None):
        self._owner = owner
        self._items: collections.deque[T] = collections.deque()
        self._maxlen = maxlen
        self._accept = accept
        self._cond = threading.Condition()
        self.dropped = 0
        self.closed = False

    def _offer(self, item: T) -> None:
        if self._accept is not None and not self._accept(item):
            return
        with self._cond:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """Next item, or None after ``timeout`` seconds or once closed."""
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        self._owner._unsubscribe(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Broadcast(Generic[T]):
    """Keeps the last ``history`` items and hands every new one to each subscriber."""

    def __init__(self, history: int = 200, queue_size: int = 500):
        self._history: collections.deque[T] = collections.deque(maxlen=history)
        self._subs: list[Subscription[T]] = []
        self._lock = threading.Lock()
        self._queue_size = queue_size

    def publish(self, item: T) -> None:
        with self._lock:
            self._history.append(item)
            subs = list(self._subs)
        for sub in subs:
            sub._offer(item)

    def subscribe(self, replay: int = 0, accept: Callable[[T], bool] | None = None) -> Subscription[T]:
        """A new subscription, first given up to ``replay`` recent items that pass ``accept``."""
        sub: Subscription[T] = Subscription(self, self._queue_size, accept)
        with self._lock:
            recent = list(self._history)[-replay:] if replay > 0 else []
            self._subs.append(sub)
        for item in recent:
            sub._offer(item)
        return sub

    def recent(self) -> list[T]:
        with self._lock:
            return list(self._history)

    def _unsubscribe(self, sub: Subscription[T]) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)


@dataclass(frozen=True)
class LogEntry:
    time: float
    level: str
    levelno: int
    logger: str
    message: str


class LogBroadcastHandler(logging.Handler):
    """A logging handler that feeds the device's log stream."""

    def __init__(self, broadcast: Broadcast[LogEntry]):
        super().__init__()
        self.broadcast = broadcast

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {record.exc_info[1]}"
            self.broadcast.publish(
                LogEntry(record.created, record.levelname, record.levelno, record.name, message)
            )
        except Exception:  # a log handler must never raise into the caller
            self.handleError(record)


class Latest(Generic[T]):
    """The newest value per key (camera id), with a way to wait for a newer one.

    Preview streams read from here at their own pace; the pipeline only
    replaces a reference, so a slow viewer can never slow inference.
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, T]] = {}
        self._cond = threading.Condition()
        self._version = 0

    def put(self, key: str, value: T) -> None:
        with self._cond:
            self._version += 1
            self._values[key] = (self._version, value)
            self._cond.notify_all()

    def get(self, key: str) -> T | None:
        with self._cond:
            entry = self._values.get(key)
            return entry[1] if entry else None

    def keys(self) -> list[str]:
        with self._cond:
            return list(self._values)

    def discard(self, key: str) -> None:
        with self._cond:
            self._values.pop(key, None)

    def wait_newer(self, key: str | None, after: int, timeout: float) -> list[tuple[str, int, T]]:
        """Entries (for ``key``, or every key if None) newer than version ``after``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [
                    (k, ver, val)
                    for k, (ver, val) in self._values.items()
                    if ver > after and (key is None or k == key)
                ]
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._cond.wait(remaining)
