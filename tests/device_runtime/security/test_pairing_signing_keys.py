"""Pairing also records each client's package signing key; revoking the client revokes the key."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console_app.core.gateways.device_tls import certificate_fingerprint, new_client_key_and_csr
from device_runtime.security.identity import DeviceIdentity
from device_runtime.security.package_signing import InvalidSigningKey
from device_runtime.security.pairing import TRUSTED_CLIENTS_FILE, PairingManager, TrustStoreError


def new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


@pytest.fixture
def identity(tmp_path):
    return DeviceIdentity.load_or_create(tmp_path, "dev")


@pytest.fixture
def pairing(tmp_path, identity):
    return PairingManager(tmp_path, identity)


def pair(pairing: PairingManager, name: str, signing_key: bytes = b"") -> str:
    _key, csr = new_client_key_and_csr(name)
    return pairing.pair(pairing.current_code(), name, csr, signing_key)


def test_a_paired_clients_signing_key_is_trusted_and_survives_a_restart(tmp_path, identity, pairing):
    key = new_signing_key()
    pair(pairing, "console", key)

    assert pairing.signing_keys() == [key]
    assert PairingManager(tmp_path, identity).signing_keys() == [key]
    [client] = pairing.trusted_clients()
    assert client.signing_public_key == key.hex()


def test_revoking_a_client_revokes_its_signing_key_and_only_its(pairing):
    kept, revoked = new_signing_key(), new_signing_key()
    pair(pairing, "kept", kept)
    cert = pair(pairing, "revoked", revoked)

    pairing.revoke(certificate_fingerprint(cert))

    assert pairing.signing_keys() == [kept]


def test_a_console_paired_twice_is_trusted_once(pairing):
    key = new_signing_key()
    pair(pairing, "console", key)
    pair(pairing, "console", key)
    assert pairing.signing_keys() == [key]


def test_a_client_that_sent_no_key_is_paired_but_adds_no_trusted_key(pairing):
    cert = pair(pairing, "old console")
    assert pairing.is_trusted(cert)
    assert pairing.signing_keys() == []


def test_a_malformed_signing_key_is_refused_and_does_not_use_the_code_up(pairing):
    code = pairing.current_code()
    _key, csr = new_client_key_and_csr("console")
    with pytest.raises(InvalidSigningKey, match="32 bytes, got 5"):
        pairing.pair(code, "console", csr, b"short")
    assert pairing.current_code() == code
    assert pairing.trusted_clients() == []


def test_a_trusted_clients_file_from_before_signing_keys_still_loads(tmp_path, identity, pairing):
    pair(pairing, "console", new_signing_key())
    path = tmp_path / TRUSTED_CLIENTS_FILE
    doc = json.loads(path.read_text())
    for entry in doc["clients"]:
        del entry["signing_public_key"]
    path.write_text(json.dumps(doc))

    reloaded = PairingManager(tmp_path, identity)
    assert len(reloaded.trusted_clients()) == 1 and reloaded.signing_keys() == []


def test_a_damaged_signing_key_in_the_trusted_clients_file_is_refused_naming_the_file(tmp_path, identity, pairing):
    pair(pairing, "console", new_signing_key())
    path = tmp_path / TRUSTED_CLIENTS_FILE
    doc = json.loads(path.read_text())
    doc["clients"][0]["signing_public_key"] = "abcd"
    path.write_text(json.dumps(doc))

    with pytest.raises(TrustStoreError, match=TRUSTED_CLIENTS_FILE):
        PairingManager(tmp_path, identity)
