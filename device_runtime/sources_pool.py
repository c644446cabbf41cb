"""Camera sources shared between apps.

Two apps watching the same camera URL share one decoder: the pool hands out
the same ``Source`` and stops it when the last user lets go.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from device_runtime.errors import FailedPrecondition


class SourcePool:
    def __init__(self, open_source: Callable[..., Any]):
        self._open_source = open_source
        self._lock = threading.Lock()
        # camera id -> [url, source, users]
        self._entries: dict[str, list[Any]] = {}

    def acquire(self, camera_id: str, url: str, user: str) -> Any:
        with self._lock:
            entry = self._entries.get(camera_id)
            if entry is not None:
                if entry[0] != url:
                    others = ", ".join(sorted(entry[2]))
                    raise FailedPrecondition(
                        f"camera id {camera_id!r} is already used by app(s) {others} with another URL; "
                        "give this camera a different id"
                    )
                entry[2].add(user)
                return entry[1]
            source = self._open_source(url, stream_id=camera_id)
            self._entries[camera_id] = [url, source, {user}]
        source.start()
        return source

    def check(self, camera_id: str, url: str, user: str) -> None:
        """Raise like ``acquire`` would, without opening anything."""
        with self._lock:
            entry = self._entries.get(camera_id)
            if entry is not None and entry[0] != url and entry[2] - {user}:
                others = ", ".join(sorted(entry[2] - {user}))
                raise FailedPrecondition(
                    f"camera id {camera_id!r} is already used by app(s) {others} with another URL; "
                    "give this camera a different id"
                )

    def release(self, camera_id: str, user: str) -> None:
        with self._lock:
            entry = self._entries.get(camera_id)
            if entry is None:
                return
            entry[2].discard(user)
            if entry[2]:
                return
            del self._entries[camera_id]
        entry[1].stop()

    def get(self, camera_id: str) -> Any | None:
        with self._lock:
            entry = self._entries.get(camera_id)
            return entry[1] if entry else None

    def find_by_url(self, url: str) -> Any | None:
        """The running source of ``url`` (an app reads it), or None."""
        with self._lock:
            return next((e[1] for e in self._entries.values() if e[0] == url), None)

    def items(self) -> list[tuple[str, Any]]:
        with self._lock:
            return [(cid, e[1]) for cid, e in self._entries.items()]

    def close(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            entry[1].stop()
