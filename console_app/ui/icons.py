"""Icons drawn from the SVGs in resources/icons, coloured for the current palette.

The SVGs stroke with ``currentColor``; Qt's SVG renderer has no notion of a
current colour, so it is substituted with the palette's text colour before
rendering. That keeps one set of icons readable in light and dark themes.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from console_app.resources import resource_path

SIZES = (16, 20, 24, 32, 48)


class IconError(RuntimeError):
    """An icon file exists but Qt cannot render it."""


def text_color() -> QColor:
    """The colour icons take on: the palette's window text colour."""
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` in ``color`` (default: the text colour)."""
    rgb = QColor(color).name() if color is not None else text_color().name()
    return QIcon(_icon(name, rgb))


@lru_cache(maxsize=256)
def _icon(name: str, rgb: str) -> QIcon:
    svg = resource_path("icons", f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", rgb)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise IconError(f"icon {name}.svg is not an SVG Qt can render")
    result = QIcon()
    for size in SIZES:
        image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(QPixmap.fromImage(image))
    return result


def clear_cache() -> None:
    """Forget rendered icons (after a theme change; callers re-fetch them)."""
    _icon.cache_clear()
