"""Newest-frame delivery: one slot per consumer, drop-oldest.

A live camera does not wait for a slow consumer. Each :class:`Subscription`
holds at most one frame, the newest one it has not taken yet; publishing a
frame into a full slot replaces the old one and counts it in ``dropped``.
Consumers are independent: a slow preview never costs the detector a frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from device_runtime.types import Frame


class Subscription:
    """One consumer's view of a source: the newest frame it has not seen yet.

    Create it with ``Source.subscribe(name)``. ``get`` is safe to call from
    one consumer thread while the source publishes from its reader thread.
    Frames are shared between consumers: their images are read-only arrays
    (copy before drawing on one).
    """

    def __init__(
        self,
        name: str,
        on_close: Callable[[Subscription], None],
        on_taken: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self._source_ended = False
        self._on_close = on_close
        self._on_taken = on_taken
        self.received = 0  # frames handed to the consumer
        self.dropped = 0  # frames replaced before the consumer took them

    def get(self, timeout: float | None = None) -> Frame | None:
        """Return the newest frame not yet taken by this consumer.

        Waits up to ``timeout`` seconds for one and returns None when none
        came, or at once after :meth:`close`. With ``timeout=None`` it waits
        until a frame comes or the source stops or fails (then None: it never
        blocks forever). A finite wait is not cut short when the source ends,
        so a polling loop on a failed camera does not spin; check ``ended``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._frame is None and not self._closed:
                if deadline is None:
                    if self._source_ended:
                        return None
                    self._cond.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._cond.wait(left)
            frame, self._frame = self._frame, None
            if frame is not None:
                self.received += 1
        if frame is not None and self._on_taken is not None:
            self._on_taken()
        return frame

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames until the subscription is closed or the source ends (then the loop ends)."""
        while True:
            frame = self.get()
            if frame is None:
                return
            yield frame

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> bool:
        """A frame waits in the slot, not yet taken."""
        return self._frame is not None

    @property
    def ended(self) -> bool:
        """The source has stopped or failed: no frame will come after the pending one."""
        return self._source_ended

    def close(self) -> None:
        """Stop receiving frames; a ``get`` waiting in another thread returns None."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._frame = None
            self._cond.notify_all()
        self._on_close(self)

    # ------------------------------------------------------- source side

    def _offer(self, frame: Frame) -> None:
        with self._cond:
            if self._closed:
                return
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def _end(self) -> None:
        with self._cond:
            self._source_ended = True
            self._cond.notify_all()

    def __repr__(self) -> str:
        return f"Subscription({self.name!r}, received={self.received}, dropped={self.dropped})"


class FanOut:
    """The set of subscriptions of one source; publishes each frame to all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._ended = False
        self._taken = threading.Condition()  # notified when a slot empties

    def subscribe(self, name: str) -> Subscription:
        subscription = Subscription(name, self._remove, self._notify_taken)
        with self._lock:
            if self._ended:
                subscription._end()
            else:
                self._subscriptions.append(subscription)
        return subscription

    def publish(self, frame: Frame) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._offer(frame)

    def end(self) -> None:
        """The source will publish nothing more: wake every waiting consumer."""
        with self._lock:
            self._ended = True
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription._end()
        self._notify_taken()

    def wait_until_taken(self, timeout: float) -> bool:
        """Wait until every consumer has taken its last frame (or ``end``); False after ``timeout``.

        For sources that can wait for their consumers (a file read flat out):
        publishing only then drops nothing and decodes nothing nobody sees.
        """
        with self._taken:
            return self._taken.wait_for(self._all_taken, timeout)

    def _all_taken(self) -> bool:
        with self._lock:
            return self._ended or not any(s.pending for s in self._subscriptions)

    def _notify_taken(self) -> None:
        with self._taken:
            self._taken.notify_all()

    def snapshot(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
        self._notify_taken()
