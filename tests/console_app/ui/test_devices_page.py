"""The Devices page with real device runtimes: live list, pairing dialog, the pinning warning."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from console_app.ui.models.devices_model import FINGERPRINT, NAME, REACHABLE
from console_app.ui.views.devices_page import DevicesPage

WAIT_MS = 10_000


def devices_page(window) -> DevicesPage:
    page = window.page("Devices")
    assert isinstance(page, DevicesPage)
    return page


def wait_for_row(qtbot, page: DevicesPage, device_id: str, condition=lambda e: True) -> int:
    def ready():
        row = page.model.row_of(device_id)
        assert row >= 0, f"{device_id} not listed; rows: {page.model.entries()}"
        assert condition(page.model.entry_at(row)), page.model.entry_at(row)

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return page.model.row_of(device_id)


def test_running_device_appears_live_and_disappears_when_it_stops(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)

    row = wait_for_row(qtbot, page, device.identity.device_id, lambda e: e.reachable)
    assert page.model.data(page.model.index(row, NAME)) == device.config.name
    assert page.model.data(page.model.index(row, REACHABLE)) == "Yes"
    assert page.model.data(page.model.index(row, FINGERPRINT)).replace(" ", "").rstrip("…") == device.identity.fingerprint[:16]
    assert "1 device(s) found" in window.discovery_label.text() or "device(s) found" in window.discovery_label.text()

    device.stop(grace=0.2)
    qtbot.waitUntil(lambda: page.model.row_of(device.identity.device_id) < 0, timeout=WAIT_MS)


def test_pair_dialog_keeps_the_typed_code_on_a_wrong_code_then_pairs(qtbot, window, start_device):
    device = start_device()
    device_id = device.identity.device_id
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    page.select_device(device_id)

    dialog = page.pair_selected()
    assert dialog is not None and dialog.isVisible()
    assert dialog.fingerprint_label.text().replace(" ", "").replace("\n", "") == device.identity.fingerprint

    qtbot.keyClicks(dialog.code_edit, "1111-2222")
    qtbot.mouseClick(dialog.pair_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    assert "pairing code is wrong" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.code_edit.text() == "1111-2222"

    dialog.code_edit.clear()
    qtbot.keyClicks(dialog.code_edit, device.pairing.current_code())
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(dialog.code_edit, Qt.Key.Key_Return)
    assert finished.args == [QDialog.DialogCode.Accepted]
    qtbot.waitUntil(lambda: page.model.entry_at(page.model.row_of(device_id)).paired, timeout=WAIT_MS)
    assert "1 of 1 paired reachable" in window.connection_label.text()
    # Success is said, not left to be guessed from a table cell.
    assert page.notice.isVisible() and f"Paired with {device.config.name}" in page.notice.text()


def test_a_wrong_code_message_is_shown_whole_as_the_dialog_grows(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)
    wait_for_row(qtbot, page, device.identity.device_id)
    page.select_device(device.identity.device_id)
    dialog = page.pair_selected()
    height = dialog.height()
    qtbot.keyClicks(dialog.code_edit, "1111-2222")
    dialog.start_pairing()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    label = dialog.error_label
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=WAIT_MS)
    assert dialog.height() > height
    assert label.geometry().bottom() <= dialog.buttons.geometry().top()
    dialog.reject()


def test_ctrl_p_with_nothing_selected_says_what_to_select(qtbot, window, start_device):
    """Two unpaired devices and no selection: Ctrl+P used to do nothing and say nothing."""
    page = devices_page(window)
    window.show_page(window.page_row("Devices"))
    for device in (start_device(), start_device()):
        wait_for_row(qtbot, page, device.identity.device_id)
    page.table.clearSelection()
    assert page.pair_action.isEnabled()
    page.pair_action.trigger()
    assert page.notice.isVisible() and "Select a device in the list first" in page.notice.text()
    page.select_device(device.identity.device_id)
    dialog = page.pair_selected()
    assert dialog is not None and not page.notice.isVisible()
    dialog.reject()
