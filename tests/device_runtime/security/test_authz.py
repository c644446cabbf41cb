"""Pairing enforced over a real gRPC server and client with mutual TLS on 127.0.0.1."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from console_app.core.gateways.device_tls import (
    CHANNEL_OPTIONS,
    certificate_fingerprint,
    channel_credentials,
    new_client_key_and_csr,
)
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from device_runtime.security.authz import UNPAIRED_MESSAGE, peer_certificate
from device_runtime.security.identity import DeviceIdentity
from tests.peers.tls_device import TlsDevice

CALL_TIMEOUT_S = 5


@pytest.fixture
def device(tmp_path):
    with TlsDevice(tmp_path / "device") as running:
        yield running


def stub_for(
    device: TlsDevice, key_pem=None, cert_pem=None
) -> tuple[grpc.Channel, pb_grpc.DeviceStub]:
    channel = grpc.secure_channel(
        f"127.0.0.1:{device.port}",
        channel_credentials(device.identity.cert_pem, key_pem, cert_pem),
        options=list(CHANNEL_OPTIONS),
    )
    return channel, pb_grpc.DeviceStub(channel)


def pair_client(device: TlsDevice, name: str = "console") -> tuple[str, str]:
    """Pair through the real Pair call, as the console does; returns (key, cert) PEMs."""
    key_pem, csr_pem = new_client_key_and_csr(name)
    channel, stub = stub_for(device)
    with channel:
        reply = stub.Pair(
            pb.PairRequest(code=device.pairing.current_code(), client_name=name, csr_pem=csr_pem),
            timeout=CALL_TIMEOUT_S,
        )
    assert reply.device_id == device.identity.device_id
    assert certificate_fingerprint(reply.device_cert_pem) == device.identity.fingerprint
    return key_pem, reply.client_cert_pem


def test_unpaired_client_can_get_info_but_gated_calls_are_unauthenticated(device):
    channel, stub = stub_for(device)
    with channel:
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)

    assert info.device_id == device.identity.device_id
    assert info.cert_fingerprint == device.identity.fingerprint
    assert info.caller_paired is False
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == UNPAIRED_MESSAGE


def test_paired_client_is_recognised_inside_the_servicer(device):
    key_pem, cert_pem = pair_client(device)

    channel, stub = stub_for(device, key_pem, cert_pem)
    with channel:
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)
        stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)

    assert info.caller_paired is True
    assert device.seen[-2:] == [("GetInfo", True), ("ListApps", True)]


def test_wrong_pairing_code_over_grpc_is_permission_denied(device):
    _key, csr_pem = new_client_key_and_csr("console")
    right = device.pairing.current_code()
    wrong = ("9" if right[0] != "9" else "1") + right[1:]
    channel, stub = stub_for(device)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.Pair(
            pb.PairRequest(code=wrong, client_name="c", csr_pem=csr_pem), timeout=CALL_TIMEOUT_S
        )

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "pairing code is wrong" in caught.value.details()


def test_revoked_client_is_unauthenticated_on_its_next_call(device):
    key_pem, cert_pem = pair_client(device)
    channel, stub = stub_for(device, key_pem, cert_pem)
    with channel:
        stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)
        device.pairing.revoke(certificate_fingerprint(cert_pem))
        # Same open connection: trust is decided per call, not per handshake.
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListApps(pb.ListAppsRequest(), timeout=CALL_TIMEOUT_S)
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert info.caller_paired is False


def test_client_certificate_from_another_devices_ca_is_rejected_at_the_handshake(tmp_path, device):
    with TlsDevice(tmp_path / "other") as other:
        key_pem, foreign_cert = pair_client(other)

    channel, stub = stub_for(device, key_pem, foreign_cert)
    with channel, pytest.raises(grpc.RpcError) as caught:
        stub.GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert device.seen == [], "the servicer must never run for a foreign certificate"


def test_client_presenting_no_certificate_fails_the_handshake(device):
    channel = grpc.secure_channel(
        f"127.0.0.1:{device.port}",
        grpc.ssl_channel_credentials(root_certificates=device.identity.cert_pem),
        options=list(CHANNEL_OPTIONS),
    )
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.DeviceStub(channel).GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_client_pinned_to_another_device_certificate_refuses_this_device(tmp_path, device):
    other_identity = DeviceIdentity.load_or_create(tmp_path / "other", "other")
    channel = grpc.secure_channel(
        f"127.0.0.1:{device.port}",
        channel_credentials(other_identity.cert_pem),
        options=list(CHANNEL_OPTIONS),
    )
    with channel, pytest.raises(grpc.RpcError) as caught:
        pb_grpc.DeviceStub(channel).GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert device.seen == []


class _RecordingServicer(pb_grpc.DeviceServicer):
    def __init__(self) -> None:
        self.peer_certificates: list[bytes | None] = []

    def GetInfo(self, request, context):
        self.peer_certificates.append(peer_certificate(context))
        return pb.DeviceInfo()


def test_grpc_server_that_does_not_require_client_auth_never_sees_client_certificates(
    tmp_path, device
):
    """Why the device requires client certificates and publishes a guest one.

    grpcio's ``require_client_auth=False`` means "never ask", so a paired
    client's certificate would never reach the servicer. If a grpcio release
    changes that, this test fails and the guest certificate can go.
    """
    key_pem, cert_pem = pair_client(device)
    servicer = _RecordingServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    pb_grpc.add_DeviceServicer_to_server(servicer, server)
    port = server.add_secure_port(
        "127.0.0.1:0",
        grpc.ssl_server_credentials(
            [(device.identity.key_pem, device.identity.cert_pem)],
            root_certificates=device.identity.cert_pem,
            require_client_auth=False,
        ),
    )
    server.start()
    try:
        channel = grpc.secure_channel(
            f"127.0.0.1:{port}",
            channel_credentials(device.identity.cert_pem, key_pem, cert_pem),
            options=list(CHANNEL_OPTIONS),
        )
        with channel:
            pb_grpc.DeviceStub(channel).GetInfo(pb.GetInfoRequest(), timeout=CALL_TIMEOUT_S)
    finally:
        server.stop(grace=None).wait(timeout=5)

    assert servicer.peer_certificates == [None]
