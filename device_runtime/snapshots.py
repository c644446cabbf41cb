"""Event snapshots: the JPEG of the frame that caused an event, kept on disk,
with what the app saw in it (boxes, counts) beside it as JSON.

Bounded: past ``limit`` files the oldest are deleted, so a busy zone cannot
fill the device's disk. Ids are generated here and checked on the way back
in, so a snapshot id from a client can never name a path outside the folder.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from device_runtime.errors import InvalidArgument, NotFound

_ID_RE = re.compile(r"^[0-9]{13}-[0-9]{6}$")


class SnapshotStore:
    def __init__(self, folder: Path, limit: int = 500):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._ids = sorted(p.stem for p in self.folder.glob("*.jpg") if _ID_RE.match(p.stem))

    def save(self, jpeg: bytes, meta: dict[str, Any] | None = None) -> str:
        """Store one JPEG (and ``meta``, plain JSON data, beside it); return its id (sortable by time)."""
        if self.limit == 0:
            return ""
        snapshot_id = f"{int(time.time() * 1000):013d}-{next(self._counter) % 1_000_000:06d}"
        path = self.folder / f"{snapshot_id}.jpg"
        if meta is not None:
            (self.folder / f"{snapshot_id}.json").write_text(json.dumps(meta), encoding="utf-8")
        path.write_bytes(jpeg)
        with self._lock:
            self._ids.append(snapshot_id)
            stale, self._ids = self._ids[: -self.limit], self._ids[-self.limit :]
        for old in stale:
            (self.folder / f"{old}.jpg").unlink(missing_ok=True)
            (self.folder / f"{old}.json").unlink(missing_ok=True)
        return snapshot_id

    def load_meta(self, snapshot_id: str) -> dict[str, Any] | None:
        """What :meth:`save` kept beside the JPEG (None for snapshots saved without, or unreadable)."""
        if not _ID_RE.match(snapshot_id):
            raise InvalidArgument(f"not a snapshot id: {snapshot_id[:40]!r}")
        try:
            meta = json.loads((self.folder / f"{snapshot_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def load(self, snapshot_id: str) -> bytes:
        if not _ID_RE.match(snapshot_id):
            raise InvalidArgument(f"not a snapshot id: {snapshot_id[:40]!r}")
        try:
            return (self.folder / f"{snapshot_id}.jpg").read_bytes()
        except FileNotFoundError:
            raise NotFound(f"snapshot {snapshot_id} not found (it may have been pruned)") from None
