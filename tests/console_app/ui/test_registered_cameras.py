"""The Registered cameras table: model checks, background loading, and the rename edit conflict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.gateways.onvif_client import OnvifProfile
from console_app.core.persistence import InventoryStore
from console_app.core.services.registration import CameraRegistration
from console_app.ui.models.registered_cameras_model import RegisteredCamerasModel

WAIT_MS = 10_000


def registration(serial: str, name: str) -> CameraRegistration:
    stream = f"rtsp://10.0.0.5:554/{serial}"
    profile = OnvifProfile("main", "Main", "H264", 1920, 1080, 25.0, stream)
    return CameraRegistration(
        name=name, host="10.0.0.5", port=80, manufacturer="Acme", model="Cam-9", serial=serial,
        endpoint_reference=f"urn:uuid:{serial}", profiles=(profile,), profile_token="main",
        stream_uri=stream, snapshot_uri="", auth_method="ws-digest",
        clock_offset_s=0.0, username="admin")


@pytest.fixture
def database(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    stores = [InventoryStore(url, credentials=credentials, editor=editor) for editor in ("console-a", "console-b")]
    yield stores
    for store in stores:
        store.close()


def test_registered_cameras_model_passes_the_model_tester_while_rows_change(qtmodeltester, database):
    store, _ = database
    a = store.cameras.add_camera(registration("SN-A", "Dock A"), "pw-a")
    b = store.cameras.add_camera(registration("SN-B", "Dock B"), "pw-b")
    model = RegisteredCamerasModel()
    qtmodeltester.check(model, force_py=True)
    model.set_cameras([a])
    model.replace_camera(b)
    model.replace_camera(replace(a, name="Dock A2"))
    model.set_cameras([])
    model.set_cameras([b, a])
    assert [c.name for c in model.cameras()] == ["Dock B", "Dock A"]
    assert [model.index(0, col).data() for col in range(model.columnCount())] == [
        "Dock B", "Checking…", "10.0.0.5", "Acme Cam-9", "1920×1080 @ 25 fps", "ws-digest",
        "rtsp://10.0.0.5:554/SN-B"]


def test_rename_after_another_console_changed_the_camera_offers_reload_and_applies_the_rename(
        qtbot, window, database):
    mine, theirs = database
    mine.cameras.add_camera(registration("SN-C", "Dock C"), "pw-c")
    page = window.page("Cameras")
    page.set_inventory(mine)
    qtbot.waitUntil(lambda: len(page.registered_model.cameras()) == 1, timeout=WAIT_MS)
    loaded = page.registered_model.cameras()[0]

    theirs.cameras.update_camera(loaded.id, loaded.version_id, host="10.0.0.6")  # the other console
    page.registered_table.selectRow(0)
    page.rename_camera(page.selected_camera(), "Dock C north")

    qtbot.waitUntil(lambda: page.conflict_box is not None, timeout=WAIT_MS)
    assert "console-b" in page.conflict_box.informativeText()
    page.conflict_reload_button.click()
    qtbot.waitUntil(lambda: [(c.name, c.host) for c in page.registered_model.cameras()]
                    == [("Dock C north", "10.0.0.6")], timeout=WAIT_MS)
    stored = theirs.cameras.get_camera(loaded.id)
    assert (stored.name, stored.host) == ("Dock C north", "10.0.0.6")
    assert stored.version_id == loaded.version_id + 2
