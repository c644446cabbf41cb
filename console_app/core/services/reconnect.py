"""Keeping a device stream open across device restarts and network cuts.

Every stream the console follows (a device's preview for the live wall,
its health, events and logs) runs the same loop, :func:`keep_reconnecting`:
run one session (connect, open the stream, read until it ends); when it ends
or fails, say why, wait, and try again until stopped. The wait doubles from
a first delay up to a cap (:class:`Backoff`) and starts over once a session
has delivered something, so a device that comes back is followed again
within a second or two and one that stays away is not hammered.

:class:`StreamFollower` runs that loop in a daemon thread for one server
stream (health, events, logs); :class:`~console_app.core.services.live_feed.LiveFeed`
runs it for the preview.

No Qt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


class Backoff:
    """A capped, doubling delay: ``next()`` gives the current one and doubles it for next time."""

    def __init__(self, initial_s: float, max_s: float):
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s, got {initial_s} and {max_s}")
        self.initial_s, self.max_s = initial_s, max_s
        self._delay = initial_s

    def next(self) -> float:
        """The delay to wait now; the one after it is twice as long (at most ``max_s``)."""
        delay = self._delay
        self._delay = min(self.max_s, delay * 2)
        return delay

    def reset(self) -> None:
        """Start over from ``initial_s`` (a session worked)."""
        self._delay = self.initial_s


def keep_reconnecting(stop: threading.Event, session: Callable[[], None], *, progress: Callable[[], int],
                      on_retry: Callable[[str, float], None], backoff: Backoff, ended: str) -> None:
    """Run ``session()`` again and again until ``stop`` is set, waiting ``backoff`` between runs.

    ``session`` returning means the stream ended (the reason given to
    ``on_retry`` is ``ended``); raising means it failed (the exception's
    text is the reason). ``progress()`` counts what sessions delivered: when
    it grew during a session, the backoff starts over. ``on_retry(reason,
    delay)`` runs before each wait; nothing runs after ``stop`` is set.
    """
    while not stop.is_set():
        before = progress()
        try:
            session()
            reason = ended
        except Exception as exc:  # any failure: the device went away, TLS, a refused call
            reason = str(exc) or type(exc).__name__
        if stop.is_set():
            return
        if progress() > before:
            backoff.reset()
        delay = backoff.next()
        on_retry(reason, delay)
        if stop.wait(delay):
            return


CONNECTING, LIVE, RECONNECTING, STOPPED = "connecting", "live", "reconnecting", "stopped"


class StreamFollower:
    """Follows one device stream in a daemon thread, reconnecting with backoff until :meth:`stop`.

    ``connect()`` returns a client (closed when the stream ends);
    ``open_stream(client)`` opens the stream (a ``DeviceStream``);
    ``on_message(message)`` runs in the follower's thread for every message;
    ``on_state(state, detail)`` reports ``connecting``, ``live``,
    ``reconnecting`` (detail: the error and the delay) and ``stopped``.
    The delay between attempts doubles from ``min_backoff_s`` to
    ``max_backoff_s`` and starts over once a connection has delivered a
    message (:func:`keep_reconnecting`).
    """

    def __init__(self, connect: Callable[[], Any], open_stream: Callable[[Any], Iterable[Any]],
                 on_message: Callable[[Any], None], on_state: Callable[[str, str], None] | None = None,
                 name: str = "device-stream", min_backoff_s: float = 0.5, max_backoff_s: float = 5.0):
        self._connect, self._open, self._on_message = connect, open_stream, on_message
        self._on_state = on_state
        self.name = name
        self.min_backoff_s, self.max_backoff_s = min_backoff_s, max_backoff_s
        self.state, self.detail = CONNECTING, ""
        self.connections = 0  # streams opened so far: > 1 means it reconnected
        self.messages = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name=f"follow-{name}", daemon=True)

    def start(self) -> StreamFollower:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, wait: float = 0.0) -> None:
        """Stop following; never blocks longer than ``wait`` seconds (0: not at all)."""
        self._stopping.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.cancel()
        if wait > 0 and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(wait)

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        if self._on_state is not None:
            try:
                self._on_state(state, detail)
            except Exception:
                log.exception("%s: state listener failed", self.name)

    def _run(self) -> None:
        def session() -> None:
            self._set_state(CONNECTING)
            self._follow_once()

        def on_retry(error: str, delay: float) -> None:
            self._set_state(RECONNECTING, f"{error}; retrying in {delay:.1f} s")
            log.info("%s: %s; retrying in %.1f s", self.name, error, delay)

        keep_reconnecting(self._stopping, session, progress=lambda: self.messages, on_retry=on_retry,
                          backoff=Backoff(self.min_backoff_s, self.max_backoff_s),
                          ended="the device ended the stream")
        self._set_state(STOPPED)

    def _follow_once(self) -> None:
        client = self._connect()
        try:
            stream = self._open(client)
            with self._lock:
                self._stream = stream
            if self._stopping.is_set():
                stream.cancel()
                return
            self.connections += 1
            self._set_state(LIVE)
            for message in stream:
                if self._stopping.is_set():
                    return
                self.messages += 1
                self._on_message(message)
        finally:
            with self._lock:
                self._stream = None
            close = getattr(client, "close", None)
            if close is not None:
                close()
