"""Overlays painted by the console from detection metadata, at display resolution.

The device sends the clean camera frame plus normalised boxes, counts and
the app's zones and lines (from its live parameters). Drawing them here,
with a QPainter on the widget rather than into the JPEG, keeps lines and text
sharp at any tile size and lets each kind be switched off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF

from console_app.core.services.live_frame import AppInfo, Box

ZONE_COLOR = QColor(255, 193, 7)
LINE_COLOR = QColor(0, 229, 255)
PALETTE = ("#e53935", "#43a047", "#1e88e5", "#fb8c00", "#8e24aa", "#00897b", "#f4511e", "#3949ab")


@dataclass(frozen=True)
class OverlayToggles:
    """Which overlay kinds are painted; every kind is on by default."""

    boxes: bool = True
    labels: bool = True
    track_ids: bool = True
    zones: bool = True
    lines: bool = True
    counts: bool = True

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        """The names of the kinds, in menu order."""
        return tuple(f.name for f in fields(cls))

    def with_kind(self, kind: str, on: bool) -> OverlayToggles:
        if kind not in self.kinds():
            raise ValueError(f"unknown overlay kind {kind!r}; known: {', '.join(self.kinds())}")
        return replace(self, **{kind: on})

    def any(self) -> bool:
        return any(getattr(self, kind) for kind in self.kinds())


def class_color(label: str, class_id: int) -> QColor:
    """A stable colour per class (the same class looks the same on every tile)."""
    key = label or str(class_id)
    index = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:4], 16) % len(PALETTE)
    return QColor(PALETTE[index])


def image_rect(image_width: int, image_height: int, area: QRectF) -> QRectF:
    """Where an image of that size lands inside ``area`` when scaled to fit, centred, aspect kept."""
    if image_width <= 0 or image_height <= 0 or area.isEmpty():
        return QRectF(area)
    scale = min(area.width() / image_width, area.height() / image_height)
    width, height = image_width * scale, image_height * scale
    return QRectF(area.x() + (area.width() - width) / 2, area.y() + (area.height() - height) / 2, width, height)


def _point(target: QRectF, xy: Iterable[float]) -> QPointF:
    x, y = xy
    return QPointF(target.x() + x * target.width(), target.y() + y * target.height())


def _text_box(painter: QPainter, anchor: QPointF, text: str, color: QColor, above: bool = True) -> None:
    """``text`` on a filled chip at ``anchor`` (above it when there is room)."""
    metrics = QFontMetricsF(painter.font())
    width, height = metrics.horizontalAdvance(text) + 6, metrics.height() + 2
    top = anchor.y() - height if above and anchor.y() - height >= 0 else anchor.y()
    chip = QRectF(anchor.x(), top, width, height)
    painter.fillRect(chip, color)
    painter.setPen(QColor("#000000") if color.lightness() > 150 else QColor("#ffffff"))
    painter.drawText(chip.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


def box_caption(box: Box, toggles: OverlayToggles) -> str:
    """What the chip above a box says, e.g. ``#12 person 0.87``."""
    parts = []
    if toggles.track_ids and box.track_id:
        parts.append(f"#{box.track_id}")
    if toggles.labels and (box.label or box.class_id >= 0):  # a code app's add_rect has no class
        parts.append(f"{box.label or box.class_id} {box.score:.2f}")
    return " ".join(parts)


def paint_overlays(painter: QPainter, target: QRectF, detections: Iterable[Box], app: AppInfo | None,
                   camera_id: str, counts: dict[str, int], toggles: OverlayToggles,
                   labels: Iterable[tuple[str, float, float]] = ()) -> int:
    """Paint every enabled overlay over the image drawn in ``target``; the number of shapes painted."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(painter.font())
    font.setPixelSize(max(10, min(16, int(target.height() / 28))))
    painter.setFont(font)
    painted = 0
    if app is not None and toggles.zones:
        for zone in app.zones_for(camera_id):
            painted += _paint_zone(painter, target, zone, counts if toggles.counts else None)
    if app is not None and toggles.lines:
        for line in app.lines_for(camera_id):
            painted += _paint_line(painter, target, line, counts if toggles.counts else None)
    for box in detections:
        color = class_color(box.label, box.class_id)
        rect = QRectF(_point(target, (box.x1, box.y1)), _point(target, (box.x2, box.y2)))
        if toggles.boxes:
            painter.setPen(QPen(color, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            painted += 1
        caption = box_caption(box, toggles)
        if caption:
            _text_box(painter, rect.topLeft(), caption, color)
            painted += 1
    if toggles.labels:
        for text, x, y in labels:  # texts a Panorama code app placed with media.add_label
            _text_box(painter, _point(target, (x, y)), text, QColor("#202124"), above=False)
            painted += 1
    painter.restore()
    return painted


def _paint_zone(painter: QPainter, target: QRectF, zone: dict, counts: dict[str, int] | None) -> int:
    points = [_point(target, p) for p in zone.get("points", [])]
    if len(points) < 3:
        return 0
    polygon = QPolygonF(points)
    fill = QColor(ZONE_COLOR)
    fill.setAlpha(40)
    # The translucent fill without antialiasing (a faint edge needs none, and an
    # antialiased fill of a large polygon is the costliest thing on a tile), the outline with.
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawPolygon(polygon)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(ZONE_COLOR, 2))  # solid: a dashed antialiased outline costs several times more
    painter.drawPolygon(polygon)
    name = zone.get("name", "")
    if counts is not None and name in counts:
        name = f"{name}: {counts[name]}"
    _text_box(painter, polygon.boundingRect().topLeft(), name, ZONE_COLOR, above=False)
    return 1


def _paint_line(painter: QPainter, target: QRectF, line: dict, counts: dict[str, int] | None) -> int:
    a, b = _point(target, line["a"]), _point(target, line["b"])
    painter.setPen(QPen(LINE_COLOR, 3))
    painter.drawLine(a, b)
    # A small arrowhead at b shows the line's direction ('in' is a→b turned clockwise).
    painter.setBrush(LINE_COLOR)
    painter.drawEllipse(b, 4, 4)
    name = line.get("name", "")
    text = name
    if counts is not None:
        inward, outward = counts.get(f"{name}.in"), counts.get(f"{name}.out")
        if inward is not None or outward is not None:
            text = f"{name}: in {inward or 0} · out {outward or 0}"
        elif name in counts:
            text = f"{name}: {counts[name]}"
    _text_box(painter, QPointF(min(a.x(), b.x()) + 4, min(a.y(), b.y())), text, LINE_COLOR, above=False)
    return 1
