"""Device identity: created once, stable, private, and usable as TLS server cert and CA."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from device_runtime.errors import FailedPrecondition
from device_runtime.security.identity import (
    CERT_FILE,
    IDENTITY_FILE,
    KEY_FILE,
    TLS_SERVER_NAME,
    DeviceIdentity,
    IdentityError,
    certificate_fingerprint,
)


def test_identity_is_created_once_and_stable_across_loads(tmp_path):
    first = DeviceIdentity.load_or_create(tmp_path / "data", "Line 3")
    second = DeviceIdentity.load_or_create(tmp_path / "data", "renamed later")

    assert first.device_id.startswith("sl-") and len(first.device_id) == 3 + 12
    int(first.device_id[3:], 16)  # hex
    assert second.device_id == first.device_id
    assert second.cert_pem == first.cert_pem
    assert second.key_pem == first.key_pem
    assert second.fingerprint == first.fingerprint
    stored = json.loads((tmp_path / "data" / IDENTITY_FILE).read_text())
    assert stored == {"device_id": first.device_id}


def test_two_devices_get_different_ids_and_keys(tmp_path):
    a = DeviceIdentity.load_or_create(tmp_path / "a", "a")
    b = DeviceIdentity.load_or_create(tmp_path / "b", "b")

    assert a.device_id != b.device_id
    assert a.fingerprint != b.fingerprint


def test_private_key_is_mode_0600_and_new_data_dir_is_0700(tmp_path):
    data_dir = tmp_path / "fresh" / "data"
    old_umask = os.umask(0)  # the modes must not depend on the caller's umask
    try:
        DeviceIdentity.load_or_create(data_dir, "dev")
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE((data_dir / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    leftovers = [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_key_made_readable_by_others_is_tightened_on_load(tmp_path, caplog):
    DeviceIdentity.load_or_create(tmp_path, "dev")
    os.chmod(tmp_path / KEY_FILE, 0o644)

    DeviceIdentity.load_or_create(tmp_path, "dev")

    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert "readable by others" in caplog.text


def test_fingerprint_is_lowercase_sha256_of_the_certificate_der(tmp_path):
    identity = DeviceIdentity.load_or_create(tmp_path, "dev")

    der = x509.load_pem_x509_certificate(identity.cert_pem).public_bytes(serialization.Encoding.DER)
    assert identity.fingerprint == hashlib.sha256(der).hexdigest()
    assert identity.fingerprint == certificate_fingerprint(identity.cert_pem.decode())
    assert len(identity.fingerprint) == 64 and identity.fingerprint == identity.fingerprint.lower()


def test_certificate_is_a_self_signed_p256_ca_naming_the_tls_name_and_device_id(tmp_path):
    identity = DeviceIdentity.load_or_create(tmp_path, "Packing line")
    cert = identity.certificate

    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    cert.verify_directly_issued_by(cert)  # self-signed
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {TLS_SERVER_NAME, identity.device_id}
    assert cert.not_valid_after_utc.year == 9999
    assert identity.private_key.public_key() == cert.public_key()


def test_incomplete_identity_is_refused_naming_the_missing_file(tmp_path):
    DeviceIdentity.load_or_create(tmp_path, "dev")
    (tmp_path / CERT_FILE).unlink()

    with pytest.raises(IdentityError, match=CERT_FILE) as caught:
        DeviceIdentity.load_or_create(tmp_path, "dev")
    assert isinstance(caught.value, FailedPrecondition)
    assert not (tmp_path / CERT_FILE).exists(), "must not silently mint a new identity"


def test_certificate_of_another_key_is_refused(tmp_path):
    DeviceIdentity.load_or_create(tmp_path / "a", "a")
    DeviceIdentity.load_or_create(tmp_path / "b", "b")
    (tmp_path / "a" / CERT_FILE).write_bytes((tmp_path / "b" / CERT_FILE).read_bytes())

    with pytest.raises(IdentityError, match="does not belong to the key"):
        DeviceIdentity.load_or_create(tmp_path / "a", "a")


def test_corrupt_identity_file_is_refused_naming_file_and_field(tmp_path):
    DeviceIdentity.load_or_create(tmp_path, "dev")
    (tmp_path / IDENTITY_FILE).write_text('{"id": 1}')

    with pytest.raises(IdentityError, match=r"device_identity\.json.*'device_id'"):
        DeviceIdentity.load_or_create(tmp_path, "dev")
