"""Console side of the device's TLS: first contact, fingerprint pinning, pairing keys.

Devices serve their API over mutual TLS with a self-signed certificate and are
reached by IP address. The console therefore:

1. fetches the certificate the device presents (:func:`fetch_device_certificate`)
   and compares its SHA-256 fingerprint with the one it learnt from mDNS or
   pinned at pairing;
2. builds channel credentials that trust exactly that certificate and
   override the TLS target name to ``sightline-device`` (the name every device
   certificate carries), so later reconnects to a different certificate fail
   the handshake as well;
3. presents its paired client certificate, or, before pairing, the public
   guest certificate (``device_runtime.protocol.transport``), which lets it
   call only ``GetInfo`` and ``Pair``.

Why the guest certificate exists is explained in
``device_runtime/security/tls.py``: grpcio's Python server can either never
ask for a client certificate or require one, so the device requires one and
accepts this public one for the two open calls.

No Qt here; everything blocks and is meant for a worker thread or executor.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from device_runtime.protocol.transport import (
    GUEST_CLIENT_CERT_PEM,
    GUEST_CLIENT_KEY_PEM,
    MAX_MESSAGE_BYTES,
    TLS_SERVER_NAME,
    certificate_fingerprint,
    normalize_fingerprint,
)

#: Options for every channel to a device: the TLS name override, and message
#: limits large enough for full-size snapshots and upload chunks.
CHANNEL_OPTIONS: tuple[tuple[str, object], ...] = (
    ("grpc.ssl_target_name_override", TLS_SERVER_NAME),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Keep HTTP/2's receive window at its default instead of letting it grow to
    # megabytes: a viewer that falls behind then holds back the device after a
    # frame or two, and the device skips to the newest frame instead of queueing.
    ("grpc.http2.bdp_probe", 0),
)

class DeviceTlsError(Exception):
    """Base class of the console's TLS errors with devices."""


class DeviceUnreachable(DeviceTlsError):
    """No TLS handshake with the device was possible (down, wrong port, not a Sightline device)."""


class FingerprintMismatch(DeviceTlsError):
    """The device presented a certificate other than the one this console pinned."""

    def __init__(self, host: str, port: int, presented: str, pinned: str) -> None:
        self.host, self.port, self.presented, self.pinned = host, port, presented, pinned
        super().__init__(
            f"device at {_hostport(host, port)} presented certificate {presented}, but this "
            f"console paired with {pinned}; refusing to connect. If the device was reinstalled, "
            "remove and re-pair it."
        )


def fetch_device_certificate(host: str, port: int, timeout: float = 5.0) -> str:
    """PEM of the certificate the server at ``host:port`` presents, without verifying it.

    For first contact and for comparing with a pinned fingerprint; never
    trust the result without that comparison. The handshake offers ALPN
    ``h2`` and the guest client certificate, as a gRPC client would.
    Raises :class:`DeviceUnreachable` with the reason.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    _load_guest_into(context)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=TLS_SERVER_NAME) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise DeviceUnreachable(f"no TLS handshake with {_hostport(host, port)}: {exc}") from exc
    if not der:
        raise DeviceUnreachable(f"{_hostport(host, port)} presented no certificate")
    return ssl.DER_cert_to_PEM_cert(der)


def new_client_key_and_csr(client_name: str) -> tuple[str, str]:
    """A fresh EC P-256 key and a CSR for it, both PEM text, for ``PairRequest``.

    Keep the key (it never leaves the console); the device answers the CSR
    with the client certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = client_name.strip()[:64] or "Sightline console"
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem.decode("ascii"), csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def channel_credentials(
    device_cert_pem: str | bytes,
    client_key_pem: str | bytes | None = None,
    client_cert_pem: str | bytes | None = None,
) -> grpc.ChannelCredentials:
    """Credentials that trust exactly ``device_cert_pem`` and present a client certificate.

    Without a client key and certificate the public guest credential is
    presented (enough for GetInfo and Pair). Giving only one of the two is a
    ``ValueError``.
    """
    if (client_key_pem is None) != (client_cert_pem is None):
        raise ValueError(
            "client_key_pem and client_cert_pem go together: give both (paired) or neither (guest)"
        )
    if client_key_pem is None or client_cert_pem is None:
        key, cert = GUEST_CLIENT_KEY_PEM, GUEST_CLIENT_CERT_PEM
    else:
        key, cert = _as_bytes(client_key_pem), _as_bytes(client_cert_pem)
    return grpc.ssl_channel_credentials(
        root_certificates=_as_bytes(device_cert_pem),
        private_key=key,
        certificate_chain=cert,
    )


def secure_channel(
    host: str,
    port: int,
    pinned_fingerprint: str,
    client_key_pem: str | bytes | None = None,
    client_cert_pem: str | bytes | None = None,
    timeout: float = 5.0,
) -> grpc.Channel:
    """A channel to the device whose certificate has ``pinned_fingerprint``.

    Fetches the presented certificate, raises :class:`FingerprintMismatch`
    when it is not the pinned one, and otherwise returns a channel that
    trusts only that certificate. Leave the client key and certificate out
    before pairing (the guest credential is used).
    """
    presented_pem = fetch_device_certificate(host, port, timeout=timeout)
    presented = certificate_fingerprint(presented_pem)
    pinned = normalize_fingerprint(pinned_fingerprint)
    if presented != pinned:
        raise FingerprintMismatch(host, port, presented, pinned)
    return grpc.secure_channel(
        _hostport(host, port),
        channel_credentials(presented_pem, client_key_pem, client_cert_pem),
        options=list(CHANNEL_OPTIONS),
    )


def _load_guest_into(context: ssl.SSLContext) -> None:
    # ssl can only load a key pair from files; the guest key is public, so a
    # temporary file is harmless.
    with tempfile.TemporaryDirectory(prefix="sightline-guest-") as tmp:
        path = Path(tmp) / "guest.pem"
        path.write_bytes(GUEST_CLIENT_KEY_PEM + GUEST_CLIENT_CERT_PEM)
        context.load_cert_chain(path)


def _hostport(host: str, port: int) -> str:
    # IPv6 literals need brackets in gRPC targets and in messages.
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _as_bytes(pem: str | bytes) -> bytes:
    return pem.encode("ascii") if isinstance(pem, str) else pem
