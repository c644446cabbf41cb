"""The console's package signing key: Ed25519, made once, kept out of the database and the logs.

Every app package the console deploys is signed (see
:mod:`device_runtime.protocol.package_signature` for exactly what is
signed); the public half goes to each device at pairing, and the device then
installs only packages signed with a key it trusts.

Where the private key lives (:func:`load_or_create_signer`):

* with a :class:`~console_app.core.credentials.CredentialStore` (the console
  proper): in the OS keyring, or the store's encrypted file, under the
  reference :data:`SIGNING_KEY_REF`. ``folder`` then only holds the public
  key (:data:`PUBLIC_KEY_FILE`), so a key that vanished from the keyring is
  noticed and reported instead of silently replaced;
* without one (``sightline-ctl``, which has no keyring by design): in
  ``folder/`` :data:`PRIVATE_KEY_FILE`, PKCS#8 PEM, mode 0600, folder 0700.

The private key never leaves :class:`PackageSigner` except to be stored by
this module: no public accessor returns it, and ``repr`` shows only the
fingerprint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console_app.core.credentials import CredentialStore
from console_app.core.files import write_atomically, write_private_file
from device_runtime.protocol.package_signature import key_fingerprint, signed_message
from device_runtime.protocol.provisioning.manifest import signed_message as provisioning_message
from device_runtime.protocol.update_signature import signed_message as update_message

log = logging.getLogger(__name__)

#: The credential-store reference of the console's signing key.
SIGNING_KEY_REF = "package-signing-key"
#: Private key file (no credential store): PKCS#8 PEM, 0600.
PRIVATE_KEY_FILE = "package_signing_key.pem"
#: Public key file written beside a credential-store key: the raw key, hex.
PUBLIC_KEY_FILE = "package_signing_key.pub"


class SigningKeyError(Exception):
    """The stored signing key cannot be read or used; the message names where it is (never the key)."""


class PackageSigner:
    """Signs package digests with one Ed25519 private key.

    Build one with :func:`load_or_create_signer` (or :meth:`generate` for a
    throwaway key in tests and demos). Thread-safe: signing keeps no state.
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> PackageSigner:
        """A new random key, kept only in memory."""
        return cls(Ed25519PrivateKey.generate())

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key, as sent at pairing."""
        return self._public

    def fingerprint(self) -> str:
        """SHA-256 of the public key, hex: how the console and devices name this key."""
        return key_fingerprint(self._public)

    def sign_package(self, sha256_hex: str) -> bytes:
        """The 64-byte signature for a package whose SHA-256 is ``sha256_hex``."""
        return self._key.sign(signed_message(sha256_hex))

    def sign_bytes(self, package: bytes) -> bytes:
        """Sign a package held in memory (hashes it first)."""
        return self.sign_package(hashlib.sha256(package).hexdigest())

    def sign_update(self, sha256_hex: str) -> bytes:
        """The 64-byte signature of a device software update (.deb) whose SHA-256 is ``sha256_hex``."""
        return self._key.sign(update_message(sha256_hex))

    def sign_provisioning_manifest(self, manifest_bytes: bytes) -> bytes:
        """The 64-byte signature of a provisioning bundle's manifest (its own domain tag, so
        it can never pass for a package signature)."""
        return self._key.sign(provisioning_message(manifest_bytes))

    def __repr__(self) -> str:
        return f"PackageSigner(fingerprint={self.fingerprint()[:16]}…)"


def load_or_create_signer(credentials: CredentialStore | None, folder: Path) -> PackageSigner:
    """The console's signer: loaded from where it is kept, created there on first use.

    See the module docstring for where that is. Raises
    :class:`SigningKeyError` when a stored key is damaged (a damaged key is
    never replaced silently: devices trust the old one).
    """
    folder = Path(folder)
    if credentials is None:
        return _from_file(folder / PRIVATE_KEY_FILE)
    return _from_credential_store(credentials, folder)


# ------------------------------------------------------------------ file


def _from_file(path: Path) -> PackageSigner:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        signer = PackageSigner.generate()
        write_private_file(path, _private_pem(signer))
        log.info("created a package signing key (fingerprint %s) in %s", signer.fingerprint(), path)
        return signer
    except OSError as exc:
        raise SigningKeyError(f"cannot read the package signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{path} is not an Ed25519 private key in PEM; restore it from a backup, or delete it "
            "to make a new key (then pair every device again)"
        )
    return PackageSigner(key)


# ------------------------------------------------------------------ credential store


def _from_credential_store(credentials: CredentialStore, folder: Path) -> PackageSigner:
    stored = credentials.get(SIGNING_KEY_REF)
    public_path = folder / PUBLIC_KEY_FILE
    if stored is None:
        signer = PackageSigner.generate()
        credentials.put(SIGNING_KEY_REF, _private_b64(signer))
        if public_path.exists():
            log.warning(
                "the package signing key was missing from %s (it had public key %s); made a new one, "
                "fingerprint %s: pair every device again so they accept this console's packages",
                credentials.kind,
                _read_text(public_path)[:16],
                signer.fingerprint(),
            )
        else:
            log.info("created a package signing key (fingerprint %s) in %s", signer.fingerprint(), credentials.kind)
        _write_public(public_path, signer)
        return signer
    try:
        raw = base64.b64decode(stored.strip(), validate=True)
        signer = PackageSigner(Ed25519PrivateKey.from_private_bytes(raw))
    except (binascii.Error, ValueError):
        raise SigningKeyError(
            f"the package signing key '{SIGNING_KEY_REF}' in {credentials.kind} is damaged "
            "(not a base64 Ed25519 private key); delete it there to make a new key, then pair "
            "every device again"
        ) from None
    if _read_text(public_path) != signer.public_key_bytes().hex():
        _write_public(public_path, signer)
    return signer


# ------------------------------------------------------------------ helpers


def _private_pem(signer: PackageSigner) -> bytes:
    return signer._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_b64(signer: PackageSigner) -> str:
    raw = signer._key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _write_public(path: Path, signer: PackageSigner) -> None:
    write_atomically(path, signer.public_key_bytes().hex() + "\n")
