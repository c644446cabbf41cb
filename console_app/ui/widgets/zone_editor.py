"""Draw zones (polygons) and counting lines on a camera snapshot, in normalised coordinates.

Zone mode: click to add points; Enter or a double-click closes the polygon
(refused, with a message, under three points); Backspace removes the last
point; Esc drops the polygon being drawn. Line mode: click the start, then
the end. Click an existing zone or line to select it; Delete removes it.

The editor only draws and reports: ``zone_closed(points)``,
``line_drawn(a, b)`` and ``remove_requested(kind, index)``; the host (the
builder wizard) decides, through the builder's rules, and calls
:meth:`ZoneEditor.set_shapes` with what the app now has. Points are
``(x, y)`` fractions of the image's width and height, so they fit any
resolution the camera sends.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

ZONE, LINE = "zone", "line"
Point = tuple[float, float]
PICK_DISTANCE_PX = 8.0


class ZoneEditor(QWidget):
    """The drawing surface. ``mode`` is ``"zone"`` or ``"line"``."""

    zone_closed = Signal(list)          # list[(x, y)]
    line_drawn = Signal(tuple, tuple)   # a, b
    remove_requested = Signal(str, int)  # "zone" | "line", index
    message_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Zone editor")
        self.setMouseTracking(True)
        self.image = QImage()
        self.mode = ZONE
        self.pending: list[Point] = []
        self.zones: list[tuple[str, list[Point]]] = []
        self.lines: list[tuple[str, Point, Point]] = []
        self.selected: tuple[str, int] | None = None
        self.message = ""

    # ------------------------------------------------------------ host API

    def set_image(self, image: QImage) -> None:
        """Show ``image`` (a snapshot) under the shapes."""
        self.image = image
        self.update()

    def set_mode(self, mode: str) -> None:
        if mode not in (ZONE, LINE):
            raise ValueError(f"mode must be 'zone' or 'line', got {mode!r}")
        self.mode = mode
        self.pending = []
        self._say("")
        self.update()

    def set_shapes(self, zones: list[tuple[str, list[Point]]], lines: list[tuple[str, Point, Point]]) -> None:
        """What the app has now (after the host accepted or refused an edit)."""
        self.zones = [(name, list(points)) for name, points in zones]
        self.lines = [(name, tuple(a), tuple(b)) for name, a, b in lines]
        self.selected = None
        self.update()

    def show_message(self, text: str) -> None:
        """Show the host's verdict (e.g. the builder's refusal) over the image."""
        self._say(text)

    # ------------------------------------------------------------ geometry

    def image_rect(self) -> QRectF:
        """Where the image is drawn: as large as fits, aspect ratio kept (4:3 without an image)."""
        w, h = (self.image.width(), self.image.height()) if not self.image.isNull() else (4, 3)
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def to_widget(self, point: Point) -> QPointF:
        rect = self.image_rect()
        return QPointF(rect.left() + point[0] * rect.width(), rect.top() + point[1] * rect.height())

    def to_normalised(self, pos: QPointF) -> Point:
        rect = self.image_rect()
        x = (pos.x() - rect.left()) / rect.width()
        y = (pos.y() - rect.top()) / rect.height()
        return (round(min(1.0, max(0.0, x)), 4), round(min(1.0, max(0.0, y)), 4))

    # ------------------------------------------------------------ input

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.setFocus()
        pos = event.position()
        if not self.image_rect().contains(pos):
            return
        if not self.pending:
            hit = self._shape_at(pos)
            if hit is not None:
                self.selected = hit
                self._say(f"{hit[0]} selected: press Delete to remove it")
                self.update()
                return
        self.selected = None
        self.pending.append(self.to_normalised(pos))
        if self.mode == LINE and len(self.pending) == 2:
            a, b = self.pending
            self.pending = []
            if a == b:
                self._say("a counting line needs two different points")
            else:
                self._say("")
                self.line_drawn.emit(a, b)
        elif self.mode == ZONE:
            self._say(f"{len(self.pending)} point(s): Enter or double-click closes the zone")
        else:
            self._say("now click the line's end")
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        # Qt sends press, release, double-click, release: the press already added the point.
        if self.mode == ZONE and event.button() == Qt.MouseButton.LeftButton:
            self.close_zone()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt)
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.mode == ZONE and self.pending:
            self.close_zone()
        elif key == Qt.Key.Key_Backspace and self.pending:
            self.pending.pop()
            self._say(f"{len(self.pending)} point(s)" if self.pending else "")
            self.update()
        elif key == Qt.Key.Key_Escape and self.pending:
            self.pending = []
            self._say("drawing dropped")
            self.update()
        elif key == Qt.Key.Key_Delete and self.selected is not None:
            kind, index = self.selected
            self.selected = None
            self.remove_requested.emit(kind, index)
            self.update()
        else:
            super().keyPressEvent(event)

    def close_zone(self) -> bool:
        """Close the polygon being drawn; refused (message shown, points kept) under three points."""
        points = _without_repeats(self.pending)
        if len(points) < 3:
            self._say(f"a zone needs at least 3 points, this one has {len(points)}; click more points")
            return False
        self.pending = []
        self._say("")
        self.zone_closed.emit(points)
        self.update()
        return True

    def _shape_at(self, pos: QPointF) -> tuple[str, int] | None:
        for index, (_, a, b) in enumerate(self.lines):
            if _distance_to_segment(pos, self.to_widget(a), self.to_widget(b)) <= PICK_DISTANCE_PX:
                return (LINE, index)
        for index, (_, points) in reversed(list(enumerate(self.zones))):
            polygon = QPolygonF([self.to_widget(p) for p in points])
            if polygon.containsPoint(pos, Qt.FillRule.OddEvenFill):
                return (ZONE, index)
        return None

    def _say(self, text: str) -> None:
        if text != self.message:
            self.message = text
            self.message_changed.emit(text)
            self.update()

    # ------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.image_rect()
        if self.image.isNull():
            painter.fillRect(rect, QColor(40, 40, 40))
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "No snapshot yet: you can still draw")
        else:
            painter.drawImage(rect, self.image)
        for index, (name, points) in enumerate(self.zones):
            selected = self.selected == (ZONE, index)
            color = QColor(255, 200, 0) if selected else QColor(0, 200, 255)
            painter.setPen(QPen(color, 3 if selected else 2))
            fill = QColor(color)
            fill.setAlpha(50)
            painter.setBrush(fill)
            polygon = QPolygonF([self.to_widget(p) for p in points])
            painter.drawPolygon(polygon)
            painter.drawText(polygon.boundingRect().topLeft() + QPointF(4, 14), name)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for index, (name, a, b) in enumerate(self.lines):
            selected = self.selected == (LINE, index)
            painter.setPen(QPen(QColor(255, 200, 0) if selected else QColor(255, 80, 80), 3))
            pa, pb = self.to_widget(a), self.to_widget(b)
            painter.drawLine(pa, pb)
            _draw_in_arrow(painter, pa, pb)
            painter.drawText(pa + QPointF(4, -4), name)
        if self.pending:
            painter.setPen(QPen(QColor(0, 255, 120), 2, Qt.PenStyle.DashLine))
            points = [self.to_widget(p) for p in self.pending]
            for start, end in zip(points, points[1:], strict=False):
                painter.drawLine(start, end)
            for point in points:
                painter.drawEllipse(point, 4, 4)
        if self.message:
            painter.setPen(QColor(255, 255, 255))
            band = QRectF(rect.left(), rect.bottom() - 24, rect.width(), 24)
            painter.fillRect(band, QColor(0, 0, 0, 160))
            painter.drawText(band.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter, self.message)
        painter.end()


def _without_repeats(points: list[Point]) -> list[Point]:
    # A double-click lands twice on one spot; one point there is what the engineer meant.
    result: list[Point] = []
    for point in points:
        if not result or result[-1] != point:
            result.append(point)
    if len(result) > 1 and result[0] == result[-1]:
        result.pop()
    return result


def _distance_to_segment(p: QPointF, a: QPointF, b: QPointF) -> float:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p.x() - a.x()) * dx + (p.y() - a.y()) * dy) / length2))
    return math.hypot(p.x() - (a.x() + t * dx), p.y() - (a.y() + t * dy))


def _draw_in_arrow(painter: QPainter, a: QPointF, b: QPointF) -> None:
    """A small arrow at the line's middle pointing to its "in" side (a→b turned 90° clockwise on screen)."""
    dx, dy = b.x() - a.x(), b.y() - a.y()
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length  # clockwise on screen (y grows downwards)
    mid = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
    tip = mid + QPointF(nx * 16, ny * 16)
    painter.drawLine(mid, tip)
    painter.drawText(tip + QPointF(2, 4), "in")
