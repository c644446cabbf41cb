"""The device's audit log: who did what, when, and how it ended.

Append-only JSON lines in ``data_dir/audit/audit.jsonl``. Each line is one
:class:`AuditEntry`: the time, the actor (the paired client's name, its
certificate fingerprint and its package signing key's fingerprint; or
``local`` for commands run on the device itself), the action (``pair``,
``unpair``, ``deploy``, ``rollback``, ``params``, ``start``, ``stop``,
``remove``, ``model-upload``, ``model-remove``, ``provision``, ``update``),
its target and the outcome (``ok`` or the status code that refused it).

The size is bounded: when the current file would pass ``max_file_bytes`` it is
renamed ``audit.1.jsonl`` (older files shift up) and the oldest beyond
``keep_files`` is deleted, so the log never takes more than about
``max_file_bytes * (keep_files + 1)``. Lines are never rewritten; a torn last
line (power cut mid-write) is skipped when reading and counted.

Records reach the log from one place for the API (the interceptor in
``device_runtime.rpc``) and from the provisioning and update code for what
happens on the device itself; every record is also published to
:attr:`AuditLog.feed` for ``WatchAudit`` streams.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from device_runtime.broadcast import Broadcast

log = logging.getLogger(__name__)

AUDIT_DIR = "audit"
CURRENT_FILE = "audit.jsonl"
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
DEFAULT_KEEP_FILES = 4
#: Longest text kept in one field; longer values are cut (an error message, a target).
MAX_FIELD_CHARS = 1000

ACTIONS = (
    "pair", "unpair", "deploy", "rollback", "params", "start", "stop", "remove",
    "model-upload", "model-remove", "provision", "update",
)


@dataclass(frozen=True)
class AuditEntry:
    """One audited action. ``outcome`` is ``"ok"`` or a gRPC status name (``PERMISSION_DENIED``)."""

    time: float
    action: str
    actor: str
    actor_fingerprint: str = ""
    signing_key: str = ""
    target: str = ""
    outcome: str = "ok"
    detail: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> AuditEntry:
        doc = json.loads(line)
        if not isinstance(doc, dict):
            raise ValueError("an audit line is a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a paired client (name, certificate and signing key fingerprints) or ``local``."""

    name: str
    fingerprint: str = ""
    signing_key: str = ""


LOCAL = Actor("local (on the device)")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 1] + "…"


class AuditLog:
    """Appends entries, rotates by size, reads them back newest-last. Thread-safe."""

    def __init__(self, data_dir: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 keep_files: int = DEFAULT_KEEP_FILES, clock: Callable[[], float] = time.time):
        if max_file_bytes < 1024 or keep_files < 1:
            raise ValueError("the audit log needs max_file_bytes >= 1024 and keep_files >= 1")
        self.folder = Path(data_dir) / AUDIT_DIR
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._max = max_file_bytes
        self._keep = keep_files
        self._clock = clock
        self._lock = threading.Lock()
        self.feed: Broadcast[AuditEntry] = Broadcast(history=0, queue_size=500)
        #: Lines that could not be parsed during the last :meth:`entries` call.
        self.skipped_lines = 0

    @property
    def path(self) -> Path:
        return self.folder / CURRENT_FILE

    def record(self, action: str, actor: Actor, *, target: str = "", outcome: str = "ok",
               detail: str = "") -> AuditEntry:
        """Append one entry and publish it. Never raises for a full disk: logs the failure instead.

        An audit write that fails must not turn a successful deploy into a
        failed one; the failure is logged at ERROR so it is seen.
        """
        entry = AuditEntry(
            time=self._clock(), action=action, actor=_cut(actor.name),
            actor_fingerprint=actor.fingerprint, signing_key=actor.signing_key,
            target=_cut(target), outcome=outcome, detail=_cut(detail),
        )
        line = (entry.to_json() + "\n").encode("utf-8")
        with self._lock:
            try:
                self._rotate_if_needed(len(line))
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                log.error("could not write the audit log %s: %s (entry: %s)", self.path, exc, entry.to_json())
        self.feed.publish(entry)
        return entry

    def _files_oldest_first(self) -> list[Path]:
        rotated = [self.folder / f"audit.{i}.jsonl" for i in range(self._keep, 0, -1)]
        return [p for p in rotated + [self.path] if p.exists()]

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self._max:
            return
        oldest = self.folder / f"audit.{self._keep}.jsonl"
        oldest.unlink(missing_ok=True)
        for i in range(self._keep - 1, 0, -1):
            src = self.folder / f"audit.{i}.jsonl"
            if src.exists():
                os.replace(src, self.folder / f"audit.{i + 1}.jsonl")
        os.replace(self.path, self.folder / "audit.1.jsonl")

    def _read_all(self) -> Iterator[AuditEntry]:
        with self._lock:
            files = self._files_oldest_first()
            blobs = []
            for path in files:
                try:
                    blobs.append(path.read_bytes())
                except FileNotFoundError:
                    continue
        skipped = 0
        for blob in blobs:
            for raw in blob.splitlines():
                if not raw.strip():
                    continue
                try:
                    yield AuditEntry.from_json(raw.decode("utf-8"))
                except (ValueError, TypeError, UnicodeDecodeError):
                    skipped += 1
        self.skipped_lines = skipped

    def entries(self, *, limit: int = 0, since: float = 0.0, action: str = "",
                accept: Callable[[AuditEntry], bool] | None = None) -> list[AuditEntry]:
        """Entries oldest first, at or after ``since``, of ``action`` when given; the newest ``limit`` (0: all)."""
        kept = [
            e for e in self._read_all()
            if e.time >= since and (not action or e.action == action) and (accept is None or accept(e))
        ]
        return kept[-limit:] if limit > 0 else kept
