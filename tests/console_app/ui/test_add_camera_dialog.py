"""The Add camera dialog registers a real simulated ONVIF camera into a real SQLite inventory."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import Step
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from console_app.ui.context import ConsoleContext
from tests.peers.rtsp_server import RtspServer

WAIT_MS = 20_000
PASSWORD = "Dlg-s3cret-pw"


@pytest.fixture
def store(tmp_path: Path):
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False),
                        editor="console-a") as opened:
        yield opened


@pytest.fixture
def console_context(tmp_path: Path, qapp, store):
    """As the console runs with an inventory open: paired devices are kept in it."""
    context = ConsoleContext.create(tmp_path / "console", interfaces=["127.0.0.1"], inventory=store)
    yield context
    context.close()


@pytest.fixture(scope="module")
def rtsp_camera():
    with RtspServer(path="/Streaming/Channels/101", user="admin", password=PASSWORD, width=320, height=240) as s:
        yield s


@pytest.fixture
def sim_camera(rtsp_camera):
    cam = SimulatedOnvifCamera(password=PASSWORD, clock_skew_s=7200, discovery_interface=None,
                               video_url=f"rtsp://127.0.0.1:{rtsp_camera.port}{rtsp_camera.path}",
                               serial="SN-DLG", name="Dock 7").start()
    yield cam
    cam.stop()


@pytest.fixture
def page(window, store, qtbot):
    cameras = window.page("Cameras")
    cameras.set_inventory(store)
    qtbot.waitUntil(lambda: "camera(s) in the inventory" in cameras.registered_status.text(), timeout=WAIT_MS)
    return cameras


def wait_idle(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)


def visible_texts(dialog) -> list[str]:
    return [label.text() for label in dialog.findChildren(QLabel)] + [dialog.windowTitle()]


def register(qtbot, dialog, password: str) -> None:
    dialog.go_next()  # address (pre-filled) → credentials
    assert dialog.wizard.step is Step.CREDENTIALS, dialog.error_label.text()
    dialog.password_edit.setText(password)
    dialog.go_next()  # probe in the background
    wait_idle(qtbot, dialog)


def test_simulated_camera_with_clock_skew_is_registered_through_the_dialog_and_listed(qtbot, page, sim_camera):
    dialog = page.open_add_camera(sim_camera.url, sim_camera.endpoint_reference)
    register(qtbot, dialog, PASSWORD)
    assert dialog.wizard.step is Step.CHOOSE_PROFILE, dialog.error_label.text()
    assert "2.0 h" in dialog.camera_label.text()  # the clock-skew warning is shown
    dialog.go_next()  # first profile → test-open in the background
    wait_idle(qtbot, dialog)
    assert dialog.wizard.step is Step.REVIEW, dialog.error_label.text()
    assert not dialog.frame_label.pixmap().isNull()
    dialog.name_edit.setText("Dock 7 west")
    dialog.go_next()  # save in the background
    wait_idle(qtbot, dialog)
    assert dialog.wizard.step is Step.SAVED, dialog.error_label.text()
    qtbot.waitUntil(lambda: [c.name for c in page.registered_model.cameras()] == ["Dock 7 west"], timeout=WAIT_MS)
    model = page.registered_model
    row = [model.index(0, col).data() for col in range(model.columnCount())]
    assert row[1] == "127.0.0.1" and row[2] == "Sightline SIM-ONVIF-1" and row[4] == "ws-digest"
    assert "×" in row[3] and row[5].startswith("rtsp://127.0.0.1:") and "@" not in row[5]
    assert all(PASSWORD not in text for text in visible_texts(dialog))
    dialog.go_next()  # Close

    # The same camera again: the inventory's DuplicateCamera message, shown in the dialog.
    again = page.open_add_camera(sim_camera.url, sim_camera.endpoint_reference)
    register(qtbot, again, PASSWORD)
    again.go_next()
    wait_idle(qtbot, again)
    again.go_next()
    wait_idle(qtbot, again)
    assert again.wizard.step is Step.REVIEW
    assert "already" in again.error_label.text() and "Dock 7 west" in again.error_label.text()
    assert len(page.registered_model.cameras()) == 1
    again.reject()


def test_wrong_password_is_shown_in_the_dialog_and_the_typed_values_stay(qtbot, page, sim_camera):
    dialog = page.open_add_camera(sim_camera.url)
    dialog.user_edit.setText("admin")
    register(qtbot, dialog, "Wrong-pw-4711")
    assert dialog.wizard.step is Step.CREDENTIALS
    assert "wrong password" in dialog.error_label.text()
    assert dialog.stack.currentWidget() is dialog._pages[Step.CREDENTIALS]
    assert dialog.address_edit.text() == sim_camera.url
    assert (dialog.user_edit.text(), dialog.password_edit.text()) == ("admin", "Wrong-pw-4711")
    assert all("Wrong-pw-4711" not in text for text in visible_texts(dialog))
    assert page.registered_model.cameras() == []
    dialog.reject()
    assert dialog.wizard.step is Step.CANCELLED


def register_through_dialog(qtbot, page, camera) -> None:
    dialog = page.open_add_camera(camera.url, camera.endpoint_reference)
    register(qtbot, dialog, PASSWORD)
    dialog.go_next()  # first profile → test-open
    wait_idle(qtbot, dialog)
    assert dialog.wizard.step is Step.REVIEW, dialog.error_label.text()
    dialog.go_next()  # save
    wait_idle(qtbot, dialog)
    assert dialog.wizard.step is Step.SAVED, dialog.error_label.text()
    qtbot.waitUntil(lambda: len(page.registered_model.cameras()) == 1, timeout=WAIT_MS)
    dialog.go_next()  # Close
    return dialog


def test_registered_camera_opens_its_live_stream_from_the_table_without_showing_the_password(
        qtbot, page, sim_camera):
    register_through_dialog(qtbot, page, sim_camera)
    page.registered_table.selectRow(0)

    page.preview_selected()

    qtbot.waitUntil(lambda: page.view.frames_shown >= 3, timeout=WAIT_MS)
    assert page.view.status_text().startswith("LIVE · 320×240")
    assert PASSWORD not in page.view.title and page.view.title.startswith("Sightline SIM-ONVIF-1")
    page.stop_preview()
    assert page.view.worker is None


def test_camera_only_a_paired_device_can_open_is_tested_and_previewed_through_that_device(
        qtbot, page, start_device, console_context):
    device = start_device()
    appliances = console_context.appliances
    entry = appliances.add_by_address("127.0.0.1", device.port)
    appliances.pair(entry.device_id, device.pairing.current_code())
    # Its video is the synthetic line (sim://): the console cannot open it, the device can.
    camera = SimulatedOnvifCamera(password=PASSWORD, discovery_interface=None, serial="SN-VIA", name="Line 3").start()
    try:
        dialog = register_through_dialog(qtbot, page, camera)
        assert dialog.wizard.tested_via == "device"
        saved = page.registered_model.cameras()[0]
        assert saved.reachable_via_device_id == entry.device_id

        page.registered_table.selectRow(0)
        page.preview_selected()
        qtbot.waitUntil(lambda: page.view.frames_shown >= 1, timeout=WAIT_MS)
        assert f"through device {entry.device_id}" in page.view.title
        assert page.view.image.width() in {p.width for p in saved.profiles}
    finally:
        page.stop_preview()
        camera.stop()
