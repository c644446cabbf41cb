"""Fixtures for the mDNS tests: every test must leave no zeroconf thread running."""

from __future__ import annotations

import threading

import pytest

THREAD_EXIT_TIMEOUT_S = 5.0


@pytest.fixture(autouse=True)
def no_threads_left_running():
    """Fail a test that leaves threads behind (an Advertiser or browser not stopped)."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before]
    for thread in leftover:
        thread.join(THREAD_EXIT_TIMEOUT_S)
    alive = [t.name for t in leftover if t.is_alive()]
    assert alive == [], f"threads still running after the test: {alive}"


class BrowserEvents:
    """Collects ApplianceBrowser callbacks; tests wait on it with a bound, never sleep."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def __call__(self, event: str, appliance: object) -> None:
        with self._cond:
            self.events.append((event, appliance))
            self._cond.notify_all()

    def wait_for(self, event: str, predicate, timeout: float = 10.0, occurrence: int = 1):
        """The ``occurrence``-th ``event`` whose appliance satisfies ``predicate``.

        Fails the test after ``timeout`` seconds, listing every event seen.
        """

        def match():
            hits = [a for e, a in self.events if e == event and predicate(a)]
            return hits[occurrence - 1] if len(hits) >= occurrence else None

        with self._cond:
            self._cond.wait_for(lambda: match() is not None, timeout)
            found = match()
        assert found is not None, (
            f"no {event!r} event (#{occurrence}) matching the test's condition within "
            f"{timeout} s; events so far: {self.events}"
        )
        return found


@pytest.fixture
def browser_events():
    return BrowserEvents()
