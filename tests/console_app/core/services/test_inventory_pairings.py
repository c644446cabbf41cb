"""Paired devices kept in the inventory survive a console restart, with the key outside the database."""

from __future__ import annotations

from console_app.core.credentials import CredentialStore
from console_app.core.persistence import InventoryStore
from console_app.core.services.appliances import ApplianceService
from console_app.core.services.inventory_pairings import InventoryPairingStore


def test_a_pairing_made_through_the_inventory_is_known_to_the_next_console(start_device, workers, tmp_path):
    device = start_device()
    url = f"sqlite:///{tmp_path / 'inventory.sqlite'}"
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)

    with InventoryStore(url, credentials=credentials) as inventory:
        service = ApplianceService(InventoryPairingStore(inventory.devices), workers)
        service.start()
        try:
            added = service.add_by_address("127.0.0.1", device.port)
            entry = service.pair(added.device_id, device.pairing.current_code())
            assert entry.paired
        finally:
            service.stop()

    with InventoryStore(url, credentials=credentials) as inventory:
        [record] = inventory.devices.list_devices()
        assert record.paired and record.pinned_fingerprint == device.identity.fingerprint
        # The client's private key is in the credential store, and not in the database file.
        key = credentials.get(record.client_key_ref)
        assert key and key.split("\n")[1].encode() not in (tmp_path / "inventory.sqlite").read_bytes()
        service = ApplianceService(InventoryPairingStore(inventory.devices), workers)
        service.start()
        try:
            with service.connect(device.identity.device_id) as client:
                assert client.info().caller_paired
            service.forget(device.identity.device_id)
            assert not inventory.devices.get_device(device.identity.device_id).paired
            assert credentials.get(record.client_key_ref) is None
        finally:
            service.stop()
