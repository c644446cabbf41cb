"""Paired devices kept in the inventory: the ``PairingStore`` the console uses when a database is open.

The device row carries the pinned fingerprint and the certificates; the
client's private key goes to the credential store (OS keyring, or the
encrypted-file fallback), never into the database. So does the console's
package signing key: :class:`~console_app.core.services.appliances.ApplianceService`
reads :attr:`InventoryPairingStore.credentials` and ``folder`` when it makes
its signer.
"""

from __future__ import annotations

from console_app.core.services.appliances import KnownDevice


class InventoryPairingStore:
    """Adapts ``InventoryStore.devices`` to the appliance service's ``PairingStore``."""

    def __init__(self, devices) -> None:
        self._devices = devices  # console_app.core.persistence DeviceRepository

    @property
    def credentials(self):
        """The credential store the inventory keeps client keys in (also the signing key's home)."""
        return self._devices.credentials

    @property
    def folder(self):
        """The credential store's folder (the signing key's public half is noted there)."""
        return self._devices.credentials.folder

    def load_all(self) -> list[KnownDevice]:
        known = []
        for record in self._devices.list_devices():
            if not record.paired:
                continue
            credentials = self._devices.paired_credentials(record.device_id)
            if credentials is not None:
                known.append(KnownDevice(record.device_id, record.name, record.host, record.port, credentials))
        return known

    def save(self, device: KnownDevice) -> None:
        self._devices.record_seen(device.device_id, device.name, device.host, device.port)
        self._devices.mark_paired(device.credentials)

    def forget(self, device_id: str) -> None:
        record = self._devices.find_device(device_id)
        if record is not None and record.paired:
            self._devices.unpair(device_id, record.version_id)
