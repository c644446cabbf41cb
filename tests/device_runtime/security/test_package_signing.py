"""Package signatures on the device: accepted only from a trusted key, over exactly these bytes."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_runtime.errors import InvalidArgument, PermissionDenied
from device_runtime.protocol.package_signature import signed_message
from device_runtime.security.package_signing import (
    UNSIGNED_MESSAGE,
    UNTRUSTED_MESSAGE,
    InvalidSigningKey,
    UnsignedPackage,
    UntrustedPackageSignature,
    load_signing_key,
    verify_package_signature,
)

DIGEST = hashlib.sha256(b"an app package").hexdigest()


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def console_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_signature_by_a_trusted_key_verifies_and_names_that_key(console_key) -> None:
    other = Ed25519PrivateKey.generate()
    signature = console_key.sign(signed_message(DIGEST))
    assert verify_package_signature([raw_public(other), raw_public(console_key)], DIGEST, signature) == raw_public(
        console_key
    )


def test_a_missing_signature_is_refused_as_unsigned_with_the_advice_to_pair_again(console_key) -> None:
    with pytest.raises(UnsignedPackage) as err:
        verify_package_signature([raw_public(console_key)], DIGEST, b"")
    assert str(err.value) == UNSIGNED_MESSAGE
    assert isinstance(err.value, PermissionDenied) and err.value.code == "PERMISSION_DENIED"


def test_a_signature_over_other_bytes_is_refused_as_untrusted(console_key) -> None:
    other_digest = hashlib.sha256(b"the package before someone changed it").hexdigest()
    signature = console_key.sign(signed_message(other_digest))
    with pytest.raises(UntrustedPackageSignature) as err:
        verify_package_signature([raw_public(console_key)], DIGEST, signature)
    assert str(err.value).startswith(UNTRUSTED_MESSAGE) and "1 console key(s) trusted" in str(err.value)


def test_a_signature_by_an_unknown_key_is_refused_as_untrusted(console_key) -> None:
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(UntrustedPackageSignature):
        verify_package_signature([raw_public(console_key)], DIGEST, stranger.sign(signed_message(DIGEST)))


def test_with_no_trusted_keys_every_signature_is_refused(console_key) -> None:
    with pytest.raises(UntrustedPackageSignature, match="0 console key"):
        verify_package_signature([], DIGEST, console_key.sign(signed_message(DIGEST)))


def test_a_signature_without_the_domain_tag_is_refused(console_key) -> None:
    """A signature the same key made over the bare digest (some other protocol) is not a package signature."""
    with pytest.raises(UntrustedPackageSignature):
        verify_package_signature([raw_public(console_key)], DIGEST, console_key.sign(bytes.fromhex(DIGEST)))


def test_a_signature_of_the_wrong_length_is_refused_saying_so(console_key) -> None:
    with pytest.raises(UntrustedPackageSignature, match="the signature is 10 bytes"):
        verify_package_signature([raw_public(console_key)], DIGEST, b"x" * 10)


def test_a_malformed_digest_is_an_invalid_argument(console_key) -> None:
    with pytest.raises(InvalidArgument, match="64 hex"):
        verify_package_signature([raw_public(console_key)], "not-a-digest", b"x" * 64)


@pytest.mark.parametrize("raw, problem", [(b"", "got 0 bytes"), (b"k" * 33, "got 33 bytes")])
def test_a_signing_key_must_be_32_raw_bytes(raw, problem) -> None:
    with pytest.raises(InvalidSigningKey, match=problem):
        load_signing_key(raw)
