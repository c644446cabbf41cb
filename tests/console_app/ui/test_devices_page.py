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


def test_device_with_a_changed_certificate_is_shown_red_and_refused(qtbot, window, start_device, tmp_path, console_context):
    """Restart the device with a new data folder (new certificate) on the same port."""
    original = start_device()
    device_id, port = original.identity.device_id, original.port
    page = devices_page(window)
    wait_for_row(qtbot, page, device_id)
    console_context.appliances.pair(device_id, original.pairing.current_code())
    original.stop(grace=0.2)

    start_device(port=port, data_dir=tmp_path / "reinstalled")

    row = wait_for_row(qtbot, page, device_id, lambda e: e.fingerprint_changed)
    index = page.model.index(row, NAME)
    assert page.model.data(index, Qt.ItemDataRole.ForegroundRole).name() in ("#d32f2f", "#ff6b6b")
    assert page.model.data(page.model.index(row, REACHABLE)) == "REFUSED: certificate changed"
    assert page.warning.isVisible() and "CERTIFICATE CHANGED" in page.warning.text()
    assert "REFUSED" in window.connection_label.text()
    page.select_device(device_id)
    assert not page.pair_action.isEnabled()
    window.grab().save("/tmp/k-fingerprint-changed.png")


def test_add_by_address_dialog_lists_the_device(qtbot, window, start_device):
    device = start_device()
    page = devices_page(window)
    dialog = page.add_by_address()
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.setValue(device.port)
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.added_entry is not None
    assert page.model.row_of(device.identity.device_id) >= 0


def test_add_by_address_dialog_shows_why_nothing_answered(qtbot, window):
    page = devices_page(window)
    dialog = page.add_by_address()
    qtbot.keyClicks(dialog.host_edit, "127.0.0.1")
    dialog.port_spin.setValue(1)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=WAIT_MS)
    assert "no Sightline device answered at 127.0.0.1:1" in dialog.error_label.text()
    assert dialog.isVisible()
    dialog.reject()


def test_appliance_advertised_by_avahi_appears_in_the_devices_view_and_goes_when_withdrawn(qtbot, window):
    """A device whose advert comes from the system's mDNS daemon (Avahi), not from our runtime."""
    import secrets

    from tests.peers.avahi import AvahiDaemon

    suffix = secrets.token_hex(6)
    device_id, name = f"sl-{suffix}", f"Avahi box {suffix}"
    page = devices_page(window)
    with AvahiDaemon() as avahi:
        publisher = avahi.start_tool(["avahi-publish-service", name, "_sightline._tcp", "7443", f"id={device_id}",
                                      f"name={name}", "api=v1", "port=7443", "fp=" + "ef" * 32, "ver=9.9.9"])
        row = wait_for_row(qtbot, page, device_id)
        assert page.model.index(row, NAME).data() == name
        assert page.model.entry_at(row).version == "9.9.9" and not page.model.entry_at(row).paired
        publisher.process.terminate()
        qtbot.waitUntil(lambda: page.model.row_of(device_id) < 0, timeout=WAIT_MS)


def test_ctrl_p_on_another_page_brings_the_devices_page_to_say_what_to_select(qtbot, window, start_device):
    page = devices_page(window)
    for device in (start_device(), start_device()):
        wait_for_row(qtbot, page, device.identity.device_id)
    page.table.clearSelection()
    window.show_page(window.page_row("Settings"))
    [pair] = [a for a in window.menuBar().actions()[2].menu().actions() if a.text() == "&Pair…"]
    pair.trigger()  # what Devices › Pair… (Ctrl+P) does from any page
    assert window.current_page() is page and page.notice.isVisible()
    assert "Select a device in the list first" in page.notice.text()
