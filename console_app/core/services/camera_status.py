"""Registered cameras at a glance: online, offline or refusing our password, with a thumbnail.

No Qt. :class:`CameraMonitor` checks every registered camera on its own daemon
thread, one after the other, every ``interval_s``, and hands each
:class:`CameraCheck` to ``on_result`` on that thread (the Cameras page decodes
the thumbnail there and re-emits on the GUI thread), so no check ever runs on
the GUI thread and a dead camera (timeouts) delays only its own row.

How a camera is checked, cheapest first:

* ONVIF cameras: an authenticated ``GetDeviceInformation`` (after the
  unauthenticated clock read, as registration does) tells online from offline
  from a refused password; the thumbnail is the camera's ONVIF snapshot (JPEG,
  PNG, whatever it serves), fetched with the same credentials.
* RTSP-only cameras: one ``DESCRIBE`` with the stored credentials (200, 401,
  nothing), then, when online, one decoded frame from the stream.
* Streams only a Sightline device renders (``sim://``) and have no snapshot
  URI: their state comes from the ONVIF check alone.

Passwords come from the credential store on this thread, one camera at a
time, and never appear in a :class:`CameraCheck`.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from console_app.core.gateways import onvif_client, stream_reader
from console_app.core.gateways.onvif_client import (
    OnvifAuthError,
    OnvifClient,
    OnvifError,
    OnvifUnreachable,
)
from device_runtime.media.redact import with_camera_credentials
from device_runtime.media.rtsp_diagnose import diagnose

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 30.0


class Availability(str, enum.Enum):
    """What the Cameras page shows per registered camera (the words VMS clients use)."""

    CHECKING = "checking"
    ONLINE = "online"
    OFFLINE = "offline"
    AUTH_FAILED = "auth failed"

    @property
    def label(self) -> str:
        return {"checking": "Checking…", "online": "Online", "offline": "Offline",
                "auth failed": "Wrong password"}[self.value]


@dataclass(frozen=True)
class CameraCheck:
    """One check of one camera: its state, why, and a thumbnail (image bytes, maybe empty)."""

    camera_id: int
    availability: Availability
    detail: str = ""
    image: bytes = b""
    checked_at: float = 0.0


PasswordLookup = Callable[[int], "str | None"]


def check_camera(camera: Any, password: str | None, timeout_s: float = 4.0) -> CameraCheck:
    """Check one registered camera (a ``CameraRecord``); blocking, bounded by ``timeout_s`` per step."""
    now = time.time()
    user = camera.username or ""
    if camera.onvif_port and camera.auth_method != "rtsp":
        return _check_onvif(camera, user, password or "", timeout_s, now)
    return _check_rtsp(camera, user, password, timeout_s, now)


def _check_onvif(camera: Any, user: str, password: str, timeout_s: float, now: float) -> CameraCheck:
    address = onvif_client.device_xaddr_for(camera.host, camera.onvif_port)
    try:
        with OnvifClient(address, username=user, password=password, timeout_s=timeout_s) as client:
            client.authenticate()
            image = b""
            if camera.snapshot_uri:
                try:
                    image = client.fetch_snapshot(with_camera_credentials(camera.snapshot_uri, None, password))
                except OnvifError as exc:  # many cameras have no (working) snapshot: state still counts
                    log.debug("camera %s: no thumbnail: %s", camera.id, exc)
    except OnvifAuthError as exc:
        return CameraCheck(camera.id, Availability.AUTH_FAILED, str(exc), checked_at=now)
    except OnvifUnreachable as exc:
        return CameraCheck(camera.id, Availability.OFFLINE, str(exc), checked_at=now)
    except OnvifError as exc:  # answers, but not as ONVIF any more: not usable as registered
        return CameraCheck(camera.id, Availability.OFFLINE, str(exc), checked_at=now)
    if not image and _decodable_here(camera.stream_uri):
        image = _stream_frame(camera, user, password, timeout_s)
    return CameraCheck(camera.id, Availability.ONLINE, f"answers at {camera.host}:{camera.onvif_port}",
                       image, now)


def _check_rtsp(camera: Any, user: str, password: str | None, timeout_s: float, now: float) -> CameraCheck:
    url = with_camera_credentials(camera.stream_uri, user, password)
    answer = diagnose(url, timeout_s)
    if answer.status in (401, 403):
        return CameraCheck(camera.id, Availability.AUTH_FAILED, answer.reason, checked_at=now)
    if not answer.camera_ok:
        return CameraCheck(camera.id, Availability.OFFLINE, answer.reason, checked_at=now)
    return CameraCheck(camera.id, Availability.ONLINE, answer.reason,
                       _stream_frame(camera, user, password, timeout_s), now)


def _decodable_here(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("rtsp", "rtsps", "http", "https")


def _stream_frame(camera: Any, user: str, password: str | None, timeout_s: float) -> bytes:
    url = camera.stream_uri
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        url = with_camera_credentials(url, user, password)
    first = stream_reader.test_open(url, timeout_s)
    return first.jpeg if first.ok else b""


class CameraMonitor:
    """Checks the registered cameras in the background until :meth:`stop`.

    ``password_of(camera_id)`` reads the credential store (on the monitor's
    thread); ``on_result(check)`` runs on that thread after each camera. Call
    :meth:`set_cameras` whenever the inventory list changes; :meth:`refresh`
    checks everything again now.
    """

    def __init__(self, password_of: PasswordLookup, on_result: Callable[[CameraCheck], None], *,
                 interval_s: float = DEFAULT_INTERVAL_S, timeout_s: float = 4.0,
                 check: Callable[[Any, str | None, float], CameraCheck] = check_camera) -> None:
        self._password_of = password_of
        self._on_result = on_result
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._check = check
        self._lock = threading.Lock()
        self._cameras: tuple[Any, ...] = ()
        self._wake = threading.Event()
        # Each run has its own stop event: a run told to stop ends after its check in progress,
        # while a restart (the page shown again at once) starts a fresh run beside it.
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether a run is going on and has not been told to stop."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def set_cameras(self, cameras: Sequence[Any]) -> None:
        """Check these cameras from now on (starting with a round at once)."""
        with self._lock:
            self._cameras = tuple(cameras)
        self._wake.set()

    def refresh(self) -> None:
        """Start a new round of checks now."""
        self._wake.set()

    def start(self) -> CameraMonitor:
        """Start checking (a round at once); nothing happens when already running."""
        if self.running:
            return self
        self._stop = threading.Event()
        self._wake.set()
        self._thread = threading.Thread(target=self._run, args=(self._stop,), name="camera-monitor",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the check in progress (each is bounded by ``timeout_s``); wait at most ``timeout_s``."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and timeout_s > 0:
            thread.join(timeout_s)

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            with self._lock:
                cameras = self._cameras
            for camera in cameras:
                if stop.is_set() or self._wake.is_set():
                    break  # a new list (or stop) came: start over with it
                try:
                    password = self._password_of(camera.id)
                    result = self._check(camera, password, self.timeout_s)
                except Exception as exc:  # one camera's fault never stops the others' checks
                    log.exception("checking camera %s failed", getattr(camera, "id", "?"))
                    result = CameraCheck(camera.id, Availability.OFFLINE, f"{type(exc).__name__}: {exc}",
                                         checked_at=time.time())
                if stop.is_set():
                    break
                try:
                    self._on_result(result)
                except Exception:
                    log.exception("camera status listener failed")
            self._wake.wait(self.interval_s)
