"""Zones belong to a camera: the line-safety sample on both demo cameras, each tile painting its own zone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage

from console_app.ui.live.overlay import image_rect
from console_app.ui.live.tile import LiveTile
from console_app.ui.live.wall import LiveWall
from tests.console_app.ui.live.conftest import WAIT_MS, connector
from tests.peers.line_safety_device import CAMERA_IDS, LineSafetyDevice

CAM1, CAM2 = CAMERA_IDS
# A point on each camera's zone outline, far (in the picture) from the other camera's outline.
ON_CAM1_OUTLINE = (0.42, 0.972)   # camera 1's bottom edge; camera 2's is at y = 0.911
ON_CAM2_OUTLINE = (0.55, 0.461)   # camera 2's top edge; camera 1's is at y = 0.534


@pytest.fixture(scope="module")
def two_camera_device(tmp_path_factory) -> Iterator[LineSafetyDevice]:
    with LineSafetyDevice(tmp_path_factory.mktemp("two-cameras") / "data", cameras=2) as device:
        yield device


@pytest.fixture
def two_tiles(qtbot, tasks, two_camera_device, tmp_path) -> Iterator[tuple[LiveWall, LiveTile, LiveTile]]:
    wall = LiveWall(tasks, connector(two_camera_device), snapshot_dir=tmp_path / "snaps")
    qtbot.addWidget(wall)
    wall.resize(1000, 480)
    wall.show()
    qtbot.waitExposed(wall)
    try:
        device_id = two_camera_device.device_id
        wall.add_device(device_id)
        qtbot.waitUntil(lambda: None not in (wall.tile(device_id, CAM1), wall.tile(device_id, CAM2)),
                        timeout=WAIT_MS)
        tiles = wall.tile(device_id, CAM1), wall.tile(device_id, CAM2)
        qtbot.waitUntil(lambda: all(t.frames_painted > 0 and t.app is not None for t in tiles), timeout=WAIT_MS)
        yield (wall, *tiles)
    finally:
        wall.shutdown()


def zone_pixels(wall: LiveWall, tile: LiveTile) -> tuple[QImage, QImage]:
    """(zones only, nothing) painted over the tile's last frame."""
    wall.set_toggles(wall.toggles.with_kind("zones", True).with_kind("boxes", False).with_kind("labels", False)
                     .with_kind("track_ids", False).with_kind("lines", False).with_kind("counts", False))
    tile.set_frame(tile.last_frame)
    zones_only = tile.grab().toImage()
    wall.set_toggles(wall.toggles.with_kind("zones", False))
    bare = tile.grab().toImage()
    return zones_only, bare


def painted_near(tile: LiveTile, zones_only: QImage, bare: QImage, point: tuple[float, float]) -> bool:
    frame = tile.last_frame.image
    target = image_rect(frame.width(), frame.height(), QRectF(tile.rect()))
    ratio = zones_only.width() / tile.width()
    cx = round((target.x() + point[0] * target.width()) * ratio)
    cy = round((target.y() + point[1] * target.height()) * ratio)
    return any(zones_only.pixel(cx + dx, cy + dy) != bare.pixel(cx + dx, cy + dy)
               for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2)
               if 0 <= cx + dx < bare.width() and 0 <= cy + dy < bare.height())


def test_each_tile_paints_the_zone_drawn_for_its_own_camera(qtbot, two_tiles, two_camera_device):
    wall, tile1, tile2 = two_tiles
    assert tile1.app.zones_for(CAM1)[0]["points"] != tile2.app.zones_for(CAM2)[0]["points"]
    wall.feed(two_camera_device.device_id).request_stop()  # freeze both pictures

    cam1_zones, cam1_bare = zone_pixels(wall, tile1)
    cam2_zones, cam2_bare = zone_pixels(wall, tile2)

    assert painted_near(tile1, cam1_zones, cam1_bare, ON_CAM1_OUTLINE)
    assert not painted_near(tile1, cam1_zones, cam1_bare, ON_CAM2_OUTLINE)
    assert painted_near(tile2, cam2_zones, cam2_bare, ON_CAM2_OUTLINE)
    assert not painted_near(tile2, cam2_zones, cam2_bare, ON_CAM1_OUTLINE)
