"""The console's package signer: one Ed25519 key, kept where secrets belong, never shown."""

from __future__ import annotations

import base64
import hashlib
import logging
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from console_app.core.credentials import CredentialStore
from console_app.core.signing import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SIGNING_KEY_REF,
    PackageSigner,
    SigningKeyError,
    load_or_create_signer,
)
from device_runtime.protocol.package_signature import signed_message

DIGEST = hashlib.sha256(b"package").hexdigest()


def test_a_signature_verifies_with_the_public_key_over_the_shared_signed_message() -> None:
    signer = PackageSigner.generate()
    signature = signer.sign_package(DIGEST)
    assert len(signature) == 64 and len(signer.public_key_bytes()) == 32
    Ed25519PublicKey.from_public_bytes(signer.public_key_bytes()).verify(signature, signed_message(DIGEST))
    assert signer.sign_bytes(b"package") == signature  # Ed25519 is deterministic


def test_the_fingerprint_is_the_sha256_of_the_public_key_and_repr_shows_nothing_else() -> None:
    signer = PackageSigner.generate()
    assert signer.fingerprint() == hashlib.sha256(signer.public_key_bytes()).hexdigest()
    assert repr(signer) == f"PackageSigner(fingerprint={signer.fingerprint()[:16]}…)"


def test_without_a_credential_store_the_key_is_a_private_file_reused_on_every_load(tmp_path) -> None:
    folder = tmp_path / "ctl"
    first = load_or_create_signer(None, folder)
    second = load_or_create_signer(None, folder)

    assert second.public_key_bytes() == first.public_key_bytes()
    key_file = folder / PRIVATE_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in key_file.read_bytes()


def test_a_damaged_key_file_is_refused_naming_the_file_not_replaced(tmp_path) -> None:
    (tmp_path / PRIVATE_KEY_FILE).write_text("not a key")
    with pytest.raises(SigningKeyError, match=PRIVATE_KEY_FILE):
        load_or_create_signer(None, tmp_path)
    assert (tmp_path / PRIVATE_KEY_FILE).read_text() == "not a key"


def test_with_a_credential_store_the_private_key_goes_there_and_only_the_public_key_to_the_folder(tmp_path) -> None:
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    folder = tmp_path / "console"
    signer = load_or_create_signer(credentials, folder)

    stored = credentials.get(SIGNING_KEY_REF)
    assert stored is not None
    assert not (folder / PRIVATE_KEY_FILE).exists()
    assert (folder / PUBLIC_KEY_FILE).read_text().strip() == signer.public_key_bytes().hex()
    # On disk the secret is only in the encrypted file, and not in clear there either.
    raw_private = base64.b64decode(stored)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert stored.encode() not in content and raw_private not in content, path
    assert load_or_create_signer(credentials, folder).public_key_bytes() == signer.public_key_bytes()


def test_a_key_lost_from_the_credential_store_is_replaced_with_a_loud_warning(tmp_path, caplog) -> None:
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    old = load_or_create_signer(credentials, tmp_path)
    credentials.delete(SIGNING_KEY_REF)

    with caplog.at_level(logging.WARNING, logger="console_app.core.signing"):
        new = load_or_create_signer(credentials, tmp_path)

    assert new.public_key_bytes() != old.public_key_bytes()
    assert "pair every device again" in caplog.text and old.public_key_bytes().hex()[:16] in caplog.text


def test_a_damaged_key_in_the_credential_store_is_refused_without_showing_it(tmp_path) -> None:
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    credentials.put(SIGNING_KEY_REF, "c2VjcmV0LWJ1dC1icm9rZW4=")
    with pytest.raises(SigningKeyError, match=SIGNING_KEY_REF) as err:
        load_or_create_signer(credentials, tmp_path)
    assert "c2VjcmV0" not in str(err.value)


def test_the_private_key_never_reaches_the_log(tmp_path, caplog) -> None:
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    with caplog.at_level(logging.DEBUG):
        load_or_create_signer(credentials, tmp_path / "a")
        file_signer = load_or_create_signer(None, tmp_path / "b")
        file_signer.sign_package(DIGEST)
    stored = credentials.get(SIGNING_KEY_REF)
    pem_body = (tmp_path / "b" / PRIVATE_KEY_FILE).read_text().splitlines()[1]
    assert caplog.records, "expected the key creation to be logged"
    assert stored not in caplog.text and pem_body not in caplog.text
