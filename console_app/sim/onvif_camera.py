"""A simulated ONVIF camera: a real HTTP/SOAP server on 127.0.0.1, shipped with the product.

Why hand-written: no ONVIF *device* (server) implementation is installable
from PyPI, npm or Debian (see TEST-PEERS.md), and the console's registration
must be tested against a real server with a real client (onvif-zeep). The
camera answers what a registering client asks (device information, clock,
capabilities/services, media profiles, stream and snapshot URIs), checks
WS-UsernameToken digests against its *own* clock (``clock_skew_s`` makes it
drift, like real cameras), optionally demands HTTP Digest instead, serves a
JPEG snapshot (or PNG, as some cameras do: ``snapshot_format="png"``), and can
fail on purpose (``malformed``, ``onvif=False``). Several cameras given one
``name`` announce the same ONVIF name scope, as cameras of one model do out of
the box.
Its video is the synthetic production line (a ``sim://`` URL, rendered by a
Sightline device) or any RTSP URL; the stream URI it hands out is that URL
without credentials. With ``discovery_interface`` set it also answers
WS-Discovery through :mod:`console_app.sim.ws_discovery_responder`.

Usage::

    with SimulatedOnvifCamera(password="s3cret", clock_skew_s=7200) as cam:
        print(cam.url)   # http://127.0.0.1:PORT/onvif/device_service

    python -m console_app.sim.onvif_camera --count 2 --base-port 8081
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from console_app.sim import onvif_soap as soap
from console_app.sim.onvif_soap import DEFAULT_PROFILES, SimProfile, SoapFault
from console_app.sim.ws_discovery_responder import WsDiscoveryResponder

log = logging.getLogger(__name__)

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
SNAPSHOT_PATH = "/onvif/snapshot"
SNAPSHOT_FORMATS = {"jpeg": (".jpg", "image/jpeg"), "png": (".png", "image/png")}
DEFAULT_VIDEO_URL = "sim://production-line?seed=7&width=640&height=480&fps=15"
AUTH_MODES = ("ws-security", "http-digest")
_PUBLIC_OPERATIONS = {"GetSystemDateAndTime"}  # ONVIF "pre-auth" calls a client needs first
_DEVICE_OPERATIONS = {"GetSystemDateAndTime", "GetDeviceInformation", "GetCapabilities", "GetServices"}
_MEDIA_OPERATIONS = {"GetProfiles", "GetStreamUri", "GetSnapshotUri"}

SnapshotSource = bytes | Callable[[SimProfile], bytes] | None


class SimulatedOnvifCamera:
    """One simulated ONVIF camera (HTTP server in a thread, plus a WS-Discovery responder).

    ``port=0`` picks a free port. ``auth`` is ``"ws-security"`` (UsernameToken
    digest or text, checked against the camera clock) or ``"http-digest"``
    (WS-Security ignored, RFC 2617 Digest required on every request).
    ``malformed`` is True (every reply is broken XML) or a collection of
    operation names whose replies are broken. ``onvif=False`` makes the HTTP
    server answer 404 to everything (a camera that answers discovery but has
    no ONVIF service). ``clock_skew_s`` may be changed while running.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str = "admin",
        *,
        clock_skew_s: float = 0.0,
        video_url: str = DEFAULT_VIDEO_URL,
        snapshot_jpeg: SnapshotSource = None,
        snapshot_format: str = "jpeg",
        name: str = "Sightline Sim Camera",
        manufacturer: str = "Sightline",
        model: str = "SIM-ONVIF-1",
        serial: str | None = None,
        firmware: str = "1.0.0",
        profiles: Sequence[SimProfile] = DEFAULT_PROFILES,
        auth: str = "ws-security",
        malformed: bool | Collection[str] = False,
        onvif: bool = True,
        discovery_interface: str | None = "127.0.0.1",
        endpoint_reference: str | None = None,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, got {auth!r}")
        if not profiles:
            raise ValueError("a camera needs at least one profile")
        if snapshot_format not in SNAPSHOT_FORMATS:
            raise ValueError(f"snapshot_format must be one of {sorted(SNAPSHOT_FORMATS)}, got {snapshot_format!r}")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.clock_skew_s = float(clock_skew_s)
        self.video_url = video_url
        self.snapshot_jpeg = snapshot_jpeg
        self.snapshot_format = snapshot_format
        self.name = name
        self.manufacturer = manufacturer
        self.model = model
        self.serial = serial or f"SIM-{secrets.token_hex(4).upper()}"
        self.firmware = firmware
        self.profiles = tuple(profiles)
        self.auth = auth
        self.malformed = malformed
        self.onvif = onvif
        self.discovery_interface = discovery_interface
        self.endpoint_reference = endpoint_reference or f"urn:uuid:{uuid.uuid4()}"
        # Operation names served, newest last (tests read it); bounded for long demo runs.
        self.requests: deque[str] = deque(maxlen=1000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._responder: WsDiscoveryResponder | None = None
        self._digest_nonces: set[str] = set()
        self._renderer = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The device service XAddr, e.g. ``http://127.0.0.1:8081/onvif/device_service``."""
        return f"http://{self.host}:{self._bound_port()}{DEVICE_PATH}"

    @property
    def media_url(self) -> str:
        return f"http://{self.host}:{self._bound_port()}{MEDIA_PATH}"

    def camera_now(self) -> dt.datetime:
        """The camera's clock: the real time plus ``clock_skew_s``, in UTC."""
        return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.clock_skew_s)

    def start(self) -> SimulatedOnvifCamera:
        """Bind, serve in a daemon thread, and start the discovery responder if asked."""
        if self._server is not None:
            raise RuntimeError(f"simulated camera already running at {self.url}")
        handler = type("_BoundHandler", (_Handler,), {"camera": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"sim-onvif-{self.port}", daemon=True,
        )
        self._thread.start()
        if self.discovery_interface:
            self._responder = self._make_responder()
            try:
                self._responder.start()
            except BaseException:
                self._responder = None
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop the responder and the HTTP server and wait for the serving thread."""
        if self._responder is not None:
            self._responder.stop()
            self._responder = None
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimulatedOnvifCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bound_port(self) -> int:
        if not self.port:
            raise RuntimeError("the simulated camera has no port yet: call start() first")
        return self.port

    def _make_responder(self) -> WsDiscoveryResponder:
        scopes = [
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/name/" + _scope_word(self.name),
            "onvif://www.onvif.org/hardware/" + _scope_word(self.model),
        ]
        return WsDiscoveryResponder(
            self.endpoint_reference, [self.url], scopes=scopes, interface=self.discovery_interface or "127.0.0.1"
        )

    # ------------------------------------------------------------- serving

    def stream_uri(self, profile: SimProfile) -> str:
        """The stream URL for ``profile``: ``video_url``, sized to the profile when it is sim://."""
        parts = urlsplit(self.video_url)
        if parts.scheme != "sim":
            return self.video_url
        query = dict(parse_qsl(parts.query))
        query.update(width=str(profile.width), height=str(profile.height), fps=str(profile.fps))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def snapshot_uri(self, profile: SimProfile) -> str:
        return f"http://{self.host}:{self._bound_port()}{SNAPSHOT_PATH}?profile={profile.token}"

    def profile(self, token: str | None) -> SimProfile:
        for p in self.profiles:
            if p.token == token:
                return p
        raise SoapFault("s:Sender", "ter:InvalidArgVal", f"no profile with token {token!r}")

    def snapshot(self, profile: SimProfile) -> bytes:
        """Image bytes for ``profile``: the given bytes/renderer, else a production-line frame
        encoded as :attr:`snapshot_format`."""
        if isinstance(self.snapshot_jpeg, bytes):
            return self.snapshot_jpeg
        if callable(self.snapshot_jpeg):
            return self.snapshot_jpeg(profile)
        import cv2

        # The simulator may use the demo's renderer (console_app/sim is exempt from the layering rule).
        from device_runtime.sources.synthetic_scene import ProductionLineRenderer

        with self._lock:
            if self._renderer is None or (self._renderer.width, self._renderer.height) != (
                profile.width, profile.height
            ):
                seed = int(dict(parse_qsl(urlsplit(self.video_url).query)).get("seed", 7))
                self._renderer = ProductionLineRenderer(profile.width, profile.height, seed, profile.fps)
            image, _ = self._renderer.render(int(time.time() * profile.fps) % 100_000)
        extension = SNAPSHOT_FORMATS[self.snapshot_format][0]
        params = [cv2.IMWRITE_JPEG_QUALITY, 85] if self.snapshot_format == "jpeg" else []
        ok, buf = cv2.imencode(extension, image, params)
        if not ok:
            raise RuntimeError(f"could not encode the snapshot as {self.snapshot_format}")
        return buf.tobytes()

    def answer(self, path: str, body: bytes) -> bytes:
        """The SOAP reply body for a POST to ``path`` (raises SoapFault)."""
        envelope, operation = soap.parse_request(body)
        self.requests.append(operation)
        allowed = _DEVICE_OPERATIONS if path == DEVICE_PATH else _MEDIA_OPERATIONS
        if operation not in allowed:
            raise SoapFault("s:Receiver", "ter:ActionNotSupported",
                            f"{operation} is not supported by this service", http_status=500)
        if self.auth == "ws-security" and operation not in _PUBLIC_OPERATIONS:
            soap.check_username_token(envelope, self.username, self.password, self.camera_now())
        if self.malformed is True or (
            not isinstance(self.malformed, bool) and operation in self.malformed
        ):
            # Truncated mid-element, as a crashing camera web server sends it.
            return soap.envelope(f"<tds:{operation}Response><tt:Broken>")[:-40]
        return soap.envelope(self._body_for(operation, envelope))

    def _body_for(self, operation: str, envelope) -> str:
        if operation == "GetSystemDateAndTime":
            return soap.system_date_and_time(self.camera_now())
        if operation == "GetDeviceInformation":
            return soap.device_information(self.manufacturer, self.model, self.firmware, self.serial,
                                           self.model.lower())
        if operation == "GetCapabilities":
            return soap.capabilities(self.url, self.media_url)
        if operation == "GetServices":
            return soap.services(self.url, self.media_url)
        if operation == "GetProfiles":
            return soap.profiles(self.profiles)
        profile = self.profile(soap.request_field(envelope, "ProfileToken"))
        if operation == "GetStreamUri":
            return soap.media_uri("GetStreamUri", self.stream_uri(profile))
        return soap.media_uri("GetSnapshotUri", self.snapshot_uri(profile))

    # --------------------------------------------------------- HTTP digest

    def digest_challenge(self) -> str:
        nonce = secrets.token_hex(16)
        self._digest_nonces.add(nonce)
        return f'Digest realm="{_DIGEST_REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'

    def digest_ok(self, method: str, header: str | None) -> bool:
        """Check an RFC 2617 ``Authorization: Digest`` header (MD5, qop=auth)."""
        if not header or not header.startswith("Digest "):
            return False
        fields = {k: quoted or bare for k, quoted, bare in _DIGEST_FIELD_RE.findall(header[7:])}
        if fields.get("nonce") not in self._digest_nonces or fields.get("username") != self.username:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode("utf-8")).hexdigest()

        ha1 = md5(f"{self.username}:{_DIGEST_REALM}:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri', '')}")
        expected = md5(":".join([ha1, fields["nonce"], fields.get("nc", ""), fields.get("cnonce", ""),
                                 fields.get("qop", ""), ha2]))
        return secrets.compare_digest(expected, fields.get("response", ""))


_DIGEST_REALM = "Sightline Sim Camera"
_DIGEST_FIELD_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def _scope_word(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "camera"


class _Handler(BaseHTTPRequestHandler):
    """Routes HTTP requests to the camera bound as the ``camera`` class attribute."""

    camera: SimulatedOnvifCamera
    protocol_version = "HTTP/1.1"
    server_version = "SightlineSimCamera/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s: " + format, self.camera.port, *args)

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _gate(self) -> bool:
        """Send 404 or a Digest challenge and return False when the request may not proceed."""
        if not self.camera.onvif:
            self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
            return False
        if self.camera.auth == "http-digest" and not self.camera.digest_ok(
            self.command, self.headers.get("Authorization")
        ):
            self._send(401, b"", "text/plain", {"WWW-Authenticate": self.camera.digest_challenge()})
            return False
        return True

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._gate():
            return
        path = urlsplit(self.path).path
        if path not in (DEVICE_PATH, MEDIA_PATH):
            self._send(404, b"no such service", "text/plain")
            return
        try:
            reply = self.camera.answer(path, body)
        except SoapFault as fault:
            log.info("camera %s: %s fault: %s", self.camera.port, fault.subcode,
                     getattr(fault, "detail", fault.reason))
            self._send(fault.http_status, soap.fault_envelope(fault), soap.SOAP_CONTENT_TYPE)
            return
        self._send(200, reply, soap.SOAP_CONTENT_TYPE)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if not self._gate():
            return
        parts = urlsplit(self.path)
        if parts.path != SNAPSHOT_PATH:
            self._send(404, b"not found", "text/plain")
            return
        try:
            profile = self.camera.profile(dict(parse_qsl(parts.query)).get("profile"))
        except SoapFault as fault:
            self._send(404, fault.reason.encode(), "text/plain")
            return
        self._send(200, self.camera.snapshot(profile), SNAPSHOT_FORMATS[self.camera.snapshot_format][1])


def main(argv: list[str] | None = None) -> None:
    """Run several simulated cameras until Ctrl+C (for manual tests and the demo)."""
    parser = argparse.ArgumentParser(description="Run simulated ONVIF cameras on this machine")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--base-port", type=int, default=8081)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("SIGHTLINE_SIM_PASSWORD", "admin"),
                        help="default: $SIGHTLINE_SIM_PASSWORD or 'admin'")
    parser.add_argument("--clock-skew", type=float, default=0.0, help="seconds the camera clock is off")
    parser.add_argument("--auth", choices=AUTH_MODES, default="ws-security")
    parser.add_argument("--video-url", default=DEFAULT_VIDEO_URL)
    parser.add_argument("--discovery-interface", default="127.0.0.1", help="'' disables WS-Discovery")
    parser.add_argument("--name", default="", help="one ONVIF name for every camera (as one model's "
                        "cameras announce out of the box); default 'Sim Camera N'")
    parser.add_argument("--snapshot-format", choices=sorted(SNAPSHOT_FORMATS), default="jpeg")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cameras = []
    for i in range(args.count):
        cam = SimulatedOnvifCamera(
            args.host, args.base_port + i, args.username, args.password,
            clock_skew_s=args.clock_skew, video_url=args.video_url, auth=args.auth,
            name=args.name or f"Sim Camera {i + 1}", serial=f"SIM-{args.base_port + i:05d}",
            snapshot_format=args.snapshot_format,
            discovery_interface=args.discovery_interface or None,
        ).start()
        cameras.append(cam)
        print(f"camera {i + 1}: {cam.url} serial {cam.serial} endpoint {cam.endpoint_reference}", flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for cam in cameras:
            cam.stop()


if __name__ == "__main__":
    main()
