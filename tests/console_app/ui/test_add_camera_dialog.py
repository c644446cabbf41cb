"""The Add camera dialog registers a real simulated ONVIF camera into a real SQLite inventory."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import Step
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from tests.peers.rtsp_server import RtspServer

WAIT_MS = 20_000
PASSWORD = "Dlg-s3cret-pw"


@pytest.fixture
def store(tmp_path: Path):
    with InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}",
                        credentials=CredentialStore(tmp_path / "secrets", use_keyring=False),
                        editor="console-a") as opened:
        yield opened


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
