"""The tuning panel's "Edit zones and lines…": redrawn on the enlarged tile's frame, sent to a real device."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtWidgets import QApplication

from console_app.ui.live.geometry_dialog import GeometryDialog
from console_app.ui.live.overlay import image_rect
from console_app.ui.live.tuning import TuningPanel
from tests.console_app.ui.live.conftest import CAMERA, WAIT_MS, annotated_tile
from tests.peers.line_safety_device import APP, APP_ID

ORIGINAL = json.loads((APP / "app.json").read_text())["params"]["geometry"][CAMERA]
NEW_ZONE = [(0.05, 0.05), (0.45, 0.05), (0.45, 0.45), (0.05, 0.45)]  # clear of the old zone and the line
TOLERANCE = 0.01  # a click lands on a whole pixel of a ~600 px wide picture


def device_params(live_device) -> dict:
    with live_device.client() as client:
        [app] = client.list_apps()
    return json.loads(app.params_json)


def close_to(points, expected) -> bool:
    return len(points) == len(expected) and all(
        abs(x - ex) <= TOLERANCE and abs(y - ey) <= TOLERANCE for (x, y), (ex, ey) in zip(points, expected, strict=True))


@pytest.fixture
def enlarged(qtbot, wall, live_device) -> Iterator[tuple]:
    """(wall, tile, panel) with the line-safety camera enlarged; the app's zones and lines put back afterwards."""
    tile = annotated_tile(qtbot, wall, live_device.device_id)
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert wall.enlarged_tile is tile and wall.tuning.app is not None
    try:
        yield wall, tile, wall.tuning
    finally:
        with live_device.client() as client:
            client.set_params(APP_ID, json.dumps({"geometry": {CAMERA: ORIGINAL}}))


def open_editor(qtbot, panel: TuningPanel) -> GeometryDialog:
    dialog = panel.geometry_dialog
    assert isinstance(dialog, GeometryDialog)
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # as a window manager would (offscreen does not): keys go to the dialog, not the wall
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=WAIT_MS)
    return dialog


def click(qtbot, dialog: GeometryDialog, point: tuple[float, float]) -> None:
    at = dialog.editor.to_widget(point)
    qtbot.mouseClick(dialog.editor, Qt.MouseButton.LeftButton, pos=QPoint(round(at.x()), round(at.y())))


def assert_nothing_sent(panel: TuningPanel, live_device) -> None:
    assert panel.sends == 0 and not panel.send_pending  # the only way out is the debounce timer
    assert [z["name"] for z in panel.tuned_params()["geometry"][CAMERA]["zones"]] == ["safety-zone"]
    zones = device_params(live_device)["geometry"][CAMERA]["zones"]
    assert [(z["name"], z["points"]) for z in zones] == [("safety-zone", ORIGINAL["zones"][0]["points"])]


def test_zone_redrawn_in_the_editor_reaches_the_device_and_the_tile_draws_it(qtbot, enlarged, live_device):
    wall, tile, panel = enlarged
    qtbot.keyClick(tile, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = open_editor(qtbot, panel)
    editor = dialog.editor
    frame = tile.last_frame
    assert (editor.image.width(), editor.image.height()) == (frame.image.width(), frame.image.height())
    assert [name for name, _ in editor.zones] == ["safety-zone"] and [ln[0] for ln in editor.lines] == ["belt-exit"]

    click(qtbot, dialog, (0.4, 0.75))  # inside the safety zone: selects it and offers its name
    assert editor.selected == ("zone", 0) and dialog.shape_name.text() == "safety-zone"
    for point in NEW_ZONE:
        click(qtbot, dialog, point)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert dialog.status.text() == "zone 'safety-zone' redrawn" and dialog.isVisible()
    assert close_to(editor.zones[0][1], NEW_ZONE)
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)

    assert panel.geometry_dialog is None and "sending" in panel.status.text()
    qtbot.waitUntil(lambda: panel.sends == 1 and not panel.send_pending, timeout=WAIT_MS)
    assert panel.last_error == ""
    [zone] = device_params(live_device)["geometry"][CAMERA]["zones"]
    assert zone["name"] == "safety-zone" and close_to(zone["points"], NEW_ZONE)
    assert zone["classes"] == ["person", "person_without_helmet"] and zone["dwell_limit_s"] == 20  # kept
    assert [ln["name"] for ln in device_params(live_device)["geometry"][CAMERA]["lines"]] == ["belt-exit"]
    qtbot.waitUntil(lambda: close_to(tile.app.zones_for(CAMERA)[0]["points"], NEW_ZONE), timeout=WAIT_MS)

    # What the tile paints: the zone's outline is where it was drawn, and no longer where it was.
    wall.feed(live_device.device_id).request_stop()  # freeze the picture so both grabs paint one frame
    tile.set_frame(frame)
    wall.set_toggles(wall.toggles.with_kind("zones", True).with_kind("boxes", False).with_kind("labels", False)
                     .with_kind("track_ids", False).with_kind("lines", False).with_kind("counts", False))
    zones_only = tile.grab().toImage()
    wall.set_toggles(wall.toggles.with_kind("zones", False))
    bare = tile.grab().toImage()
    target = image_rect(frame.image.width(), frame.image.height(), QRectF(tile.rect()))
    ratio = zones_only.width() / tile.width()

    def outline_painted_near(x: float, y: float) -> bool:
        cx, cy = (target.x() + x * target.width()) * ratio, (target.y() + y * target.height()) * ratio
        return any(zones_only.pixel(round(cx) + dx, round(cy) + dy) != bare.pixel(round(cx) + dx, round(cy) + dy)
                   for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2))

    assert outline_painted_near(0.25, 0.45)       # the new zone's bottom edge
    assert not outline_painted_near(0.42, 0.97)   # the old zone's bottom edge


def test_cancel_sends_nothing(qtbot, enlarged, live_device):
    _wall, _tile, panel = enlarged
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    dialog = open_editor(qtbot, panel)
    for point in NEW_ZONE[:3]:
        click(qtbot, dialog, point)
    qtbot.keyClick(dialog.editor, Qt.Key.Key_Return)
    assert dialog.status.text() == "zone 'zone-1' added" and len(dialog.editor.zones) == 2

    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    assert panel.geometry_dialog is None
    assert_nothing_sent(panel, live_device)
    assert [panel.rules.item(i).text() for i in range(panel.rules.count())] == ["zone: safety-zone", "line: belt-exit"]


def test_a_two_point_zone_is_refused_with_the_editors_message_and_nothing_is_sent(qtbot, enlarged, live_device):
    wall, tile, panel = enlarged
    panel.edit_action.trigger()
    dialog = open_editor(qtbot, panel)
    refusal = "a zone needs at least 3 points, this one has 2; click more points"
    click(qtbot, dialog, (0.05, 0.05))
    click(qtbot, dialog, (0.45, 0.05))

    qtbot.keyClick(dialog.editor, Qt.Key.Key_Return)
    assert dialog.editor.message == refusal and dialog.isVisible()
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    assert dialog.editor.message == refusal and dialog.isVisible() and panel.geometry_dialog is dialog
    assert len(dialog.editor.pending) == 2  # kept for more clicks
    assert_nothing_sent(panel, live_device)

    qtbot.keyClick(dialog.editor, Qt.Key.Key_Escape)  # the editor's Escape: drop the drawing, stay open
    assert dialog.editor.pending == [] and dialog.isVisible()
    qtbot.keyClick(dialog.editor, Qt.Key.Key_Escape)  # nothing being drawn: Escape cancels the dialog
    qtbot.waitUntil(lambda: panel.geometry_dialog is None, timeout=WAIT_MS)
    assert wall.enlarged_tile is tile  # the wall's own Escape (back to the grid) stayed out of it
    assert_nothing_sent(panel, live_device)
