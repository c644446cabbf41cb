"""The zone editor driven with real mouse and key events (offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage

from console_app.ui.widgets.zone_editor import LINE, ZoneEditor


@pytest.fixture
def editor(qtbot):
    widget = ZoneEditor()
    image = QImage(400, 300, QImage.Format.Format_RGB32)
    image.fill(QColor(90, 90, 90))
    widget.set_image(image)
    widget.resize(400, 300)  # the image fills the widget exactly: pixel = normalised * size
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def click(qtbot, editor, x: float, y: float) -> None:
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=QPoint(int(x * 400), int(y * 300)))


def test_clicks_then_enter_close_a_zone_in_normalised_coordinates(qtbot, editor):
    closed = []
    editor.zone_closed.connect(closed.append)
    for x, y in [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5)]:
        click(qtbot, editor, x, y)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert closed == [[(0.1, 0.1), (0.5, 0.1), (0.5, 0.5)]]
    assert editor.pending == []


def test_double_click_closes_a_zone(qtbot, editor):
    closed = []
    editor.zone_closed.connect(closed.append)
    click(qtbot, editor, 0.2, 0.2)
    click(qtbot, editor, 0.6, 0.2)
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=QPoint(160, 180))
    qtbot.mouseDClick(editor, Qt.MouseButton.LeftButton, pos=QPoint(160, 180))
    assert closed == [[(0.2, 0.2), (0.6, 0.2), (0.4, 0.6)]]


def test_zone_with_fewer_than_three_points_is_refused_and_kept_for_more_clicks(qtbot, editor):
    closed = []
    editor.zone_closed.connect(closed.append)
    click(qtbot, editor, 0.1, 0.1)
    click(qtbot, editor, 0.5, 0.5)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert closed == []
    assert editor.message == "a zone needs at least 3 points, this one has 2; click more points"
    click(qtbot, editor, 0.1, 0.5)
    qtbot.keyClick(editor, Qt.Key.Key_Enter)
    assert len(closed) == 1 and len(closed[0]) == 3


def test_backspace_removes_the_last_point_and_escape_drops_the_drawing(qtbot, editor):
    click(qtbot, editor, 0.1, 0.1)
    click(qtbot, editor, 0.5, 0.5)
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert editor.pending == [(0.1, 0.1)]
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert editor.pending == []


def test_line_mode_takes_two_distinct_points(qtbot, editor):
    lines = []
    editor.line_drawn.connect(lambda a, b: lines.append((a, b)))
    editor.set_mode(LINE)
    click(qtbot, editor, 0.3, 0.3)
    click(qtbot, editor, 0.3, 0.3)
    assert lines == [] and editor.message == "a counting line needs two different points"
    click(qtbot, editor, 0.25, 0.1)
    click(qtbot, editor, 0.25, 0.9)
    assert lines == [((0.25, 0.1), (0.25, 0.9))]


def test_clicking_a_shape_selects_it_and_delete_asks_to_remove_it(qtbot, editor):
    removed = []
    editor.remove_requested.connect(lambda kind, index: removed.append((kind, index)))
    editor.set_shapes([("dock", [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)])],
                      [("exit", (0.8, 0.1), (0.8, 0.9))])
    click(qtbot, editor, 0.3, 0.3)
    assert editor.selected == ("zone", 0) and editor.pending == []
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    click(qtbot, editor, 0.8, 0.5)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert removed == [("zone", 0), ("line", 0)]
    editor.grab()  # paints shapes, selection and message without error
