"""The durable outbox: ordered per output, survives reopening, bounded with counted drops."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from device_runtime.outputs.outbox import Outbox


def _ids(messages) -> list[int]:
    return [m.fields["n"] for m in messages]


def test_outbox_keeps_each_outputs_messages_in_order_across_a_reopen(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    for n in range(5):
        assert outbox.put("app/a", {"n": n})
        outbox.put("app/b", {"n": 100 + n}, blob=b"jpeg")
    assert outbox.flush()
    outbox.close()

    reopened = Outbox(tmp_path / "outbox.sqlite3")
    assert _ids(reopened.peek("app/a")) == [0, 1, 2, 3, 4]
    assert _ids(reopened.peek("app/b", limit=2)) == [100, 101]
    assert reopened.peek("app/b")[0].blob == b"jpeg"
    assert reopened.counters("app/a").queued == 5
    reopened.close()


def test_outbox_uses_wal_with_full_synchronous_writes(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.put("app/a", {"n": 1})
    outbox.flush()
    assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    outbox.close()


def test_acked_messages_are_removed_and_counted_and_counters_survive_a_restart(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    for n in range(3):
        outbox.put("app/a", {"n": n})
    outbox.flush()
    first_two = outbox.peek("app/a", limit=2)
    outbox.record_failure("app/a", "broker down")
    outbox.ack("app/a", [m.id for m in first_two])
    outbox.close()

    reopened = Outbox(tmp_path / "outbox.sqlite3")
    counters = reopened.counters("app/a")
    assert (counters.delivered, counters.failed, counters.queued) == (2, 1, 1)
    assert counters.last_error == "broker down"
    assert _ids(reopened.peek("app/a")) == [2]
    reopened.close()


def test_a_full_outbox_drops_the_oldest_messages_and_counts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_bytes=2000)
    for n in range(40):
        outbox.put("app/a", {"n": n, "pad": "x" * 80})
        outbox.flush()
    counters = outbox.counters("app/a")
    kept = _ids(outbox.peek("app/a", limit=100))
    assert counters.dropped > 0 and counters.dropped + len(kept) == 40
    assert kept == list(range(40 - len(kept), 40)), "the newest messages are kept, oldest dropped"
    assert "outbox full" in counters.last_error
    assert outbox.total_bytes() <= 2000
    outbox.close()


def test_messages_older_than_the_age_limit_are_dropped_and_counted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_age_s=60, expire_every_s=0.05)
    outbox.put("app/a", {"n": 0}, created=time.time() - 3600)
    outbox.put("app/a", {"n": 1})
    outbox.flush()
    deadline = time.monotonic() + 10
    while outbox.counters("app/a").dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    counters = outbox.counters("app/a")
    assert counters.dropped == 1 and "older than 60 s" in counters.last_error
    assert _ids(outbox.peek("app/a")) == [1]
    outbox.close()


def test_a_refused_message_is_dropped_counted_and_explained(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.put("app/a", {"n": 0})
    outbox.put("app/a", {"n": 1})
    outbox.flush()
    head = outbox.peek("app/a")[0]
    outbox.reject("app/a", head.id, "PLC answered: illegal data address")
    counters = outbox.counters("app/a")
    assert counters.dropped == 1
    assert "illegal data address" in counters.last_error
    assert _ids(outbox.peek("app/a")) == [1]
    outbox.close()


def test_put_never_waits_for_the_disk(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", persist_after_s=0.01)
    # Hold the database lock the writer needs to store (a stalled disk): put must still return at once.
    with outbox._lock:
        started = time.monotonic()
        for n in range(1000):
            outbox.put("app/a", {"n": n})
        elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"put waited ({elapsed:.2f} s for 1000 events)"
    assert outbox.flush()
    assert outbox.counters("app/a").queued == 1000
    outbox.close()


def test_messages_beyond_what_may_wait_for_a_stalled_disk_are_dropped_and_counted_per_output(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", memory_queue=10, persist_after_s=0.01)
    with outbox._lock:  # the disk is stalled: nothing put is stored meanwhile
        results = [outbox.put("app/a", {"n": n}) for n in range(30)]
        taken = outbox.put_many([("app/a", {"n": 30}, b""), ("app/b", {"n": 31}, b"jpeg")])
    assert results.count(True) == 10 and taken == 0
    assert outbox.counters("app/a").dropped == 21 and outbox.counters("app/b").dropped == 1
    assert "writer is behind" in outbox.counters("app/a").last_error
    assert outbox.flush()
    assert _ids(outbox.peek("app/a")) == list(range(10)), "what was taken is kept, in order"
    outbox.close()


def test_put_many_keeps_the_order_of_each_output_across_calls(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.put("app/a", {"n": 0})
    assert outbox.put_many([("app/a", {"n": 1}, b""), ("app/b", {"n": 1}, b"jpeg")]) == 2
    outbox.put("app/a", {"n": 2})
    assert outbox.flush()
    assert _ids(outbox.peek("app/a")) == [0, 1, 2]
    assert [m.blob for m in outbox.peek("app/b")] == [b"jpeg"]
    outbox.close()


def test_the_database_file_is_plain_sqlite(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.put("app/a", {"n": 7})
    outbox.flush()
    outbox.close()
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        assert db.execute("SELECT output FROM messages").fetchall() == [("app/a",)]


def _stored_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT output, fields FROM messages ORDER BY id").fetchall()


def test_a_message_its_output_confirmed_at_once_never_touches_the_disk(tmp_path: Path) -> None:
    """Write-behind: a healthy output costs the device's flash no writes."""
    outbox = Outbox(tmp_path / "outbox.sqlite3", persist_after_s=5.0)
    outbox.take("app/a")  # the output's delivery thread is reading: its lane is in memory
    outbox.put("app/a", {"n": 0})
    taken = outbox.take("app/a", timeout=5.0)
    assert _ids(taken) == [0]
    outbox.ack("app/a", [m.id for m in taken])
    assert outbox.flush()
    assert _stored_rows(tmp_path / "outbox.sqlite3") == []
    assert outbox.counters("app/a").delivered == 1
    outbox.close()


def test_a_message_no_output_confirmed_is_on_disk_shortly_after_without_a_flush(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", persist_after_s=0.2)
    outbox.take("app/a")
    outbox.put("app/a", {"n": 0})
    assert _ids(outbox.take("app/a", timeout=5.0)) == [0]  # taken, but never confirmed (the broker is down)
    deadline = time.monotonic() + 10
    while not _stored_rows(tmp_path / "outbox.sqlite3") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [output for output, _ in _stored_rows(tmp_path / "outbox.sqlite3")] == ["app/a"]
    assert outbox.counters("app/a").queued == 1
    outbox.close()


def test_a_full_lane_spills_to_disk_and_its_output_still_gets_every_message_once_in_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", lane_messages=5, persist_after_s=0.05)
    outbox.take("app/a")
    for n in range(12):
        outbox.put("app/a", {"n": n})
    assert outbox.flush()
    assert outbox.counters("app/a").queued == 12
    seen: list[int] = []
    deadline = time.monotonic() + 10
    while len(seen) < 12 and time.monotonic() < deadline:
        batch = outbox.take("app/a", limit=4, timeout=1.0)
        seen += _ids(batch)
        outbox.ack("app/a", [m.id for m in batch])
    assert seen == list(range(12))
    # Caught up: the lane is in memory again, and the next message goes straight to it.
    outbox.put("app/a", {"n": 12})
    batch = outbox.take("app/a", timeout=5.0)
    assert _ids(batch) == [12]
    outbox.ack("app/a", [m.id for m in batch])
    assert outbox.flush()
    counters = outbox.counters("app/a")
    assert (counters.delivered, counters.queued) == (13, 0)
    outbox.close()
    assert _stored_rows(tmp_path / "outbox.sqlite3") == []


def test_a_take_waiting_for_messages_returns_as_soon_as_one_arrives(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", persist_after_s=60.0)
    outbox.take("app/a")
    got: list[list[int]] = []
    reader = threading.Thread(target=lambda: got.append(_ids(outbox.take("app/a", timeout=120.0))))
    reader.start()
    time.sleep(0.1)
    started = time.monotonic()
    outbox.put("app/a", {"n": 0})
    reader.join(120)
    assert got == [[0]]
    assert time.monotonic() - started < 30.0, "the reader waited for the disk (60 s) instead of taking from memory"
    outbox.close()


def test_without_write_behind_every_message_is_on_disk_before_its_output_can_take_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", persist_after_s=0)
    outbox.take("app/a")
    outbox.put("app/a", {"n": 0})
    taken = outbox.take("app/a", timeout=5.0)
    assert _ids(taken) == [0]
    assert [output for output, _ in _stored_rows(tmp_path / "outbox.sqlite3")] == ["app/a"]
    outbox.ack("app/a", [m.id for m in taken])
    outbox.close()
    assert outbox.messages_written == 1
    assert _stored_rows(tmp_path / "outbox.sqlite3") == [], "the delivered message is removed"
