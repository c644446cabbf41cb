"""TLS server credentials for the device API, and the public guest client certificate.

Why a guest certificate: grpcio's Python API offers exactly two client-
certificate modes, "never ask" (``require_client_auth=False``) and "ask,
require and verify" (``True``). With "never ask" the server never sees the
certificate a paired client holds, so ``context.auth_context()`` carries no
``x509_pem_cert`` and pairing could not be enforced. (C-core's middle mode,
"ask and verify if sent", is not reachable from Python.)

So the server requires a client certificate and verifies it against two
roots: the device certificate, which issues every paired client's
certificate, and the *public guest certificate*
(:data:`device_runtime.protocol.transport.GUEST_CLIENT_CERT_PEM`). Its private key ships
with every Sightline client (the same module), so
anyone can present it: it gets a client through the TLS handshake to call
``GetInfo`` and ``Pair``, and is never trusted for anything else, because
:meth:`PairingManager.is_trusted` accepts only certificates this device issued
and still lists. A client that presents no certificate at all fails the
handshake.

The guest certificate is self-signed with ``CA:FALSE``, so its public key
cannot be used to mint other certificates that would pass the handshake.
"""

from __future__ import annotations

import grpc

from device_runtime.protocol.transport import GUEST_CLIENT_CERT_PEM
from device_runtime.security.identity import DeviceIdentity

__all__ = ["GUEST_CLIENT_CERT_PEM", "server_credentials"]


def server_credentials(identity: DeviceIdentity) -> grpc.ServerCredentials:
    """Credentials for ``server.add_secure_port``: the device certificate, mutual TLS.

    Clients must present either a certificate this device issued at pairing
    or the public guest certificate; the servicer then decides per call with
    :func:`device_runtime.security.authz.require_paired`.
    """
    return grpc.ssl_server_credentials(
        [(identity.key_pem, identity.cert_pem)],
        root_certificates=identity.cert_pem + GUEST_CLIENT_CERT_PEM,
        require_client_auth=True,
    )
