"""A minimal real device API over TLS on 127.0.0.1: GetInfo, Pair and one gated call.

Built from the production security parts (identity, pairing, server
credentials, authz) and the generated gRPC code, so tests of the security
layer and of console gateways talk to the same TLS and pairing behaviour the
runtime serves. ``ListApps`` stands in for every call that needs a paired
client: it answers an empty list to paired callers and UNAUTHENTICATED to
everyone else. ``GetInfo`` also records the trust decision it made, so tests
can assert what the servicer saw.
"""

from __future__ import annotations

from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from device_runtime.errors import SightlineError
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from device_runtime.security import (
    DeviceIdentity,
    PairingManager,
    is_paired,
    require_paired,
    server_credentials,
)


@dataclass
class _Servicer(pb_grpc.DeviceServicer):
    identity: DeviceIdentity
    pairing: PairingManager
    name: str
    # (method, caller_paired) for every call served, in order.
    seen: list[tuple[str, bool]] = field(default_factory=list)

    def GetInfo(self, request, context):
        paired = is_paired(context, self.pairing)
        self.seen.append(("GetInfo", paired))
        return pb.DeviceInfo(
            device_id=self.identity.device_id,
            name=self.name,
            api_version="v1",
            cert_fingerprint=self.identity.fingerprint,
            caller_paired=paired,
        )

    def Pair(self, request, context):
        try:
            cert = self.pairing.pair(
                request.code, request.client_name, request.csr_pem, request.signing_public_key
            )
        except SightlineError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        self.seen.append(("Pair", False))
        return pb.PairResponse(
            client_cert_pem=cert,
            device_cert_pem=self.identity.cert_pem.decode("ascii"),
            device_id=self.identity.device_id,
        )

    def ListApps(self, request, context):
        try:
            require_paired(context, self.pairing)
        except SightlineError as exc:
            self.seen.append(("ListApps", False))
            context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        self.seen.append(("ListApps", True))
        return pb.ListAppsResponse()


class TlsDevice:
    """A started gRPC server on 127.0.0.1 with a fresh identity in ``data_dir``.

    Use as a context manager; ``port``, ``identity``, ``pairing`` and
    ``seen`` are available while it runs.
    """

    def __init__(self, data_dir: Path, name: str = "test device") -> None:
        self.identity = DeviceIdentity.load_or_create(data_dir, name)
        self.pairing = PairingManager(data_dir, self.identity)
        self._servicer = _Servicer(self.identity, self.pairing, name)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        pb_grpc.add_DeviceServicer_to_server(self._servicer, self._server)
        self.port = self._server.add_secure_port("127.0.0.1:0", server_credentials(self.identity))

    @property
    def seen(self) -> list[tuple[str, bool]]:
        return self._servicer.seen

    def __enter__(self) -> TlsDevice:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop(grace=None).wait(timeout=5)
