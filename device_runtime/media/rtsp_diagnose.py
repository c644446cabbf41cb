"""Why did an RTSP open fail? Ask the camera directly with one DESCRIBE.

OpenCV reports only "not opened"; FFmpeg prints the cause to stderr where
the program cannot read it. So after a failed open the device's RTSP source
and the console's test-open send a plain ``DESCRIBE`` over a socket (with the
URL's credentials, Basic or Digest, as FFmpeg would) and read the status
line: connection refused, no answer, 401 (wrong credentials), 404 (no such
stream) or 200 (the camera is fine and the problem lies in the media setup:
try another transport). The console also tries vendor path templates with it
(a few hundred bytes per guess instead of a video decoder).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from device_runtime.media.redact import redact_url, split_credentials

DEFAULT_RTSP_PORT = 554
DEFAULT_PORTS = {"rtsp": DEFAULT_RTSP_PORT, "rtsps": 322}


@dataclass(frozen=True)
class Diagnosis:
    """The outcome of one DESCRIBE; ``reason`` is ready to show (redacted)."""

    status: int | None  # RTSP status code, None when no answer was read
    reason: str
    permanent: bool  # retrying cannot help (credentials, forbidden)

    @property
    def camera_ok(self) -> bool:
        """The camera answered DESCRIBE with success: the stream exists and we may see it."""
        return self.status is not None and 200 <= self.status < 300


def diagnose(url: str, timeout_s: float) -> Diagnosis:
    """Send DESCRIBE to the camera in ``url`` and classify the answer.

    Never takes (much) longer than ``timeout_s``; never puts the password in
    the reason.
    """
    shown = redact_url(url)
    bare_url, user, password = split_credentials(url)
    parts = urlsplit(bare_url)
    host = parts.hostname or ""
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 554)
    except ValueError:
        return Diagnosis(None, f"invalid port in {shown}", permanent=True)
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        status, reason_phrase, headers = _describe(parts.scheme, host, port, bare_url, None, deadline)
        if status == 401 and user is not None:
            challenge = _pick_challenge(headers.get("www-authenticate", []))
            if challenge is not None:
                auth = _authorization(challenge, user, password or "", bare_url)
                status, reason_phrase, headers = _describe(
                    parts.scheme, host, port, bare_url, auth, deadline
                )
    except ConnectionRefusedError:
        return Diagnosis(
            None, f"connection refused by {where} (camera off, or wrong port?) for {shown}", False
        )
    except socket.gaierror as exc:
        return Diagnosis(None, f"cannot resolve host {host!r} in {shown}: {exc.strerror}", False)
    except TimeoutError:
        return Diagnosis(None, f"no answer from {where} within {timeout_s:.1f} s for {shown}", False)
    except ssl.SSLError as exc:
        return Diagnosis(None, f"TLS handshake with {where} failed for {shown}: {exc}", False)
    except (OSError, ValueError) as exc:
        return Diagnosis(None, f"cannot talk RTSP to {where} for {shown}: {exc}", False)
    return _classify(status, reason_phrase, shown, user, parts.path or "/")


def _classify(status: int, phrase: str, shown: str, user: str | None, path: str) -> Diagnosis:
    if 200 <= status < 300:
        return Diagnosis(status, f"camera answers DESCRIBE for {shown}", False)
    if status == 401:
        if user is None:
            return Diagnosis(
                status,
                f"authentication required: {shown} has no user name and password (401 Unauthorized)",
                True,
            )
        return Diagnosis(
            status,
            f"authentication failed: wrong user name or password for user {user!r} at {shown}"
            " (401 Unauthorized)",
            True,
        )
    if status == 403:
        return Diagnosis(status, f"access forbidden for {shown} (403 Forbidden)", True)
    if status == 404:
        return Diagnosis(status, f"stream not found: no stream at path {path!r} on {shown} (404)", False)
    return Diagnosis(status, f"camera answered {status} {phrase} to DESCRIBE for {shown}", False)


def _describe(
    scheme: str,
    host: str,
    port: int,
    url: str,
    authorization: str | None,
    deadline: float,
) -> tuple[int, str, dict[str, list[str]]]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    sock = socket.create_connection((host, port), timeout=left)
    try:
        if scheme.lower() == "rtsps":
            context = ssl.create_default_context()
            # Diagnosis only; FFmpeg does not verify camera certificates by default either.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        lines = [
            f"DESCRIBE {url} RTSP/1.0",
            "CSeq: 1",
            "Accept: application/sdp",
            "User-Agent: Sightline",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return _read_response(sock, deadline)
    finally:
        sock.close()


def _read_response(sock: socket.socket, deadline: float) -> tuple[int, str, dict[str, list[str]]]:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > 65536:
            break
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
    lines = head.split("\n")
    match = re.match(r"RTSP/\d\.\d\s+(\d{3})\s*(.*)", lines[0] if lines else "")
    if match is None:
        raise ValueError(f"not an RTSP answer: {lines[0][:60]!r}" if lines and lines[0] else "no answer")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(match.group(1)), match.group(2).strip(), headers


def _pick_challenge(challenges: list[str]) -> tuple[str, dict[str, str]] | None:
    parsed = []
    for challenge in challenges:
        scheme, _, rest = challenge.partition(" ")
        params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', rest)}
        parsed.append((scheme.lower(), params))
    for wanted in ("digest", "basic"):  # prefer Digest, as FFmpeg does
        for scheme, params in parsed:
            if scheme == wanted:
                return scheme, params
    return None


def _authorization(challenge: tuple[str, dict[str, str]], user: str, password: str, url: str) -> str:
    scheme, params = challenge
    if scheme == "basic":
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return f"Basic {token}"

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"DESCRIBE:{url}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{url}"']
    if "auth" in params.get("qop", "").split(","):
        cnonce, nc = os.urandom(8).hex(), "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{response}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)
