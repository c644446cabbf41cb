"""The appliance service against real device runtimes on 127.0.0.1 (real mDNS, real TLS, real pairing)."""

from __future__ import annotations

import threading

import pytest

from console_app.core.gateways.device_tls import FingerprintMismatch
from console_app.core.services.appliances import (
    ApplianceError,
    ApplianceService,
    FilePairingStore,
    NotPaired,
    PairingFailed,
)

WAIT_S = 10.0


class Snapshots:
    """Collects the service's change notifications; tests wait on a condition with a bound."""

    def __init__(self) -> None:
        self.latest: list = []
        self._cond = threading.Condition()

    def __call__(self, entries) -> None:
        with self._cond:
            self.latest = entries
            self._cond.notify_all()

    def wait_for(self, predicate, what: str):
        def match():
            return next((e for e in self.latest if predicate(e)), None)

        with self._cond:
            self._cond.wait_for(lambda: match() is not None, WAIT_S)
            found = match()
        assert found is not None, f"{what} did not happen within {WAIT_S} s; list: {self.latest}"
        return found


@pytest.fixture
def service_factory(tmp_path, workers):
    services: list[ApplianceService] = []

    def make() -> tuple[ApplianceService, Snapshots]:
        snapshots = Snapshots()
        service = ApplianceService(FilePairingStore(tmp_path / "pairings"), workers, ["127.0.0.1"],
                                   on_change=snapshots, client_name="test console")
        service.start()
        services.append(service)
        return service, snapshots

    yield make
    for service in services:
        service.stop()


def test_advertised_device_appears_unpaired_and_reachable(start_device, service_factory):
    device = start_device()
    service, seen = service_factory()

    entry = seen.wait_for(lambda e: e.device_id == device.identity.device_id and e.reachable,
                          "the device's advert and a reachability check")

    assert entry.name == device.config.name
    assert entry.address == f"127.0.0.1:{device.port}"
    assert entry.fingerprint == device.identity.fingerprint
    assert entry.advertised and not entry.paired and not entry.fingerprint_changed


def test_wrong_code_is_refused_with_the_devices_message_and_right_code_pairs(start_device, service_factory, tmp_path):
    device = start_device()
    device_id = device.identity.device_id
    service, seen = service_factory()
    seen.wait_for(lambda e: e.device_id == device_id, "the advert")

    with pytest.raises(PairingFailed, match="pairing code is wrong"):
        service.pair(device_id, "0000-0000")
    entry = service.pair(device_id, device.pairing.current_code())

    assert entry.paired and entry.pinned_fingerprint == device.identity.fingerprint
    with service.connect(device_id) as client:
        assert client.info().caller_paired
    # A second console process over the same store knows the device as paired.
    service.stop()
    again, _ = service_factory()
    assert again.entry(device_id).pinned_fingerprint == device.identity.fingerprint


def test_device_on_another_subnet_is_added_by_address(start_device, tmp_path, workers):
    device = start_device()
    # Browsing nowhere useful: only add-by-address can find it.
    service = ApplianceService(FilePairingStore(tmp_path / "p"), workers, interfaces=None)
    entry = service.add_by_address("127.0.0.1", device.port)
    assert entry.device_id == device.identity.device_id
    assert entry.added_by_address and entry.reachable and entry.version
    with pytest.raises(NotPaired, match="pair it first"):
        service.connect(entry.device_id)


def test_address_where_no_device_answers_is_reported(tmp_path, workers):
    service = ApplianceService(FilePairingStore(tmp_path / "p"), workers)
    with pytest.raises(ApplianceError, match="no Sightline device answered at 127.0.0.1:1"):
        service.add_by_address("127.0.0.1", 1)


def test_reinstalled_device_on_the_same_address_is_refused_loudly(start_device, service_factory, tmp_path):
    """The device restarts with a new data folder (new identity, new certificate) on the same port."""
    original = start_device()
    device_id, port = original.identity.device_id, original.port
    service, seen = service_factory()
    seen.wait_for(lambda e: e.device_id == device_id, "the advert")
    service.pair(device_id, original.pairing.current_code())
    original.stop(grace=0.2)

    impostor = start_device(port=port, data_dir=tmp_path / "reinstalled")

    entry = seen.wait_for(lambda e: e.device_id == device_id and e.fingerprint_changed,
                          "the fingerprint change being noticed")
    assert entry.fingerprint == impostor.identity.fingerprint
    assert "refusing to connect" in entry.problem
    with pytest.raises(FingerprintMismatch, match="refusing to connect"):
        service.connect(device_id)


def test_forgetting_a_pairing_drops_it_from_the_store(start_device, service_factory):
    device = start_device()
    device_id = device.identity.device_id
    service, seen = service_factory()
    seen.wait_for(lambda e: e.device_id == device_id, "the advert")
    service.pair(device_id, device.pairing.current_code())

    service.forget(device_id)

    assert not service.entry(device_id).paired
    service.stop()
    again, _ = service_factory()
    assert all(e.device_id != device_id or not e.paired for e in again.entries())
