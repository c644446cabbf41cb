"""What a client keeps after pairing with a device (no I/O, so every layer may hold one)."""

from __future__ import annotations

from dataclasses import dataclass

from device_runtime.protocol.transport import certificate_fingerprint


@dataclass
class PairedCredentials:
    """The device's id and certificate, and this client's key and certificate from pairing."""

    device_id: str
    device_cert_pem: str
    client_key_pem: str
    client_cert_pem: str

    @property
    def fingerprint(self) -> str:
        """The pinned device certificate's fingerprint."""
        return certificate_fingerprint(self.device_cert_pem)
