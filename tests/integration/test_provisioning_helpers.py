"""Helpers for test_provisioning: pair a console with a device's PairingManager without a server."""

from __future__ import annotations

from console_app.core.gateways.device_tls import new_client_key_and_csr


def pair_locally(pairing, signer) -> str:
    _, csr = new_client_key_and_csr("site laptop")
    return pairing.pair(pairing.current_code(), "site laptop", csr, signer.public_key_bytes())
