"""Transport facts both ends of the device API must agree on.

The message size limit, the DNS name every device certificate carries, how
a certificate's fingerprint is written (devices publish it in mDNS and
``GetInfo``, clients pin it), and the public *guest* client credential: its certificate is one of the two
roots the device trusts in the TLS handshake, and every client presents it
before pairing (why it exists: ``device_runtime/security/tls.py``). The key
is deliberately public; a guest may call only ``GetInfo`` and ``Pair``.
"""

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

#: The largest gRPC message either end sends or accepts. Uploads arrive in chunks well below
#: this; anything larger is refused by gRPC itself with RESOURCE_EXHAUSTED.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

#: The DNS name in every device certificate; devices are reached by IP, so clients override the
#: TLS target name with it.
TLS_SERVER_NAME = "sightline-device"

#: The public guest client key (deliberately published).
GUEST_CLIENT_KEY_PEM = b"""\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaof6jtuqlHmWK5et
ia0fItAes3/eDlGlCkuaDOyXbrShRANCAATJY1H1gAFAeuvvGBIV8UzzPJn+kr96
3209TXgDiSNDYUL2+RhbegOdAOWW5pbHQaJeZoBkVVMw0QlSiVsgJdAA
-----END PRIVATE KEY-----
"""

#: Self-signed, CA:FALSE, clientAuth only, valid 2000-01-01 .. 9999-12-31.
GUEST_CLIENT_CERT_PEM = b"""\
-----BEGIN CERTIFICATE-----
MIIBxTCCAWygAwIBAgIBATAKBggqhkjOPQQDAjBQMSIwIAYDVQQDDBlTaWdodGxp
bmUgdW5wYWlyZWQgY2xpZW50MSowKAYDVQQKDCFTaWdodGxpbmUgcHVibGljIGd1
ZXN0IGNyZWRlbnRpYWwwIBcNMDAwMTAxMDAwMDAwWhgPOTk5OTEyMzEyMzU5NTla
MFAxIjAgBgNVBAMMGVNpZ2h0bGluZSB1bnBhaXJlZCBjbGllbnQxKjAoBgNVBAoM
IVNpZ2h0bGluZSBwdWJsaWMgZ3Vlc3QgY3JlZGVudGlhbDBZMBMGByqGSM49AgEG
CCqGSM49AwEHA0IABMljUfWAAUB66+8YEhXxTPM8mf6Sv3rfbT1NeAOJI0NhQvb5
GFt6A50A5ZbmlsdBol5mgGRVUzDRCVKJWyAl0ACjNTAzMAwGA1UdEwEB/wQCMAAw
DgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMCMAoGCCqGSM49BAMC
A0cAMEQCIGcoQtirMCZOZgGRjBOo+R+LRW0jt6XHKFjm0CQpVV4qAiB246TYyJUa
AoijhVv+RV4Ma7s5bf3bGoPEmVUIaKFJEQ==
-----END CERTIFICATE-----
"""


def certificate_fingerprint(cert_pem: bytes | str) -> str:
    """SHA-256 of the certificate's DER encoding: lower-case hex, no colons."""
    data = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    cert = x509.load_pem_x509_certificate(data)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def normalize_fingerprint(fingerprint: str) -> str:
    """Lower-case hex without colons or spaces (how devices publish fingerprints)."""
    return "".join(fingerprint.split()).replace(":", "").lower()
