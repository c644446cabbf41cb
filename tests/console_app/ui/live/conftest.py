"""A real device runtime on 127.0.0.1, paired, running the line-safety demo app on a sim:// camera."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from console_app.core.async_loop import AsyncLoop  # noqa: E402
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
def loop() -> Iterator[AsyncLoop]:
    started = AsyncLoop().start()
    yield started
    started.stop()


@pytest.fixture
def tasks(qapp, loop) -> TaskRunner:
    return TaskRunner(loop)
