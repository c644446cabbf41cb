"""The console's one reconnect loop: capped doubling waits that start over after a working session."""

from __future__ import annotations

import threading

import pytest

from console_app.core.services.reconnect import Backoff, keep_reconnecting


def test_backoff_doubles_up_to_its_cap_and_starts_over_on_reset():
    backoff = Backoff(0.5, 5.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_backoff_refuses_a_cap_below_the_first_delay():
    with pytest.raises(ValueError, match="initial_s <= max_s"):
        Backoff(2.0, 1.0)


def test_loop_reports_each_failure_with_its_reason_and_starts_over_after_a_session_that_delivered():
    stop = threading.Event()
    delivered = [0]
    retries: list[tuple[str, float]] = []
    # Sessions: fail, fail, deliver then end, fail; then stop.
    script = iter(["refused", "refused", "deliver", "timeout"])

    def session() -> None:
        step = next(script)
        if step == "deliver":
            delivered[0] += 3
            return
        raise ConnectionError(f"connection {step}")

    def on_retry(reason: str, delay: float) -> None:
        retries.append((reason, delay))
        if len(retries) == 4:
            stop.set()

    keep_reconnecting(stop, session, progress=lambda: delivered[0], on_retry=on_retry,
                      backoff=Backoff(0.001, 0.004), ended="the device ended the stream")

    assert retries == [
        ("connection refused", 0.001),
        ("connection refused", 0.002),
        ("the device ended the stream", 0.001),  # that session delivered: the wait starts over
        ("connection timeout", 0.002),
    ]


def test_loop_ends_without_retrying_when_stopped_during_a_session():
    stop = threading.Event()
    retries: list[str] = []

    def session() -> None:
        stop.set()
        raise ConnectionError("cancelled by stop")

    keep_reconnecting(stop, session, progress=lambda: 0, on_retry=lambda reason, delay: retries.append(reason),
                      backoff=Backoff(0.01, 0.02), ended="ended")
    assert retries == []
