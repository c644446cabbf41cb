"""TimePlot: series as seconds before now over a ten-minute window, several per plot, light and dark."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from console_app.ui import theme
from console_app.ui.widgets.time_plot import MinutesAxis, TimePlot

NOW = 1_700_000_000.0


@pytest.fixture
def plot(qtbot):
    widget = TimePlot("Frames", "fps")
    qtbot.addWidget(widget)
    return widget


def test_series_are_drawn_as_seconds_before_now(plot):
    plot.set_series("camera", [NOW - 600, NOW - 30, NOW], [15.0, 14.5, 15.2], now=NOW)
    x, y = plot.series_data("camera")
    assert list(x) == [-600.0, -30.0, 0.0] and list(y) == [15.0, 14.5, 15.2]
    assert plot.latest_value("camera") == pytest.approx(15.2)
    x_range = plot.getPlotItem().getViewBox().viewRange()[0]
    assert x_range == pytest.approx([-600.0, 0.0])


def test_several_series_share_a_plot_with_distinct_colours_and_a_legend(plot):
    for name in ("camera", "inferred", "dropped"):
        plot.set_series(name, [NOW - 1, NOW], [1.0, 2.0], now=NOW, style="dash" if name == "dropped" else "solid")
    assert plot.series_names() == ["camera", "inferred", "dropped"]
    assert len({plot.pen_color(n).name() for n in plot.series_names()}) == 3
    legend_labels = [label.text for _, label in plot.legend.items]
    assert legend_labels == ["camera", "inferred", "dropped"]
    plot.keep_only(["inferred"])
    assert plot.series_names() == ["inferred"]
    assert [label.text for _, label in plot.legend.items] == ["inferred"]
    plot.set_series("inferred", [], [], now=NOW)  # an empty series is allowed (nothing in the window)
    assert len(plot.series_data("inferred")[0]) == 0


def test_minutes_axis_labels_read_as_time_before_now():
    axis = MinutesAxis(orientation="bottom")
    assert axis.tickStrings([-600, -150, -5, 0], 1.0, 60) == ["-10:00", "-2:30", "-0:05", "now"]


def test_plot_follows_the_palette_between_light_and_dark(plot, qapp):
    original = QGuiApplication.palette()
    try:
        theme.apply_theme(qapp, Qt.ColorScheme.Dark)
        plot.set_series("cpu", [NOW], [50.0], now=NOW)
        plot.apply_theme()
        assert plot.backgroundBrush().color().lightness() < 128
        dark_pen = plot.pen_color("cpu").name()
        theme.apply_theme(qapp, Qt.ColorScheme.Light)
        plot.apply_theme()
        assert plot.backgroundBrush().color().lightness() > 128
        assert plot.pen_color("cpu").name() != dark_pen
    finally:
        QApplication.setPalette(original)


def test_fixed_range_plots_keep_their_y_axis_and_notes_show_in_the_title(qtbot):
    gpu = TimePlot("GPU", "%", y_range=(0, 100))
    qtbot.addWidget(gpu)
    gpu.set_series("GPU", [NOW - 2, NOW - 1, NOW], [1.0, 2.0, 3.0], now=NOW)
    low, high = gpu.getPlotItem().getViewBox().viewRange()[1]
    assert low <= 0 and high >= 100
    gpu.set_note("not readable on this device")
    assert "not readable on this device" in gpu.getPlotItem().titleLabel.text
    gpu.set_note("")
    assert "not readable" not in gpu.getPlotItem().titleLabel.text
    assert isinstance(gpu.series_data("GPU")[1], np.ndarray)
