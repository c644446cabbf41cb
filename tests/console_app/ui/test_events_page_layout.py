"""The Events page on a 1024x768 panel PC: every column in sight, nothing to scroll sideways,
with the demo guide open or closed (it takes a third of the width)."""

from __future__ import annotations

import time

import pytest

from console_app.core.services.event_log import EventRecord
from tests.console_app.ui.test_cameras_page_layout import save_screenshot


def records(count: int) -> list[EventRecord]:
    return [EventRecord(device_id="demo-line3", time=time.time() - i, app_id="line-safety-app",
                        camera_id="line-3-camera-1", type="zone_entered", label="person", zone="forklift-zone",
                        detail=f"person entered forklift-zone ({i})", id=str(i)) for i in range(60)]


@pytest.mark.parametrize("guide", [False, True], ids=["guide-closed", "guide-open"])
def test_at_1024x768_every_column_is_in_sight_and_nothing_scrolls_sideways(qtbot, window, demo_site, guide):
    from console_app.demo import show_demo_guide

    window.resize(1024, 768)
    if guide:
        show_demo_guide(window, demo_site)
    window.show_page(window.page_row("Events"))
    page = window.page("Events")
    page.model.add_records(records(60))  # enough rows for the vertical scroll bar to take its width
    table = page.table
    qtbot.waitUntil(lambda: table.verticalScrollBar().isVisible(), timeout=5_000)
    save_screenshot(window, f"events-1024x768-{'guide' if guide else 'no-guide'}.png")

    header = table.horizontalHeader()
    assert table.horizontalScrollBar().maximum() == 0
    assert header.length() <= table.viewport().width()
    for column in range(header.count()):
        assert header.sectionViewportPosition(column) >= 0
        assert header.sectionSize(column) >= 40, page.model.columns[column]
    # The date (its time wraps below it) and the event kind stay whole on their lines.
    metrics = table.fontMetrics()
    newest = page.model.records()[0]
    date = page.model.data(page.model.index(0, 1)).split()[0]
    assert header.sectionSize(1) >= metrics.horizontalAdvance(date)
    assert header.sectionSize(4) >= metrics.horizontalAdvance(newest.type)
