"""A real device runtime on 127.0.0.1, paired, running the line-safety demo app on a sim:// camera."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from console_app.core.workers import WorkerPool  # noqa: E402
from console_app.ui.live.tile import LiveTile  # noqa: E402
from console_app.ui.live.wall import LiveWall  # noqa: E402
from console_app.ui.tasks import TaskRunner  # noqa: E402
from tests.peers.line_safety_device import CAMERA_ID, LineSafetyDevice  # noqa: E402

CAMERA = CAMERA_ID
WAIT_MS = 20_000


def connector(device: LineSafetyDevice):
    """``connect(device_id)`` for a LiveWall: a fresh paired client of ``device`` (after restarts too)."""
    return lambda device_id: device.client()


@pytest.fixture(scope="module")
def live_device(tmp_path_factory) -> Iterator[LineSafetyDevice]:
    """Shared by a module's tests (a device and its model take seconds to start); tests must not stop it."""
    with LineSafetyDevice(tmp_path_factory.mktemp("live-device") / "data") as device:
        yield device


@pytest.fixture(scope="module")
def workers() -> Iterator[WorkerPool]:
    started = WorkerPool().start()
    yield started
    started.stop()


@pytest.fixture
def tasks(qapp, workers) -> TaskRunner:
    return TaskRunner(workers)


@pytest.fixture
def wall(qtbot, tasks, live_device, tmp_path) -> Iterator[LiveWall]:
    """A shown wall (no app library) watching nothing yet; its feeds are stopped at the end."""
    widget = LiveWall(tasks, connector(live_device), device_name=lambda d: "Line 3 box",
                      snapshot_dir=tmp_path / "snaps")
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def annotated_tile(qtbot, wall: LiveWall, device_id: str) -> LiveTile:
    """Add ``device_id`` to ``wall``; its camera's tile once it has painted a frame with detections."""
    wall.add_device(device_id)
    qtbot.waitUntil(lambda: wall.tile(device_id, CAMERA) is not None, timeout=WAIT_MS)
    tile = wall.tile(device_id, CAMERA)
    qtbot.waitUntil(lambda: tile.frames_painted > 0 and bool(tile.last_detections), timeout=WAIT_MS)
    return tile
