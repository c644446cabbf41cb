"""Checking app package signatures against the signing keys of paired consoles.

Every console (and ``sightline-ctl``) sends the raw Ed25519 public key of its
package signer when it pairs; :class:`~device_runtime.security.pairing.
PairingManager` keeps it with the paired client's record, and forgets it when
the client is revoked. A package is accepted when its signature verifies,
over :func:`~device_runtime.protocol.package_signature.signed_message` of its
SHA-256, with any key of a still-paired client. So a package built and signed
on one paired console may be deployed from another paired client, but never
one signed by a console this device does not trust.

Both refusals are ``PERMISSION_DENIED``: the caller is authenticated (paired)
but may not install this code. The messages tell the two cases apart and say
what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device_runtime.errors import InvalidArgument, PermissionDenied
from device_runtime.protocol.package_signature import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    key_fingerprint,
    signed_message,
)

UNSIGNED_MESSAGE = (
    "package is not signed; pair this console again so the device learns its signing key"
)
UNTRUSTED_MESSAGE = (
    "package signature does not match any trusted console key "
    "(tampered or signed by an untrusted console)"
)


class UnsignedPackage(PermissionDenied):
    """An app package arrived without a signature on a device that requires one."""


class UntrustedPackageSignature(PermissionDenied):
    """The signature does not verify with any paired client's key: other bytes, or another key."""


class InvalidSigningKey(InvalidArgument):
    """A signing public key sent at pairing is not a raw 32-byte Ed25519 key."""


def load_signing_key(raw: bytes, what: str = "signing_public_key") -> Ed25519PublicKey:
    """Parse a raw Ed25519 public key, or raise :class:`InvalidSigningKey` naming ``what``."""
    raw = bytes(raw)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise InvalidSigningKey(
            f"{what} must be a raw Ed25519 public key of {PUBLIC_KEY_BYTES} bytes, got {len(raw)} bytes"
        )
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidSigningKey(f"{what} is not a usable Ed25519 public key: {exc}") from None


def verify_package_signature(public_keys: Iterable[bytes], sha256_hex: str, signature: bytes) -> bytes:
    """Return the trusted key that signed the package with digest ``sha256_hex``.

    ``public_keys``: raw keys of the paired clients. Raises
    :class:`UnsignedPackage` for an empty signature and
    :class:`UntrustedPackageSignature` when no key verifies it (the bytes were
    changed after signing, or the signer is not paired with this device).
    A malformed ``sha256_hex`` raises ``InvalidArgument``.
    """
    if not signature:
        raise UnsignedPackage(UNSIGNED_MESSAGE)
    try:
        message = signed_message(sha256_hex)
    except ValueError as exc:
        raise InvalidArgument(f"package sha256: {exc}") from None
    keys = list(dict.fromkeys(bytes(k) for k in public_keys))
    if len(signature) == SIGNATURE_BYTES:
        for raw in keys:
            try:
                load_signing_key(raw).verify(bytes(signature), message)
            except (InvalidSignature, InvalidSigningKey):
                continue
            return raw
    detail = (
        f"{len(keys)} console key(s) trusted"
        if len(signature) == SIGNATURE_BYTES
        else f"the signature is {len(signature)} bytes, an Ed25519 signature is {SIGNATURE_BYTES}"
    )
    raise UntrustedPackageSignature(
        f"{UNTRUSTED_MESSAGE}; {detail}. Sign it again with a paired console; a console "
        "paired before it had a signing key must pair again"
    )


__all__ = [
    "InvalidSigningKey",
    "UNSIGNED_MESSAGE",
    "UNTRUSTED_MESSAGE",
    "UnsignedPackage",
    "UntrustedPackageSignature",
    "key_fingerprint",
    "load_signing_key",
    "verify_package_signature",
]
