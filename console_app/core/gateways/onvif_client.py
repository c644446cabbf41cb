"""Reading an ONVIF camera for registration, through onvif-zeep (no Qt, blocking).

The flow real cameras need, in order:

1. ``GetSystemDateAndTime`` *unauthenticated*, to measure the camera clock's
   offset from ours. Camera clocks drift (hours, on a camera without NTP),
   and a WS-UsernameToken digest carries a ``Created`` timestamp the camera
   checks against its own clock; so every later request is signed with our
   time plus the measured offset.
2. Authenticate, trying WS-Security digest, then WS-Security plain text,
   then HTTP Digest (cameras differ), and remember which worked.
3. Device information, media profiles (codec, resolution, fps), the stream
   URI of each profile and the snapshot URI.

Errors become the typed exceptions below, with messages that name the camera,
the user and the operation, never the password. Every request is bounded by
``timeout_s``. The WSDL files are the ones installed with onvif-zeep; nothing
is downloaded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import ipaddress
import logging
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import cv2
import numpy as np
import requests
from requests.auth import HTTPDigestAuth
from zeep.exceptions import Fault, TransportError
from zeep.transports import Transport

from console_app.core.gateways.soap_logging import guard_soap_loggers

_root_handlers = list(logging.getLogger().handlers)
import onvif  # noqa: E402 - imported after noting the root logger's handlers (see below)
from onvif import ONVIFCamera  # noqa: E402

# onvif-zeep calls logging.basicConfig() at import; the console configures its own logging.
for _handler in logging.getLogger().handlers[:]:
    if _handler not in _root_handlers:
        logging.getLogger().removeHandler(_handler)

guard_soap_loggers()  # zeep logs SOAP envelopes, WS-Security passwords included, at DEBUG

log = logging.getLogger(__name__)

WSDL_DIR = os.path.join(os.path.dirname(os.path.dirname(onvif.__file__)), "wsdl")
DEFAULT_TIMEOUT_S = 5.0
DEVICE_SERVICE_PATH = "/onvif/device_service"
_MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"


class AuthMethod(str, enum.Enum):
    """How the console proved who it is to a camera."""

    WS_DIGEST = "ws-digest"      # WS-UsernameToken, PasswordDigest (the ONVIF default)
    WS_TEXT = "ws-text"          # WS-UsernameToken, PasswordText
    HTTP_DIGEST = "http-digest"  # RFC 2617 Digest on the HTTP request

    @property
    def label(self) -> str:
        return {"ws-digest": "WS-Security digest", "ws-text": "WS-Security plain text",
                "http-digest": "HTTP digest"}[self.value]


ALL_AUTH_METHODS = (AuthMethod.WS_DIGEST, AuthMethod.WS_TEXT, AuthMethod.HTTP_DIGEST)


class OnvifError(Exception):
    """Base of every error this gateway raises; the message is fit for the engineer."""


class OnvifUnreachable(OnvifError):
    """Nothing answered at the address (refused, timed out, no route)."""


class OnvifAuthError(OnvifError):
    """The camera answered but refused the user name or password with every method."""


class OnvifProtocolError(OnvifError):
    """The camera answered with something that is not a usable ONVIF reply."""


class NotOnvif(OnvifError):
    """Something answers at the address, but it has no ONVIF device service."""


class BadCameraAddress(OnvifError, ValueError):
    """What was typed as a camera address is not one (the message says why, in plain words)."""


@dataclass(frozen=True)
class OnvifDeviceInfo:
    """What GetDeviceInformation says about the camera."""

    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


@dataclass(frozen=True)
class OnvifProfile:
    """One media profile: what it encodes, and where its stream and snapshot are."""

    token: str
    name: str
    codec: str
    width: int
    height: int
    fps: float
    stream_uri: str = ""
    snapshot_uri: str = ""


@dataclass(frozen=True)
class OnvifCameraInfo:
    """Everything registration reads from a camera in one :meth:`OnvifClient.read_camera`."""

    host: str
    port: int
    device_xaddr: str
    device: OnvifDeviceInfo
    profiles: tuple[OnvifProfile, ...]
    auth_method: AuthMethod
    clock_offset_s: float
    snapshot_uri: str = ""
    warnings: tuple[str, ...] = field(default=())


class _NoService(Exception):
    """An HTTP status that means "no ONVIF service here" (raised inside zeep's transport)."""

    def __init__(self, status: int, content_type: str):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.content_type = content_type


class _RecordingTransport(Transport):
    """zeep transport that fails fast on 404/405 (no such service) instead of parsing HTML."""

    def post(self, address, message, headers):
        response = super().post(address, message, headers)
        if response.status_code in (404, 405):
            raise _NoService(response.status_code, response.headers.get("Content-Type", ""))
        return response


class _Camera(ONVIFCamera):
    """onvif-zeep's camera with our clock offset, auth method and device XAddr.

    The base class authenticates inside its constructor with an offset it
    measures at one-second resolution and always signs with WS-Security;
    here the constructor does no I/O, the offset is ours, HTTP Digest
    requests carry no WS-Security header, and ``method=None`` sends none at
    all (for the unauthenticated clock read).
    """

    def __init__(self, device_xaddr: str, user: str, password: str, method: AuthMethod | None,
                 offset_s: float, transport: Transport) -> None:
        self._device_xaddr = device_xaddr
        self._method = method
        self._offset = dt.timedelta(seconds=offset_s)
        parts = urlsplit(device_xaddr)
        # ONVIFCamera.__init__ pops the proxy variables from os.environ; keep the process's own.
        saved = {k: os.environ.get(k) for k in ("http_proxy", "https_proxy")}
        try:
            super().__init__(parts.hostname, parts.port or 80, user, password, wsdl_dir=WSDL_DIR,
                             encrypt=method is not AuthMethod.WS_TEXT, no_cache=True, transport=transport)
        finally:
            for key, value in saved.items():
                if value is not None:
                    os.environ[key] = value

    def update_xaddrs(self) -> None:
        self.dt_diff = self._offset
        self.xaddrs = {}
        self.devicemgmt = self.create_devicemgmt_service()

    def load_xaddrs(self) -> None:
        """GetCapabilities → the XAddr of each service (the media service is the one we need)."""
        capabilities = self.devicemgmt.GetCapabilities({"Category": "All"})
        media = getattr(capabilities, "Media", None)
        if media is not None and getattr(media, "XAddr", None):
            self.xaddrs[_MEDIA_NS] = media.XAddr

    def get_definition(self, name, portType=None):  # noqa: N803 - base class signature
        xaddr, wsdl, binding = super().get_definition(name, portType)
        if name == "devicemgmt":
            xaddr = self._device_xaddr  # the discovered XAddr, whatever its path
        return xaddr, wsdl, binding

    def create_onvif_service(self, name, from_template=True, portType=None):  # noqa: N803
        service = super().create_onvif_service(name, from_template, portType)
        if self._method in (None, AuthMethod.HTTP_DIGEST):
            service.zeep_client.wsse = None
        return service


def device_xaddr_for(host: str, port: int = 80) -> str:
    """The conventional device service address of a camera at ``host:port`` (IPv6 in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{DEVICE_SERVICE_PATH}"


@dataclass(frozen=True)
class CameraAddress:
    """A typed camera address, understood: where the device service is."""

    device_xaddr: str
    host: str
    port: int


def parse_camera_address(text: str, port: int | None = None) -> CameraAddress:
    """Understand what an engineer types as an ONVIF camera's address.

    Accepts ``host``, ``host:port``, an IPv6 address (bare or ``[v6]:port``) and a
    full ``http(s)://…/onvif/device_service`` URL (a discovered XAddr). ``port`` is
    the separate Port field (None: not set); a port in the address wins, and the two
    may not disagree. Raises :class:`BadCameraAddress` naming the problem.
    """
    text = text.strip()
    if not text:
        raise BadCameraAddress("enter the camera's IP address or host name")
    if port is not None and not 0 < port < 65536:
        raise BadCameraAddress(f"port {port} is not a port number (1 to 65535)")
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https"):
            raise BadCameraAddress(f"an ONVIF address starts with http:// or https://, not {parts.scheme}://"
                                   " (for an RTSP stream, type the camera's IP address)")
        try:
            url_port = parts.port
        except ValueError:
            raise BadCameraAddress(f"the port in {text} is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise BadCameraAddress(f"{text} names no camera host")
        _check_host(parts.hostname)
        default = 443 if parts.scheme.lower() == "https" else 80
        chosen = _agree(url_port, port, text) or default
        netloc = parts.netloc if url_port or port is None else f"{parts.netloc}:{chosen}"
        path = parts.path if parts.path not in ("", "/") else DEVICE_SERVICE_PATH
        xaddr = parts._replace(netloc=netloc, path=path).geturl()
        return CameraAddress(xaddr, parts.hostname, chosen)
    host, typed_port = _split_host_port(text)
    _check_host(host)
    chosen = _agree(typed_port, port, text) or 80
    return CameraAddress(device_xaddr_for(host, chosen), host, chosen)


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise BadCameraAddress(f"{text} opens a bracket for an IPv6 address but never closes it")
        if rest and not rest.startswith(":"):
            raise BadCameraAddress(f"after [{host}] only :port may follow, not {rest!r}")
        return host, _port_number(rest[1:], text) if rest else None
    if text.count(":") > 1:  # a bare IPv6 address: no port possible without brackets
        return text, None
    host, sep, port_text = text.partition(":")
    return host, _port_number(port_text, text) if sep else None


def _port_number(word: str, text: str) -> int:
    if not word.isdigit() or not 0 < int(word) < 65536:
        raise BadCameraAddress(f"the port in {text} must be a number from 1 to 65535, not {word!r}")
    return int(word)


def _check_host(host: str) -> None:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise BadCameraAddress(f"{host} is not a camera address: type host, host:port, "
                                   "[IPv6 address]:port or the camera's http://…/onvif/device_service URL"
                                   ) from None
        return
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host):
        raise BadCameraAddress(f"{host!r} is not an IP address or host name (letters, digits, dots and "
                               "dashes only; no spaces or slashes)")


def _agree(in_address: int | None, in_field: int | None, text: str) -> int | None:
    if in_address and in_field and in_address != in_field:
        raise BadCameraAddress(f"the address says port {in_address} but the Port field says {in_field}: "
                               "clear one of them")
    return in_address or in_field


class OnvifClient:
    """A camera's ONVIF device and media services, read the robust way (see module docstring).

    ``address`` is anything :func:`parse_camera_address` understands: a host name
    or IP, with or without ``:port`` (``port``, default 80, applies when it has none;
    the path is ``/onvif/device_service``), or a full device XAddr from WS-Discovery.
    """

    def __init__(self, address: str, port: int | None = None, username: str = "admin", password: str = "", *,
                 timeout_s: float = DEFAULT_TIMEOUT_S,
                 auth_methods: tuple[AuthMethod, ...] = ALL_AUTH_METHODS) -> None:
        parsed = parse_camera_address(address, port if "://" not in address else None)
        self.device_xaddr, self.host, self.port = parsed.device_xaddr, parsed.host, parsed.port
        self.username = username
        self._password = password
        self.timeout_s = timeout_s
        self.auth_methods = auth_methods
        self.clock_offset_s: float | None = None
        self.auth_method: AuthMethod | None = None
        self._camera: _Camera | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # cameras are on the LAN: never through a proxy

    def __repr__(self) -> str:  # never shows the password
        return f"OnvifClient({self.device_xaddr!r}, username={self.username!r})"

    @property
    def where(self) -> str:
        return f"camera at {self.host}:{self.port}"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> OnvifClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- the flow

    def read_camera(self) -> OnvifCameraInfo:
        """Clock offset, authentication, device information, profiles with their URIs."""
        warnings: list[str] = []
        offset = self.measure_clock_offset()
        if abs(offset) > 60:
            warnings.append(f"the camera clock is off by {_duration(offset)}; requests are signed "
                            "with the camera's time, but consider setting up NTP on the camera")
        device = self.authenticate()
        profiles = self.profiles()
        return OnvifCameraInfo(
            host=self.host, port=self.port, device_xaddr=self.device_xaddr, device=device,
            profiles=tuple(profiles), auth_method=self.auth_method or AuthMethod.WS_DIGEST,
            clock_offset_s=offset, snapshot_uri=next((p.snapshot_uri for p in profiles if p.snapshot_uri), ""),
            warnings=tuple(warnings),
        )

    def measure_clock_offset(self) -> float:
        """Read the camera clock unauthenticated; return camera time minus ours, in seconds."""
        sent = time.time()
        try:
            camera = self._make_camera(None, 0.0)
            reply = self._call("GetSystemDateAndTime", camera.devicemgmt.GetSystemDateAndTime, first=True)
        except OnvifAuthError:
            # Some cameras want HTTP Digest even for the clock (their clock then does not matter).
            sent = time.time()
            camera = self._make_camera(AuthMethod.HTTP_DIGEST, 0.0)
            try:
                reply = self._call("GetSystemDateAndTime", camera.devicemgmt.GetSystemDateAndTime)
            except OnvifAuthError:
                raise OnvifAuthError(
                    f"{self.where} rejected user {self.username!r}: wrong password (HTTP digest, "
                    "which this camera requires for every request)") from None
        received = time.time()
        try:
            utc = reply.UTCDateTime
            camera_time = dt.datetime(utc.Date.Year, utc.Date.Month, utc.Date.Day, utc.Time.Hour,
                                      utc.Time.Minute, utc.Time.Second, tzinfo=dt.timezone.utc)
        except (AttributeError, TypeError, ValueError) as exc:
            raise OnvifProtocolError(
                f"{self.where}: malformed SOAP reply to GetSystemDateAndTime (no usable UTCDateTime)"
            ) from exc
        # The camera reports whole seconds (truncated): +0.5 s removes that bias on average.
        self.clock_offset_s = camera_time.timestamp() + 0.5 - (sent + received) / 2
        return self.clock_offset_s

    def authenticate(self) -> OnvifDeviceInfo:
        """Try each auth method with GetDeviceInformation; keep the first that works."""
        if self.clock_offset_s is None:
            self.measure_clock_offset()
        refused: list[str] = []
        for method in self.auth_methods:
            camera = self._make_camera(method, self.clock_offset_s or 0.0)
            try:
                info = self._call("GetDeviceInformation", camera.devicemgmt.GetDeviceInformation)
            except OnvifAuthError:
                refused.append(method.label)
                continue
            if info is None or not (_text(info, "Manufacturer") or _text(info, "Model")):
                raise OnvifProtocolError(f"{self.where}: malformed SOAP reply to GetDeviceInformation "
                                         "(no manufacturer or model in it)")
            self._camera, self.auth_method = camera, method
            log.info("%s: authenticated as %r with %s", self.where, self.username, method.label)
            return OnvifDeviceInfo(
                manufacturer=_text(info, "Manufacturer"), model=_text(info, "Model"),
                firmware=_text(info, "FirmwareVersion"), serial=_text(info, "SerialNumber"),
                hardware_id=_text(info, "HardwareId"),
            )
        raise OnvifAuthError(
            f"{self.where} rejected user {self.username!r}: wrong password "
            f"(tried {', '.join(refused)}; the camera clock was accounted for)"
        )

    def profiles(self) -> list[OnvifProfile]:
        """Media profiles with their stream (RTSP over unicast) and snapshot URIs."""
        camera = self._authenticated()
        self._call("GetCapabilities", camera.load_xaddrs)
        if _MEDIA_NS not in camera.xaddrs:
            raise OnvifProtocolError(f"{self.where}: GetCapabilities names no media service")
        media = self._call("GetCapabilities", camera.create_media_service)
        raw_profiles = self._call("GetProfiles", media.GetProfiles) or []
        result = []
        for raw in raw_profiles:
            token = str(getattr(raw, "token", "") or "")
            encoder = getattr(raw, "VideoEncoderConfiguration", None)
            if not token or encoder is None:
                continue  # audio-only or metadata-only profiles carry no video
            resolution = getattr(encoder, "Resolution", None)
            rate = getattr(encoder, "RateControl", None)
            stream = self._call("GetStreamUri", media.GetStreamUri, {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": token,
            })
            try:
                snapshot_uri = _text(self._call("GetSnapshotUri", media.GetSnapshotUri,
                                                {"ProfileToken": token}), "Uri")
            except OnvifProtocolError as exc:  # optional in ONVIF: many cameras fault here
                log.info("%s: no snapshot URI for profile %s (%s)", self.where, token, exc)
                snapshot_uri = ""
            if not _text(stream, "Uri"):
                raise OnvifProtocolError(f"{self.where}: malformed SOAP reply to GetStreamUri "
                                         f"(no Uri for profile {token!r})")
            result.append(OnvifProfile(
                token=token, name=_text(raw, "Name") or token,
                codec=_text(encoder, "Encoding"),
                width=int(getattr(resolution, "Width", 0) or 0),
                height=int(getattr(resolution, "Height", 0) or 0),
                fps=float(getattr(rate, "FrameRateLimit", 0) or 0),
                stream_uri=_text(stream, "Uri"), snapshot_uri=snapshot_uri,
            ))
        if not result:
            raise OnvifProtocolError(f"{self.where}: malformed or empty SOAP reply to GetProfiles "
                                     "(no video profile with a token and an encoder configuration)")
        return result

    def fetch_snapshot(self, uri: str) -> bytes:
        """GET a snapshot URI with the method that worked (HTTP Digest where that was it)."""
        auth = HTTPDigestAuth(self.username, self._password) if self.auth_method is AuthMethod.HTTP_DIGEST else None
        try:
            response = self._session.get(uri, auth=auth, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise OnvifUnreachable(f"{self.where}: snapshot {_strip_query(uri)} failed: "
                                   f"{type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise OnvifAuthError(f"{self.where} refused the snapshot to user {self.username!r} "
                                 f"(HTTP {response.status_code})")
        if response.status_code != 200 or not is_decodable_image(response.content):
            raise OnvifProtocolError(f"{self.where}: snapshot {_strip_query(uri)} returned HTTP "
                                     f"{response.status_code} {response.headers.get('Content-Type', '')}, "
                                     "not an image")
        return response.content

    # -------------------------------------------------------------- helpers

    def _authenticated(self) -> _Camera:
        if self._camera is None:
            self.authenticate()
        assert self._camera is not None
        return self._camera

    def _make_camera(self, method: AuthMethod | None, offset_s: float) -> _Camera:
        session = requests.Session()
        session.trust_env = False
        if method is AuthMethod.HTTP_DIGEST:
            session.auth = HTTPDigestAuth(self.username, self._password)
        transport = _RecordingTransport(session=session, timeout=self.timeout_s,
                                        operation_timeout=self.timeout_s)
        try:
            return _Camera(self.device_xaddr, self.username, self._password, method, offset_s, transport)
        except Exception as exc:  # onvif-zeep wraps WSDL problems in ONVIFError
            raise OnvifError(f"cannot set up the ONVIF client for {self.where}: {exc}") from exc

    def _call(self, operation: str, fn, *args, first: bool = False):
        """Run one onvif-zeep call and turn whatever it raises into our typed errors."""
        try:
            return fn(*args)
        except Exception as exc:  # onvif-zeep wraps everything in ONVIFError; look at the cause
            raise self._translate(operation, exc, first) from exc

    def _translate(self, operation: str, exc: BaseException, first: bool) -> OnvifError:
        cause = _root_cause(exc)
        if isinstance(cause, requests.Timeout):
            return OnvifUnreachable(f"{self.where} did not answer {operation} within {self.timeout_s:g} s")
        if isinstance(cause, requests.ConnectionError):
            return OnvifUnreachable(f"{self.where} is unreachable: connection refused or no route "
                                    f"({operation} to {self.device_xaddr})")
        if isinstance(cause, _NoService):
            return NotOnvif(f"{self.where} answers HTTP but has no ONVIF service at "
                            f"{self.device_xaddr} (HTTP {cause.status} to {operation})")
        if isinstance(cause, Fault):
            subcodes = " ".join(str(getattr(s, "localname", s)) for s in (cause.subcodes or []))
            text = f"{cause.message or ''} {subcodes}".lower()
            if "notauthorized" in text or "not authorized" in text or "authority" in text:
                return OnvifAuthError(f"{self.where} rejected user {self.username!r} ({operation})")
            return OnvifProtocolError(f"{self.where}: {operation} failed with a SOAP fault: "
                                      f"{cause.message} {subcodes}".rstrip())
        if isinstance(cause, TransportError):
            if cause.status_code in (401, 403):
                return OnvifAuthError(f"{self.where} rejected user {self.username!r} "
                                      f"(HTTP {cause.status_code} to {operation})")
            content = cause.content or b""
            if first and not _looks_like_xml(content):
                return NotOnvif(f"{self.where} answers HTTP but not SOAP at {self.device_xaddr} "
                                f"(HTTP {cause.status_code} to {operation})")
            return OnvifProtocolError(f"{self.where}: malformed SOAP reply to {operation} "
                                      f"(HTTP {cause.status_code}, {len(content)} bytes of invalid XML)")
        return OnvifProtocolError(f"{self.where}: unexpected reply to {operation} "
                                  f"({type(cause).__name__}: {cause})")


def read_camera(address: str, port: int | None = None, username: str = "admin", password: str = "",
                timeout_s: float = DEFAULT_TIMEOUT_S) -> OnvifCameraInfo:
    """One-shot :meth:`OnvifClient.read_camera`."""
    with OnvifClient(address, port, username, password, timeout_s=timeout_s) as client:
        return client.read_camera()


def is_decodable_image(data: bytes) -> bool:
    """Whether ``data`` is an image OpenCV decodes (JPEG, PNG, BMP, WebP…): cameras differ."""
    if not data:
        return False
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def _root_cause(exc: BaseException) -> BaseException:
    """The first exception in the chain we know how to explain (onvif-zeep hides it in ONVIFError)."""
    known = (requests.RequestException, _NoService, Fault, TransportError)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, known):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def _looks_like_xml(content: bytes) -> bool:
    head = content.lstrip()[:200].lower()
    return head.startswith(b"<?xml") or b"envelope" in head


def _text(obj, name: str) -> str:
    with contextlib.suppress(AttributeError, TypeError):
        value = getattr(obj, name)
        return "" if value is None else str(value)
    return ""


def _strip_query(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 80}{parts.path}"


def _duration(seconds: float) -> str:
    s = abs(seconds)
    sign = "ahead" if seconds > 0 else "behind"
    if s >= 3600:
        return f"{s / 3600:.1f} h ({sign})"
    if s >= 60:
        return f"{s / 60:.0f} min ({sign})"
    return f"{s:.0f} s ({sign})"
