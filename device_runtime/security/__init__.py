"""Device identity and TLS, pairing, and per-call authorisation.

Wiring for the gRPC server, in the order the runtime does it::

    identity = DeviceIdentity.load_or_create(data_dir, device_name)
    pairing = PairingManager(data_dir, identity, on_code_changed=print_new_code)
    print(pairing.banner(device_name, f"{ip}:{port}"))
    server.add_secure_port(f"{host}:{port}", server_credentials(identity))
    # in every servicer method except GetInfo and Pair:
    require_paired(context, pairing)
    # in DeployApp, before a byte is staged (pairing.signing_keys() are the
    # package signing keys of the paired clients):
    verify_package_signature(pairing.signing_keys(), header.sha256, header.signature)
"""

from __future__ import annotations

from device_runtime.security.authz import (
    OPEN_METHODS,
    is_paired,
    peer_certificate,
    require_paired,
)
from device_runtime.security.identity import (
    TLS_SERVER_NAME,
    DeviceIdentity,
    IdentityError,
    certificate_fingerprint,
)
from device_runtime.security.package_signing import (
    InvalidSigningKey,
    UnsignedPackage,
    UntrustedPackageSignature,
    verify_package_signature,
)
from device_runtime.security.pairing import (
    InvalidCsr,
    PairingLockedOut,
    PairingManager,
    TrustedClient,
    TrustStoreError,
    WrongPairingCode,
)
from device_runtime.security.tls import GUEST_CLIENT_CERT_PEM, server_credentials

__all__ = [
    "GUEST_CLIENT_CERT_PEM",
    "OPEN_METHODS",
    "TLS_SERVER_NAME",
    "DeviceIdentity",
    "IdentityError",
    "InvalidCsr",
    "InvalidSigningKey",
    "PairingLockedOut",
    "PairingManager",
    "TrustStoreError",
    "TrustedClient",
    "UnsignedPackage",
    "UntrustedPackageSignature",
    "WrongPairingCode",
    "certificate_fingerprint",
    "is_paired",
    "peer_certificate",
    "require_paired",
    "server_credentials",
    "verify_package_signature",
]
