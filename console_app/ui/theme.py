"""Light and dark appearance following the operating system.

Qt 6.5+ reports the OS colour scheme through ``QStyleHints.colorScheme()``
and signals changes. The console uses the Fusion style everywhere (same look
on Windows and Linux) with a palette built for the scheme, and re-applies it
when the OS switches.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

#: Colours with a meaning, readable on both palettes.
DANGER = QColor("#d32f2f")
DANGER_DARK = QColor("#ff6b6b")
OK = QColor("#2e7d32")
OK_DARK = QColor("#66bb6a")


def current_scheme() -> Qt.ColorScheme:
    """The OS colour scheme; ``Unknown`` counts as light."""
    scheme = QGuiApplication.styleHints().colorScheme()
    return Qt.ColorScheme.Dark if scheme == Qt.ColorScheme.Dark else Qt.ColorScheme.Light


def is_dark() -> bool:
    """Whether the palette in use is dark (whatever set it)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def danger_color() -> QColor:
    return DANGER_DARK if is_dark() else DANGER


def ok_color() -> QColor:
    return OK_DARK if is_dark() else OK


def dark_palette() -> QPalette:
    """A calm dark palette for Fusion."""
    p = QPalette()
    base, window, text = QColor("#1e1f22"), QColor("#2b2d31"), QColor("#e6e6e6")
    for role, color in {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#26282c"),
        QPalette.ColorRole.ToolTipBase: window,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#34363b"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.Highlight: QColor("#3d7bd9"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#7aa7ff"),
        QPalette.ColorRole.PlaceholderText: QColor("#8a8d93"),
    }.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d83"))
    return p


def apply_theme(app: QApplication, scheme: Qt.ColorScheme | None = None) -> Qt.ColorScheme:
    """Apply Fusion with the palette for ``scheme`` (default: the OS's). Returns the scheme used."""
    scheme = scheme or current_scheme()
    app.setStyle(QStyleFactory.create("Fusion"))
    if scheme == Qt.ColorScheme.Dark:
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())
    return scheme
