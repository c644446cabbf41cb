"""What exactly a package signature signs: part of the wire contract, shared by both sides.

A console signs an app package with its Ed25519 key; the device verifies the
signature against the keys of its paired clients (``PairRequest.
signing_public_key``). Both sides build the signed bytes with
:func:`signed_message`, from this one module (the console may import
``device_runtime.protocol`` and nothing else of the device), so they cannot
drift apart.

The message is a domain tag followed by the package's raw SHA-256 digest::

    b"sightline-package-v1\\0" + sha256(package bytes)   (21 + 32 bytes)

* The tag keeps a package signature from ever being valid for anything else
  the same key might sign later (and the ``v1`` lets the format change).
* The digest commits to every byte, and so to the size: the device checks the
  bytes it receives against the digest in ``UploadHeader.sha256`` and the
  signature against that same digest, before anything is staged.

Pure bytes, no cryptography library: signing and verifying live with each
side (``console_app.core.signing``, ``device_runtime.security.package_signing``).
"""

from __future__ import annotations

import hashlib
import re

#: Prepended to every signed digest; never reuse it for anything but app packages.
SIGNATURE_DOMAIN = b"sightline-package-v1\0"
#: A raw Ed25519 public key, as sent in ``PairRequest.signing_public_key``.
PUBLIC_KEY_BYTES = 32
#: An Ed25519 signature, as sent in ``UploadHeader.signature``.
SIGNATURE_BYTES = 64

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def signed_message(sha256_hex: str) -> bytes:
    """The bytes a package signature signs, for a package whose SHA-256 is ``sha256_hex``.

    ``sha256_hex`` is 64 hex characters, either case. Raises ``ValueError``
    naming the value otherwise.
    """
    normalized = sha256_hex.strip().lower() if isinstance(sha256_hex, str) else ""
    if not _SHA256_HEX.fullmatch(normalized):
        raise ValueError(
            f"a package digest must be 64 hex characters (SHA-256), got {sha256_hex!r}"
        )
    return SIGNATURE_DOMAIN + bytes.fromhex(normalized)


def key_fingerprint(public_key: bytes) -> str:
    """SHA-256 of a raw public key, lower-case hex: how logs and screens name a signing key."""
    return hashlib.sha256(bytes(public_key)).hexdigest()
