"""Overlay placement: labels stay inside the picture, never cover the counts or each other."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from console_app.core.services.live_frame import AppInfo, Box
from console_app.ui.live.overlay import LINE_COLOR, OverlayToggles, paint_overlays

APP = AppInfo("line-safety", "Line safety", "1.0.0", "running", ("cam",), "m", ("part",), params={
    "zones": [{"name": "safety-zone", "points": [[0.1, 0.5], [0.6, 0.5], [0.6, 0.95], [0.1, 0.95]]}],
    # A vertical line near the right edge, a→b downwards: "in" is right to left.
    "lines": [{"name": "belt-exit", "a": [0.97, 0.02], "b": [0.97, 0.4]}],
})


def paint(detections, counts=None, size=(320, 240)):
    image = QImage(*size, QImage.Format.Format_RGB32)
    image.fill(QColor("#404040"))
    drawn: list = []
    painter = QPainter(image)
    paint_overlays(painter, QRectF(0, 0, *size), detections, APP, "cam",
                   counts if counts is not None else {"safety-zone": 1, "belt-exit.in": 12, "belt-exit.out": 3},
                   OverlayToggles(), drawn=drawn)
    painter.end()
    return image, drawn


def test_crowded_labels_stay_inside_and_never_cover_the_counts_or_each_other():
    # Twelve boxes packed at the top right, under the line's count chip and at the picture's edge.
    boxes = [Box(0.7 + 0.02 * (i % 4), 0.0 + 0.05 * (i // 4), 0.78 + 0.02 * (i % 4), 0.08 + 0.05 * (i // 4),
                 0.9 - i * 0.01, 0, "defective_part", i + 1) for i in range(12)]
    image, drawn = paint(boxes)
    bounds = QRectF(0, 0, image.width(), image.height())
    for _, rect, text in drawn:
        assert bounds.contains(rect), f"{text!r} at {rect} runs off the picture"
    for n, (_, a, text_a) in enumerate(drawn):
        for _, b, text_b in drawn[n + 1:]:
            assert not a.intersects(b), f"{text_a!r} covers {text_b!r}"
    captions = [text for kind, _, text in drawn if kind == "caption"]
    assert 0 < len(captions) < len(boxes), "some labels give way when boxes crowd"
    # Counts are painted last, on top, and always shown.
    assert [kind for kind, _, _ in drawn[-2:]] == ["zone", "line"]
    assert drawn[-1][2] == "belt-exit: in 12 · out 3" and drawn[-2][2] == "safety-zone: 1"
    line_chip = drawn[-1][1]
    assert QColor(image.pixel(int(line_chip.right()) - 1, int(line_chip.center().y()))) == LINE_COLOR


def test_the_counting_line_shows_an_in_arrow_on_the_side_crossings_count_as_in():
    """a→b pointing down the picture: "in" (left of a→b to its right, as the device counts) is leftwards."""
    image, _ = paint([], counts={}, size=(400, 300))
    line_x, middle_y = int(0.97 * 400), int(0.21 * 300)
    cyan = [x for x in range(300, 400) for y in range(middle_y - 2, middle_y + 3)
            if QColor(image.pixel(x, y)) == LINE_COLOR]
    reach_left, reach_right = line_x - min(cyan), max(cyan) - line_x
    assert reach_left >= 18 and reach_left > 1.5 * reach_right, (reach_left, reach_right)
