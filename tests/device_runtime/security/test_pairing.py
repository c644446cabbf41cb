"""Pairing: one-time code, brute-force guard, issued certificates, trust list."""

from __future__ import annotations

import json
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from console_app.core.gateways.device_tls import (
    GUEST_CLIENT_CERT_PEM,
    certificate_fingerprint,
    new_client_key_and_csr,
)
from device_runtime.errors import InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from device_runtime.security.identity import DeviceIdentity
from device_runtime.security.pairing import (
    FIRST_LOCKOUT_S,
    MAX_WRONG_CODES,
    TRUSTED_CLIENTS_FILE,
    InvalidCsr,
    PairingLockedOut,
    PairingManager,
    TrustStoreError,
    WrongPairingCode,
    sanitize_client_name,
)


class ManualClock:
    """Monotonic time the test moves by hand, so lockouts need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def identity(tmp_path):
    return DeviceIdentity.load_or_create(tmp_path, "dev")


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def new_codes():
    return []


@pytest.fixture
def pairing(tmp_path, identity, clock, new_codes):
    return PairingManager(tmp_path, identity, on_code_changed=new_codes.append, clock=clock)


def wrong_code_for(code: str) -> str:
    digits = code.replace("-", "")
    flipped = str((int(digits[0]) + 1) % 10) + digits[1:]
    return f"{flipped[:4]}-{flipped[4:]}"


def test_code_is_eight_digits_shown_as_two_groups_and_new_each_start(tmp_path, identity):
    codes = {PairingManager(tmp_path, identity).current_code() for _ in range(5)}

    assert all(re.fullmatch(r"\d{4}-\d{4}", code) for code in codes)
    assert len(codes) > 1


def test_pairing_with_the_code_issues_a_client_certificate_signed_by_the_device(pairing, identity):
    _key, csr = new_client_key_and_csr("Anna's laptop")

    cert_pem = pairing.pair(pairing.current_code(), "Anna's laptop", csr)

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(identity.certificate)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Anna's laptop"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 4 * 365 < lifetime.days < 12 * 365
    assert pairing.is_trusted(cert_pem)
    assert pairing.is_trusted(cert_pem.encode())
    [client] = pairing.trusted_clients()
    assert client.name == "Anna's laptop"
    assert client.fingerprint == certificate_fingerprint(cert_pem)


def test_wrong_code_is_refused_as_permission_denied(pairing):
    _key, csr = new_client_key_and_csr("c")

    with pytest.raises(WrongPairingCode, match="pairing code is wrong") as caught:
        pairing.pair(wrong_code_for(pairing.current_code()), "c", csr)
    assert isinstance(caught.value, PermissionDenied)
    assert pairing.trusted_clients() == []


def test_code_works_once_and_is_replaced_after_a_pairing(pairing, new_codes):
    _key, csr = new_client_key_and_csr("c")
    code = pairing.current_code()
    pairing.pair(code, "first", csr)

    with pytest.raises(WrongPairingCode):
        pairing.pair(code, "second", csr)
    assert new_codes == [pairing.current_code()]
    assert pairing.current_code() != code
    pairing.pair(pairing.current_code(), "second", csr)
    assert [c.name for c in pairing.trusted_clients()] == ["first", "second"]


def test_code_may_be_typed_without_dash_or_with_spaces(pairing):
    _key, csr = new_client_key_and_csr("c")
    digits = pairing.current_code().replace("-", "")

    pairing.pair(digits, "c", csr)
    pairing.pair(f" {pairing.current_code().replace('-', ' ')} ", "c", csr)

    assert len(pairing.trusted_clients()) == 2


def test_wrong_codes_replace_the_code_and_lock_pairing_for_a_doubling_delay(
    pairing, clock, new_codes
):
    _key, csr = new_client_key_and_csr("c")
    original = pairing.current_code()
    for _ in range(MAX_WRONG_CODES - 1):
        with pytest.raises(WrongPairingCode, match="more wrong code"):
            pairing.pair(wrong_code_for(original), "c", csr)
    with pytest.raises(WrongPairingCode, match="replaced its code"):
        pairing.pair(wrong_code_for(original), "c", csr)

    assert new_codes == [pairing.current_code()] and pairing.current_code() != original
    # Locked: even the right code is refused until the delay has passed.
    with pytest.raises(PairingLockedOut, match="locked") as caught:
        pairing.pair(pairing.current_code(), "c", csr)
    assert isinstance(caught.value, ResourceExhausted)
    clock.now += FIRST_LOCKOUT_S - 1
    with pytest.raises(PairingLockedOut):
        pairing.pair(pairing.current_code(), "c", csr)

    # Second lockout lasts twice as long.
    clock.now += 1
    for _ in range(MAX_WRONG_CODES):
        with pytest.raises(WrongPairingCode):
            pairing.pair(wrong_code_for(pairing.current_code()), "c", csr)
    clock.now += 2 * FIRST_LOCKOUT_S - 1
    with pytest.raises(PairingLockedOut):
        pairing.pair(pairing.current_code(), "c", csr)
    clock.now += 1
    pairing.pair(pairing.current_code(), "c", csr)
    assert len(pairing.trusted_clients()) == 1


def test_bad_csr_is_invalid_argument_and_does_not_use_the_code_up(pairing):
    code = pairing.current_code()

    with pytest.raises(InvalidCsr, match="csr_pem is not a PEM") as caught:
        pairing.pair(code, "c", "not a csr")
    assert isinstance(caught.value, InvalidArgument)
    assert pairing.current_code() == code
    _key, csr = new_client_key_and_csr("c")
    pairing.pair(code, "c", csr)


def test_csr_whose_signature_does_not_verify_is_refused(pairing):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "original")]))
        .sign(key, hashes.SHA256())
    )
    der = csr.public_bytes(Encoding.DER).replace(b"original", b"tampered")
    tampered = x509.load_der_x509_csr(der).public_bytes(Encoding.PEM)

    with pytest.raises(InvalidCsr, match="signature does not verify"):
        pairing.pair(pairing.current_code(), "c", tampered)


def test_csr_for_a_weak_rsa_key_is_refused(pairing):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")]))
        .sign(key, hashes.SHA256())
        .public_bytes(Encoding.PEM)
    )

    with pytest.raises(InvalidCsr, match="1024-bit RSA key"):
        pairing.pair(pairing.current_code(), "c", csr)


def test_paired_clients_survive_a_restart_and_revoke_unpairs_one(tmp_path, identity, pairing):
    _key, csr = new_client_key_and_csr("c")
    kept = pairing.pair(pairing.current_code(), "kept", csr)
    revoked = pairing.pair(pairing.current_code(), "revoked", csr)

    restarted = PairingManager(tmp_path, identity)
    assert restarted.is_trusted(kept) and restarted.is_trusted(revoked)
    removed = restarted.revoke(certificate_fingerprint(revoked).upper())

    assert removed.name == "revoked"
    assert restarted.is_trusted(kept)
    assert not restarted.is_trusted(revoked)
    assert not PairingManager(tmp_path, identity).is_trusted(revoked)
    doc = json.loads((tmp_path / TRUSTED_CLIENTS_FILE).read_text())
    assert [c["name"] for c in doc["clients"]] == ["kept"]


def test_revoking_an_unknown_fingerprint_is_not_found(pairing):
    with pytest.raises(NotFound, match="no paired client has certificate fingerprint 'ab12'"):
        pairing.revoke("AB:12")


def test_certificate_not_issued_by_this_device_is_untrusted_even_if_listed(
    tmp_path, identity, pairing
):
    """A hand-edited trust list naming another device's client must not grant access."""
    other = DeviceIdentity.load_or_create(tmp_path / "other", "other")
    other_pairing = PairingManager(tmp_path / "other", other)
    _key, csr = new_client_key_and_csr("c")
    foreign = other_pairing.pair(other_pairing.current_code(), "c", csr)
    store = tmp_path / TRUSTED_CLIENTS_FILE
    store.write_text((tmp_path / "other" / TRUSTED_CLIENTS_FILE).read_text())

    reloaded = PairingManager(tmp_path, identity)

    assert [c.fingerprint for c in reloaded.trusted_clients()] == [certificate_fingerprint(foreign)]
    assert not reloaded.is_trusted(foreign)


def test_guest_certificate_garbage_and_none_are_untrusted(pairing):
    assert not pairing.is_trusted(GUEST_CLIENT_CERT_PEM)
    assert not pairing.is_trusted(None)
    assert not pairing.is_trusted(b"")
    assert not pairing.is_trusted("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")


def test_corrupt_trusted_clients_file_is_refused_naming_the_file(tmp_path, identity):
    (tmp_path / TRUSTED_CLIENTS_FILE).write_text('{"clients": [{"name": "x"}]}')

    with pytest.raises(TrustStoreError, match=r"trusted_clients\.json"):
        PairingManager(tmp_path, identity)


def test_client_names_are_cleaned_for_certificates_and_lists():
    assert sanitize_client_name("  Anna's\n\tlaptop\x00 ") == "Anna's laptop"
    assert sanitize_client_name("\u202e\x07") == "unnamed client"
    assert len(sanitize_client_name("x" * 500)) == 64


def test_banner_names_device_address_fingerprint_and_code(pairing, identity):
    text = pairing.banner("Line 3", "10.0.0.7:7443")

    assert '"Line 3"' in text and identity.device_id in text
    assert "10.0.0.7:7443" in text
    assert identity.fingerprint in text
    assert pairing.current_code() in text
