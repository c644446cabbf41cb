"""The Live page in the main window: paired devices are listed, ticked, and their cameras fill the wall."""

from __future__ import annotations

from PySide6.QtCore import Qt

from console_app.core.services.live_frame import FeedState
from tests.peers.line_safety_device import CAMERA_ID, LineSafetyDevice

WAIT_MS = 20_000


def test_live_page_shows_the_paired_devices_annotated_camera_and_stops_it_on_untick(qtbot, window, console_context,
                                                                                    tmp_path):
    with LineSafetyDevice(tmp_path / "device") as device:
        service = console_context.appliances
        service.add_by_address("127.0.0.1", device.port)
        service.pair(device.device_id, device.pairing_code())
        page = window.page("Live")
        qtbot.waitUntil(lambda: page.devices.count() == 1, timeout=WAIT_MS)
        assert device.device_id not in page.wall.devices()  # nothing streams before the page is opened

        window.show_page(window.page_row(page.title))
        qtbot.waitUntil(lambda: page.isVisible(), timeout=WAIT_MS)
        item = page.devices.item(0)
        assert item.checkState() == Qt.CheckState.Checked  # first visit: every paired device is watched
        qtbot.waitUntil(lambda: page.wall.tile(device.device_id, CAMERA_ID) is not None, timeout=WAIT_MS)
        tile = page.wall.tile(device.device_id, CAMERA_ID)
        qtbot.waitUntil(lambda: tile.frames_painted > 0 and bool(tile.last_detections), timeout=WAIT_MS)
        assert tile.state == FeedState.LIVE and "line3-test" in tile.title

        item.setCheckState(Qt.CheckState.Unchecked)
        assert page.wall.devices() == [] and page.wall.tiles() == []
        item.setCheckState(Qt.CheckState.Checked)
        assert page.wall.devices() == [device.device_id]
