"""Site export/import between two workstations' inventories (real SQLite files, a real paired TLS device)."""

from __future__ import annotations

import zipfile

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.gateways.device_client import DeviceClient, pair
from console_app.core.persistence import CameraDraft, InventoryStore
from console_app.core.services.app_library import AppLibrary
from console_app.core.services.model_library import ModelLibrary
from console_app.core.services.site_transfer import SiteTransferError, export_site, import_site
from tests.integration.conftest import DEMO_LABELS, DEMO_MODEL

SIM = "sim://production-line?seed=7&width=640&height=480&fps=15"


class Workstation:
    def __init__(self, folder, name):
        folder.mkdir(parents=True, exist_ok=True)
        self.inventory = InventoryStore(f"sqlite:///{folder / 'inventory.sqlite'}",
                                        credentials=CredentialStore(folder / "secrets", use_keyring=False),
                                        editor=name)
        self.models = ModelLibrary(folder / "data", session_factory=self.inventory.sessions)
        self.apps = AppLibrary(folder / "data", session_factory=self.inventory.sessions, model_library=self.models)

    def close(self):
        self.inventory.close()


@pytest.fixture
def office(tmp_path, device):
    ws = Workstation(tmp_path / "office", "office")
    creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "office")
    ws.inventory.devices.record_seen(creds.device_id, "line3-box", "127.0.0.1", device.port)
    ws.inventory.devices.mark_paired(creds)
    ws.inventory.cameras.add_camera(CameraDraft(name="Dock 2", host="10.0.5.31", stream_uri="rtsp://10.0.5.31/s1",
                                                username="viewer", auth_method="digest"), "dock-pass")
    model = ws.models.import_file(DEMO_MODEL, name="sightline-demo", labels=DEMO_LABELS)
    ws.apps.save_version({"schema": "sightline.app/v1", "id": "line", "name": "Line", "version": "1.0.0",
                          "kind": "detector", "cameras": [{"id": "cam-1", "url": SIM}],
                          "model": {"name": "sightline-demo", "labels": DEMO_LABELS},
                          "params": {"confidence": 0.4}}, model.id)
    yield ws
    ws.close()


def test_a_laptop_prepared_from_the_office_export_reaches_the_paired_device_and_knows_the_site(
        tmp_path, office, device):
    site = tmp_path / "plant.sightline-site.zip"
    written = export_site(site, office.inventory, model_library=office.models, app_library=office.apps,
                          passphrase="plant passphrase")
    assert (written.devices, written.cameras, written.models, written.app_versions) == (1, 1, 1, 1)
    with zipfile.ZipFile(site) as archive:
        plain = archive.read("site.json").decode()
    assert "dock-pass" not in plain and "PRIVATE KEY" not in plain, "secrets only inside secrets.enc"

    laptop = Workstation(tmp_path / "laptop", "laptop")
    try:
        done = import_site(site, laptop.inventory, model_library=laptop.models, app_library=laptop.apps,
                           passphrase="plant passphrase")
        assert (done.devices, done.cameras, done.models, done.app_versions) == (1, 1, 1, 1)
        camera = laptop.inventory.cameras.list_cameras()[0]
        assert camera.name == "Dock 2" and laptop.inventory.cameras.camera_password(camera.id) == "dock-pass"
        creds = laptop.inventory.devices.paired_credentials(device.identity.device_id)
        with DeviceClient("127.0.0.1", device.port, creds) as client:
            assert client.list_apps() == []  # a paired call over TLS, with the imported credentials
        assert laptop.models.get("sightline-demo").sha256 == office.models.get("sightline-demo").sha256
        assert laptop.apps.get("line", "1.0.0").model_id == laptop.models.get("sightline-demo").id

        again = import_site(site, laptop.inventory, model_library=laptop.models, app_library=laptop.apps,
                            passphrase="plant passphrase")
        assert (again.devices, again.cameras, again.models, again.app_versions) == (0, 0, 0, 0)
        assert len(again.skipped) == 4 and len(laptop.inventory.cameras.list_cameras()) == 1
    finally:
        laptop.close()


def test_without_a_passphrase_no_secret_leaves_and_a_wrong_one_imports_nothing(tmp_path, office):
    bare = tmp_path / "bare.sightline-site.zip"
    summary = export_site(bare, office.inventory, model_library=office.models, app_library=office.apps,
                          include_models=False)
    assert "no passphrase" in summary.notes[0]
    with zipfile.ZipFile(bare) as archive:
        assert "secrets.enc" not in archive.namelist() and not any(n.startswith("models/") for n in archive.namelist())

    laptop = Workstation(tmp_path / "laptop", "laptop")
    try:
        done = import_site(bare, laptop.inventory, model_library=laptop.models, app_library=laptop.apps)
        camera = laptop.inventory.cameras.list_cameras()[0]
        assert laptop.inventory.cameras.camera_password(camera.id) is None
        assert not laptop.inventory.devices.list_devices()[0].paired
        assert any("was not included" in note for note in done.notes)

        secret = tmp_path / "secret.sightline-site.zip"
        export_site(secret, office.inventory, passphrase="plant passphrase")
        other = Workstation(tmp_path / "other", "other")
        try:
            with pytest.raises(SiteTransferError, match="wrong passphrase"):
                import_site(secret, other.inventory, passphrase="guess")
            assert other.inventory.cameras.list_cameras() == [] and other.inventory.devices.list_devices() == []
        finally:
            other.close()
    finally:
        laptop.close()
