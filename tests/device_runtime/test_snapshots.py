"""Event snapshots keep the boxes and counts of their frame beside the JPEG, pruned together."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_runtime.errors import InvalidArgument
from device_runtime.rpc.mappers import stored_snapshot_frame
from device_runtime.snapshots import SnapshotStore

META = {"camera_id": "cam", "capture_time": 12.5, "width": 640, "height": 480, "app_id": "line-safety",
        "counts": {"belt-exit": 3, "belt-exit.in": 2},
        "detections": [{"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.4, "score": 0.9, "class_id": 1,
                        "label": "defective_part", "track_id": 7}]}


def test_a_snapshot_keeps_its_boxes_and_counts_and_the_api_returns_them(tmp_path: Path):
    store = SnapshotStore(tmp_path)
    snapshot_id = store.save(b"jpeg-bytes", META)
    assert store.load(snapshot_id) == b"jpeg-bytes" and store.load_meta(snapshot_id) == META

    frame = stored_snapshot_frame(store.load(snapshot_id), store.load_meta(snapshot_id))
    assert frame.jpeg == b"jpeg-bytes" and frame.camera_id == "cam" and frame.app_id == "line-safety"
    [box] = frame.detections
    assert (box.label, box.track_id, round(box.x2, 3)) == ("defective_part", 7, 0.3)
    assert dict(frame.counts) == {"belt-exit": 3, "belt-exit.in": 2}


def test_a_snapshot_saved_without_boxes_reads_as_just_its_picture(tmp_path: Path):
    store = SnapshotStore(tmp_path)
    snapshot_id = store.save(b"jpeg")
    assert store.load_meta(snapshot_id) is None
    frame = stored_snapshot_frame(store.load(snapshot_id), None)
    assert frame.jpeg == b"jpeg" and not frame.detections
    with pytest.raises(InvalidArgument):
        store.load_meta("../../etc/passwd")


def test_pruning_removes_the_boxes_with_the_picture(tmp_path: Path):
    store = SnapshotStore(tmp_path, limit=2)
    ids = [store.save(b"j", META) for _ in range(3)]
    assert store.load_meta(ids[0]) is None
    assert not (tmp_path / f"{ids[0]}.json").exists() and not (tmp_path / f"{ids[0]}.jpg").exists()
    assert store.load_meta(ids[2]) == META
