"""Live plots of the last ten minutes (pyqtgraph), several series per plot, light/dark aware.

The x axis is "time before now": 0 at the right edge, ``-window_s`` at the
left, labelled in minutes and seconds. Callers hand absolute times (unix
seconds) with the ``now`` they were read at; the plot shifts them itself,
so the same history redraws as the window slides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

from console_app.ui import theme

#: Series colours that read on both palettes (Okabe-Ito, colour-blind safe), light then dark variants.
_LIGHT_COLORS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6a3d9a", "#444444")
_DARK_COLORS = ("#56b4e9", "#ff8c42", "#33d1a0", "#f0a6ca", "#f5c542", "#9ecbff", "#c3a6ff", "#dddddd")


class MinutesAxis(pg.AxisItem):
    """Tick labels for seconds-before-now: ``-2:30``, ``now``."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        labels = []
        for value in values:
            seconds = int(round(value * scale))
            if seconds == 0:
                labels.append("now")
            else:
                sign = "-" if seconds < 0 else ""
                minutes, rest = divmod(abs(seconds), 60)
                labels.append(f"{sign}{minutes}:{rest:02d}")
        return labels


class TimePlot(pg.PlotWidget):
    """One plot of named series over the last ``window_s`` seconds.

    :meth:`set_series` adds or replaces a series (created on first use, with
    the next colour and a legend entry); :meth:`keep_only` drops series no
    longer fed. ``y_range`` fixes the y axis (e.g. 0..100 for percentages);
    without it the axis follows the data, from 0.
    """

    def __init__(self, title: str, unit: str = "", window_s: float = 600.0,
                 y_range: tuple[float, float] | None = None, parent: QWidget | None = None):
        super().__init__(parent=parent, axisItems={"bottom": MinutesAxis(orientation="bottom")})
        self.title, self.unit, self.window_s, self.y_range = title, unit, window_s, y_range
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._styles: dict[str, str] = {}
        self.note = ""
        self.setAccessibleName(title)
        self.setMinimumSize(160, 72)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        # pyqtgraph makes the plot's options menu with no parent: tie it to this widget so it
        # goes when the plot goes, instead of lingering as a top-level window.
        item.ctrlMenu.setParent(self, item.ctrlMenu.windowFlags())
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setXRange(-window_s, 0, padding=0)
        self.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        if y_range is not None:
            item.setYRange(*y_range, padding=0.02)
        else:
            item.enableAutoRange(axis="y", enable=True)
        self.legend = item.addLegend(offset=(4, 4), labelTextSize="8pt")
        # Over an empty plot, the note says why it is empty ("no sensor"), large and centred.
        self.empty_label = QLabel(self)
        self.empty_label.setObjectName("emptyPlotNote")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_label.hide()
        self.apply_theme()

    # ------------------------------------------------------------------ data

    def set_series(self, name: str, times: Sequence[float], values: Sequence[float], now: float,
                   style: str = "solid") -> None:
        """Show ``values`` at ``times`` (unix seconds) as series ``name``, as seen at ``now``.

        ``style`` is ``"solid"`` or ``"dash"`` (e.g. dropped frames beside the fps lines).
        """
        curve = self._curves.get(name)
        if curve is None or self._styles.get(name) != style:
            if curve is not None:
                self._remove(name)
            curve = self.plot([], [], name=name)
            curve.setClipToView(True)
            self._curves[name], self._styles[name] = curve, style
            # Six series (two cameras' fps) in one column hid the plot: two columns past three.
            self.legend.setColumnCount(2 if len(self._curves) > 3 else 1)
            self._restyle()
        x = np.asarray(times, dtype=float) - now
        curve.setData(x, np.asarray(values, dtype=float))
        self._show_empty_note()
        if self.y_range is None:
            self.getPlotItem().setLimits(yMin=0)

    def keep_only(self, names: Sequence[str]) -> None:
        """Remove every series not in ``names``."""
        for name in [n for n in self._curves if n not in set(names)]:
            self._remove(name)

    def clear_series(self) -> None:
        self.keep_only([])

    def _remove(self, name: str) -> None:
        curve = self._curves.pop(name)
        self._styles.pop(name, None)
        self.legend.removeItem(curve)
        self.removeItem(curve)
        self._show_empty_note()

    def series_names(self) -> list[str]:
        return list(self._curves)

    def series_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(seconds before now, values) of a series as drawn."""
        x, y = self._curves[name].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    def latest_value(self, name: str) -> float | None:
        _, y = self.series_data(name)
        return float(y[-1]) if len(y) else None

    # ------------------------------------------------------------------ look

    def apply_theme(self) -> None:
        """Colours from the palette in use; call again when the OS switches light/dark."""
        palette = QGuiApplication.palette()
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        self.setBackground(background)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(foreground))
            axis.setTextPen(pg.mkPen(foreground))
        self._set_title(foreground)
        muted = QColor(foreground)
        muted.setAlpha(170)
        self.empty_label.setStyleSheet(f"color: {muted.name(QColor.NameFormat.HexArgb)}; font-size: 14pt;")
        self.legend.setLabelTextColor(foreground)
        self.legend.setBrush(pg.mkBrush(QColor(background.red(), background.green(), background.blue(), 200)))
        self._restyle()

    def set_note(self, note: str) -> None:
        """A short remark after the title (e.g. "no sensor"), also written across the plot
        while it has no series; empty removes it."""
        if note != self.note:
            self.note = note
            self._set_title(QGuiApplication.palette().color(QPalette.ColorRole.Text))
            self.empty_label.setText(note[:1].upper() + note[1:])
        self._show_empty_note()

    @property
    def empty_note_shown(self) -> bool:
        """Whether the plot shows its note instead of data."""
        return not self.empty_label.isHidden()

    def _show_empty_note(self) -> None:
        self.empty_label.setVisible(bool(self.note) and not self._curves)
        self._place_empty_note()

    def _place_empty_note(self) -> None:
        if "empty_label" not in self.__dict__:
            return  # pyqtgraph resizes during its own __init__, before the label exists
        self.empty_label.setGeometry(self.rect().adjusted(12, 24, -12, -12))
        self.empty_label.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_empty_note()

    def _set_title(self, color: QColor) -> None:
        label = f"{self.title} ({self.unit})" if self.unit else self.title
        if self.note:
            label += f" — {self.note}"
        self.getPlotItem().setTitle(label, color=color.name(), size="9pt")

    def _restyle(self) -> None:
        colors = _DARK_COLORS if theme.is_dark() else _LIGHT_COLORS
        dash = pg.QtCore.Qt.PenStyle.DashLine
        for n, (name, curve) in enumerate(self._curves.items()):
            pen = pg.mkPen(colors[n % len(colors)], width=1.5)
            if self._styles.get(name) == "dash":
                pen.setStyle(dash)
            curve.setPen(pen)
            # the legend keeps its own copy of the sample's pen: rebuild the entry
            self.legend.removeItem(curve)
            self.legend.addItem(curve, name)

    def pen_color(self, name: str) -> QColor:
        return self._curves[name].opts["pen"].color()
