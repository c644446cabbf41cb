"""Pairing by a provisioning bundle's one-time secret: once, only with the bundle's console key."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from device_runtime.security.identity import DeviceIdentity
from device_runtime.security.pairing import PairingManager, WrongPairingCode


def _csr() -> str:
    from cryptography import x509

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "console")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def pairing(tmp_path):
    return PairingManager(tmp_path, DeviceIdentity.load_or_create(tmp_path, "box"))


SECRET = "ab" * 32
KEY = bytes(range(32))


def test_a_preauthorised_console_pairs_once_with_its_secret_and_key(pairing, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                 serialization.PublicFormat.Raw)
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    assert pairing.preauthorized.add(digest, "site laptop", key.hex(), "bundle-1")
    assert not pairing.preauthorized.add(digest, "site laptop", key.hex(), "bundle-1")  # twice is harmless
    code_before = pairing.current_code()

    # Another key with the right secret: refused as a wrong code.
    with pytest.raises(WrongPairingCode):
        pairing.pair(SECRET, "thief", _csr(), KEY)
    # The hash (what is on the stick) is not the secret.
    with pytest.raises(WrongPairingCode):
        pairing.pair(digest, "thief", _csr(), key)

    pairing.pair(SECRET, "site laptop", _csr(), key)
    assert [c.name for c in pairing.trusted_clients()] == ["site laptop"]
    assert pairing.current_code() == code_before  # the printed code stays valid for others

    with pytest.raises(WrongPairingCode):
        pairing.pair(SECRET, "site laptop", _csr(), key)  # used up
    # Trusted for later bundles from the same console.
    assert pairing.preauthorized.signing_keys() == [key]
