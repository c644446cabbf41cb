"""The events devices report, kept in memory, filtered, exported to CSV, with snapshot thumbnails.

:class:`EventLog` holds the newest ``capacity`` events of every device it
follows (``WatchEvents``, reconnecting after a device restart; events the
device replays on reconnect are recognised and not added twice).
:class:`EventFilter` selects by device, app, camera, type, text and time
range; :func:`write_csv` writes a selection for a spreadsheet, with
formula injection guarded. :class:`ThumbnailCache` fetches event snapshots
(``GetSnapshot``) lazily in worker threads and keeps them, bounded.

No Qt. Listeners are called from the threads that do the work.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from console_app.core.services.reconnect import StreamFollower

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 10_000
THUMBNAIL_WIDTH = 160
#: The event type a device sends beside each crossing, entry and exit with the new total.
COUNT_CHANGED = "count_changed"
CSV_COLUMNS = ("time", "device", "app", "camera", "type", "detail", "snapshot id")
#: Leading characters a spreadsheet reads as a formula (OWASP CSV injection); tab and CR as well.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class EventExportError(Exception):
    """Writing the CSV file failed; the message names the file and why."""


@dataclass(frozen=True)
class EventRecord:
    """One event of one device (the fields of the API's ``Event``, plus ``device_id``)."""

    device_id: str
    time: float
    app_id: str
    camera_id: str
    type: str
    label: str = ""
    track_id: int = 0
    zone: str = ""
    line: str = ""
    direction: str = ""
    count: int = 0
    snapshot_id: str = ""
    detail: str = ""
    id: str = ""

    @classmethod
    def from_message(cls, device_id: str, event: Any) -> EventRecord:
        """From a ``sightline.device.v1.Event``."""
        values = {f.name: getattr(event, f.name) for f in fields(cls) if f.name != "device_id"}
        return cls(device_id=device_id, **values)

    @property
    def key(self) -> tuple:
        """What identifies the event across replays (devices may leave ``id`` empty)."""
        if self.id:
            return self.device_id, self.id
        return (self.device_id, self.time, self.app_id, self.camera_id, self.type, self.track_id,
                self.zone, self.line, self.direction, self.count, self.snapshot_id)

    @property
    def text(self) -> str:
        """What the free-text filter searches."""
        return " ".join((self.detail, self.label, self.zone, self.line, self.type, self.app_id, self.camera_id))


@dataclass(frozen=True)
class EventFilter:
    """Which events to show; empty strings and ``None`` match everything.

    ``app_id``, ``camera_id``, ``type`` and ``device_id`` match exactly;
    ``text`` is a case-insensitive substring of the detail, label, zone,
    line, type, app or camera; ``since``/``until`` bound the event time
    (unix seconds, inclusive). ``count_updates=False`` leaves out the
    ``count_changed`` events (unless ``type`` asks for them): a device sends
    one beside every crossing, entry and exit, whose own event already
    carries the new count, so a list of what happened reads one row per
    crossing without them.
    """

    device_id: str = ""
    app_id: str = ""
    camera_id: str = ""
    type: str = ""
    text: str = ""
    since: float | None = None
    until: float | None = None
    count_updates: bool = True

    def matches(self, record: EventRecord) -> bool:
        if self.device_id and record.device_id != self.device_id:
            return False
        if not self.count_updates and record.type == COUNT_CHANGED and self.type != COUNT_CHANGED:
            return False
        if self.app_id and record.app_id != self.app_id:
            return False
        if self.camera_id and record.camera_id != self.camera_id:
            return False
        if self.type and record.type != self.type:
            return False
        if self.since is not None and record.time < self.since:
            return False
        if self.until is not None and record.time > self.until:
            return False
        return not self.text or self.text.casefold() in record.text.casefold()


class EventLog:
    """The newest ``capacity`` events, oldest dropped first. Thread-safe.

    ``add_listener(fn)``: ``fn(new_records)`` after each batch is added, from
    the adding thread.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._records: deque[EventRecord] = deque()
        self._keys: set[tuple] = set()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[list[EventRecord]], None]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def add_listener(self, listener: Callable[[list[EventRecord]], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[list[EventRecord]], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add(self, records: Iterable[EventRecord]) -> list[EventRecord]:
        """Add events not seen before; returns those added (in the order given)."""
        added = []
        with self._lock:
            for record in records:
                if record.key in self._keys:
                    continue  # replayed after a reconnect
                self._records.append(record)
                self._keys.add(record.key)
                added.append(record)
                if len(self._records) > self.capacity:
                    self._keys.discard(self._records.popleft().key)
        if added:
            for listener in list(self._listeners):
                listener(added)
        return added

    def records(self, event_filter: EventFilter | None = None, newest_first: bool = True) -> list[EventRecord]:
        with self._lock:
            selected = [r for r in self._records if event_filter is None or event_filter.matches(r)]
        if newest_first:
            selected.reverse()
        return selected

    def values(self, field: str, device_id: str = "") -> list[str]:
        """Distinct non-empty values of ``field`` (``app_id``, ``camera_id``, ``type``), sorted."""
        with self._lock:
            found = {getattr(r, field) for r in self._records if not device_id or r.device_id == device_id}
        return sorted(v for v in found if v)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._keys.clear()

    def follow(self, device_id: str, connect: Callable[[], Any], replay: int = 200,
               on_state: Callable[[str, str], None] | None = None) -> StreamFollower:
        """Follow ``device_id``'s events into this log until the follower is stopped.

        Every (re)connection asks for the last ``replay`` events, so events
        sent while the connection was down are not lost when the device kept
        running; duplicates are skipped.
        """
        return StreamFollower(
            connect, lambda client: client.events(replay=replay),
            lambda message: self.add([EventRecord.from_message(device_id, message)]),
            on_state=on_state, name=f"events-{device_id}",
        ).start()


# ---------------------------------------------------------------------- CSV

def local_iso_time(t: float) -> str:
    """Unix seconds as local ISO-8601 with the UTC offset, to the millisecond."""
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def guard_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_rows(records: Sequence[EventRecord], device_names: dict[str, str] | None = None) -> list[list[str]]:
    """The rows :func:`write_csv` writes, header first."""
    names = device_names or {}
    rows = [list(CSV_COLUMNS)]
    for r in records:
        cells = [local_iso_time(r.time), names.get(r.device_id, r.device_id), r.app_id, r.camera_id,
                 r.type, r.detail, r.snapshot_id]
        rows.append([guard_cell(str(c)) for c in cells])
    return rows


def write_csv(target: Path | io.TextIOBase, records: Sequence[EventRecord],
              device_names: dict[str, str] | None = None) -> int:
    """Write ``records`` as CSV to a path (UTF-8 with BOM, for spreadsheets) or an open text file.

    ``device_names`` maps device ids to the names written in the device
    column. Returns the number of events written. Raises
    :class:`EventExportError` naming the file when it cannot be written.
    """
    rows = csv_rows(records, device_names)
    if not isinstance(target, (str, Path)):
        csv.writer(target).writerows(rows)
        return len(records)
    path = Path(target)
    try:
        with open(path, "w", newline="", encoding="utf-8-sig") as f:
            csv.writer(f).writerows(rows)
    except OSError as exc:
        raise EventExportError(f"could not write {path}: {exc.strerror or exc}") from exc
    return len(records)


# ---------------------------------------------------------------------- thumbnails

def fit_width(jpeg: bytes, max_width: int, quality: int = 80) -> bytes:
    """``jpeg`` scaled down to ``max_width`` pixels wide (unchanged when it already fits).

    Devices store event snapshots at up to 960 pixels and may send them at
    that size whatever ``max_width`` asked for; a thousand cached
    thumbnails must stay small.
    """
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[1] <= max_width:
        return jpeg
    height = max(1, round(image.shape[0] * max_width / image.shape[1]))
    small = cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return encoded.tobytes() if ok else jpeg


class ThumbnailCache:
    """Event snapshots, fetched once each in worker threads and kept (newest ``capacity``).

    ``connect(device_id)`` returns a ``DeviceClient``; one client per device
    is kept and replaced after a failure. :meth:`request` never blocks: it
    returns the JPEG when cached, else ``None`` and fetches it;
    ``on_ready(device_id, snapshot_id, jpeg, decoded)`` then runs in the
    worker thread. ``jpeg`` is ``b""`` when the device could not give it
    (e.g. it was pruned); that is cached too, so a missing snapshot is asked
    for once. ``decoded`` is ``transform(jpeg)`` when a ``transform`` is
    given (it runs in the worker: decode there, not on the GUI thread), else
    ``None``.
    """

    def __init__(self, connect: Callable[[str], Any], on_ready: Callable[..., None] | None = None,
                 max_width: int = THUMBNAIL_WIDTH, capacity: int = 1000, workers: int = 2,
                 transform: Callable[[bytes], Any] | None = None):
        self._connect = connect
        self.on_ready = on_ready
        self.max_width = max_width
        self.capacity = capacity
        self.transform = transform
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._pending: set[tuple[str, str]] = set()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="thumbnails")
        self.fetches = 0

    def cached(self, device_id: str, snapshot_id: str) -> bytes | None:
        with self._lock:
            return self._cache.get((device_id, snapshot_id))

    def request(self, device_id: str, snapshot_id: str) -> bytes | None:
        """The cached JPEG, or ``None`` after scheduling a fetch (at most one per snapshot)."""
        if not snapshot_id:
            return None
        key = (device_id, snapshot_id)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            if key in self._pending or self._closed:
                return None
            self._pending.add(key)
        self._pool.submit(self._fetch, key)
        return None

    def fetch_full(self, device_id: str, snapshot_id: str) -> bytes:
        """The snapshot at full size; blocking (run it off the GUI thread)."""
        return self._snapshot(device_id, snapshot_id, 0)

    def fetch_full_frame(self, device_id: str, snapshot_id: str) -> Any:
        """The snapshot at full size with the boxes and counts the device kept with it
        (a ``PreviewFrame``); blocking (run it off the GUI thread)."""
        return self._snapshot(device_id, snapshot_id, 0, whole=True)

    def _fetch(self, key: tuple[str, str]) -> None:
        device_id, snapshot_id = key
        try:
            jpeg = self._snapshot(device_id, snapshot_id, self.max_width)
        except Exception as exc:
            log.info("snapshot %s of %s unavailable: %s", snapshot_id, device_id, exc)
            jpeg = b""
        decoded = None
        if jpeg and self.transform is not None:
            try:
                decoded = self.transform(jpeg)
            except Exception:
                log.exception("thumbnail transform failed for %s", snapshot_id)
        with self._lock:
            self._pending.discard(key)
            if self._closed:
                return
            self._cache[key] = jpeg
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            self.fetches += 1
        if self.on_ready is not None:
            self.on_ready(device_id, snapshot_id, jpeg, decoded)

    def _snapshot(self, device_id: str, snapshot_id: str, max_width: int, whole: bool = False) -> Any:
        for attempt in (1, 2):
            with self._lock:
                client = self._clients.get(device_id)
            if client is None:
                client = self._connect(device_id)
                with self._lock:
                    self._clients[device_id] = client
            try:
                frame = client.snapshot(snapshot_id=snapshot_id, max_width=max_width)
                if whole:
                    return frame
                return fit_width(frame.jpeg, max_width) if max_width else frame.jpeg
            except Exception as exc:
                if getattr(exc, "code", "") == "NOT_FOUND" or attempt == 2:
                    raise
                # The device restarted or the network dropped: a fresh client, once.
                with self._lock:
                    self._clients.pop(device_id, None)
                client.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop fetching and close the clients; does not wait for fetches under way."""
        with self._lock:
            self._closed = True
            clients, self._clients = list(self._clients.values()), {}
        self._pool.shutdown(wait=False, cancel_futures=True)
        for client in clients:
            client.close()
