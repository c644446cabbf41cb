"""Known appliances: seen by discovery or added by address, paired, pinned.

Discovery facts (address, port, software version, last seen) are written
without bumping ``version_id``: they are not an engineer's edit, every console
on the LAN sees the same network, and last-writer-wins is right for them. A
bump there would make every rename on another console a false conflict. Pairing,
renaming, unpairing and deleting are edits and are version-checked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import exc, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from console_app.core.paired_credentials import PairedCredentials
from console_app.core.persistence.errors import FingerprintChanged, NotFound
from console_app.core.persistence.models import Device, utc_now
from console_app.core.persistence.records import DeviceRecord
from console_app.core.persistence.unit_of_work import Repository, conflict
from device_runtime.protocol.transport import certificate_fingerprint, normalize_fingerprint


class DeviceRepository(Repository):
    """Devices in the inventory. Get one from :class:`InventoryStore` (``store.devices``)."""

    # -- reads -------------------------------------------------------------------------

    def list_devices(self) -> list[DeviceRecord]:
        """Every known device, by name."""
        with self.reading() as session:
            rows = session.scalars(select(Device).order_by(Device.name, Device.id))
            return [DeviceRecord.from_row(row) for row in rows]

    def get_device(self, device_id: str) -> DeviceRecord:
        """The device with ``device_id``; :class:`NotFound` when unknown."""
        with self.reading() as session:
            return DeviceRecord.from_row(self._row(session, device_id))

    def find_device(self, device_id: str) -> DeviceRecord | None:
        """The device with ``device_id``, or ``None``."""
        with self.reading() as session:
            row = session.scalar(select(Device).where(Device.device_id == device_id))
            return DeviceRecord.from_row(row) if row is not None else None

    def paired_credentials(self, device_id: str) -> PairedCredentials | None:
        """What :class:`~console_app.core.gateways.device_client.DeviceClient` needs, or ``None``
        when the device is not paired (the client key comes from the credential store)."""
        record = self.get_device(device_id)
        if not record.paired or not record.client_key_ref:
            return None
        key = self.credentials.get(record.client_key_ref)
        if key is None:
            raise NotFound(
                f"device '{record.name}' is paired but its client key is missing from the "
                f"credential store ({self.credentials.kind}); pair it again"
            )
        return PairedCredentials(
            device_id=record.device_id,
            device_cert_pem=record.device_cert_pem or "",
            client_key_pem=key,
            client_cert_pem=record.client_cert_pem or "",
        )

    def check_fingerprint(self, device_id: str, presented: str) -> None:
        """Raise :class:`FingerprintChanged` when a paired device shows another certificate.

        Unknown or unpaired devices pass (nothing is pinned yet).
        """
        record = self.find_device(device_id)
        if record is None or not record.pinned_fingerprint:
            return
        pinned = normalize_fingerprint(record.pinned_fingerprint)
        shown = normalize_fingerprint(presented)
        if shown != pinned:
            raise FingerprintChanged(
                f"DEVICE IDENTITY CHANGED: '{record.name}' ({record.host}:{record.port}) presented "
                f"a certificate with fingerprint {shown}, but {pinned} was pinned when it was "
                "paired. The console refuses to connect. If the device was reset or reinstalled, "
                "unpair and pair it again; otherwise something may be impersonating it.",
                device_id=device_id,
                pinned=pinned,
                presented=shown,
            )

    # -- discovery facts (not version-checked) -----------------------------------------

    def record_seen(
        self,
        device_id: str,
        name: str,
        host: str,
        port: int,
        software_version: str | None = None,
        seen_at: datetime | None = None,
    ) -> DeviceRecord:
        """Insert a device found by discovery or by address, or refresh its address and last-seen.

        The name is taken only for a new device (an engineer's rename is kept).
        """
        seen_at = seen_at or utc_now()
        facts: dict[str, Any] = {"host": host, "port": port, "last_seen": seen_at}
        if software_version is not None:
            facts["software_version"] = software_version
        for _attempt in range(2):
            try:
                with self.transaction() as session:
                    exists = session.scalar(select(Device.id).where(Device.device_id == device_id))
                    if exists is None:
                        row = Device(
                            device_id=device_id,
                            name=name or device_id,
                            updated_by=self.editor,
                            **facts,
                        )
                        session.add(row)
                        session.flush()
                        return DeviceRecord.from_row(row)
                    # A bulk UPDATE leaves version_id alone (see the module docstring).
                    session.execute(
                        update(Device)
                        .where(Device.device_id == device_id)
                        # updated_at/by describe edits; keep them as they were.
                        .values(updated_at=Device.updated_at, **facts)
                        .execution_options(synchronize_session=False)
                    )
                    return DeviceRecord.from_row(self._row(session, device_id))
            except exc.IntegrityError:
                continue  # another console inserted it first: update instead
        return self.get_device(device_id)

    # -- edits (version-checked) -------------------------------------------------------

    def mark_paired(self, credentials: Any, expected_version: int | None = None) -> DeviceRecord:
        """Store a pairing: pin the device certificate's fingerprint, keep the client certificate,
        and put the client key in the credential store.

        ``credentials``: a ``PairedCredentials`` (or any object with ``device_id``,
        ``device_cert_pem``, ``client_cert_pem``, ``client_key_pem``). The device must be
        known (``record_seen`` first). ``expected_version``: the version the
        engineer saw; ``None`` accepts whatever is there (pairing is authoritative).
        """
        device_id = credentials.device_id
        fingerprint = certificate_fingerprint(credentials.device_cert_pem)
        new_ref = f"device-key:{device_id}:{uuid.uuid4().hex}"
        old_ref = None
        try:
            with self.transaction() as session:
                row = self._row_at_version(session, device_id, expected_version)
                old_ref = row.client_key_ref
                self.credentials.put(new_ref, credentials.client_key_pem)
                row.paired = True
                row.pinned_fingerprint = fingerprint
                row.device_cert_pem = credentials.device_cert_pem
                row.client_cert_pem = credentials.client_cert_pem
                row.client_key_ref = new_ref
                row.updated_by = self.editor
                session.flush()
                record = DeviceRecord.from_row(row)
        except StaleDataError:
            self.forget_secret(new_ref)
            raise self._conflict_now(device_id, expected_version, {"paired": True}) from None
        except BaseException:
            self.forget_secret(new_ref)
            raise
        if old_ref != new_ref:
            self.forget_secret(old_ref)
        return record

    def unpair(self, device_id: str, expected_version: int) -> DeviceRecord:
        """Forget the pairing: unpin, drop the certificates and the client key."""
        try:
            with self.transaction() as session:
                row = self._row_at_version(session, device_id, expected_version)
                old_ref = row.client_key_ref
                row.paired = False
                row.pinned_fingerprint = row.device_cert_pem = row.client_cert_pem = None
                row.client_key_ref = None
                row.updated_by = self.editor
                session.flush()
                record = DeviceRecord.from_row(row)
        except StaleDataError:
            raise self._conflict_now(device_id, expected_version, {"paired": False}) from None
        self.forget_secret(old_ref)
        return record

    def rename_device(self, device_id: str, expected_version: int, name: str) -> DeviceRecord:
        """Give the device a name of the engineer's choosing (conflict-checked)."""
        if not name or not name.strip():
            raise ValueError("a device name cannot be empty")
        try:
            with self.transaction() as session:
                row = self._row_at_version(session, device_id, expected_version, {"name": name})
                row.name = name.strip()
                row.updated_by = self.editor
                session.flush()
                return DeviceRecord.from_row(row)
        except StaleDataError:
            raise self._conflict_now(device_id, expected_version, {"name": name}) from None

    def delete_device(self, device_id: str, expected_version: int) -> None:
        """Remove the device and its client key; cameras reached through it keep no link."""
        try:
            with self.transaction() as session:
                row = self._row_at_version(session, device_id, expected_version)
                old_ref = row.client_key_ref
                session.delete(row)
                session.flush()
        except StaleDataError:
            raise self._conflict_now(device_id, expected_version, {}) from None
        self.forget_secret(old_ref)

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, device_id: str) -> Device:
        row = session.scalar(select(Device).where(Device.device_id == device_id))
        if row is None:
            raise NotFound(f"there is no device '{device_id}' in the inventory")
        return row

    def _row_at_version(
        self,
        session: Session,
        device_id: str,
        expected_version: int | None,
        attempted: dict | None = None,
    ) -> Device:
        row = session.scalar(select(Device).where(Device.device_id == device_id))
        if row is None:
            if expected_version is None:
                raise NotFound(f"there is no device '{device_id}' in the inventory")
            raise conflict("device", device_id, device_id, expected_version, None, attempted)
        if expected_version is not None and row.version_id != expected_version:
            raise conflict(
                "device",
                device_id,
                row.name,
                expected_version,
                DeviceRecord.from_row(row),
                attempted,
            )
        return row

    def _conflict_now(self, device_id: str, expected_version: int | None, attempted: dict):
        current = self.find_device(device_id)
        return conflict("device", device_id, device_id, expected_version, current, attempted)
