"""Overlays painted by the console from detection metadata, at display resolution.

The device sends the clean camera frame plus normalised boxes, counts and
the app's zones and lines (from its live parameters). Drawing them here,
with a QPainter on the widget rather than into the JPEG, keeps lines and text
sharp at any tile size and lets each kind be switched off.
"""

from __future__ import annotations

import hashlib
import math
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


def _chip_size(painter: QPainter, text: str) -> tuple[float, float]:
    metrics = QFontMetricsF(painter.font())
    return metrics.horizontalAdvance(text) + 6, metrics.height() + 2


def _paint_chip(painter: QPainter, chip: QRectF, text: str, color: QColor) -> None:
    """``text`` on a filled chip."""
    painter.fillRect(chip, color)
    painter.setPen(QColor("#000000") if color.lightness() > 150 else QColor("#ffffff"))
    painter.drawText(chip.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


class ChipPlacer:
    """Places text chips inside ``bounds`` without covering chips placed before them.

    Count chips are placed first and always shown; a box's caption tries a
    few spots (above the box, inside its top, below it) and, when every spot
    is taken, a shorter text, else it is left out: crowded labels never cover
    the counts or each other, and nothing runs off the picture.
    """

    def __init__(self, bounds: QRectF):
        self.bounds = QRectF(bounds)
        self.taken: list[QRectF] = []

    def clamp(self, chip: QRectF) -> QRectF:
        """``chip`` moved (not resized, unless larger than the bounds) to lie inside the bounds."""
        b = self.bounds
        width, height = min(chip.width(), b.width()), min(chip.height(), b.height())
        x = min(max(chip.x(), b.left()), b.right() - width)
        y = min(max(chip.y(), b.top()), b.bottom() - height)
        return QRectF(x, y, width, height)

    def free(self, chip: QRectF) -> bool:
        return not any(chip.intersects(other) for other in self.taken)

    def reserve(self, chip: QRectF) -> QRectF:
        chip = self.clamp(chip)
        self.taken.append(chip)
        return chip

    def place(self, candidates: Iterable[QRectF]) -> QRectF | None:
        """The first candidate (clamped inside) that covers no chip placed so far, reserved; or None."""
        for candidate in candidates:
            chip = self.clamp(candidate)
            if self.free(chip):
                self.taken.append(chip)
                return chip
        return None


def box_caption(box: Box, toggles: OverlayToggles) -> str:
    """What the chip above a box says, e.g. ``#12 person 0.87``."""
    parts = []
    if toggles.track_ids and box.track_id:
        parts.append(f"#{box.track_id}")
    if toggles.labels and (box.label or box.class_id >= 0):  # a code app's add_rect has no class
        parts.append(f"{box.label or box.class_id} {box.score:.2f}")
    return " ".join(parts)


def short_caption(box: Box, toggles: OverlayToggles) -> str:
    """What a caption shrinks to when boxes crowd: the label alone (or the track id)."""
    if toggles.labels:
        return str(box.label or box.class_id)
    return f"#{box.track_id}" if toggles.track_ids and box.track_id else ""


def paint_overlays(painter: QPainter, target: QRectF, detections: Iterable[Box], app: AppInfo | None,
                   camera_id: str, counts: dict[str, int], toggles: OverlayToggles,
                   chip_bounds: QRectF | None = None, drawn: list[tuple[str, QRectF, str]] | None = None,
                   labels: Iterable[tuple[str, float, float]] = ()) -> int:
    """Paint every enabled overlay over the image drawn in ``target``; the number of shapes painted.

    Order: zones and lines, boxes, box captions, then the zone and line
    chips with their counts on top of everything. Every chip stays inside
    ``target`` (and ``chip_bounds``, e.g. clear of the tile's title and
    status bars); captions never cover a count chip or another caption.
    ``labels`` are texts a Panorama code app placed with ``media.add_label``
    (normalised top-left corners); they are placed like captions.
    ``drawn``, when given, receives ``(kind, rect, text)`` for every chip
    painted, in painting order (kind: ``caption``, ``zone`` or ``line``).
    """
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(painter.font())
    font.setPixelSize(max(10, min(16, int(target.height() / 28))))
    painter.setFont(font)
    placer = ChipPlacer(target.intersected(chip_bounds) if chip_bounds is not None else target)
    counted = counts if toggles.counts else None
    chips: list[tuple[str, QRectF, str, QColor]] = []  # zone and line chips, painted last
    painted = 0
    if app is not None and toggles.zones:
        for zone in app.zones_for(camera_id):
            chip = _paint_zone(painter, target, zone, counted, placer)
            if chip is not None:
                chips.append(("zone", *chip))
                painted += 1
    lines = app.lines_for(camera_id) if app is not None and toggles.lines else []
    for line in lines:
        chip = _paint_line(painter, target, line, counted, placer)
        if chip is not None:
            chips.append(("line", *chip))
            painted += 1
    boxes = sorted(detections, key=lambda b: -b.score)  # the surest detections get their captions first
    for box in boxes:
        if toggles.boxes:
            rect = QRectF(_point(target, (box.x1, box.y1)), _point(target, (box.x2, box.y2)))
            painter.setPen(QPen(class_color(box.label, box.class_id), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
            painted += 1
    # Each line's "in" arrow over the boxes (a box edge must not cut its label), and captions keep off it.
    for line in lines:
        arrow = _paint_direction(painter, _point(target, line["a"]), _point(target, line["b"]),
                                 max(16.0, min(36.0, target.height() / 12)))
        if arrow is not None:
            placer.taken.append(arrow)
    for box in boxes:
        rect = QRectF(_point(target, (box.x1, box.y1)), _point(target, (box.x2, box.y2)))
        for text in dict.fromkeys((box_caption(box, toggles), short_caption(box, toggles))):
            if not text:
                continue
            width, height = _chip_size(painter, text)
            spots = (QRectF(rect.left(), rect.top() - height, width, height),   # above the box
                     QRectF(rect.left(), rect.top(), width, height),            # inside its top
                     QRectF(rect.left(), rect.bottom(), width, height))         # below it
            chip = placer.place(spots)
            if chip is not None:
                _paint_chip(painter, chip, text, class_color(box.label, box.class_id))
                if drawn is not None:
                    drawn.append(("caption", chip, text))
                painted += 1
                break
    if toggles.labels:
        for text, x, y in labels:  # texts a Panorama code app placed with media.add_label
            width, height = _chip_size(painter, text)
            anchor = _point(target, (x, y))
            chip = placer.place((QRectF(anchor.x(), anchor.y(), width, height),))
            if chip is not None:
                _paint_chip(painter, chip, text, QColor("#202124"))
                if drawn is not None:
                    drawn.append(("label", chip, text))
                painted += 1
    for kind, chip, text, color in chips:
        _paint_chip(painter, chip, text, color)
        if drawn is not None:
            drawn.append((kind, chip, text))
    painter.restore()
    return painted


def _paint_zone(painter: QPainter, target: QRectF, zone: dict, counts: dict[str, int] | None,
                placer: ChipPlacer) -> tuple[QRectF, str, QColor] | None:
    """Draw the zone; its chip (painted later, on top), or None for a degenerate zone."""
    points = [_point(target, p) for p in zone.get("points", [])]
    if len(points) < 3:
        return None
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
    width, height = _chip_size(painter, name)
    corner = polygon.boundingRect().topLeft()
    return placer.reserve(QRectF(corner.x(), corner.y(), width, height)), name, ZONE_COLOR


def _paint_line(painter: QPainter, target: QRectF, line: dict, counts: dict[str, int] | None,
                placer: ChipPlacer) -> tuple[QRectF, str, QColor]:
    """Draw the line (its direction arrow comes later, over the boxes); its chip (painted last, on top)."""
    a, b = _point(target, line["a"]), _point(target, line["b"])
    outline = QPen(QColor(0, 0, 0, 160), 5)
    painter.setPen(outline)
    painter.drawLine(a, b)
    painter.setPen(QPen(LINE_COLOR, 3))
    painter.drawLine(a, b)
    name = line.get("name", "")
    text = name
    if counts is not None:
        inward, outward = counts.get(f"{name}.in"), counts.get(f"{name}.out")
        if inward is not None or outward is not None:
            text = f"{name}: in {inward or 0} · out {outward or 0}"
        elif name in counts:
            text = f"{name}: {counts[name]}"
    width, height = _chip_size(painter, text)
    top = a if a.y() <= b.y() else b  # by the line's upper end, clear of the arrow in its middle
    chip = QRectF(top.x() + 6, top.y(), width, height)
    if not placer.free(placer.clamp(chip)):
        chip.moveTop(top.y() + height + 2)
    return placer.reserve(chip), text, LINE_COLOR


def _paint_direction(painter: QPainter, a: QPointF, b: QPointF, length: float) -> QRectF | None:
    """An arrow across the line's middle pointing the way that counts as "in", labelled "in".

    "in" is crossing from the left of a→b to its right (on screen, y down), as the device counts it.
    """
    dx, dy = b.x() - a.x(), b.y() - a.y()
    norm = math.hypot(dx, dy)
    if norm < 1:
        return None
    nx, ny = -dy / norm, dx / norm  # a→b turned clockwise on screen: towards "in"
    middle = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
    tail = QPointF(middle.x() - nx * length * 0.5, middle.y() - ny * length * 0.5)
    tip = QPointF(middle.x() + nx * length, middle.y() + ny * length)
    head = length * 0.45
    ux, uy = dx / norm, dy / norm  # along the line, for the head's width
    left = QPointF(tip.x() - nx * head + ux * head * 0.6, tip.y() - ny * head + uy * head * 0.6)
    right = QPointF(tip.x() - nx * head - ux * head * 0.6, tip.y() - ny * head - uy * head * 0.6)
    arrow = QPolygonF([tip, left, right])
    # Dark under light, so the arrow reads on a bright belt and a dark floor alike.
    painter.setPen(QPen(QColor(0, 0, 0, 200), 6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(tail, tip)
    painter.setBrush(LINE_COLOR)
    painter.setPen(QPen(LINE_COLOR, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(tail, QPointF(tip.x() - nx * head * 0.5, tip.y() - ny * head * 0.5))
    painter.setPen(QPen(QColor(0, 0, 0, 200), 1.5))
    painter.drawPolygon(arrow)
    metrics = QFontMetricsF(painter.font())
    label = QPointF(tip.x() + nx * 4 - metrics.horizontalAdvance("in") / 2 + nx * metrics.height() * 0.4,
                    tip.y() + ny * 4 + metrics.ascent() / 2 + ny * metrics.height() * 0.4)
    painter.setPen(QColor(0, 0, 0, 220))
    painter.drawText(label + QPointF(1, 1), "in")
    painter.setPen(LINE_COLOR)
    painter.drawText(label, "in")
    text = QRectF(label.x(), label.y() - metrics.ascent(), metrics.horizontalAdvance("in"), metrics.height())
    return QPolygonF([tail, tip, left, right]).boundingRect().united(text)
