"""Pairing: exchanging a one-time code for a client certificate the device trusts.

On every start the device makes a new code of 8 random digits, shown as
``1234-5678``; the runtime prints it (see :meth:`PairingManager.banner`). A
client that sends the code with a certificate signing request (CSR) receives a
client certificate signed by the device key; from then on it presents that
certificate on every call and :meth:`PairingManager.is_trusted` recognises it.

Rules, in the order :meth:`PairingManager.pair` applies them:

1. Lockout. After :data:`MAX_WRONG_CODES` consecutive wrong codes the code is
   replaced by a new one and every attempt is refused for a lockout period:
   30 s after the first lockout, doubling with each further one, capped at one
   hour. Only a successful pairing resets the doubling. An attacker thus gets
   5 guesses at a 1-in-10^8 code per lockout period.
2. The code, compared in constant time. Spaces and dashes are ignored, so
   ``12345678`` and ``1234 5678`` also match ``1234-5678``.
3. The CSR: a valid PEM PKCS#10 request whose signature verifies, for an EC
   P-256/P-384 or RSA >= 2048-bit key. A bad CSR with the right code does
   not use the code up.
4. The signing key, when sent: a raw 32-byte Ed25519 public key (see
   :mod:`device_runtime.security.package_signing`). A bad key with the right
   code does not use the code up either.
5. Success uses the code up: a new one is made at once and handed to the
   ``on_code_changed`` callback so the runtime can print it.

A console named by a provisioning bundle (:mod:`device_runtime.security.preauth`)
may send its one-time secret instead of the code, with the signing key the
bundle named: no lockout applies to it (256 random bits), it works once, and
the printed code stays as it was.

Paired clients are recorded in ``data_dir/trusted_clients.json`` (written
atomically), each with its package signing key; :meth:`PairingManager.revoke`
removes one, after which its certificate is refused on the next call and
packages signed with its key are refused on the next deploy.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from device_runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from device_runtime.security.identity import DeviceIdentity, write_atomically
from device_runtime.security.package_signing import (
    InvalidSigningKey,
    key_fingerprint,
    load_signing_key,
)
from device_runtime.security.preauth import PreauthorizedConsoles

log = logging.getLogger(__name__)

TRUSTED_CLIENTS_FILE = "trusted_clients.json"
MAX_WRONG_CODES = 5
FIRST_LOCKOUT_S = 30.0
MAX_LOCKOUT_S = 3600.0
CLIENT_CERT_VALIDITY = dt.timedelta(days=5 * 365)
MAX_CLIENT_NAME_CHARS = 64

# A device clock earlier than this is certainly wrong (a Jetson without RTC
# booting offline). Client certificates then still get a useful expiry.
_CLOCK_FLOOR = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


class WrongPairingCode(PermissionDenied):
    """The pairing code sent does not match the one the device shows."""


class PairingLockedOut(ResourceExhausted):
    """Too many wrong codes; pairing is refused until the lockout ends."""


class InvalidCsr(InvalidArgument):
    """The certificate signing request is malformed, badly signed or uses a weak key."""


class TrustStoreError(FailedPrecondition):
    """``trusted_clients.json`` exists but cannot be read."""


@dataclass(frozen=True)
class TrustedClient:
    """A client this device paired with. ``paired_at`` is ISO 8601 UTC.

    ``signing_public_key`` is the hex of the client's raw Ed25519 package
    signing key; empty for a client that sent none (paired before packages
    were signed), whose packages the device then cannot verify.
    """

    fingerprint: str
    name: str
    paired_at: str
    serial: str
    expires_at: str
    signing_public_key: str = ""


class PairingManager:
    """Issues client certificates for the one-time code and answers "is this client paired?".

    Thread-safe: gRPC calls ``pair`` and ``is_trusted`` from its worker
    threads. ``clock`` (monotonic seconds) is a parameter so tests can move
    time forward without sleeping. ``on_code_changed(new_code)`` is called,
    outside the internal lock, whenever the code is replaced after a
    successful pairing or a lockout; the initial code is read with
    :meth:`current_code`.
    """

    def __init__(
        self,
        data_dir: Path,
        identity: DeviceIdentity,
        *,
        on_code_changed: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = Path(data_dir) / TRUSTED_CLIENTS_FILE
        self._identity = identity
        self._device_cert = identity.certificate
        self._device_key = identity.private_key
        self._on_code_changed = on_code_changed
        self._clock = clock
        self._lock = threading.Lock()
        self._code = _new_code()
        self._wrong_codes = 0
        self._lockouts = 0
        self._locked_until = 0.0
        self._clients: dict[str, TrustedClient] = self._load()
        # Consoles a provisioning bundle named: they pair with a one-time secret instead of the code.
        self.preauthorized = PreauthorizedConsoles(data_dir)
        # Fingerprints whose signature by the device key has been checked;
        # spares a signature verification on every call.
        self._verified: set[str] = set()

    # ------------------------------------------------------------------ code

    def current_code(self) -> str:
        """The code a client must send now, formatted ``1234-5678``."""
        with self._lock:
            return self._code

    def banner(self, device_name: str = "", address: str = "<this device's address>:<port>") -> str:
        """A few lines for the console/log at start: device, address, fingerprint, code."""
        title = f'Sightline device "{device_name}"' if device_name else "Sightline device"
        return "\n".join(
            [
                f"{title} ({self._identity.device_id})",
                f"  address:      {address}",
                f"  fingerprint:  {self._identity.fingerprint}",
                f"  pairing code: {self.current_code()}  (works once; a new code follows each pairing)",
            ]
        )

    # --------------------------------------------------------------- pairing

    def pair(self, code: str, client_name: str, csr_pem: bytes | str,
             signing_public_key: bytes = b"") -> str:
        """Check ``code``, issue a client certificate for the CSR's key, record the client.

        ``signing_public_key``: the client's raw Ed25519 package signing key,
        trusted for package signatures while the client stays paired.

        Returns the client certificate as PEM text. Raises
        :class:`PairingLockedOut`, :class:`WrongPairingCode`,
        :class:`InvalidCsr` or ``InvalidSigningKey`` (see the module
        docstring for the rules).
        """
        new_code = None
        # A provisioned console's secret is 256 random bits: no lockout needed, and none applies, so
        # a stranger hammering wrong codes cannot keep the site's console out.
        preauth = self.preauthorized.find(code, signing_public_key) if len(code.strip()) >= 32 else None
        try:
            with self._lock:
                now = self._clock()
                if preauth is None and now < self._locked_until:
                    raise PairingLockedOut(
                        f"pairing is locked for {self._locked_until - now:.0f} s more after "
                        f"{MAX_WRONG_CODES} wrong codes; wait, then use the code the device "
                        "shows now (it was replaced)"
                    )
                if preauth is None and not _codes_match(code, self._code):
                    self._wrong_codes += 1
                    left = MAX_WRONG_CODES - self._wrong_codes
                    if left <= 0:
                        new_code = self._start_lockout(now)
                        raise WrongPairingCode(
                            f"pairing code is wrong; that was the {MAX_WRONG_CODES}th wrong code, "
                            f"so the device replaced its code and refuses pairing for "
                            f"{self._locked_until - now:.0f} s"
                        )
                    raise WrongPairingCode(
                        f"pairing code is wrong; {left} more wrong code(s) lock pairing. "
                        "Use the code the device printed at start or after the last pairing"
                    )
                csr = _load_csr(csr_pem)
                if signing_public_key:
                    load_signing_key(signing_public_key)
                name = sanitize_client_name(client_name)
                cert = self._issue(csr, name)
                fingerprint = hashlib.sha256(
                    cert.public_bytes(serialization.Encoding.DER)
                ).hexdigest()
                client = TrustedClient(
                    fingerprint=fingerprint,
                    name=name,
                    paired_at=_utc_now().isoformat(timespec="seconds"),
                    serial=format(cert.serial_number, "x"),
                    expires_at=_not_after(cert).isoformat(timespec="seconds"),
                    signing_public_key=bytes(signing_public_key).hex(),
                )
                clients = dict(self._clients)
                clients[fingerprint] = client
                self._save(clients)
                self._clients = clients
                self._verified.add(fingerprint)
                self._wrong_codes = 0
                self._lockouts = 0
                if preauth is not None:
                    self.preauthorized.mark_used(preauth.secret_sha256)
                else:
                    self._code = new_code = _new_code()
                log.info(
                    "paired client %r%s (certificate %s, package signing key %s)",
                    name,
                    f" pre-authorised by provisioning bundle {preauth.bundle_id}" if preauth else "",
                    fingerprint,
                    key_fingerprint(signing_public_key) if signing_public_key else "none",
                )
                return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        finally:
            if new_code is not None and self._on_code_changed is not None:
                self._on_code_changed(new_code)

    def _start_lockout(self, now: float) -> str:
        self._lockouts += 1
        self._wrong_codes = 0
        delay = min(FIRST_LOCKOUT_S * 2 ** (self._lockouts - 1), MAX_LOCKOUT_S)
        self._locked_until = now + delay
        self._code = _new_code()
        log.warning(
            "%d wrong pairing codes: code replaced, pairing locked for %.0f s",
            MAX_WRONG_CODES,
            delay,
        )
        return self._code

    def _issue(self, csr: x509.CertificateSigningRequest, name: str) -> x509.Certificate:
        now = _utc_now()
        device_ski = self._device_cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        return (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COMMON_NAME, name),
                        x509.NameAttribute(
                            NameOID.ORGANIZATION_NAME,
                            f"Sightline client of {self._identity.device_id}",
                        ),
                    ]
                )
            )
            .issuer_name(self._device_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now - dt.timedelta(days=1), _NOT_BEFORE))
            .not_valid_after(max(now, _CLOCK_FLOOR) + CLIENT_CERT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(device_ski),
                critical=False,
            )
            .sign(self._device_key, hashes.SHA256())
        )

    # ----------------------------------------------------------------- trust

    def is_trusted(self, peer_cert_pem: bytes | str | None) -> bool:
        """True when the certificate was issued by this device and its client is still paired.

        Accepts what :func:`device_runtime.security.authz.peer_certificate`
        returns (``None`` and the public guest certificate give ``False``).
        """
        if not peer_cert_pem:
            return False
        der = _pem_to_der(peer_cert_pem)
        if der is None:
            return False
        fingerprint = hashlib.sha256(der).hexdigest()
        with self._lock:
            if fingerprint not in self._clients:
                return False
            if fingerprint in self._verified:
                return True
        # Defence in depth for a hand-edited trusted_clients.json: the
        # fingerprint alone names a certificate; the signature proves we made it.
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.verify_directly_issued_by(self._device_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        with self._lock:
            self._verified.add(fingerprint)
            return fingerprint in self._clients

    def client_for(self, peer_cert_pem: bytes | str | None) -> TrustedClient | None:
        """The paired client that presented this certificate, or ``None`` (guest, revoked, foreign)."""
        if not self.is_trusted(peer_cert_pem):
            return None
        der = _pem_to_der(peer_cert_pem)  # type: ignore[arg-type]
        fingerprint = hashlib.sha256(der).hexdigest() if der else ""
        with self._lock:
            return self._clients.get(fingerprint)

    def trusted_clients(self) -> list[TrustedClient]:
        """Every paired client, oldest pairing first."""
        with self._lock:
            return sorted(self._clients.values(), key=lambda c: c.paired_at)

    def signing_keys(self) -> list[bytes]:
        """The raw package signing keys of every paired client (each once).

        Read on every deploy, so a revoked client's key stops verifying at once.
        """
        with self._lock:
            hexes = [c.signing_public_key for c in self._clients.values() if c.signing_public_key]
        return [bytes.fromhex(h) for h in dict.fromkeys(hexes)]

    def revoke(self, fingerprint: str) -> TrustedClient:
        """Unpair the client whose certificate has this fingerprint; returns its record.

        Accepts the fingerprint with or without colons, in either case.
        Raises :class:`NotFound` when no paired client has it.
        """
        wanted = normalize_fingerprint(fingerprint)
        with self._lock:
            if wanted not in self._clients:
                raise NotFound(
                    f"no paired client has certificate fingerprint {wanted!r}; "
                    f"{len(self._clients)} client(s) are paired"
                )
            clients = dict(self._clients)
            removed = clients.pop(wanted)
            self._save(clients)
            self._clients = clients
            self._verified.discard(wanted)
        log.info("revoked client %r (certificate %s)", removed.name, wanted)
        return removed

    # ----------------------------------------------------------- persistence

    def _load(self) -> dict[str, TrustedClient]:
        if not self._path.exists():
            return {}
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
            entries = doc["clients"]
            clients = [TrustedClient(**entry) for entry in entries]
            for client in clients:
                if client.signing_public_key:
                    load_signing_key(bytes.fromhex(client.signing_public_key), "signing_public_key")
        except (OSError, ValueError, KeyError, TypeError, InvalidSigningKey) as exc:
            raise TrustStoreError(
                f"{self._path} is not a trusted-clients file (expected "
                '{"version": 1, "clients": [{"fingerprint", "name", "paired_at", "serial", '
                f'"expires_at", "signing_public_key"}}, ...]}}): {exc}. Fix or delete it; '
                "deleting unpairs every client"
            ) from exc
        return {c.fingerprint: c for c in clients}

    def _save(self, clients: dict[str, TrustedClient]) -> None:
        doc = {
            "version": 1,
            "clients": [asdict(c) for c in sorted(clients.values(), key=lambda c: c.paired_at)],
        }
        write_atomically(self._path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def sanitize_client_name(name: str) -> str:
    """A client name fit for a certificate CN and a device's client list.

    Control and format characters are dropped, whitespace is collapsed, and
    the result is cut to 64 characters; an empty result becomes
    ``"unnamed client"``.
    """
    kept = "".join(
        ch if not unicodedata.category(ch).startswith(("C", "Z")) else " " for ch in name
    )
    cleaned = " ".join(kept.split())[:MAX_CLIENT_NAME_CHARS].strip()
    return cleaned or "unnamed client"


def normalize_fingerprint(fingerprint: str) -> str:
    """Lower-case hex without colons or spaces, the form used everywhere in Sightline."""
    return re.sub(r"[\s:]", "", fingerprint).lower()


def _new_code() -> str:
    digits = f"{secrets.randbelow(10**8):08d}"
    return f"{digits[:4]}-{digits[4:]}"


def _codes_match(given: str, expected: str) -> bool:
    def canonical(code: str) -> bytes:
        return re.sub(r"[\s-]", "", code or "").encode("utf-8", "replace")

    return hmac.compare_digest(canonical(given), canonical(expected))


def _load_csr(csr_pem: bytes | str) -> x509.CertificateSigningRequest:
    data = csr_pem.encode("utf-8", "replace") if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise InvalidCsr(
            f"csr_pem is not a PEM certificate signing request (PKCS#10): {exc}"
        ) from exc
    if not csr.is_signature_valid:
        raise InvalidCsr("csr_pem's signature does not verify with the public key it contains")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise InvalidCsr(
                f"csr_pem uses EC curve {key.curve.name}; expected secp256r1 (P-256) or secp384r1"
            )
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise InvalidCsr(
                f"csr_pem has a {key.key_size}-bit RSA key; expected 2048 bits or more"
            )
    else:
        raise InvalidCsr(
            f"csr_pem has a {type(key).__name__} key; expected EC P-256/P-384 or RSA >= 2048"
        )
    return csr


def _pem_to_der(pem: bytes | str) -> bytes | None:
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    match = _PEM_CERT.search(data)
    if match is None:
        return None
    try:
        return base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc
