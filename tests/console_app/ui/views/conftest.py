"""A real device running resources/apps/line-safety, paired with the test console's appliance service."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_app.ui.tasks import TaskRunner
from tests.peers.line_safety_device import LineSafetyDevice


@pytest.fixture
def line_device(tmp_path: Path, console_context) -> LineSafetyDevice:
    """Started, app deployed, and paired with ``console_context.appliances`` (the console's own pairing)."""
    device = LineSafetyDevice(tmp_path / "line-device")
    appliances = console_context.appliances
    entry = appliances.add_by_address("127.0.0.1", device.port)
    appliances.pair(entry.device_id, device.pairing_code())
    yield device
    device.stop()


@pytest.fixture
def tasks(console_context, qapp) -> TaskRunner:
    runner = TaskRunner(console_context.workers)
    yield runner
    runner.cancel_all()
