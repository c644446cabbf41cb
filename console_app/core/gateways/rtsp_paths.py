"""Finding a camera's RTSP stream without ONVIF: vendor path templates, tried with DESCRIBE.

Cameras without ONVIF (or with it switched off) still serve RTSP at a path
their vendor chose. :data:`VENDOR_PATHS` lists the common ones;
:func:`find_stream` asks the camera about each with a plain RTSP ``DESCRIBE``
(a few hundred bytes, answered in milliseconds: 404 for a wrong path, 401
for wrong credentials, 200 for a stream) instead of opening a video decoder
per guess. :func:`describe` is also what the stream reader uses to explain
why an open failed, since OpenCV only says "not opened".

Passwords never appear in results or messages: URLs are shown through
:func:`redact_url`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_RTSP_PORT = 554

# (vendor, path) in the order tried: the most common first. Main streams only;
# registration can switch to a sub stream once the main one is known.
VENDOR_PATHS: tuple[tuple[str, str], ...] = (
    ("Hikvision", "/Streaming/Channels/101"),
    ("Dahua / Amcrest / Lorex", "/cam/realmonitor?channel=1&subtype=0"),
    ("Axis", "/axis-media/media.amp"),
    ("Uniview", "/unicast/c1/s0/live"),
    ("Uniview (media)", "/media/video1"),
    ("Hanwha / Samsung", "/profile2/media.smp"),
    ("Reolink", "/h264Preview_01_main"),
    ("Bosch", "/rtsp_tunnel"),
    ("Vivotek", "/live.sdp"),
    ("Mobotix", "/mobotix.h264"),
    ("Generic", "/stream1"),
    ("Generic", "/live"),
    ("Generic", "/live/main"),
    ("Generic", "/h264"),
    ("Generic", "/ch0_0.h264"),
    ("Generic", "/11"),
    ("Generic", "/"),
)


class RtspPathNotFound(Exception):
    """No template gave a stream; the message says what the camera answered.

    ``status`` is the RTSP status that decided it (401 means the credentials were refused),
    so callers never have to guess from the text, where a port like 46401 also reads "401".
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RtspAnswer:
    """The outcome of one DESCRIBE; ``reason`` is ready to show (password redacted)."""

    url: str           # as asked, credentials included (do not show: use ``shown``)
    status: int | None  # RTSP status code; None when nothing answered
    reason: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def shown(self) -> str:
        return redact_url(self.url)


@dataclass(frozen=True)
class FoundStream:
    """A working RTSP URL found by :func:`find_stream` and the vendor template it came from."""

    url: str
    vendor: str
    tried: int


def redact_url(url: str) -> str:
    """``rtsp://user:pass@host/x`` → ``rtsp://user:***@host/x`` (other URLs unchanged)."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/@:]*):[^@/]*@", r"\1:***@", url)


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Return ``url`` without user info, and the (unquoted) user and password it carried."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), unquote(user), unquote(password) if sep else None


def with_credentials(url: str, user: str | None, password: str | None) -> str:
    """``url`` with ``user``/``password`` put in (percent-encoded); unchanged when user is None."""
    if user is None:
        return url
    bare, _, _ = split_credentials(url)
    parts = urlsplit(bare)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc}"))


def candidate_urls(host: str, port: int = DEFAULT_RTSP_PORT, user: str | None = None,
                   password: str | None = None) -> list[tuple[str, str]]:
    """(vendor, URL) for every template, with credentials embedded when given."""
    base = f"rtsp://{host}:{port}"
    return [(vendor, with_credentials(base + path, user, password)) for vendor, path in VENDOR_PATHS]


def find_stream(host: str, port: int = DEFAULT_RTSP_PORT, user: str | None = None,
                password: str | None = None, *, timeout_s: float = 3.0, concurrency: int = 4) -> FoundStream:
    """Try every vendor template with DESCRIBE; return the first (in list order) that answers 200.

    At most ``concurrency`` requests are in flight (cameras are small
    computers; a burst of 17 connections can make some of them drop all).
    Raises :class:`RtspPathNotFound` naming the most telling answer: 401
    (credentials) before 404 (no such path) before no answer.
    """
    candidates = candidate_urls(host, port, user, password)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="rtsp-paths") as pool:
        answers = list(pool.map(lambda c: describe(c[1], timeout_s), candidates))
    for (vendor, url), answer in zip(candidates, answers, strict=True):
        if answer.ok:
            return FoundStream(url=url, vendor=vendor, tried=len(candidates))
    statuses = {a.status for a in answers}
    where = f"{host}:{port}"
    if 401 in statuses:
        who = f"user {user!r}" if user is not None else "no credentials"
        raise RtspPathNotFound(f"the RTSP server at {where} refused {who} (401 Unauthorized): "
                               "check the user name and password", status=401)
    if statuses == {None}:
        raise RtspPathNotFound(f"no RTSP server answered at {where}: {answers[0].reason}")
    raise RtspPathNotFound(f"the RTSP server at {where} has none of the {len(candidates)} common stream paths "
                           "(tried Hikvision, Dahua, Axis, Uniview, Hanwha, Reolink and generic paths); "
                           "enter the full RTSP URL from the camera's manual")


def describe(url: str, timeout_s: float = 3.0) -> RtspAnswer:
    """Send one RTSP DESCRIBE (answering a Basic/Digest challenge with the URL's credentials)."""
    shown = redact_url(url)
    bare, user, password = split_credentials(url)
    parts = urlsplit(bare)
    host = parts.hostname or ""
    try:
        port = parts.port or DEFAULT_RTSP_PORT
    except ValueError:
        return RtspAnswer(url, None, f"invalid port in {shown}")
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout_s
    try:
        status, phrase, headers = _request(host, port, bare, None, deadline)
        if status == 401 and user is not None:
            challenge = _pick_challenge(headers.get("www-authenticate", []))
            if challenge is not None:
                authorization = _authorization(challenge, user, password or "", bare)
                status, phrase, headers = _request(host, port, bare, authorization, deadline)
    except ConnectionRefusedError:
        return RtspAnswer(url, None, f"connection refused by {where}: camera off or wrong port ({shown})")
    except socket.gaierror as exc:
        return RtspAnswer(url, None, f"cannot resolve host {host!r} ({exc.strerror})")
    except TimeoutError:
        return RtspAnswer(url, None, f"no answer from {where} within {timeout_s:g} s ({shown})")
    except (OSError, ValueError) as exc:
        return RtspAnswer(url, None, f"cannot talk RTSP to {where}: {exc} ({shown})")
    return RtspAnswer(url, status, _explain(status, phrase, shown, user, parts.path or "/"))


def _explain(status: int, phrase: str, shown: str, user: str | None, path: str) -> str:
    if 200 <= status < 300:
        return f"the camera serves {shown}"
    if status == 401:
        if user is None:
            return f"{shown} needs a user name and password (401 Unauthorized)"
        return f"wrong user name or password for user {user!r} at {shown} (401 Unauthorized)"
    if status == 403:
        return f"access to {shown} is forbidden (403 Forbidden)"
    if status == 404:
        return f"no stream at path {path!r} on {shown} (404 Not Found)"
    return f"the camera answered {status} {phrase} to DESCRIBE {shown}"


def _request(host: str, port: int, url: str, authorization: str | None,
             deadline: float) -> tuple[int, str, dict[str, list[str]]]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    with socket.create_connection((host, port), timeout=left) as sock:
        lines = [f"DESCRIBE {url} RTSP/1.0", "CSeq: 1", "Accept: application/sdp", "User-Agent: Sightline"]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    match = re.match(r"RTSP/\d\.\d\s+(\d{3})\s*(.*)", lines[0])
    if match is None:
        raise ValueError(f"not an RTSP answer: {lines[0][:60]!r}" if lines[0] else "the server closed the connection")
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
        parsed.append((scheme.lower(), {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', rest)}))
    for wanted in ("digest", "basic"):  # prefer Digest, as FFmpeg does
        for scheme, params in parsed:
            if scheme == wanted:
                return scheme, params
    return None


def _authorization(challenge: tuple[str, dict[str, str]], user: str, password: str, url: str) -> str:
    scheme, params = challenge
    if scheme == "basic":
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def md5(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"DESCRIBE:{url}")
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
