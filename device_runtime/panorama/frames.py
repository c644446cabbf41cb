"""Camera frames for code nodes: newest-frame feeds and shared-memory rings.

A :class:`StreamFeed` follows one camera (a :class:`~device_runtime.sources.base.Source`
subscription) and keeps its newest frame; a :class:`FeedGroup` is the set of
cameras bound to one media input port and implements Panorama's ``get()``:
wait until at least one camera has a frame the node has not seen, then
return every camera's newest frame (``is_cached`` for those that had none
new). A :class:`FrameRing` is one camera's shared-memory block of a few frame
slots: a frame is copied into the next slot once and the code node maps the
slot, so no image is ever pickled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from device_runtime.media.redact import redact_url
from device_runtime.types import Frame

RING_SLOTS = 4  # frames a node may hold on to before a slot is reused


class FrameRing:
    """``RING_SLOTS`` frames of one shape in one shared-memory block."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype | str = "uint8"):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.frame_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.block = shared_memory.SharedMemory(create=True, size=self.frame_bytes * RING_SLOTS)
        self._next = 0

    def write(self, image: np.ndarray) -> tuple:
        """Copy ``image`` into the next slot; the slot's description for the code node."""
        index = self._next % RING_SLOTS
        self._next += 1
        self.view(index)[...] = image
        return (self.block.name, self.block.size, index, self.shape, self.dtype.str)

    def view(self, index: int) -> np.ndarray:
        return np.ndarray(self.shape, self.dtype, buffer=self.block.buf, offset=index * self.frame_bytes)

    def close(self) -> None:
        self.block.close()
        try:
            self.block.unlink()
        except FileNotFoundError:
            pass


@dataclass
class Delivered:
    """What a node last got from one camera (to answer ``is_cached``)."""

    seq: int
    slot: tuple
    time_stamp: tuple[int, int]


class StreamFeed:
    """The newest frame of one camera, for one code node."""

    def __init__(self, stream_id: str, url: str, source: Any, subscriber: str, paused: bool = False):
        self.stream_id = stream_id
        self.url = url
        self.source = source
        self.paused = paused
        self.frame: Frame | None = None
        self.received = 0
        self._subscription = source.subscribe(subscriber)
        self._stop = threading.Event()
        self._listeners: list[threading.Condition] = []
        self._thread = threading.Thread(target=self._run, name=f"feed-{subscriber}", daemon=True)

    @property
    def dropped(self) -> int:
        return self._subscription.dropped

    def listen(self, condition: threading.Condition) -> None:
        self._listeners.append(condition)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._subscription.close()
        self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self._subscription.get(timeout=0.5)
            if frame is None:
                continue
            self.received += 1
            for condition in self._listeners:
                with condition:
                    self.frame = frame
                    condition.notify_all()
            if not self._listeners:
                self.frame = frame


class FeedGroup:
    """The cameras of one media input port; serves ``get()``."""

    def __init__(self, feeds: list[StreamFeed]):
        self.feeds = feeds
        self._condition = threading.Condition()
        self._delivered: dict[str, Delivered] = {}
        self._rings: dict[str, FrameRing] = {}
        self._closed = False
        for feed in feeds:
            feed.listen(self._condition)

    def _fresh(self) -> list[StreamFeed]:
        fresh = []
        for feed in self.feeds:
            frame = feed.frame
            if frame is None or feed.paused:
                continue
            seen = self._delivered.get(feed.stream_id)
            if seen is None or seen.seq != frame.seq:
                fresh.append(feed)
        return fresh

    def get(self, timeout: float | None, stopping: threading.Event) -> list[dict[str, Any]]:
        """Every active camera's newest frame once at least one is new; TimeoutError after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        with self._condition:
            while not self._fresh():
                if stopping.is_set() or self._closed:
                    raise ConnectionError("the app is stopping")
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    names = ", ".join(f.stream_id for f in self.feeds)
                    raise TimeoutError(f"no new frame from {names} within {timeout} s")
                self._condition.wait(left)
            result = []
            for feed in self.feeds:
                frame = feed.frame
                if frame is None or feed.paused:
                    continue
                seen = self._delivered.get(feed.stream_id)
                if seen is not None and seen.seq == frame.seq:
                    slot, stamp, cached = seen.slot, seen.time_stamp, True
                else:
                    ring = self._ring(feed.stream_id, frame.image)
                    slot = ring.write(frame.image)
                    seconds = int(frame.capture_time)
                    stamp = (seconds, int(round((frame.capture_time - seconds) * 1e6)))
                    self._delivered[feed.stream_id] = Delivered(frame.seq, slot, stamp)
                    cached = False
                result.append(
                    {
                        "slot": slot,
                        "stream_id": feed.stream_id,
                        "stream_uri": redact_url(feed.url),
                        "time_stamp": stamp,
                        "is_cached": cached,
                    }
                )
            return result

    def _ring(self, stream_id: str, image: np.ndarray) -> FrameRing:
        ring = self._rings.get(stream_id)
        if ring is None or ring.shape != image.shape:
            if ring is not None:
                ring.close()
            ring = self._rings[stream_id] = FrameRing(image.shape, image.dtype)
        return ring

    def read_slot(self, slot: tuple) -> np.ndarray | None:
        """A copy of the pixels in ``slot`` (what the node drew included); None if the ring is gone."""
        name, _size, index, shape, _dtype = slot
        for ring in list(self._rings.values()):
            if ring.block.name == name and ring.shape == tuple(shape):
                return ring.view(index).copy()
        return None

    def wake(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            rings, self._rings = list(self._rings.values()), {}
        for ring in rings:
            ring.close()
