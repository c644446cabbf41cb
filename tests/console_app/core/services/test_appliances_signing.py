"""The appliance service signs what it deploys: real device runtimes on 127.0.0.1, real pairing, real deploys."""

from __future__ import annotations

import base64
import logging
import stat

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.gateways.device_client import DeviceCallError
from console_app.core.packaging import build_package_from_members
from console_app.core.persistence import InventoryStore
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.core.services.inventory_pairings import InventoryPairingStore
from console_app.core.signing import PRIVATE_KEY_FILE, SIGNING_KEY_REF, PackageSigner
from tests.peers.onnx_models import make_constant_detector

LABELS = ["widget", "gadget", "person"]


@pytest.fixture
def package(tmp_path) -> bytes:
    model = make_constant_detector(tmp_path / "constant.onnx", "yolov8", detections=[(140, 140, 180, 180, 0.8, 0)])
    manifest = {
        "schema": "sightline.app/v1",
        "id": "widgets",
        "name": "Widgets",
        "version": "1.0.0",
        "kind": "detector",
        "cameras": [{"id": "cam-1", "url": "test://pattern?width=320&height=240&fps=15"}],
        "model": {"name": "constant", "file": "models/constant.onnx", "labels": LABELS},
        "params": {"confidence": 0.5, "zones": [], "lines": []},
    }
    return build_package_from_members(manifest, {"models/constant.onnx": model})


def paired_service(service: ApplianceService, device) -> str:
    service.start()
    entry = service.add_by_address("127.0.0.1", device.port)
    service.pair(entry.device_id, device.pairing.current_code())
    return entry.device_id


def test_the_console_pairs_with_its_signing_key_and_its_clients_sign_every_deploy(start_device, workers, tmp_path, package):
    device = start_device()
    store_folder = tmp_path / "pairings"
    service = ApplianceService(FilePairingStore(store_folder), workers)
    try:
        device_id = paired_service(service, device)
        # No signer given: made in the store's folder, private to the user.
        key_file = store_folder / PRIVATE_KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert device.pairing.signing_keys() == [service.signer.public_key_bytes()]
        with service.connect(device_id) as client:
            assert client.deploy(package).state == "running"
    finally:
        service.stop()

    # The next console run loads the same key and still deploys.
    again = ApplianceService(FilePairingStore(store_folder), workers)
    again.start()
    try:
        with again.connect(device.identity.device_id) as client:
            assert client.deploy(package).version == "1.0.0"
    finally:
        again.stop()


def test_a_signer_given_to_the_service_is_the_one_it_pairs_and_signs_with(start_device, workers, tmp_path, package):
    device = start_device()
    signer = PackageSigner.generate()
    service = ApplianceService(FilePairingStore(tmp_path / "pairings"), workers, signer=signer)
    try:
        device_id = paired_service(service, device)
        assert service.signer is signer
        assert not (tmp_path / "pairings" / PRIVATE_KEY_FILE).exists()
        assert device.pairing.signing_keys() == [signer.public_key_bytes()]
        with service.connect(device_id) as client:
            assert client.signer is signer
            client.deploy(package)
    finally:
        service.stop()


def test_a_console_with_another_key_than_the_one_it_paired_with_is_refused(start_device, workers, tmp_path, package):
    """The same pairing, but the console's key was replaced (e.g. lost from the keyring)."""
    device = start_device()
    store = FilePairingStore(tmp_path / "pairings")
    first = ApplianceService(store, workers, signer=PackageSigner.generate())
    try:
        paired_service(first, device)
    finally:
        first.stop()
    replaced = ApplianceService(store, workers, signer=PackageSigner.generate())
    replaced.start()
    try:
        with replaced.connect(device.identity.device_id) as client:
            with pytest.raises(DeviceCallError) as err:
                client.deploy(package)
        assert err.value.code == "PERMISSION_DENIED" and "must pair again" in err.value.message
    finally:
        replaced.stop()


def test_the_signing_key_stays_out_of_the_inventory_database_and_the_logs(start_device, workers, tmp_path, package, caplog):
    device = start_device()
    database = tmp_path / "inventory.sqlite"
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    with caplog.at_level(logging.DEBUG):
        with InventoryStore(f"sqlite:///{database}", credentials=credentials) as inventory:
            service = ApplianceService(InventoryPairingStore(inventory.devices), workers)
            try:
                device_id = paired_service(service, device)
                with service.connect(device_id) as client:
                    assert client.deploy(package).state == "running"
            finally:
                service.stop()

    # The inventory's credential store holds the key (keyring or encrypted file) ...
    stored = credentials.get(SIGNING_KEY_REF)
    assert stored is not None
    assert device.pairing.signing_keys() == [service.signer.public_key_bytes()]
    # ... and no form of it is in the database file or in any log record.
    raw = base64.b64decode(stored)
    forms = [stored, raw.hex(), base64.b64encode(raw).decode()]
    content = database.read_bytes()
    assert all(form.encode() not in content for form in forms) and raw not in content
    assert caplog.records and all(form not in caplog.text for form in forms)
    assert service.signer.fingerprint() in caplog.text  # what is logged instead
