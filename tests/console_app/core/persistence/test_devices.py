"""Devices in the inventory: discovery upserts, pairing with pinning, conflicts (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from console_app.core.gateways.device_client import PairedCredentials
from console_app.core.gateways.device_tls import certificate_fingerprint
from console_app.core.persistence import EditConflict, FingerprintChanged, NotFound


def pairing(device_id: str, new_certificate, new_key) -> PairedCredentials:
    return PairedCredentials(
        device_id=device_id,
        device_cert_pem=new_certificate(device_id),
        client_key_pem=new_key(),
        client_cert_pem=new_certificate("console"),
    )


def test_discovery_inserts_a_device_then_refreshes_its_address_without_bumping_the_version(store):
    first_seen = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    created = store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051, "0.1.0", first_seen)

    refreshed = store.devices.record_seen(
        "dev-1", "advertised-name", "127.0.0.2", 50052, "0.2.0", first_seen + timedelta(minutes=5)
    )

    assert (refreshed.host, refreshed.port, refreshed.software_version) == (
        "127.0.0.2",
        50052,
        "0.2.0",
    )
    assert refreshed.last_seen == first_seen + timedelta(minutes=5)
    assert refreshed.name == "Line 1"  # a name is only taken for a new device
    assert refreshed.version_id == created.version_id  # discovery facts are not edits
    assert [d.device_id for d in store.devices.list_devices()] == ["dev-1"]


def test_pairing_pins_the_fingerprint_and_keeps_the_client_key_only_in_the_credential_store(
    store, credentials, new_certificate, new_key, table_text
):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    paired_creds = pairing("dev-1", new_certificate, new_key)

    device = store.devices.mark_paired(paired_creds)

    assert device.paired and device.pinned_fingerprint == certificate_fingerprint(
        paired_creds.device_cert_pem
    )
    assert credentials.file_refs() == {device.client_key_ref}
    assert store.devices.paired_credentials("dev-1") == paired_creds
    key_body = paired_creds.client_key_pem.splitlines()[1]
    assert key_body not in table_text(store)


def test_changed_fingerprint_of_a_paired_device_is_refused_loudly(store, new_certificate, new_key):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    device = store.devices.mark_paired(pairing("dev-1", new_certificate, new_key))
    store.devices.check_fingerprint("dev-1", device.pinned_fingerprint.upper())  # same, any format
    impostor = certificate_fingerprint(new_certificate("dev-1"))

    with pytest.raises(FingerprintChanged) as raised:
        store.devices.check_fingerprint("dev-1", impostor)

    assert "DEVICE IDENTITY CHANGED: 'Line 1' (127.0.0.1:50051)" in str(raised.value)
    assert "refuses to connect" in str(raised.value)
    assert (raised.value.pinned, raised.value.presented) == (device.pinned_fingerprint, impostor)


def test_unpaired_or_unknown_devices_have_nothing_pinned_to_check(store):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    store.devices.check_fingerprint("dev-1", "ab" * 32)
    store.devices.check_fingerprint("never-seen", "ab" * 32)
    assert store.devices.paired_credentials("dev-1") is None


def test_pairing_again_replaces_the_old_client_key(store, credentials, new_certificate, new_key):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    store.devices.mark_paired(pairing("dev-1", new_certificate, new_key))

    again = store.devices.mark_paired(pairing("dev-1", new_certificate, new_key))

    assert credentials.file_refs() == {again.client_key_ref}


def test_pairing_an_unknown_device_is_refused_and_stores_no_key(
    store, credentials, new_certificate, new_key
):
    with pytest.raises(NotFound, match="no device 'dev-9'"):
        store.devices.mark_paired(pairing("dev-9", new_certificate, new_key))
    assert credentials.file_refs() == set()


def test_unpairing_drops_the_pin_and_the_key(store, credentials, new_certificate, new_key):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    device = store.devices.mark_paired(pairing("dev-1", new_certificate, new_key))

    unpaired = store.devices.unpair("dev-1", device.version_id)

    assert not unpaired.paired and unpaired.pinned_fingerprint is None
    assert credentials.file_refs() == set()


def test_second_console_renaming_a_device_gets_a_conflict_and_can_apply_after_reload(open_store):
    console_a, console_b = open_store("workstation-a"), open_store("workstation-b")
    device = console_a.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    console_a.devices.rename_device("dev-1", device.version_id, "Packing line")

    with pytest.raises(
        EditConflict,
        match="device 'Packing line' was changed by another console \\(by workstation-a",
    ) as raised:
        console_b.devices.rename_device("dev-1", device.version_id, "Line one")

    again = console_b.devices.rename_device("dev-1", raised.value.current.version_id, "Line one")
    assert console_a.devices.get_device("dev-1").name == again.name == "Line one"


def test_discovery_refresh_on_one_console_does_not_conflict_with_a_rename_on_another(open_store):
    console_a, console_b = open_store("workstation-a"), open_store("workstation-b")
    device = console_a.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)

    console_b.devices.record_seen("dev-1", "Line 1", "127.0.0.9", 50051)
    renamed = console_a.devices.rename_device("dev-1", device.version_id, "Packing line")

    assert (renamed.name, renamed.host) == ("Packing line", "127.0.0.9")


def test_deleting_a_device_unlinks_cameras_reached_through_it(
    store, credentials, new_certificate, new_key
):
    from console_app.core.persistence import CameraDraft

    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    device = store.devices.mark_paired(pairing("dev-1", new_certificate, new_key))
    camera = store.cameras.add_camera(
        CameraDraft(
            name="Cam",
            host="10.0.0.1",
            stream_uri="rtsp://10.0.0.1/s",
            reachable_via_device_id="dev-1",
        ),
        None,
    )

    store.devices.delete_device("dev-1", device.version_id)

    assert store.devices.list_devices() == []
    assert store.cameras.get_camera(camera.id).reachable_via_device_id is None
    assert credentials.file_refs() == set()


@dataclass
class _Minimal:
    device_id: str
    device_cert_pem: str
    client_cert_pem: str
    client_key_pem: str


def test_pairing_accepts_any_object_with_the_credential_fields(store, new_certificate, new_key):
    store.devices.record_seen("dev-1", "Line 1", "127.0.0.1", 50051)
    device = store.devices.mark_paired(
        _Minimal("dev-1", new_certificate("dev-1"), new_certificate("c"), new_key())
    )
    assert device.paired
