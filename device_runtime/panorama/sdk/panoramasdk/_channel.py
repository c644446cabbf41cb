"""The code node's line to the Sightline runtime (child side).

One ``multiprocessing.connection.Connection`` over a socket the runtime
passes as an inherited file descriptor. Requests carry an id; a reader
thread hands each reply to the thread waiting for it, so a model call in
one thread never blocks ``get()`` in another. Only small metadata is
pickled: frame pixels and large model inputs travel through POSIX shared
memory that the runtime creates and this side maps by name.
"""

from __future__ import annotations

import itertools
import mmap
import os
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

try:  # the module multiprocessing.shared_memory uses; mapping by hand keeps the resource tracker out
    import _posixshmem
except ImportError:  # pragma: no cover - not Linux/macOS
    _posixshmem = None

INLINE_LIMIT = 64 * 1024  # arrays up to this many bytes are sent inline


class RemoteError(Exception):
    """An error the runtime answered with; ``kind`` is the exception type name there."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Pending:
    __slots__ = ("event", "ok", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = False
        self.value: Any = None


def attach(name: str, size: int) -> mmap.mmap:
    """Map the runtime's shared memory block ``name`` (read-write)."""
    if _posixshmem is not None:
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    else:  # pragma: no cover
        fd = os.open("/dev/shm/" + name, os.O_RDWR)
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class Channel:
    """Request/reply with the runtime; thread-safe."""

    def __init__(self, fd: int, params: dict[str, Any]):
        self._conn = Connection(fd)
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._pending_lock = threading.Lock()
        self._maps: dict[str, mmap.mmap] = {}
        self._maps_lock = threading.Lock()
        self._free_blocks: list[tuple[str, int]] = []  # (name, size) of call-input blocks not in use
        self._blocks_lock = threading.Lock()
        self.params = dict(params)
        self._params_lock = threading.Lock()
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="sightline-channel", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ plumbing

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self._conn.send(message)

    def request(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        """Send ``(op, id, *args)`` and wait for the reply; a remote error is re-raised here.

        ``timeout``: seconds to wait for the reply before ``TimeoutError`` (the
        runtime finishes the request anyway; its reply is then dropped).
        """
        pending = _Pending()
        request_id = next(self._ids)
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        with self._pending_lock:
            self._pending[request_id] = pending
        try:
            self.send((op, request_id) + args)
            while not pending.event.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))):
                if self.closed.is_set():
                    raise ConnectionError("the Sightline runtime closed the connection")
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"{op} did not answer within {timeout} s")
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        if pending.ok:
            return pending.value
        kind, message = pending.value
        raise _rebuild(kind, message)

    def _read(self) -> None:
        try:
            while True:
                message = self._conn.recv()
                op = message[0]
                if op == "reply":
                    _, request_id, ok, value = message
                    with self._pending_lock:
                        pending = self._pending.get(request_id)
                    if pending is not None:
                        pending.ok, pending.value = ok, value
                        pending.event.set()
                elif op == "params":
                    with self._params_lock:
                        self.params.update(message[1])
                elif op == "stop":
                    os._exit(0)
        except (EOFError, OSError):
            self.closed.set()
            # The runtime is gone: nothing can feed this node any more.
            os._exit(0)

    def param(self, name: str) -> Any:
        with self._params_lock:
            return self.params.get(name)

    # ------------------------------------------------------------------ shared memory

    def view(self, name: str, size: int, shape: tuple[int, ...], dtype: str, offset: int = 0) -> np.ndarray:
        """A writable array over the runtime's block ``name`` (mapped once, then cached)."""
        with self._maps_lock:
            block = self._maps.get(name)
            if block is None or len(block) < size:
                block = self._maps[name] = attach(name, size)
        return np.ndarray(shape, dtype=np.dtype(dtype), buffer=block, offset=offset)

    def pack(self, array: np.ndarray, held: list[tuple[str, int]]) -> tuple:
        """Describe ``array`` for the runtime: inline when small, else copied into a shared block."""
        array = np.ascontiguousarray(array)
        if array.nbytes <= INLINE_LIMIT:
            return ("inline", array)
        block = self._take_block(array.nbytes)
        held.append(block)
        name, size = block
        target = self.view(name, size, array.shape, array.dtype.str)
        target[...] = array
        return ("shm", name, size, array.shape, array.dtype.str)

    def give_back(self, held: list[tuple[str, int]]) -> None:
        with self._blocks_lock:
            self._free_blocks.extend(held)

    def _take_block(self, nbytes: int) -> tuple[str, int]:
        with self._blocks_lock:
            fitting = [b for b in self._free_blocks if b[1] >= nbytes]
            if fitting:
                best = min(fitting, key=lambda b: b[1])
                self._free_blocks.remove(best)
                return best
        name, size = self.request("alloc", nbytes)
        return name, size


_ERRORS: dict[str, type[BaseException]] = {
    "KeyError": KeyError,
    "ValueError": ValueError,
    "TimeoutError": TimeoutError,
    "TypeError": TypeError,
}


def _rebuild(kind: str, message: str) -> BaseException:
    error_type = _ERRORS.get(kind)
    if error_type is KeyError:
        return KeyError(message)
    if error_type is not None:
        return error_type(message)
    return RemoteError(kind, message)
