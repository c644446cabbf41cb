"""Frames between the device and its outputs process: a 4-byte length, then a pickle.

Why not ``multiprocessing.connection``: its ``send`` blocks while the socket
is full, and a camera's thread must never wait for the outputs process (it
may be restarting, or busy on a saturated CPU). :class:`Sender` hands each
frame to the socket without waiting; what the socket does not take at once
waits in memory (bounded) for a feeder thread, so in the usual case a
submit costs one ``send`` and wakes no thread of the device.

Pickle is safe here: both ends are this device's own processes, over a
socket pair that nothing else holds.
"""

from __future__ import annotations

import logging
import pickle
import select
import socket
import struct
import threading
from typing import Any

log = logging.getLogger(__name__)

HEADER = struct.Struct("!I")
MAX_FRAME = 512 * 1024 * 1024  # a frame announcing more is a broken stream, not data
FEED_CHUNK = 1024 * 1024


def encode(message: Any) -> bytes:
    """One frame: the pickled ``message`` after its length."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Reads frames from a blocking socket; ``None`` once the other end has gone."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def read(self) -> Any | None:
        try:
            header = self._file.read(HEADER.size)
            if len(header) < HEADER.size:
                return None
            (size,) = HEADER.unpack(header)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes: the stream is broken")
            body = self._file.read(size)
        except OSError:
            return None
        if len(body) < size:
            return None
        return pickle.loads(body)

    def close(self) -> None:
        self._file.close()


class BlockingSender:
    """Writes frames to a socket, waiting while it is full; safe from several threads."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, message: Any) -> bool:
        frame = encode(message)
        with self._lock:
            try:
                self._sock.sendall(frame)
                return True
            except OSError:  # the other end has gone
                return False


class Sender:
    """Writes frames to a socket without ever waiting (see the module's docstring).

    :meth:`send` returns False (and takes nothing) when the socket is broken
    or more than ``limit`` bytes already wait for it: the caller counts that.
    """

    def __init__(self, sock: socket.socket, limit: int = 64 * 1024 * 1024, name: str = "frame-sender") -> None:
        sock.setblocking(False)
        self._sock = sock
        self._limit = limit
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self.broken = False
        self._closed = False
        self._thread = threading.Thread(target=self._feed, name=name, daemon=True)
        self._thread.start()

    def send(self, message: Any) -> bool:
        frame = encode(message)
        with self._lock:
            if self.broken or self._closed:
                return False
            if self._pending:
                # Frames stay whole and in order: behind what waits, or not at all.
                if len(self._pending) + len(frame) > self._limit:
                    return False
                self._pending += frame
                return True
            try:
                sent = self._sock.send(frame)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.broken = True
                return False
            if sent < len(frame):  # the rest of a frame begun must follow, whatever the limit
                self._pending += memoryview(frame)[sent:]
                self._more.notify()
            return True

    def waiting(self) -> int:
        """Bytes not yet in the socket."""
        with self._lock:
            return len(self._pending)

    def close(self, timeout: float = 5.0) -> None:
        """Write what waits (for up to ``timeout`` seconds), then stop the feeder."""
        with self._lock:
            self._closed = True
            self._more.notify()
        self._thread.join(timeout)

    def _feed(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._more.wait()
                if not self._pending or self.broken:
                    return
                chunk = bytes(self._pending[:FEED_CHUNK])
            # Only this thread removes from the front; senders append at the end meanwhile.
            try:
                select.select([], [self._sock], [], 1.0)
                sent = self._sock.send(chunk)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                log.debug("frame sender: the other end has gone: %s", exc)
                with self._lock:
                    self.broken = True
                    self._pending.clear()
                return
            with self._lock:
                del self._pending[:sent]
