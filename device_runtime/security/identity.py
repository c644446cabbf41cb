"""The device's own identity: a stable id, a private key and a self-signed certificate.

Created once, on the first start, in the runtime's data directory and loaded
from there on every later start. The certificate serves two roles:

* it is the TLS server certificate of the gRPC API. Devices are reached by IP
  address, so clients pin its SHA-256 fingerprint (published in the mDNS TXT
  record and in ``DeviceInfo``) and set ``grpc.ssl_target_name_override`` to
  :data:`TLS_SERVER_NAME`, which is in the certificate's subjectAltName;
* it is a CA (``CA:TRUE, pathlen:0``) that signs the client certificates
  handed out at pairing, so the gRPC server verifies clients against exactly
  this one certificate.

gRPC's TLS stack (BoringSSL) accepts such a self-signed CA certificate as the
server's leaf when the client trusts exactly that certificate; the tests in
``tests/device_runtime/security`` prove it with a real server and client.

Files in ``data_dir`` (the directory is created with mode 0700):

* ``device_identity.json``: ``{"device_id": "sl-..."}``
* ``device_key.pem``: the PKCS#8 EC P-256 private key, mode 0600
* ``device_cert.pem``: the certificate
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from device_runtime.errors import FailedPrecondition
from device_runtime.protocol.transport import (  # TLS_SERVER_NAME: in every device certificate
    TLS_SERVER_NAME,
    certificate_fingerprint,
)

log = logging.getLogger(__name__)

IDENTITY_FILE = "device_identity.json"
KEY_FILE = "device_key.pem"
CERT_FILE = "device_cert.pem"

# RFC 5280 4.1.2.5: "no well-defined expiration date". A device certificate
# that expires would lock every paired console out of an appliance nobody
# remembers to renew.
_NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
# Jetsons without an RTC or network time may boot with a clock far in the
# past; a fixed early start keeps the certificate valid for clients anyway.
_EPOCH_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


class IdentityError(FailedPrecondition):
    """The identity files in the data directory exist but cannot be used."""


@dataclass(frozen=True)
class DeviceIdentity:
    """The device's id, key and certificate, as loaded from or written to ``data_dir``.

    ``key_pem`` and ``cert_pem`` are PEM bytes, ready for
    ``grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=cert_pem)``.
    """

    device_id: str
    key_pem: bytes
    cert_pem: bytes
    fingerprint: str
    data_dir: Path

    @property
    def certificate(self) -> x509.Certificate:
        """The parsed device certificate (issuer of every paired client's certificate)."""
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The parsed device private key."""
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    @classmethod
    def load_or_create(cls, data_dir: Path, device_name: str) -> DeviceIdentity:
        """Load the identity from ``data_dir``, creating it there on first use.

        ``device_name`` is written into the certificate's organisational unit
        only when the certificate is created; later renames do not touch the
        certificate, so a rename never breaks a client's pin.

        Raises :class:`IdentityError` when some identity files exist but are
        unreadable, missing their partner, or do not belong together; the
        message names the file. Deleting all three files gives the device a
        new identity (every console then has to pair again).
        """
        data_dir = Path(data_dir)
        _ensure_private_dir(data_dir)
        id_path, key_path, cert_path = (
            data_dir / IDENTITY_FILE,
            data_dir / KEY_FILE,
            data_dir / CERT_FILE,
        )
        present = [p for p in (id_path, key_path, cert_path) if p.exists()]
        if not present:
            return cls._create(data_dir, device_name)
        if len(present) != 3:
            missing = sorted(p.name for p in (id_path, key_path, cert_path) if p not in present)
            raise IdentityError(
                f"device identity in {data_dir} is incomplete: {', '.join(missing)} missing "
                f"while {', '.join(sorted(p.name for p in present))} exist; restore the "
                "missing files from a backup, or delete all three to create a new identity "
                "(every console will then have to pair again)"
            )
        return cls._load(data_dir)

    @classmethod
    def _load(cls, data_dir: Path) -> DeviceIdentity:
        id_path, key_path, cert_path = (
            data_dir / IDENTITY_FILE,
            data_dir / KEY_FILE,
            data_dir / CERT_FILE,
        )
        try:
            device_id = json.loads(id_path.read_text(encoding="utf-8"))["device_id"]
            if not isinstance(device_id, str) or not device_id:
                raise ValueError("device_id is not a non-empty string")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IdentityError(
                f"{id_path} is not a JSON object with a string field 'device_id': {exc}"
            ) from exc
        _tighten_key_mode(key_path)
        key_pem = key_path.read_bytes()
        cert_pem = cert_path.read_bytes()
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise IdentityError(f"{key_path} is not an unencrypted PEM private key: {exc}") from exc
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise IdentityError(f"{cert_path} is not a PEM certificate: {exc}") from exc
        if cert.public_key() != key.public_key():
            raise IdentityError(
                f"{cert_path} does not belong to the key in {key_path}; "
                "restore the matching pair from a backup"
            )
        return cls(
            device_id=device_id,
            key_pem=key_pem,
            cert_pem=cert_pem,
            fingerprint=certificate_fingerprint(cert_pem),
            data_dir=data_dir,
        )

    @classmethod
    def _create(cls, data_dir: Path, device_name: str) -> DeviceIdentity:
        device_id = "sl-" + secrets.token_hex(6)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _self_signed_certificate(key, device_id, device_name)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        # Key and certificate first, the id file last: the id file's presence
        # is what marks the identity complete if we are interrupted.
        write_atomically(data_dir / KEY_FILE, key_pem, mode=0o600)
        write_atomically(data_dir / CERT_FILE, cert_pem, mode=0o644)
        write_atomically(
            data_dir / IDENTITY_FILE,
            (json.dumps({"device_id": device_id}, indent=2) + "\n").encode(),
            mode=0o644,
        )
        identity = cls(
            device_id=device_id,
            key_pem=key_pem,
            cert_pem=cert_pem,
            fingerprint=certificate_fingerprint(cert_pem),
            data_dir=data_dir,
        )
        log.info(
            "created device identity %s in %s (certificate fingerprint %s)",
            device_id,
            data_dir,
            identity.fingerprint,
        )
        return identity


def _self_signed_certificate(
    key: ec.EllipticCurvePrivateKey, device_id: str, device_name: str
) -> x509.Certificate:
    name_attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, f"Sightline device {device_id}"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sightline"),
    ]
    if device_name.strip():
        # X.509 caps the OU at 64 characters.
        name_attrs.append(
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, device_name.strip()[:64])
        )
    subject = x509.Name(name_attrs)
    now = dt.datetime.now(dt.timezone.utc)
    not_before = min(now - dt.timedelta(days=1), _EPOCH_START)
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(_NO_EXPIRY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # OpenSSL/BoringSSL also check a CA's EKU against the purpose of the
        # chain it anchors, so both roles are listed: serving TLS, and being
        # the issuer of the client certificates (clientAuth).
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(TLS_SERVER_NAME), x509.DNSName(device_id)]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half.

    The temporary file is created with ``mode`` from the start, so a private
    key is never readable by others, not even for a moment.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have removed bits we asked for
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _ensure_private_dir(data_dir: Path) -> None:
    if not data_dir.exists():
        data_dir.mkdir(mode=0o700, parents=True)
        os.chmod(data_dir, 0o700)  # mkdir's mode is filtered by the umask
    elif not data_dir.is_dir():
        raise IdentityError(f"data directory {data_dir} exists but is not a directory")


def _tighten_key_mode(key_path: Path) -> None:
    # A key restored from a backup or copied by hand may have become readable
    # by others; fix it rather than refuse to start, and say so.
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s had mode %o (readable by others); setting it to 600", key_path, mode)
        os.chmod(key_path, 0o600)


def _as_bytes(pem: bytes | str) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem
