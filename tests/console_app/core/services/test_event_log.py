"""The event log: bounded, filtered, exported to CSV (formula injection guarded), thumbnails from a real device."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from console_app.core.services.event_log import (
    CSV_COLUMNS,
    EventExportError,
    EventFilter,
    EventLog,
    EventRecord,
    ThumbnailCache,
    guard_cell,
    write_csv,
)
from device_runtime.protocol.v1 import device_pb2 as pb
from tests.peers.line_safety_device import APP_ID, CAMERA_ID, LineSafetyDevice

WAIT_S = 20.0
T0 = 1_700_000_000.0


def wait_until(predicate, what: str, timeout: float = WAIT_S) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def record(n: int, **overrides) -> EventRecord:
    values = dict(device_id="dev-a", time=T0 + n, app_id="line-safety", camera_id="cam-1",
                  type="line_crossed", label="part", track_id=n, line="belt-exit", direction="in", count=n,
                  snapshot_id=f"{n:013d}-000000", detail=f"part #{n} crossed line 'belt-exit' going in")
    values.update(overrides)
    return EventRecord(**values)


def sample_log() -> EventLog:
    log = EventLog()
    log.add([
        record(1),
        record(2, type="zone_entered", label="person", zone="safety-zone", line="", detail="person #2 entered zone"),
        record(3, camera_id="cam-2", detail="=HYPERLINK(\"http://evil\")"),
        record(4, app_id="dock", camera_id="dock-cam", type="count_changed", detail="+1 at the dock"),
        record(5, device_id="dev-b", detail="@SUM(A1:A9)"),
    ])
    return log


def test_event_record_is_built_from_the_api_message():
    message = pb.Event(time=T0, app_id="a", camera_id="c", type="zone_left", label="person", track_id=7,
                       zone="z", count=2, snapshot_id="1700000000000-000001", detail="person #7 left zone 'z'")
    r = EventRecord.from_message("dev", message)
    assert (r.device_id, r.type, r.track_id, r.zone, r.count, r.snapshot_id) == (
        "dev", "zone_left", 7, "z", 2, "1700000000000-000001")


def test_filter_by_app_camera_type_text_device_and_time_range():
    log = sample_log()
    assert [r.track_id for r in log.records()] == [5, 4, 3, 2, 1]  # newest first
    assert [r.track_id for r in log.records(EventFilter(app_id="dock"))] == [4]
    assert [r.track_id for r in log.records(EventFilter(camera_id="cam-2"))] == [3]
    assert [r.track_id for r in log.records(EventFilter(type="zone_entered"))] == [2]
    assert [r.track_id for r in log.records(EventFilter(text="SAFETY-zone"))] == [2]
    assert [r.track_id for r in log.records(EventFilter(device_id="dev-b"))] == [5]
    assert [r.track_id for r in log.records(EventFilter(since=T0 + 2, until=T0 + 4))] == [4, 3, 2]
    combined = EventFilter(device_id="dev-a", app_id="line-safety", camera_id="cam-1", type="line_crossed", text="belt")
    assert [r.track_id for r in log.records(combined)] == [1]
    assert log.values("camera_id", device_id="dev-a") == ["cam-1", "cam-2", "dock-cam"]
    assert log.values("type") == ["count_changed", "line_crossed", "zone_entered"]


def test_log_keeps_the_newest_events_up_to_its_capacity_and_skips_replayed_ones():
    log = EventLog(capacity=3)
    added: list[EventRecord] = []
    log.add_listener(added.extend)
    log.add(record(n) for n in range(5))
    assert [r.track_id for r in log.records(newest_first=False)] == [2, 3, 4]
    assert log.add([record(3), record(4)]) == []  # the device replayed them after a reconnect
    assert len(added) == 5
    log.add([record(1)])  # evicted earlier, so it is new again (the set of keys is bounded too)
    assert [r.track_id for r in log.records(newest_first=False)] == [3, 4, 1]
    with pytest.raises(ValueError, match="capacity"):
        EventLog(capacity=0)


def test_csv_export_reads_back_with_local_iso_times_and_guarded_formulas(tmp_path: Path):
    log = sample_log()
    shown = log.records(EventFilter(device_id="dev-a"))
    path = tmp_path / "events.csv"
    assert write_csv(path, shown, device_names={"dev-a": "Line 3"}) == 4
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 5
    newest = rows[1]
    assert newest[1:5] == ["Line 3", "dock", "dock-cam", "count_changed"]
    assert newest[5] == "'+1 at the dock"
    assert rows[2][5] == "'=HYPERLINK(\"http://evil\")"
    assert rows[4][6] == "0000000000001-000000"
    stamp = datetime.fromisoformat(rows[4][0])
    assert stamp.utcoffset() is not None and stamp.timestamp() == pytest.approx(T0 + 1, abs=0.001)
    assert rows[4][0].count(":") >= 3  # hours:minutes:seconds and the offset's hours:minutes


def test_guard_prefixes_every_formula_start_and_nothing_else():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert guard_cell(bad) == "'" + bad
    for fine in ("part #3", "", "1-2", "a=b"):
        assert guard_cell(fine) == fine


def test_csv_export_to_an_open_file_and_a_clear_error_for_an_unwritable_path(tmp_path: Path):
    buffer = io.StringIO()
    assert write_csv(buffer, [record(1)]) == 1
    assert buffer.getvalue().splitlines()[0] == ",".join(CSV_COLUMNS)
    target = tmp_path / "no-such-folder" / "events.csv"
    with pytest.raises(EventExportError, match="no-such-folder"):
        write_csv(target, [record(1)])


@pytest.fixture(scope="module")
def line_device(tmp_path_factory) -> LineSafetyDevice:
    device = LineSafetyDevice(tmp_path_factory.mktemp("events-device"))
    yield device
    device.stop()


def test_events_from_a_real_device_arrive_with_snapshots_that_become_thumbnails(line_device):
    log = EventLog()
    follower = log.follow(line_device.device_id, line_device.client, replay=50)
    ready = threading.Event()
    results: dict[str, bytes] = {}

    def on_ready(device_id: str, snapshot_id: str, jpeg: bytes, decoded) -> None:
        results[snapshot_id] = jpeg
        ready.set()

    cache = ThumbnailCache(lambda device_id: line_device.client(), on_ready=on_ready)
    try:
        wait_until(lambda: len(log) >= 1, "a first event from the line-safety app")
        first = log.records()[-1]
        assert (first.device_id, first.app_id, first.camera_id) == (line_device.device_id, APP_ID, CAMERA_ID)
        assert first.type in {"line_crossed", "count_changed", "zone_entered", "zone_left", "dwell_exceeded"}
        assert first.snapshot_id and first.detail
        assert cache.request(first.device_id, first.snapshot_id) is None  # not cached yet: fetching
        assert cache.request(first.device_id, first.snapshot_id) is None  # asked once only
        assert ready.wait(WAIT_S), "the thumbnail never arrived"
        jpeg = results[first.snapshot_id]
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[1] == 160
        assert cache.request(first.device_id, first.snapshot_id) == jpeg
        assert cache.fetches == 1
        full = cv2.imdecode(np.frombuffer(cache.fetch_full(first.device_id, first.snapshot_id), np.uint8),
                            cv2.IMREAD_COLOR)
        assert full.shape[1] > 160
    finally:
        follower.stop(wait=5.0)
        cache.close()


def test_a_snapshot_the_device_no_longer_has_is_cached_as_missing_and_asked_for_once(line_device):
    arrived = threading.Event()
    cache = ThumbnailCache(lambda device_id: line_device.client(), on_ready=lambda *args: arrived.set())
    try:
        assert cache.request(line_device.device_id, "1000000000000-000000") is None
        assert arrived.wait(WAIT_S)
        assert cache.request(line_device.device_id, "1000000000000-000000") == b""
        assert cache.fetches == 1
    finally:
        cache.close()


def test_event_stream_resumes_after_the_device_restarts(tmp_path: Path):
    with LineSafetyDevice(tmp_path / "device") as device:
        log = EventLog()
        follower = log.follow(device.device_id, device.client, replay=0)
        follower.min_backoff_s = follower.max_backoff_s = 0.2
        try:
            wait_until(lambda: len(log) >= 1, "a first event")
            device.restart()
            restarted_at = time.time()
            wait_until(lambda: any(r.time > restarted_at for r in log.records()), "an event after the restart")
        finally:
            follower.stop(wait=5.0)
        assert follower.connections >= 2
