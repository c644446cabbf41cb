"""The Events page on a real paired device: live events with thumbnails, filters, snapshot view, CSV export."""

from __future__ import annotations

import csv
import time
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPoint, QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import QApplication

from console_app.core.services.event_log import CSV_COLUMNS, EventFilter, EventLog, EventRecord
from console_app.ui.models.event_table_model import RECORD_ROLE, EventTableModel
from console_app.ui.views.events_page import EventsPage
from tests.peers.line_safety_device import APP_ID, CAMERA_ID

WAIT_MS = 20_000


@pytest.fixture
def page(qtbot, console_context, tasks, line_device, tmp_path):
    page = EventsPage(console_context, tasks)
    page.settings = QSettings(str(tmp_path / "console.ini"), QSettings.Format.IniFormat)  # not the user's
    qtbot.addWidget(page)
    page.resize(1200, 800)
    yield page
    follower = page.following
    page.shutdown()
    if follower is not None:
        follower.stop(wait=5.0)
        assert not follower.running


def shown_records(page: EventsPage) -> list[EventRecord]:
    return page.model.records()


def wait_for_events(qtbot, page: EventsPage, count: int = 1) -> None:
    qtbot.waitUntil(lambda: page.model.rowCount() >= count, timeout=WAIT_MS)


def test_events_arrive_with_thumbnails_fetched_for_the_rows_painted(qtbot, page, line_device):
    page.show()
    wait_for_events(qtbot, page)
    newest = shown_records(page)[0]
    assert (newest.device_id, newest.app_id, newest.camera_id) == (line_device.device_id, APP_ID, CAMERA_ID)
    assert page.model.data(page.model.index(0, 2)) == APP_ID
    assert page.model.data(page.model.index(0, 4)) == newest.type

    def painted_thumbnail() -> bool:
        page.table.viewport().update()  # the view asks for the decoration when it paints the row
        return page.model.has_thumbnail(page.model.data(page.model.index(0, 0), RECORD_ROLE))
    qtbot.waitUntil(painted_thumbnail, timeout=WAIT_MS)
    pixmap = page.model.data(page.model.index(0, 0), Qt.ItemDataRole.DecorationRole)
    assert pixmap is not None and pixmap.width() == 96 and 0 < pixmap.height() <= 72  # 640×480 → 96×72
    assert page.thumbnails.fetches <= page.model.rowCount()  # only snapshots asked for, each once


def test_filters_select_by_application_camera_type_and_text(qtbot, page, line_device):
    page.show()
    wait_for_events(qtbot, page, count=3)
    qtbot.waitUntil(lambda: page.type_combo.count() >= 3, timeout=WAIT_MS)  # "All events" and two types
    assert page.app_combo.findData(APP_ID) > 0 and page.camera_combo.findData(CAMERA_ID) > 0

    page.type_combo.setCurrentIndex(page.type_combo.findData("count_changed"))
    records = shown_records(page)
    assert records and all(r.type == "count_changed" for r in records)
    page.type_combo.setCurrentIndex(0)
    page.app_combo.setCurrentIndex(page.app_combo.findData(APP_ID))
    page.camera_combo.setCurrentIndex(page.camera_combo.findData(CAMERA_ID))
    assert len(shown_records(page)) >= 3
    qtbot.keyClicks(page.text_filter, "BELT-EXIT")
    records = shown_records(page)
    assert records and all("belt-exit" in r.detail.lower() or r.line == "belt-exit" for r in records)
    page.text_filter.setText("no event says this")
    assert page.model.rowCount() == 0
    page.text_filter.clear()
    page.since_combo.setCurrentIndex(1)  # last 5 minutes: everything so far
    shown = EventFilter(device_id=line_device.device_id, count_updates=False)
    assert page.model.rowCount() == len(page.events.records(shown))
    # New events keep arriving into the filtered view.
    before = page.model.rowCount()
    qtbot.waitUntil(lambda: page.model.rowCount() > before, timeout=WAIT_MS)


def test_a_line_crossing_is_one_row_and_count_updates_show_only_when_asked(qtbot, page, line_device):
    """The device sends a count_changed event beside every crossing (its count is already in the
    crossing's row): by default the list reads one row per crossing."""
    page.show()
    qtbot.waitUntil(lambda: any(r.type == "line_crossed" for r in page.events.records()), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(r.type == "count_changed" for r in page.events.records()), timeout=WAIT_MS)
    page.drain()
    shown = shown_records(page)
    assert shown and not any(r.type == "count_changed" for r in shown)
    crossings = [r for r in shown if r.type == "line_crossed"]
    assert len({(r.camera_id, r.line, r.direction, r.count) for r in crossings}) == len(crossings)
    page.counts_check.setChecked(True)
    assert any(r.type == "count_changed" for r in shown_records(page))


def test_export_writes_what_the_filter_shows_with_formulas_guarded(qtbot, page, line_device, tmp_path: Path):
    """One crafted event (a detail starting with "=") is added to the log: the device's own sentences
    never start with a formula character, and the guard must be seen working end to end."""
    page.show()
    wait_for_events(qtbot, page, count=2)
    crafted = EventRecord(line_device.device_id, time.time(), APP_ID, CAMERA_ID, "line_crossed",
                          detail='=HYPERLINK("http://example.invalid","x")', snapshot_id="")
    page.events.add([crafted])
    qtbot.waitUntil(lambda: shown_records(page)[0] == crafted, timeout=WAIT_MS)
    page.app_combo.setCurrentIndex(page.app_combo.findData(APP_ID))
    shown = shown_records(page)

    target = tmp_path / "events.csv"
    page.export_csv(target)
    qtbot.waitUntil(lambda: page.last_export is not None, timeout=WAIT_MS)
    assert page.last_export == (target, len(shown))
    assert f"Exported {len(shown)} event(s)" in page.status.text()
    with open(target, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(shown) + 1
    device_name = console_name(page, line_device.device_id)
    crafted_row = next(r for r in rows[1:] if r[5].startswith("'="))
    assert crafted_row[5] == "'" + crafted.detail
    for row, record in zip(rows[1:], shown, strict=True):
        assert row[1:5] == [device_name, record.app_id, record.camera_id, record.type]
        assert row[6] == record.snapshot_id
        stamp = datetime.fromisoformat(row[0])  # local time with its UTC offset
        assert stamp.utcoffset() is not None and stamp.timestamp() == pytest.approx(record.time, abs=0.001)


def console_name(page: EventsPage, device_id: str) -> str:
    return next(e.name for e in page._context.appliances.entries() if e.device_id == device_id)


def test_export_to_an_unwritable_place_says_which_file_failed(qtbot, page, tmp_path: Path):
    target = tmp_path / "missing-folder" / "events.csv"
    page.export_csv(target)
    qtbot.waitUntil(lambda: "Export failed" in page.status.text(), timeout=WAIT_MS)
    assert "missing-folder" in page.status.text()
    box = page._tasks.last_error_box
    assert box is not None and "missing-folder" in box.informativeText()
    box.close()


def test_ctrl_e_opens_the_export_dialog(qtbot, page):
    page.show()
    page.windowHandle().requestActivate()  # shortcuts go to the active window only
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=WAIT_MS)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.export_dialog is not None and page.export_dialog.isVisible(), timeout=WAIT_MS)
    assert page.export_dialog.defaultSuffix() == "csv"
    page.export_dialog.reject()


def test_double_click_opens_the_full_snapshot(qtbot, page):
    page.show()
    wait_for_events(qtbot, page)
    page.drain_timer.stop()  # hold new rows back so the row under the pointer stays put
    index = page.model.index(0, 1)
    centre = page.table.visualRect(index).center()
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: page.snapshot_dialog is not None, timeout=WAIT_MS)
    dialog = page.snapshot_dialog
    assert dialog.record == page.model.data(index, RECORD_ROLE)
    assert dialog.image.width() > 160  # full size, not the thumbnail
    dialog.close()


def test_the_snapshot_shows_the_boxes_zone_and_line_of_that_moment(qtbot, page):
    page.show()
    qtbot.waitUntil(lambda: any(r.type == "line_crossed" for r in page.model.records()), timeout=WAIT_MS)
    page.drain_timer.stop()
    row = next(n for n, r in enumerate(page.model.records()) if r.type == "line_crossed")
    page.open_snapshot(page.model.index(row, 1))
    qtbot.waitUntil(lambda: page.snapshot_dialog is not None, timeout=WAIT_MS)
    dialog = page.snapshot_dialog
    # The crossing object's box (kept by the device with the snapshot), the safety zone and the counting line.
    assert dialog.overlays_painted >= 3
    picture = dialog.image.convertToFormat(dialog.annotated.format())
    changed = sum(picture.pixel(x, y) != dialog.annotated.pixel(x, y)
                  for x in range(0, picture.width(), 4) for y in range(0, picture.height(), 4))
    assert changed > 200
    screen = page.screen().availableGeometry()
    assert dialog.sizeHint().height() <= screen.height() and dialog.sizeHint().width() <= screen.width()
    dialog.close()


def test_a_snapshot_keeps_the_zone_of_its_moment_after_the_zone_is_moved(qtbot, page, line_device):
    """The engineer moves the safety zone after an event: that event's snapshot still shows the zone
    it was judged by (the device keeps the camera's geometry with each snapshot); a later event's
    snapshot shows the moved one."""
    import json

    old_points = [[0.125, 0.54], [0.72, 0.54], [0.72, 0.97], [0.125, 0.97]]
    new_points = [[0.04, 0.1], [0.3, 0.1], [0.3, 0.4], [0.04, 0.4]]
    page.show()
    qtbot.waitUntil(lambda: any(r.type == "line_crossed" for r in page.model.records()), timeout=WAIT_MS)
    before = next(r for r in page.model.records() if r.type == "line_crossed")
    with line_device.client() as client:
        client.set_params(APP_ID, json.dumps({"geometry": {CAMERA_ID: {"zones": [
            {"name": "safety-zone", "points": new_points, "classes": ["person", "person_without_helmet"]}]}}}))
    changed_at = time.time()

    def snapshot_of(record: EventRecord):
        page.snapshot_dialog = None
        page.drain_timer.stop()  # the row must stay where it is while it is opened
        row = page.model.records().index(record)
        page.open_snapshot(page.model.index(row, 1))
        qtbot.waitUntil(lambda: page.snapshot_dialog is not None, timeout=WAIT_MS)
        page.drain_timer.start()
        return page.snapshot_dialog

    def changed_fraction(dialog, points) -> float:
        """Share of the pixels along the zone's left edge that the overlay painted over."""
        picture = dialog.image.convertToFormat(dialog.annotated.format())
        (x, top), (_, bottom) = points[0], points[3]
        px = round(x * picture.width())
        ys = range(round((top + 0.05) * picture.height()), round((bottom - 0.05) * picture.height()), 2)
        return sum(picture.pixel(px, y) != dialog.annotated.pixel(px, y) for y in ys) / len(ys)

    old = snapshot_of(before)
    assert [z["points"] for z in old.app.zones_for(CAMERA_ID)] == [old_points]
    assert [ln["name"] for ln in old.app.lines_for(CAMERA_ID)] == ["belt-exit"]
    assert changed_fraction(old, old_points) > 0.8, "the zone of that moment is drawn"
    assert changed_fraction(old, new_points) < 0.5, "the zone drawn later is not"
    old.close()

    qtbot.waitUntil(lambda: any(r.type == "line_crossed" and r.time > changed_at + 0.5
                                for r in page.model.records()), timeout=WAIT_MS)
    after = next(r for r in page.model.records() if r.type == "line_crossed" and r.time > changed_at + 0.5)
    new = snapshot_of(after)
    assert [z["points"] for z in new.app.zones_for(CAMERA_ID)] == [new_points]
    assert changed_fraction(new, new_points) > 0.8
    new.close()


def test_new_events_do_not_move_the_rows_being_read(qtbot, page, line_device):
    """Scrolled down or with a row selected, the view stays still as events arrive; at the top with
    nothing selected, the newest rows show at the top."""
    page.drain_timer.stop()  # drained by hand below
    page.follow(line_device.device_id)
    follower = page.following
    page.stop_following()  # only crafted events from here on: the test decides when rows arrive
    follower.stop(wait=5.0)
    page.show()
    page.drain()
    base = time.time()

    def crafted(n: int) -> EventRecord:
        return EventRecord(line_device.device_id, base + n, APP_ID, CAMERA_ID, "line_crossed", detail=f"event {n}")

    page.events.add([crafted(n) for n in range(60)])
    page.drain()
    bar = page.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 10, timeout=WAIT_MS)
    bar.setValue(10)
    reading = page.table.indexAt(QPoint(5, 5)).data(RECORD_ROLE)
    page.table.selectRow(12)
    selected = page.model.records()[12]
    page.events.add([crafted(n) for n in range(60, 65)])
    page.drain()
    assert page.model.records()[0] == crafted(64)  # they are in the list...
    assert page.table.indexAt(QPoint(5, 5)).data(RECORD_ROLE) == reading  # ...but what is read stays put
    assert page.model.records()[page.table.selectionModel().selectedRows()[0].row()] == selected

    page.table.clearSelection()
    bar.setValue(0)
    page.events.add([crafted(65)])
    page.drain()
    assert bar.value() == 0 and page.table.indexAt(QPoint(5, 5)).data(RECORD_ROLE) == crafted(65)


def test_the_export_dialog_opens_in_documents_then_where_the_last_export_went(qtbot, page, tmp_path: Path):
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    expected = Path(documents) if documents and Path(documents).is_dir() else Path.home()
    dialog = page.ask_export_path()
    assert Path(dialog.directory().absolutePath()) == expected  # not the process's working directory
    dialog.reject()
    folder = tmp_path / "reports"
    folder.mkdir()
    page.export_csv(folder / "events.csv")
    qtbot.waitUntil(lambda: page.last_export is not None, timeout=WAIT_MS)
    dialog = page.ask_export_path()
    assert Path(dialog.directory().absolutePath()) == folder
    dialog.reject()


def test_event_stream_reconnects_after_the_device_restarts(qtbot, page, line_device):
    page.show()
    wait_for_events(qtbot, page)
    follower = page.following
    follower.min_backoff_s = follower.max_backoff_s = 0.2
    line_device.restart()
    restarted = time.time()
    qtbot.waitUntil(lambda: any(r.time > restarted for r in shown_records(page)), timeout=WAIT_MS)
    assert follower.connections >= 2 and page.following is follower
    assert not page.status.isVisible() or "Reconnecting" not in page.status.text()


def test_event_table_model_passes_the_model_tester(qtmodeltester):
    log = EventLog()
    model = EventTableModel(capacity=3)
    qtmodeltester.check(model, force_py=True)

    def record(n: int, **kw) -> EventRecord:
        values = dict(device_id="d", time=1000.0 + n, app_id="a", camera_id="c", type="line_crossed",
                      snapshot_id=f"{n:013d}-000000", detail=f"event {n}")
        values.update(kw)
        return EventRecord(**values)

    first = [record(n) for n in range(2)]
    log.add(first)
    model.set_filter(EventFilter(device_id="d"), log)
    assert [r.detail for r in model.records()] == ["event 1", "event 0"]
    model.add_records(first)  # already shown: skipped
    assert model.rowCount() == 2
    more = [record(n) for n in range(2, 5)] + [record(9, device_id="other")]
    log.add(more)
    model.add_records(more)
    assert [r.detail for r in model.records()] == ["event 4", "event 3", "event 2"]
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.data(model.index(0, 0)) == "loading…" or model.data(model.index(0, 0)) == ""
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None  # no cache: nothing to fetch
    model.set_filter(EventFilter(device_id="d", text="event 3"), log)
    assert [r.detail for r in model.records()] == ["event 3"]
    model.clear()
    assert model.rowCount(QModelIndex()) == 0
