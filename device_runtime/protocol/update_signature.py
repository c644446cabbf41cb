"""What a device software update's signature signs (both sides build it here).

Like an app package (``package_signature``), but with its own domain tag, so a
signature made for an app package can never install device software, nor the
other way round::

    b"sightline-update-v1\\0" + sha256(.deb bytes)
"""

from __future__ import annotations

from device_runtime.protocol.package_signature import signed_message as _package_message

#: Prepended to every signed update digest.
SIGNATURE_DOMAIN = b"sightline-update-v1\0"


def signed_message(sha256_hex: str) -> bytes:
    """The bytes an update signature signs, for a .deb whose SHA-256 is ``sha256_hex`` (validated)."""
    digest = _package_message(sha256_hex)[len(b"sightline-package-v1\0"):]
    return SIGNATURE_DOMAIN + digest
