"""The signed message both sides build: one definition, domain-separated, strict about the digest."""

from __future__ import annotations

import hashlib

import pytest

from device_runtime.protocol.package_signature import (
    SIGNATURE_DOMAIN,
    key_fingerprint,
    signed_message,
)


def test_the_signed_message_is_the_domain_tag_followed_by_the_raw_digest() -> None:
    digest = hashlib.sha256(b"package").hexdigest()
    message = signed_message(digest)
    assert message == b"sightline-package-v1\0" + bytes.fromhex(digest)
    assert message.startswith(SIGNATURE_DOMAIN) and len(message) == len(SIGNATURE_DOMAIN) + 32


def test_the_digest_may_be_given_in_either_case() -> None:
    digest = hashlib.sha256(b"package").hexdigest()
    assert signed_message(digest.upper()) == signed_message(digest)


@pytest.mark.parametrize("bad", ["", "ab" * 31, "zz" * 32, "ab" * 33, None])
def test_anything_but_a_sha256_hex_digest_is_refused_naming_the_value(bad) -> None:
    with pytest.raises(ValueError, match="64 hex characters") as err:
        signed_message(bad)
    assert repr(bad) in str(err.value)


def test_a_key_fingerprint_is_the_sha256_of_the_raw_key() -> None:
    assert key_fingerprint(b"k" * 32) == hashlib.sha256(b"k" * 32).hexdigest()
