"""Newest-frame delivery: drop-oldest per consumer, independent consumers."""

from __future__ import annotations

import threading
import time

import numpy as np

from device_runtime.sources.buffer import FanOut
from device_runtime.types import Frame, StreamState


def _frame(seq: int) -> Frame:
    return Frame(image=np.zeros((2, 2, 3), np.uint8), stream_id="s", seq=seq)


def test_slow_consumer_gets_the_newest_frame_and_counts_the_ones_it_missed():
    fanout = FanOut()
    slow = fanout.subscribe("slow")
    for seq in range(5):
        fanout.publish(_frame(seq))
    frame = slow.get(timeout=0)
    assert frame is not None and frame.seq == 4
    assert slow.dropped == 4 and slow.received == 1
    assert slow.get(timeout=0) is None  # each frame is handed over once


def test_two_consumers_are_independent():
    fanout = FanOut()
    fast, slow = fanout.subscribe("fast"), fanout.subscribe("slow")
    for seq in range(3):
        fanout.publish(_frame(seq))
        assert fast.get(timeout=0).seq == seq
    assert slow.get(timeout=0).seq == 2
    assert (fast.dropped, slow.dropped) == (0, 2)


def test_get_returns_a_frame_published_by_another_thread():
    fanout = FanOut()
    subscription = fanout.subscribe("a")
    publisher = threading.Thread(target=fanout.publish, args=(_frame(7),))
    publisher.start()
    frame = subscription.get(timeout=5)
    publisher.join(5)
    assert frame is not None and frame.seq == 7


def test_get_times_out_with_none():
    subscription = FanOut().subscribe("a")
    started = time.monotonic()
    assert subscription.get(timeout=0.05) is None
    assert 0.04 <= time.monotonic() - started < 1.0


def test_close_wakes_a_waiting_consumer_and_stops_delivery():
    fanout = FanOut()
    subscription = fanout.subscribe("a")
    result: list[object] = []
    consumer = threading.Thread(target=lambda: result.append(subscription.get(timeout=10)))
    consumer.start()
    subscription.close()
    consumer.join(5)
    assert not consumer.is_alive() and result == [None]
    fanout.publish(_frame(1))
    assert subscription.get(timeout=0) is None and subscription.closed


def test_after_the_source_ends_the_pending_frame_is_still_delivered():
    fanout = FanOut()
    subscription = fanout.subscribe("a")
    fanout.publish(_frame(3))
    fanout.end()
    assert subscription.ended
    assert subscription.get(timeout=5).seq == 3
    assert subscription.get() is None  # no timeout: returns at once, never blocks forever
    late = fanout.subscribe("late")
    assert late.ended and late.get() is None


def test_a_polling_consumer_of_an_ended_source_does_not_spin():
    fanout = FanOut()
    subscription = fanout.subscribe("a")
    fanout.end()
    started = time.monotonic()
    assert subscription.get(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09, "get(timeout) returned early: a poll loop would spin"


def test_iterating_a_subscription_ends_with_the_source():
    fanout = FanOut()
    subscription = fanout.subscribe("a")
    fanout.publish(_frame(1))
    fanout.end()
    assert [f.seq for f in subscription] == [1]


def test_real_source_slow_consumer_gets_newest_frame_and_drop_count_adds_up(make_source):
    source, states = make_source("test://pattern?width=64&height=48&objects=1", realtime=False)
    fast, slow = source.subscribe("fast"), source.subscribe("slow")
    source.start()
    first_slow = slow.get(timeout=5)
    assert first_slow is not None
    while (frame := fast.get(timeout=5)) is not None and frame.seq < first_slow.seq + 5:
        pass
    assert source.stop(timeout=5)
    states.wait_for(StreamState.STOPPED, timeout=5)

    newest = slow.get(timeout=1)
    assert newest is not None
    assert newest.seq == source.frames_read - 1, "the slow consumer did not get the newest frame"
    assert slow.received == 2 and newest.seq > first_slow.seq
    assert slow.received + slow.dropped == source.frames_read  # every frame taken or counted
    while fast.get(timeout=0) is not None:
        pass
    assert fast.received + fast.dropped == source.frames_read
