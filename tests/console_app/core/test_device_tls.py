"""Console TLS helpers against a real device API server over TLS on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from console_app.core.gateways.device_tls import (
    CHANNEL_OPTIONS,
    DeviceUnreachable,
    FingerprintMismatch,
    certificate_fingerprint,
    channel_credentials,
    fetch_device_certificate,
    new_client_key_and_csr,
    secure_channel,
)
from device_runtime.protocol.transport import GUEST_CLIENT_CERT_PEM, GUEST_CLIENT_KEY_PEM
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from tests.peers.tls_device import TlsDevice

CALL_TIMEOUT_S = 5


@pytest.fixture
def device(tmp_path):
    with TlsDevice(tmp_path / "device") as running:
        yield running


def test_fetch_device_certificate_returns_what_the_device_presents(device):
    pem = fetch_device_certificate("127.0.0.1", device.port, timeout=5)

    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    assert certificate_fingerprint(pem) == device.identity.fingerprint


def test_fetching_from_a_port_nobody_listens_on_is_device_unreachable():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        free_port = placeholder.getsockname()[1]

    with pytest.raises(DeviceUnreachable, match=rf"no TLS handshake with 127\.0\.0\.1:{free_port}"):
        fetch_device_certificate("127.0.0.1", free_port, timeout=2)


def test_fetching_from_a_server_that_is_not_tls_is_device_unreachable():
    """A plain TCP listener answering HTTP stands in for a non-Sightline service."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(5)
        port = listener.getsockname()[1]

        def answer_http_and_close():
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        server = threading.Thread(target=answer_http_and_close, daemon=True)
        server.start()
        with pytest.raises(DeviceUnreachable, match="no TLS handshake"):
            fetch_device_certificate("127.0.0.1", port, timeout=5)
        server.join(timeout=5)


def test_secure_channel_refuses_a_device_whose_certificate_differs_from_the_pin(device):
    pinned = "cd34" + "0" * 60

    with pytest.raises(FingerprintMismatch) as caught:
        secure_channel("127.0.0.1", device.port, pinned)

    message = str(caught.value)
    assert (
        f"device at 127.0.0.1:{device.port} presented certificate {device.identity.fingerprint}"
        in message
    )
    assert f"but this console paired with {pinned}; refusing to connect" in message
    assert "remove and re-pair it" in message
    assert caught.value.presented == device.identity.fingerprint


def test_pin_with_colons_and_capitals_is_accepted(device):
    fingerprint = device.identity.fingerprint.upper()
    pin = ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2))

    with secure_channel("127.0.0.1", device.port, pin) as channel:
        info = pb_grpc.DeviceStub(channel).GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert info.device_id == device.identity.device_id


def test_console_pairs_through_a_pinned_channel_then_calls_as_a_paired_client(device):
    key_pem, csr_pem = new_client_key_and_csr("Control room PC")
    fingerprint = device.identity.fingerprint

    with secure_channel("127.0.0.1", device.port, fingerprint) as channel:
        stub = pb_grpc.DeviceStub(channel)
        reply = stub.Pair(
            pb.PairRequest(
                code=device.pairing.current_code(), client_name="Control room PC", csr_pem=csr_pem
            ),
            timeout=CALL_TIMEOUT_S,
        )
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with secure_channel(
        "127.0.0.1", device.port, fingerprint, key_pem, reply.client_cert_pem
    ) as channel:
        stub = pb_grpc.DeviceStub(channel)
        stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert info.caller_paired is True
    assert [c.name for c in device.pairing.trusted_clients()] == ["Control room PC"]


def test_new_client_csr_carries_the_name_and_a_p256_key():
    key_pem, csr_pem = new_client_key_and_csr("Anna")

    csr = x509.load_pem_x509_csr(csr_pem.encode())
    key = load_pem_private_key(key_pem.encode(), password=None)
    assert csr.is_signature_valid
    assert csr.public_key() == key.public_key()
    assert csr.subject.rfc4514_string() == "CN=Anna"


def test_channel_credentials_need_client_key_and_certificate_together(device):
    with pytest.raises(ValueError, match="give both"):
        channel_credentials(device.identity.cert_pem, client_key_pem="key only")


def test_guest_key_belongs_to_the_guest_certificate_and_cannot_sign_certificates():
    key = load_pem_private_key(GUEST_CLIENT_KEY_PEM, password=None)
    cert = x509.load_pem_x509_certificate(GUEST_CLIENT_CERT_PEM)
    assert key.public_key() == cert.public_key()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_channel_options_override_the_tls_name_to_the_device_certificate_name():
    assert ("grpc.ssl_target_name_override", "sightline-device") in CHANNEL_OPTIONS
