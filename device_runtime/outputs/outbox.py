"""The durable outbox: every output delivery goes through a SQLite queue in the data dir.

Why this shape:

- The pipeline thread calls :meth:`Outbox.put`, which only appends to a
  bounded in-memory queue and never waits (no disk, no lock held by a slow
  sink). A writer thread persists what is there in one transaction per batch,
  so one fsync covers many events.
- SQLite in WAL mode with ``synchronous=FULL``: a committed message survives a
  process kill and a power cut. Messages still in the in-memory queue (the
  last few milliseconds) are the only ones a power cut can lose; a clean stop
  flushes them.
- Each output reads its own messages in insertion order and removes them
  only after the sink confirmed them, so delivery is *at least once, in order
  per output*: a crash between the sink's confirmation and the removal sends
  that batch again on restart (payloads carry ``event_id`` for de-duplication).
- Bounded by size and age. Past ``max_bytes`` the oldest messages (of any
  output) are dropped; messages older than ``max_age_s`` are dropped. Every
  drop is counted per output with its reason in ``last_error``; nothing is
  dropped silently.
- Counters (delivered, failed attempts, dropped, suppressed) are kept in the
  same database, so they survive restarts like the queue does.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


@dataclass
class Message:
    """One queued delivery: the event's template fields (and the snapshot JPEG when the output wants it)."""

    id: int
    output: str
    created: float
    fields: dict[str, Any]
    blob: bytes = b""


@dataclass
class OutputCounters:
    """What health reports about one output. ``failed`` counts failed delivery attempts."""

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


class _Pending:
    """A message not yet on disk; encoded by the writer thread, not by the camera's."""

    __slots__ = ("output", "created", "fields", "blob", "text", "size", "done")

    def __init__(self, output: str, created: float, fields: dict[str, Any], blob: bytes = b"") -> None:
        self.output, self.created, self.fields, self.blob = output, created, fields, blob
        self.text = ""
        self.size = 0
        self.done: threading.Event | None = None

    def encode(self) -> None:
        self.text = json.dumps(self.fields, ensure_ascii=False, separators=(",", ":"))
        self.size = len(self.text) + len(self.blob)


class Outbox:
    """A persistent, bounded, per-output ordered queue; thread-safe. :meth:`close` flushes and stops."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 7 * 86400.0,
        memory_queue: int = 10000,
        expire_every_s: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._expire_every_s = expire_every_s
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._tally_lock = threading.Lock()
        self._overflow: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self._counters: dict[str, OutputCounters] = {}
        self._total_bytes = 0
        self._load_counters()
        # Items: a message, a deferred batch (built by the writer), a flush marker, or None (stop).
        self._incoming: queue.Queue[_Pending | _Deferred | None] = queue.Queue(maxsize=memory_queue)
        self._changed = threading.Condition()
        self._generation = 0
        self._closed = False
        self._next_expiry = 0.0
        self._writer = threading.Thread(target=self._write_loop, name="outbox-writer", daemon=True)
        self._writer.start()

    # ------------------------------------------------------------------ producer side

    def put(self, output: str, fields: dict[str, Any], blob: bytes = b"", created: float | None = None) -> bool:
        """Queue one message without waiting; False (and a counted drop) if the writer is this far behind."""
        item = _Pending(output, time.time() if created is None else created, fields, blob)
        try:
            self._incoming.put_nowait(item)
            return True
        except queue.Full:
            # Counted under a lock never held during disk I/O: the pipeline thread must not wait.
            with self._tally_lock:
                self._overflow[output] = self._overflow.get(output, 0) + 1
            return False

    def put_deferred(self, build: Callable[[], list[tuple[str, Any, bytes]]], on_drop: Callable[[], list[str]]) -> bool:
        """Queue a function the writer thread calls for the ``(output, fields, blob)`` messages to store.

        The caller's thread (a camera's) then does no more than this one append.
        If the writer is this far behind, ``on_drop()`` names the outputs whose
        message is dropped (counted), and False is returned. A deferred item's
        messages count as queued from when the writer built them (milliseconds).
        """
        item = _Deferred(build, time.time())
        try:
            self._incoming.put_nowait(item)
            return True
        except queue.Full:
            outputs = on_drop()
            with self._tally_lock:
                for output in outputs:
                    self._overflow[output] = self._overflow.get(output, 0) + 1
            return False

    def count_suppressed(self, output: str, n: int = 1) -> None:
        """Count events an output's debounce skipped (kept in memory, saved with the next write)."""
        with self._tally_lock:
            self._suppressed[output] = self._suppressed.get(output, 0) + n

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put so far is on disk; False on timeout."""
        done = threading.Event()
        deadline = time.monotonic() + timeout
        marker = _Pending("", 0.0, {})
        marker.done = done
        try:
            self._incoming.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------ consumer side

    def peek(self, output: str, limit: int = 100) -> list[Message]:
        """The oldest ``limit`` messages of ``output``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, fields, blob FROM messages WHERE output = ? ORDER BY id LIMIT ?",
                (output, limit),
            ).fetchall()
        return [Message(row[0], output, row[1], json.loads(row[2]), row[3] or b"") for row in rows]

    def ack(self, output: str, ids: Iterable[int]) -> None:
        """Remove delivered messages and count them."""
        ids = list(ids)
        if not ids:
            return
        now = time.time()
        with self._lock, self._transaction(durable=False):
            removed = self._delete(ids)
            counter = self._counter(output)
            counter.delivered += removed
            counter.last_delivered_time = now
            self._write_counter_row(output)

    def reject(self, output: str, message_id: int, error: str) -> None:
        """Drop a message the receiver refused for good (counted as dropped; ``error`` becomes last_error)."""
        now = time.time()
        with self._lock, self._transaction():
            removed = self._delete([message_id])
            counter = self._counter(output)
            counter.failed += 1
            self._count_drop(output, removed, f"refused, message dropped: {error}", now)

    def record_failure(self, output: str, error: str) -> None:
        """Count a failed attempt; the messages stay queued for the next try."""
        with self._lock:
            counter = self._counter(output)
            counter.failed += 1
            counter.last_error = error
            counter.last_error_time = time.time()
            self._save_counters(output)

    def clear_error(self, output: str) -> None:
        """Forget the last error (after a success, so health shows the output as healthy)."""
        with self._lock:
            counter = self._counter(output)
            if counter.last_error:
                counter.last_error = ""
                self._save_counters(output)

    def wait_for_messages(self, generation: int, timeout: float) -> int:
        """Block until something new is committed (or ``timeout``); returns the new generation."""
        with self._changed:
            if self._generation == generation and not self._closed:
                self._changed.wait(timeout)
            return self._generation

    @property
    def generation(self) -> int:
        with self._changed:
            return self._generation

    # ------------------------------------------------------------------ reporting

    def counters(self, output: str) -> OutputCounters:
        """A snapshot of one output's counters, with what is queued now (on disk and in memory)."""
        with self._lock:
            self._fold_tallies()
            base = self._counter(output)
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(created) FROM messages WHERE output = ?", (output,)
            ).fetchone()
            snapshot = OutputCounters(**{k: getattr(base, k) for k in ("output",) + _COUNTER_COLUMNS})
        waiting = [p for p in _flatten(list(self._incoming.queue)) if not isinstance(p, _Deferred)]
        snapshot.queued = row[0] + sum(1 for p in waiting if p.output == output)
        snapshot.queued_bytes = row[1]
        snapshot.oldest_queued_time = row[2] or 0.0
        return snapshot

    def outputs(self) -> list[str]:
        """Every output the outbox holds counters or messages for."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT output FROM messages").fetchall()
            return sorted(set(self._counters) | {r[0] for r in rows})

    def total_bytes(self) -> int:
        with self._lock:
            return self._total_bytes

    def close(self, timeout: float = 10.0) -> None:
        """Persist what is queued in memory, stop the writer and close the database."""
        if self._closed:
            return
        self._incoming.put(None)
        self._writer.join(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        with self._lock:
            self._fold_tallies()
            for output in list(self._counters):
                self._save_counters(output)
            self._db.close()

    # ------------------------------------------------------------------ internals

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._incoming.get(timeout=1.0)
            except queue.Empty:
                self._maybe_expire()
                continue
            batch = [first]
            while len(batch) < 1000:
                try:
                    batch.append(self._incoming.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stop = True
            items = self._expand(_flatten(batch))
            markers = [p for p in items if p.done is not None]
            items = [p for p in items if p.done is None]
            try:
                if items:
                    self._persist(items)
            except Exception:  # the disk is full or broken: count the loss, keep the thread
                log.exception("outbox: could not store %d message(s)", len(items))
                with self._lock:
                    for p in items:
                        self._count_drop(p.output, 1, "outbox could not write to disk: message dropped", time.time())
            for marker in markers:
                marker.done.set()  # type: ignore[union-attr]
            self._maybe_expire()

    def _expand(self, items: list[Any]) -> list[_Pending]:
        """Deferred items replaced by the messages they build (on this, the writer's, thread)."""
        if not any(isinstance(p, _Deferred) for p in items):
            return items
        expanded: list[_Pending] = []
        for item in items:
            if not isinstance(item, _Deferred):
                expanded.append(item)
                continue
            try:
                built = item.build()
            except Exception:  # a bug in routing must not stop the writer; the log says what was lost
                log.exception("outbox: could not build deferred messages; they are lost")
                continue
            expanded.extend(_Pending(output, item.created, fields, blob) for output, fields, blob in built)
        return expanded

    def _persist(self, items: list[_Pending]) -> None:
        for item in items:
            item.encode()
        with self._lock:
            self._fold_tallies()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO messages (output, created, size, fields, blob) VALUES (?, ?, ?, ?, ?)",
                    [(p.output, p.created, p.size, p.text, p.blob or None) for p in items],
                )
                self._total_bytes += sum(p.size for p in items)
                if self._total_bytes > self.max_bytes:
                    self._drop_oldest()
                # Queueing changes no counter: only changed rows, and the first row of a new output, are written.
                new = {p.output for p in items if p.output not in self._counters}
                for output in new | self._dirty:
                    self._write_counter_row(output)
                self._dirty.clear()
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                self._total_bytes = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]
                raise
        self._notify()

    def _drop_oldest(self) -> None:
        """Delete the oldest messages until the outbox is back under ``max_bytes`` (lock held, in a transaction)."""
        excess = self._total_bytes - self.max_bytes
        rows = self._db.execute("SELECT id, output, size FROM messages ORDER BY id").fetchmany(100000)
        victims: list[int] = []
        per_output: dict[str, int] = {}
        freed = 0
        for message_id, output, size in rows:
            if freed >= excess:
                break
            victims.append(message_id)
            per_output[output] = per_output.get(output, 0) + 1
            freed += size
        self._delete(victims, count_bytes=True)
        now = time.time()
        for output, n in per_output.items():
            self._count_drop(output, n, f"outbox full ({self.max_bytes} bytes): dropped {n} oldest message(s)", now, save=False)
            self._dirty.add(output)
        log.warning("outbox full: dropped %d oldest message(s)", len(victims))

    def _maybe_expire(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + self._expire_every_s
        cutoff = now - self.max_age_s
        with self._lock:
            rows = self._db.execute(
                "SELECT output, COUNT(*) FROM messages WHERE created < ? GROUP BY output", (cutoff,)
            ).fetchall()
            if not rows:
                return
            self._db.execute("BEGIN IMMEDIATE")
            freed = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages WHERE created < ?", (cutoff,)).fetchone()[0]
            self._db.execute("DELETE FROM messages WHERE created < ?", (cutoff,))
            self._total_bytes -= freed
            for output, n in rows:
                self._count_drop(output, n, f"dropped {n} message(s) older than {self.max_age_s:.0f} s", now, save=False)
                self._write_counter_row(output)
            self._db.execute("COMMIT")
        log.warning("outbox: dropped %d expired message(s)", sum(n for _, n in rows))

    def _delete(self, ids: list[int], count_bytes: bool = True) -> int:
        removed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            size = self._db.execute(f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE id IN ({marks})", chunk).fetchone()
            self._db.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
            if count_bytes:
                self._total_bytes -= size[0]
            removed += size[1]
        return removed

    def _count_drop(self, output: str, n: int, reason: str, now: float, save: bool = True) -> None:
        if n <= 0:
            return
        counter = self._counter(output)
        counter.dropped += n
        counter.last_error = reason
        counter.last_error_time = now
        log.warning("output %s: %s", output, reason)
        if save:
            self._save_counters(output)

    def _fold_tallies(self) -> None:
        """Move the pipeline-side tallies into the counters (the caller holds ``_lock``)."""
        with self._tally_lock:
            overflow, self._overflow = self._overflow, {}
            suppressed, self._suppressed = self._suppressed, {}
        now = time.time()
        for output, n in overflow.items():
            self._count_drop(output, n, f"outbox writer is behind: {n} message(s) dropped", now, save=False)
            self._dirty.add(output)
        for output, n in suppressed.items():
            self._counter(output).suppressed += n
            self._dirty.add(output)

    def _counter(self, output: str) -> OutputCounters:
        counter = self._counters.get(output)
        if counter is None:
            counter = self._counters[output] = OutputCounters(output)
        return counter

    def _save_counters(self, output: str) -> None:
        try:
            self._write_counter_row(output)
        except sqlite3.ProgrammingError:  # closed: nothing to save into
            pass

    def _write_counter_row(self, output: str) -> None:
        c = self._counter(output)
        self._db.execute(
            "INSERT OR REPLACE INTO counters (output, " + ", ".join(_COUNTER_COLUMNS) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (output,) + tuple(getattr(c, k) for k in _COUNTER_COLUMNS),
        )

    def _load_counters(self) -> None:
        self._dirty: set[str] = set()
        for row in self._db.execute("SELECT output, " + ", ".join(_COUNTER_COLUMNS) + " FROM counters"):
            self._counters[row[0]] = OutputCounters(row[0], **dict(zip(_COUNTER_COLUMNS, row[1:], strict=True)))
        self._total_bytes = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]

    @contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[None]:
        """One atomic write (the caller holds the lock), fsync'd unless ``durable`` is False.

        Removals of delivered messages are not fsync'd: a power cut can only
        undo them, which sends those messages again (at least once allows it),
        and the next durable commit syncs them anyway. This halves the fsyncs
        per delivered message.
        """
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")

    def _notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()


class _Deferred:
    """Messages the writer thread builds itself (see :meth:`Outbox.put_deferred`)."""

    __slots__ = ("build", "created")

    def __init__(self, build: Callable[[], list[tuple[str, Any, bytes]]], created: float) -> None:
        self.build, self.created = build, created


def _flatten(items: list[Any]) -> list[Any]:
    """Queue items without the stop item, in order."""
    return [item for item in items if item is not None]
