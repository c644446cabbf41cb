"""Encrypting a bundle's named secrets: under a passphrase, or for one device's key.

``secrets.enc`` is UTF-8 JSON. The plaintext is ``{"secrets": {name: value}}``.

* ``passphrase``: the key is scrypt(passphrase, salt, n=2**15, r=8, p=1), 32
  bytes; AES-256-GCM with a random 96-bit nonce.
* ``device-key``: ECDH between a fresh P-256 key and the device certificate's
  P-256 key, HKDF-SHA256 to 32 bytes; AES-256-GCM. Only that device can open it.

The associated data binds the ciphertext to the bundle (its id), so secrets
cannot be moved from one bundle into another. Both sides use this module
(the console encrypts, the device decrypts), like ``package_signature``.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

_AAD = b"sightline-provision-secrets-v1\0"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: Refuse work factors past this on reading: a crafted file must not tie the device up for minutes.
MAX_SCRYPT_N = 2**17
MAX_SECRETS_BYTES = 256 * 1024


class SecretsError(ValueError):
    """The secrets cannot be opened: wrong passphrase, another device's, or malformed. The message says which."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(doc: dict, key: str) -> bytes:
    try:
        return base64.b64decode(doc[key], validate=True)
    except (KeyError, TypeError, ValueError):
        raise SecretsError(f"secrets.enc: {key!r} is missing or not base64") from None


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _hkdf(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AAD).derive(shared)


def _plaintext(secrets: dict[str, str]) -> bytes:
    return json.dumps({"secrets": secrets}, sort_keys=True).encode("utf-8")


def seal_with_passphrase(secrets: dict[str, str], passphrase: str, bundle_id: str) -> bytes:
    """``secrets.enc`` bytes for ``secrets``, opened only with ``passphrase``."""
    if len(passphrase) < 8:
        raise SecretsError("a passphrase needs at least 8 characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _scrypt(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, _plaintext(secrets), _AAD + bundle_id.encode())
    doc = {"scheme": "passphrase", "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
           "salt": _b64(salt), "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
    return json.dumps(doc).encode("utf-8")


def seal_for_device(secrets: dict[str, str], device_cert_pem: bytes | str, bundle_id: str) -> bytes:
    """``secrets.enc`` bytes only the device whose certificate this is can open."""
    from cryptography import x509

    pem = device_cert_pem.encode() if isinstance(device_cert_pem, str) else device_cert_pem
    device_key = x509.load_pem_x509_certificate(pem).public_key()
    if not isinstance(device_key, ec.EllipticCurvePublicKey) or device_key.curve.name != "secp256r1":
        raise SecretsError("the device certificate's key is not EC P-256; use a passphrase")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    key = _hkdf(ephemeral.exchange(ec.ECDH(), device_key))
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, _plaintext(secrets), _AAD + bundle_id.encode())
    public = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    doc = {"scheme": "device-key", "ephemeral_public": _b64(public), "nonce": _b64(nonce),
           "ciphertext": _b64(ciphertext)}
    return json.dumps(doc).encode("utf-8")


def open_secrets(data: bytes, bundle_id: str, *, passphrase: str | None = None,
                 device_key: ec.EllipticCurvePrivateKey | None = None) -> dict[str, str]:
    """The named secrets in ``secrets.enc``; raises :class:`SecretsError` saying why not."""
    if len(data) > MAX_SECRETS_BYTES:
        raise SecretsError(f"secrets.enc is {len(data)} bytes; at most {MAX_SECRETS_BYTES} are accepted")
    try:
        doc = json.loads(data)
    except ValueError:
        raise SecretsError("secrets.enc is not JSON") from None
    if not isinstance(doc, dict):
        raise SecretsError("secrets.enc is not a JSON object")
    scheme = doc.get("scheme")
    nonce, ciphertext = _unb64(doc, "nonce"), _unb64(doc, "ciphertext")
    if scheme == "passphrase":
        if not passphrase:
            raise SecretsError("the bundle's secrets are protected by a passphrase; give it (--passphrase-file)")
        n, r, p = doc.get("n"), doc.get("r"), doc.get("p")
        if not all(isinstance(v, int) for v in (n, r, p)) or not (2 <= n <= MAX_SCRYPT_N and 1 <= r <= 16 and 1 <= p <= 4):
            raise SecretsError("secrets.enc: scrypt parameters are missing or out of range")
        key = _scrypt(passphrase, _unb64(doc, "salt"), n, r, p)
        failure = "wrong passphrase: the bundle's secrets do not open with it"
    elif scheme == "device-key":
        if device_key is None:
            raise SecretsError("the bundle's secrets are encrypted for a device key, and none was given")
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(doc, "ephemeral_public"))
        except ValueError:
            raise SecretsError("secrets.enc: the ephemeral key is not a P-256 point") from None
        key = _hkdf(device_key.exchange(ec.ECDH(), peer))
        failure = "the bundle's secrets were encrypted for another device"
    else:
        raise SecretsError(f"secrets.enc: unknown scheme {scheme!r} (expected passphrase or device-key)")
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, _AAD + bundle_id.encode())
    except InvalidTag:
        raise SecretsError(failure) from None
    secrets = json.loads(plain).get("secrets")
    if not isinstance(secrets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise SecretsError("secrets.enc: the secrets are not a name → text object")
    return secrets
