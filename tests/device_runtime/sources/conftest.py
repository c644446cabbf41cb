"""Fixtures for the sources tests: real RTSP servers, test videos, state waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from device_runtime.sources import Source, StateChange, open_source
from device_runtime.types import StreamState


class StateRecorder:
    """Records every state change of a source and waits for one, with a deadline."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.changes: list[StateChange] = []
        self._cond = threading.Condition()
        source.add_state_listener(self._on_change)

    def _on_change(self, change: StateChange) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    @property
    def states(self) -> list[StreamState]:
        with self._cond:
            return [c.state for c in self.changes]

    def wait_for(
        self,
        *states: StreamState,
        timeout: float,
        after: int = 0,
        reason_contains: str = "",
    ) -> StateChange:
        """The first change to one of ``states`` (at index >= ``after``, with
        ``reason_contains`` in its reason); fails with the history after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for change in self.changes[after:]:
                    if change.state in states and reason_contains in change.reason:
                        return change
                left = deadline - time.monotonic()
                if left <= 0:
                    history = ", ".join(f"{c.state.value}({c.reason})" for c in self.changes)
                    raise AssertionError(
                        f"stream {self.source.stream_id} did not reach"
                        f" {'/'.join(s.value for s in states)} ({reason_contains!r}) within {timeout} s;"
                        f" now {self.source.state.value}; history: {history}"
                    )
                self._cond.wait(left)

    def mark(self) -> int:
        """An index for ``wait_for(after=...)``: only changes from now on count."""
        with self._cond:
            return len(self.changes)


@pytest.fixture
def make_source() -> Iterator[Callable[..., tuple[Source, StateRecorder]]]:
    """``make_source(url, **options)`` -> (unstarted source, its recorder); stopped at teardown.

    Teardown fails the test if a reader thread is still alive after stop:
    sources must never leak threads.
    """
    made: list[Source] = []

    def make(url: str, stream_id: str = "cam", **options: object) -> tuple[Source, StateRecorder]:
        source = open_source(url, stream_id, **options)
        made.append(source)
        return source, StateRecorder(source)

    yield make
    leaked = [s for s in made if not s.stop(timeout=10.0)]
    assert not leaked, f"reader threads still alive after stop(): {leaked}"
