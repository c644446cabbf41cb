"""The durable outbox: every output delivery goes through it; what an output has not taken soon is on disk.

How it works, and why:

- The pipeline thread calls :meth:`Outbox.put_many` (or :meth:`Outbox.put`),
  which numbers the messages and hands each to its output's *lane*: an
  ordered in-memory list that the output's delivery thread takes from
  (:meth:`take`). It never waits: no disk, no lock that disk I/O holds. A
  healthy output sends an event milliseconds after it happened, and the
  only threads an event wakes are its outputs' (on a busy device each wake
  of a thread with cold caches costs a quarter of a millisecond of CPU).
- **Write-behind.** The writer thread sleeps until ``persist_after_s`` (0.2 s)
  after the oldest message not yet stored, then stores every message some
  output has not yet confirmed,
  in one transaction for all of them (SQLite in WAL mode with
  ``synchronous=FULL``: a committed message survives a process kill and a
  power cut). A message its output confirmed within that time never touches
  the disk, so on a healthy site the outbox costs next to no I/O and CPU
  (``benchmarks/outputs.py`` measures it), and during an outage each message
  is on disk 0.2 s after the event. A power cut can therefore lose only the
  undelivered messages of the last 0.2 s; a clean stop and :meth:`flush`
  store them all. With ``persist_after_s`` 0 the writer stores each message
  before its lane gets it (write-through). Messages waiting for the writer
  are bounded (``memory_queue``): past that (a stalled disk) new ones are
  dropped and counted.
- Lanes are bounded (messages and bytes). When an output is down or slower
  than its events, its lane fills and *spills*: later messages go to disk
  only, and the output reads them back from the database, oldest first,
  after the ones in memory; once it has caught up its lane is in memory
  again. After a restart every lane first reads what the database holds.
- Delivery is *at least once, in order per output*: a stored message leaves
  the database only after its sink confirmed it. Removals ride on the next
  write (or a housekeeping commit within a second), so a crash may send the
  last second's confirmed messages again (payloads carry ``event_id`` for
  de-duplication).
- Bounded by size and age. Past ``max_bytes`` the oldest stored messages (of
  any output) are dropped; messages older than ``max_age_s`` are dropped.
  Every drop is counted per output with its reason in ``last_error``;
  nothing is dropped silently.
- Counters (delivered, failed attempts, dropped, suppressed) live in memory
  and are saved in the same database within about a second of changing and
  on close, so they survive restarts like the queue does.

Locks: ``_lock`` guards the database connection and is held during disk
I/O; ``_state`` guards lanes and counters and is never held during I/O, so
neither a camera nor a delivery thread ever waits for an fsync. When both
are needed, ``_lock`` is taken first.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE_NAME = "outbox.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    output TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    fields TEXT NOT NULL,
    blob BLOB
);
CREATE INDEX IF NOT EXISTS messages_by_output ON messages (output, id);
CREATE TABLE IF NOT EXISTS counters (
    output TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    suppressed INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_error_time REAL NOT NULL DEFAULT 0,
    last_delivered_time REAL NOT NULL DEFAULT 0
);
"""

_COUNTER_COLUMNS = ("delivered", "failed", "dropped", "suppressed", "last_error", "last_error_time", "last_delivered_time")
_SIZE_OVERHEAD = 256  # bytes a lane counts per message besides its blob (fields, bookkeeping)
_HOUSEKEEPING_S = 1.0  # removals and counter changes are committed at most this long after they happen
_STORE_RETRY_S = 1.0  # after a failed write, the next try


@dataclass
class Message:
    """One queued delivery: the event's template fields (and the snapshot JPEG when the output wants it)."""

    id: int
    output: str
    created: float
    fields: dict[str, Any]
    blob: bytes = b""


@dataclass(eq=False)
class _Held(Message):
    """A message the writer took in this run: in its lane, on disk, or both."""

    arrived: float = 0.0  # monotonic time the writer took it in
    spilled: bool = False  # its lane was full or reading the database: it is on disk only
    stored: bool = False  # committed (or being committed) to the database
    settled: bool = False  # delivered or refused: it need not be stored any more
    placed: bool = False  # handed to its lane (writing through, only once stored)


@dataclass
class OutputCounters:
    """What health reports about one output. ``failed`` counts failed delivery attempts.

    ``queued`` counts messages waiting in memory and on disk; ``queued_bytes``
    is what they take in the database (the size the outbox's bound applies to).
    """

    output: str
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    suppressed: int = 0
    queued: int = 0
    queued_bytes: int = 0
    last_error: str = ""
    last_error_time: float = 0.0
    last_delivered_time: float = 0.0
    oldest_queued_time: float = 0.0


class _Lane:
    """One output's messages on their way: in memory in order, and whether older ones wait on disk."""

    __slots__ = ("memory", "memory_bytes", "on_disk", "settled_upto", "spilled", "ready", "version")

    def __init__(self, ready: threading.Condition) -> None:
        self.memory: deque[_Held] = deque()
        self.memory_bytes = 0
        # The database may hold messages of this output that are not in memory (after a restart,
        # or since the lane spilled): the delivery thread reads those before any newer one.
        self.on_disk = True
        self.settled_upto = 0  # highest id delivered or refused (one output's messages settle in id order)
        # Spilled messages not yet committed, oldest first: not readable from the database yet. When the
        # database has nothing older left, the lane takes them back into memory instead of waiting.
        self.spilled: deque[_Held] = deque()
        self.ready = ready  # notified when the lane gets messages; shares the outbox's state lock
        self.version = 0  # bumped with every notification, so a waiter cannot miss one


class Outbox:
    """A persistent, bounded, per-output ordered queue; thread-safe. :meth:`close` stores what is left and stops."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 7 * 86400.0,
        memory_queue: int = 10000,
        expire_every_s: float = 60.0,
        persist_after_s: float = 0.2,
        lane_messages: int = 1000,
        lane_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.persist_after_s = persist_after_s
        self.lane_messages = lane_messages
        self.lane_bytes = lane_bytes
        self._expire_every_s = expire_every_s
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._state = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._counters: dict[str, OutputCounters] = {}
        self._dirty: set[str] = set()  # outputs whose counters changed since they were saved
        self._removals: list[int] = []  # stored messages settled since the last commit
        self._overflow: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self._total_bytes = 0
        self._next_id = 1
        self.messages_written = 0  # messages stored since this outbox opened (write-behind keeps it low)
        self._load()
        self._memory_queue = memory_queue
        self._unstored: list[_Held] = []  # put, neither stored nor settled when the writer last looked
        self._storing = 0  # messages the writer is storing now
        self._flush_waiters: list[threading.Event] = []
        self._writer_wake = threading.Condition(self._state)
        self._stopping = False
        self._closed = False
        self._next_expiry = 0.0
        self._next_housekeeping = 0.0
        self._retry_at = 0.0  # after a failed write, the earliest next try (monotonic)
        self._store_failing = False
        self._writer = threading.Thread(target=self._write_loop, name="outbox-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ producer side

    def put(self, output: str, fields: dict[str, Any], blob: bytes = b"", created: float | None = None) -> bool:
        """Queue one message without waiting; False (and a counted drop) if the writer is this far behind."""
        return self.put_many([(output, fields, blob)], created) == 1

    def put_many(self, messages: list[tuple[str, dict[str, Any], bytes]], created: float | None = None) -> int:
        """Hand ``(output, fields, blob)`` messages to their outputs, in order, without waiting; how many were taken.

        A message is dropped (counted, with the reason in the output's last
        error) when ``memory_queue`` messages already wait for the writer.
        """
        if not messages:
            return 0
        created = time.time() if created is None else created
        now = time.monotonic()
        held: list[_Held] = []
        with self._state:
            for output, fields, blob in messages:
                if len(self._unstored) + self._storing + len(held) >= self._memory_queue or self._stopping:
                    self._overflow[output] = self._overflow.get(output, 0) + 1
                    continue
                held.append(_Held(self._next_id, output, created, fields, blob, arrived=now))
                self._next_id += 1
            if not held:
                return 0
            if self.persist_after_s > 0:
                self._hand_over(held, committed=False)
            if not self._unstored:  # the writer sleeps without a deadline: give it one
                self._writer_wake.notify()
            self._unstored += held
        return len(held)

    def count_suppressed(self, output: str, n: int = 1) -> None:
        """Count events an output's debounce skipped."""
        with self._state:
            self._suppressed[output] = self._suppressed.get(output, 0) + n

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is on disk unless already delivered; False on timeout."""
        done = threading.Event()
        with self._state:
            self._flush_waiters.append(done)
            self._writer_wake.notify()
        return done.wait(timeout)

    # ------------------------------------------------------------------ consumer side

    def take(self, output: str, limit: int = 100, timeout: float = 0.0) -> list[Message]:
        """The oldest ``limit`` undelivered messages of ``output``, oldest first, waiting up to ``timeout`` for one.

        Taking does not remove: the same messages come back until :meth:`ack`
        or :meth:`reject` settles them. One thread takes per output.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._state:
                lane = self._lane(output)
                if lane.memory:
                    return list(itertools.islice(lane.memory, limit))
                version, on_disk = lane.version, lane.on_disk
            if on_disk:
                messages = self._read_disk(output, lane, limit)
                if messages:
                    return messages
            with self._state:
                remaining = deadline - time.monotonic()
                if lane.memory or lane.version != version:
                    continue
                if remaining <= 0 or self._closed:
                    return []
                lane.ready.wait(remaining)

    def peek(self, output: str, limit: int = 100) -> list[Message]:
        """The oldest ``limit`` undelivered messages of ``output``, without waiting."""
        return self.take(output, limit)

    def wake(self, output: str) -> None:
        """Make a :meth:`take` waiting on ``output`` return now (its delivery thread is stopping)."""
        with self._state:
            lane = self._lane(output)
            lane.version += 1
            lane.ready.notify_all()

    def ack(self, output: str, ids: Iterable[int]) -> None:
        """Settle delivered messages (taken from this output, oldest first) and count them."""
        ids = list(ids)
        if not ids:
            return
        with self._state:
            self._settle(output, ids)
            counter = self._counter(output)
            counter.delivered += len(ids)
            counter.last_delivered_time = time.time()
            self._dirty.add(output)

    def reject(self, output: str, message_id: int, error: str) -> None:
        """Drop a message the receiver refused for good (counted as dropped; ``error`` becomes last_error)."""
        with self._state:
            self._settle(output, [message_id])
            self._counter(output).failed += 1
            self._count_drop(output, 1, f"refused, message dropped: {error}", time.time())

    def record_failure(self, output: str, error: str) -> None:
        """Count a failed attempt; the messages stay queued for the next try."""
        with self._state:
            counter = self._counter(output)
            counter.failed += 1
            counter.last_error = error
            counter.last_error_time = time.time()
            self._dirty.add(output)

    def clear_error(self, output: str) -> None:
        """Forget the last error (after a success, so health shows the output as healthy)."""
        with self._state:
            counter = self._counter(output)
            if counter.last_error:
                counter.last_error = ""
                self._dirty.add(output)

    # ------------------------------------------------------------------ reporting

    def counters(self, output: str) -> OutputCounters:
        """A snapshot of one output's counters, with what is queued now (in memory and on disk)."""
        with self._lock:
            with self._state:
                self._fold_tallies()
                base = self._counter(output)
                snapshot = OutputCounters(**{k: getattr(base, k) for k in ("output",) + _COUNTER_COLUMNS})
                lane = self._lanes.get(output)
                after = lane.settled_upto if lane else 0
                in_memory = [m for m in lane.memory] if lane else []
                spilled = len(lane.spilled) if lane else 0
                unplaced = sum(1 for m in self._unstored if m.output == output and not m.placed)  # writing through
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created) FROM messages WHERE output = ? AND id > ?",
                (output, after),
            ).fetchone()
        stored_in_memory = sum(1 for m in in_memory if m.stored)
        snapshot.queued = (row[0] - stored_in_memory) + len(in_memory) + spilled + unplaced
        snapshot.queued_bytes = row[1]
        oldest = [t for t in (row[2], in_memory[0].created if in_memory else None) if t]
        snapshot.oldest_queued_time = min(oldest) if oldest else 0.0
        return snapshot

    def outputs(self) -> list[str]:
        """Every output the outbox holds counters or messages for."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT output FROM messages").fetchall()
            with self._state:
                in_memory = {name for name, lane in self._lanes.items() if lane.memory}
                return sorted(set(self._counters) | in_memory | {r[0] for r in rows})

    def total_bytes(self) -> int:
        """Bytes the stored messages take (what ``max_bytes`` bounds)."""
        with self._lock:
            return self._total_bytes

    def close(self, timeout: float = 10.0) -> None:
        """Store what is not delivered yet, save the counters, stop the writer and close the database."""
        if self._closed:
            return
        with self._state:
            self._stopping = True
            self._writer_wake.notify()
        self._writer.join(timeout)
        with self._state:
            self._closed = True
            for lane in self._lanes.values():
                lane.ready.notify_all()
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ the writer thread

    def _write_loop(self) -> None:
        while True:
            with self._state:
                store_now = self._wait_for_work()
                batch = self._unstored if store_now else []
                if store_now:
                    self._unstored = []
                    self._storing = len(batch)  # still waiting for the disk: they count against memory_queue
                waiters, self._flush_waiters = self._flush_waiters, []
                stopping = self._stopping
            if store_now:
                failed = self._store(batch, force=stopping)
                with self._state:
                    if self.persist_after_s <= 0:  # writing through: a lane gets a message once it is stored
                        kept = {id(m) for m in failed}
                        self._hand_over([m for m in batch if id(m) not in kept and not m.placed], committed=True)
                    self._storing = 0
                    if failed:
                        self._unstored = failed + self._unstored
                        self._retry_at = time.monotonic() + _STORE_RETRY_S
            elif stopping or time.monotonic() >= self._next_housekeeping:
                self._store([], force=True)
            for waiter in waiters:
                waiter.set()
            self._maybe_expire()
            if stopping:
                return

    def _wait_for_work(self) -> bool:
        """Sleep until something is due (``_state`` held); whether the messages waiting are to be stored now."""
        while True:
            now = time.monotonic()
            due = float("inf")
            if self._unstored:
                due = max(self._unstored[0].arrived + self.persist_after_s, self._retry_at)
            wake = min(due, now + min(1.0, self._expire_every_s))
            if self._removals or self._dirty or self._overflow or self._suppressed:
                wake = min(wake, self._next_housekeeping)
            if self._stopping or self._flush_waiters:
                return bool(self._unstored)
            if now >= wake:
                return now >= due
            self._writer_wake.wait(wake - now)

    def _hand_over(self, held: list[_Held], committed: bool) -> None:
        """Put each message in its lane or, when the lane is full or reading the database, leave it to the disk.

        ``committed``: the messages are stored already (writing through).
        ``_state`` is held by the caller.
        """
        woken: set[_Lane] = set()
        for message in held:
            message.placed = True
            lane = self._lane(message.output)
            size = len(message.blob) + _SIZE_OVERHEAD
            if not lane.on_disk and (len(lane.memory) >= self.lane_messages or lane.memory_bytes + size > self.lane_bytes):
                log.info("output %s: %d message(s) wait in memory; newer ones wait on disk", message.output, len(lane.memory))
                lane.on_disk = True
            if lane.on_disk:
                if committed:  # readable from the database already
                    woken.add(lane)
                else:
                    message.spilled = True
                    lane.spilled.append(message)
            else:
                lane.memory.append(message)
                lane.memory_bytes += size
                woken.add(lane)
        for lane in woken:
            lane.version += 1
            lane.ready.notify_all()

    def _store(self, unstored: list[_Held], force: bool = False) -> list[_Held]:
        """Commit the unsettled messages, pending removals and changed counters; what could not be stored.

        With no message to store, removals and counters wait for the next housekeeping time unless ``force``.
        """
        with self._state:
            writes = [m for m in unstored if not m.settled]
            if not writes and not force and time.monotonic() < self._next_housekeeping:
                return []  # every message was delivered in time: removals and counters can wait
            for message in writes:
                message.stored = True
            removals, self._removals = self._removals, []
            self._fold_tallies()
            dirty, self._dirty = self._dirty, set()
            rows = [self._counter_row(o) for o in sorted(dirty)]
        self._next_housekeeping = time.monotonic() + _HOUSEKEEPING_S
        if not (writes or removals or rows):
            return []
        encoded = [(m.id, m.output, m.created, m.blob or None, json.dumps(m.fields, ensure_ascii=False, separators=(",", ":")))
                   for m in writes]
        records = [(i, output, created, len(text) + len(blob or b""), text, blob) for i, output, created, blob, text in encoded]
        try:
            with self._lock:
                # Only new messages need the fsync; removals and counters may be undone by a power cut
                # (the messages are sent again, at least once allows it), and the next fsync covers them.
                if not writes:
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO messages (id, output, created, size, fields, blob) VALUES (?, ?, ?, ?, ?, ?)", records
                    )
                    self._total_bytes += sum(r[3] for r in records)
                    self._delete(removals)
                    if self._total_bytes > self.max_bytes:
                        rows += self._drop_oldest()
                    self._db.executemany(
                        "INSERT OR REPLACE INTO counters (output, " + ", ".join(_COUNTER_COLUMNS) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._total_bytes = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]
                    raise
                finally:
                    if not writes:
                        self._db.execute("PRAGMA synchronous=FULL")
                self._committed(writes)
                self.messages_written += len(writes)
        except Exception as exc:  # the disk is full or broken: keep what is in memory, count what is lost
            if not self._store_failing:
                log.exception("outbox: could not write to %s", self.path)
            self._store_failing = True
            return self._store_failed(writes, removals, dirty, exc)
        if self._store_failing:
            log.info("outbox: writing to %s again", self.path)
            self._store_failing = False
        return []

    def _committed(self, writes: list[_Held]) -> None:
        """Spilled messages are readable from the database now: wake their outputs (``_lock`` held)."""
        committed = {id(m) for m in writes if m.spilled}
        woken: set[_Lane] = set()
        with self._state:
            for lane in self._lanes.values():
                while lane.spilled and id(lane.spilled[0]) in committed:  # commits keep each lane's order
                    lane.spilled.popleft()
                    woken.add(lane)
            for lane in woken:
                lane.version += 1
                lane.ready.notify_all()

    def _store_failed(self, writes: list[_Held], removals: list[int], dirty: set[str], exc: Exception) -> list[_Held]:
        """After a failed commit: messages in memory wait for the next try; spilled ones are lost, counted."""
        now = time.time()
        retry = []
        with self._state:
            self._removals = removals + self._removals
            self._dirty |= dirty
            lost: dict[str, int] = {}
            for message in writes:
                message.stored = False
                if message.spilled:
                    self._lane(message.output).spilled.remove(message)
                    lost[message.output] = lost.get(message.output, 0) + 1
                else:
                    retry.append(message)
            for output, n in lost.items():
                self._count_drop(output, n, f"outbox could not write to disk ({exc}): {n} message(s) dropped", now)
        return retry

    def _drop_oldest(self) -> list[tuple]:
        """Delete the oldest stored messages until the outbox is under ``max_bytes``; their counter rows.

        Runs inside the writer's transaction (``_lock`` held).
        """
        excess = self._total_bytes - self.max_bytes
        rows = self._db.execute("SELECT id, output, size FROM messages ORDER BY id").fetchmany(100000)
        victims: dict[str, list[int]] = {}
        freed = 0
        for message_id, output, size in rows:
            if freed >= excess:
                break
            victims.setdefault(output, []).append(message_id)
            freed += size
        self._delete([i for ids in victims.values() for i in ids])
        now = time.time()
        with self._state:
            for output, ids in victims.items():
                self._forget(output, set(ids))
                n = len(ids)
                self._count_drop(output, n, f"outbox full ({self.max_bytes} bytes): dropped {n} oldest message(s)", now)
            self._dirty -= set(victims)
            counter_rows = [self._counter_row(o) for o in sorted(victims)]
        log.warning("outbox full: dropped %d oldest message(s)", sum(len(ids) for ids in victims.values()))
        return counter_rows

    def _maybe_expire(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + self._expire_every_s
        cutoff = now - self.max_age_s
        with self._lock:
            rows = self._db.execute("SELECT output, id FROM messages WHERE created < ?", (cutoff,)).fetchall()
            if not rows:
                return
            expired: dict[str, set[int]] = {}
            for output, message_id in rows:
                expired.setdefault(output, set()).add(message_id)
            self._db.execute("BEGIN IMMEDIATE")
            self._delete([message_id for _, message_id in rows])
            self._db.execute("COMMIT")
            with self._state:
                for output, ids in expired.items():
                    lane = self._lanes.get(output)
                    # Messages already delivered (their removal not yet committed) are not drops.
                    n = len([i for i in ids if lane is None or i > lane.settled_upto])
                    self._forget(output, ids)
                    self._count_drop(output, n, f"dropped {n} message(s) older than {self.max_age_s:.0f} s", now)
        log.warning("outbox: dropped %d expired message(s)", len(rows))

    # ------------------------------------------------------------------ internals

    def _read_disk(self, output: str, lane: _Lane, limit: int) -> list[Message]:
        """The lane's oldest stored messages; with none left, the lane is in memory again."""
        with self._lock:
            with self._state:
                after = lane.settled_upto
            rows = self._db.execute(
                "SELECT id, created, fields, blob FROM messages WHERE output = ? AND id > ? ORDER BY id LIMIT ?",
                (output, after, limit),
            ).fetchall()
            if not rows:
                # Caught up. Holding ``_lock``, no commit can slip in between the read and this, so
                # the spilled messages not yet committed are the next ones: they move to memory.
                with self._state:
                    if lane.on_disk and not lane.memory:
                        for message in lane.spilled:
                            message.spilled = False
                            lane.memory_bytes += len(message.blob) + _SIZE_OVERHEAD
                        lane.memory, lane.spilled = lane.spilled, deque()
                        lane.on_disk = False
                return []
        return [Message(row[0], output, row[1], json.loads(row[2]), row[3] or b"") for row in rows]

    def _settle(self, output: str, ids: list[int]) -> None:
        """Take delivered or refused messages out of the lane; stored ones are removed with the next commit (``_state`` held)."""
        lane = self._lane(output)
        for message_id in ids:
            head = lane.memory[0] if lane.memory else None
            if head is not None and head.id == message_id:
                lane.memory.popleft()
                lane.memory_bytes -= len(head.blob) + _SIZE_OVERHEAD
                head.settled = True
                if head.stored:
                    self._removals.append(message_id)
            else:  # read back from the database
                self._removals.append(message_id)
            lane.settled_upto = max(lane.settled_upto, message_id)

    def _forget(self, output: str, ids: set[int]) -> None:
        """Dropped messages leave the lane too (``_state`` held)."""
        lane = self._lanes.get(output)
        if lane is None or not any(m.id in ids for m in lane.memory):
            return
        kept = deque(m for m in lane.memory if m.id not in ids)
        for message in lane.memory:
            if message.id in ids:
                message.settled = True
        lane.memory = kept
        lane.memory_bytes = sum(len(m.blob) + _SIZE_OVERHEAD for m in kept)

    def _lane(self, output: str) -> _Lane:
        lane = self._lanes.get(output)
        if lane is None:
            lane = self._lanes[output] = _Lane(threading.Condition(self._state))
        return lane

    def _delete(self, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            size = self._db.execute(f"SELECT COALESCE(SUM(size), 0) FROM messages WHERE id IN ({marks})", chunk).fetchone()[0]
            self._db.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
            self._total_bytes -= size

    def _count_drop(self, output: str, n: int, reason: str, now: float) -> None:
        """Count ``n`` dropped messages with the reason (``_state`` held)."""
        if n <= 0:
            return
        counter = self._counter(output)
        counter.dropped += n
        counter.last_error = reason
        counter.last_error_time = now
        self._dirty.add(output)
        log.warning("output %s: %s", output, reason)

    def _fold_tallies(self) -> None:
        """Move the pipeline-side tallies into the counters (``_state`` held)."""
        overflow, self._overflow = self._overflow, {}
        suppressed, self._suppressed = self._suppressed, {}
        now = time.time()
        for output, n in overflow.items():
            self._count_drop(output, n, f"outbox writer is behind: {n} message(s) dropped", now)
        for output, n in suppressed.items():
            self._counter(output).suppressed += n
            self._dirty.add(output)

    def _counter(self, output: str) -> OutputCounters:
        counter = self._counters.get(output)
        if counter is None:
            counter = self._counters[output] = OutputCounters(output)
        return counter

    def _counter_row(self, output: str) -> tuple:
        """The output's counters as a row of the counters table (``_state`` held)."""
        counter = self._counter(output)
        return (output, *(getattr(counter, k) for k in _COUNTER_COLUMNS))

    def _load(self) -> None:
        for row in self._db.execute("SELECT output, " + ", ".join(_COUNTER_COLUMNS) + " FROM counters"):
            self._counters[row[0]] = OutputCounters(row[0], **dict(zip(_COUNTER_COLUMNS, row[1:], strict=True)))
        self._total_bytes = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]
        # Ids keep growing across restarts (AUTOINCREMENT's sequence), so old messages sort first.
        last = self._db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'messages'), 0),"
            " COALESCE((SELECT MAX(id) FROM messages), 0))"
        ).fetchone()[0]
        self._next_id = last + 1
