"""Per-call authorisation for the gRPC servicers: "is the caller a paired client?".

The server runs with :func:`device_runtime.security.tls.server_credentials`,
so every connection has passed mutual TLS with either a certificate this
device issued or the public guest certificate. These helpers read the
verified certificate from the call's auth context and ask the
:class:`~device_runtime.security.pairing.PairingManager` about it.
"""

from __future__ import annotations

from typing import Any

from device_runtime.errors import Unauthenticated
from device_runtime.security.pairing import PairingManager

#: The auth-context key under which gRPC puts the client's verified certificate.
PEER_CERT_KEY = "x509_pem_cert"

#: Full method names that need no pairing; every other call does.
OPEN_METHODS = frozenset(
    {
        "/sightline.device.v1.Device/GetInfo",
        "/sightline.device.v1.Device/Pair",
    }
)

UNPAIRED_MESSAGE = "this call needs a paired client; pair first with the code the device printed"


def peer_certificate(context: Any) -> bytes | None:
    """PEM of the client certificate gRPC verified for this call, or ``None``.

    ``context`` is a ``grpc.ServicerContext`` (sync or aio).
    """
    values = context.auth_context().get(PEER_CERT_KEY)
    return values[0] if values else None


def is_paired(context: Any, pairing: PairingManager) -> bool:
    """Whether the caller presented a certificate this device issued and still trusts.

    For ``DeviceInfo.caller_paired``.
    """
    return pairing.is_trusted(peer_certificate(context))


def require_paired(context: Any, pairing: PairingManager) -> None:
    """Raise :class:`~device_runtime.errors.Unauthenticated` unless the caller is paired."""
    if not is_paired(context, pairing):
        raise Unauthenticated(UNPAIRED_MESSAGE)
