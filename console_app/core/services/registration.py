"""The add-camera flow as a Qt-free state machine (Electrum-style: the UI only renders steps).

Steps::

    ADDRESS → CREDENTIALS → PROBING → CHOOSE_PROFILE → TEST_STREAM → REVIEW → SAVING → SAVED
                                 ↘            any failure → FAILED (back() returns to the step that fixes it)
    CANCELLED from any step before SAVED.

ONVIF cameras are read through :mod:`console_app.core.gateways.onvif_client`
(clock offset, auth fallback, profiles). Without ONVIF the engineer gives an
RTSP URL, or just a host, and the vendor path templates of
:mod:`console_app.core.gateways.rtsp_paths` are tried. The chosen stream is
test-opened locally, or through a paired device's ProbeCamera call when only
the device can reach the camera (and always for ``sim://`` streams, which
only a device renders). Saving is the inventory's job: the wizard calls the
``save(registration, password)`` callable it was given and shows whatever
that raises (duplicate camera, database down) without changing anything.

Duplicates are refused as early as the wizard can tell: on the address page
when the discovered endpoint or the typed address is one of the ``registered``
cameras it was given, after probing when the serial number is, and at save
time by the inventory itself; always with a sentence that names both cameras.
The name proposed is unique among those cameras and the other ``known_names``
(cameras of one model announce the same ONVIF name): the serial or the address
is added when needed, and the engineer may rename on the review page.

Blocking steps (:meth:`AddCameraWizard.probe`, :meth:`~AddCameraWizard.test_stream`,
:meth:`~AddCameraWizard.save`) are meant to run in a background operation;
:meth:`~AddCameraWizard.cancel` may be called from another thread meanwhile,
and a result that arrives after a cancel is dropped.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from console_app.core.gateways import onvif_client, rtsp_paths, stream_reader
from console_app.core.gateways.onvif_client import (
    BadCameraAddress,
    OnvifAuthError,
    OnvifCameraInfo,
    OnvifError,
    OnvifProfile,
)
from console_app.core.gateways.stream_reader import FirstFrame, is_device_only, test_open
from console_app.core.services.camera_identity import (
    already_registered_message,
    find_registered,
    unique_name,
)
from device_runtime.media.redact import (
    redact_url,
    split_credentials,
    split_url_password,
    with_camera_credentials,
    with_credentials,
)
from device_runtime.media.rtsp_diagnose import diagnose

#: The UI opens and classifies streams through this service, never through the gateway itself.
__all__ = [
    "AddCameraWizard", "CameraRegistration", "DeviceProbe", "FirstFrame", "Mode", "Step", "WizardStepError",
    "device_probe_from_client", "device_probe_through", "is_device_only", "test_open",
]

log = logging.getLogger(__name__)


class Step(str, enum.Enum):
    """Where the add-camera wizard is."""

    ADDRESS = "address"
    CREDENTIALS = "credentials"
    PROBING = "probing"
    CHOOSE_PROFILE = "choose_profile"
    TEST_STREAM = "test_stream"
    REVIEW = "review"
    SAVING = "saving"
    SAVED = "saved"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Mode(str, enum.Enum):
    ONVIF = "onvif"
    RTSP = "rtsp"


class WizardStepError(RuntimeError):
    """An action was asked for in a step that does not offer it (a bug in the caller)."""


@dataclass(frozen=True)
class CameraRegistration:
    """Everything the inventory stores about a registered camera (never the password)."""

    name: str
    host: str
    port: int
    manufacturer: str
    model: str
    serial: str
    endpoint_reference: str
    profiles: tuple[OnvifProfile, ...]
    profile_token: str
    stream_uri: str            # without credentials
    snapshot_uri: str
    auth_method: str           # "ws-digest", "ws-text", "http-digest", or "rtsp" without ONVIF
    clock_offset_s: float
    username: str
    onvif: bool = True
    firmware: str = ""
    #: The paired device that opened the stream when this console could not (None: the console can).
    reachable_via_device_id: str | None = None

    @property
    def onvif_port(self) -> int | None:
        """The ONVIF service port (None for an RTSP-only camera, whose ``port`` is the RTSP port)."""
        return self.port if self.onvif else None


DeviceProbe = Callable[[str, float], FirstFrame]
SaveFn = Callable[[CameraRegistration, str], object]


def device_probe_from_client(client) -> DeviceProbe:
    """Adapt a paired :class:`~console_app.core.gateways.device_client.DeviceClient` to a probe callable."""

    def probe(url: str, timeout_s: float) -> FirstFrame:
        r = client.probe_camera(url, timeout_ms=int(timeout_s * 1000))
        return FirstFrame(ok=r.ok, error=r.error, width=r.width, height=r.height, fps=r.fps, codec=r.codec,
                          jpeg=bytes(r.jpeg), open_ms=r.open_ms)

    return probe


def device_probe_through(connect: Callable[[], Any]) -> DeviceProbe:
    """A probe that opens a fresh connection per call (``connect()`` returns a DeviceClient).

    For the UI: the add-camera session outlives any one connection, and a
    probe may come minutes after the dialog opened.
    """

    def probe(url: str, timeout_s: float) -> FirstFrame:
        with connect() as client:
            return device_probe_from_client(client)(url, timeout_s)

    return probe


class AddCameraWizard:
    """One add-camera session. Read :attr:`step`, :attr:`error` and the result fields; call actions.

    ``save(registration, password)`` stores the camera (the inventory).
    ``device_probe(url, timeout_s)`` test-opens through a paired device; None
    when no device is paired. ``on_change(wizard)`` runs after every step
    change, on the thread that caused it (the UI bridge re-emits it).
    ``registered``: the cameras already in the inventory (``CameraRecord``-like),
    ``known_names``: other names in view (discovered cameras), both for the
    duplicate checks and the unique name proposal.
    The gateways are parameters so a test can swap in a fault it cannot cause
    with a real camera; by default they are the real ones.
    """

    def __init__(self, save: SaveFn, *, device_probe: DeviceProbe | None = None, probe_device_id: str | None = None,
                 timeout_s: float = 5.0,
                 on_change: Callable[[AddCameraWizard], None] | None = None,
                 registered: Sequence[Any] = (), known_names: Collection[str] = (),
                 read_camera: Callable[..., OnvifCameraInfo] = onvif_client.read_camera,
                 find_stream: Callable[..., rtsp_paths.FoundStream] = rtsp_paths.find_stream,
                 local_test_open: Callable[[str, float], FirstFrame] = stream_reader.test_open) -> None:
        self._save = save
        self.registered = tuple(registered)
        self.known_names = tuple(known_names)
        self._device_probe = device_probe
        #: Which paired device ``device_probe`` goes through (recorded when the stream opened only there).
        self.probe_device_id = probe_device_id
        self.timeout_s = timeout_s
        self._on_change = on_change
        self._read_camera = read_camera
        self._find_stream = find_stream
        self._local_test_open = local_test_open
        self._lock = threading.RLock()
        self._generation = 0  # bumped by cancel/back: results of older blocking calls are dropped
        self.step = Step.ADDRESS
        self.error = ""
        self.warnings: tuple[str, ...] = ()
        self._history: list[Step] = []
        self._back_to = Step.ADDRESS
        self.mode = Mode.ONVIF
        self.address = ""
        self.port = 80
        self.endpoint_reference = ""
        self.name = ""
        self.username = "admin"
        self._password = ""
        self._address_password = ""  # the one an RTSP URL carried (user:password@ or ?pwd=), taken out of it
        self.camera: OnvifCameraInfo | None = None
        self.profile: OnvifProfile | None = None
        self.first_frame: FirstFrame | None = None
        self.tested_via = ""  # "console" or "device"
        self.registration: CameraRegistration | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"AddCameraWizard(step={self.step.value}, address={self.address!r}, user={self.username!r})"

    @property
    def address_has_password(self) -> bool:
        """Whether the RTSP URL given as the address carried a password (now taken out of it)."""
        return bool(self._address_password)

    # ------------------------------------------------------------ actions

    def set_address(self, address: str, port: int | None = None, *, mode: Mode | str | None = None,
                    endpoint_reference: str = "", name: str = "") -> None:
        """ADDRESS → CREDENTIALS. ``address``: host/IP, a device XAddr, or (RTSP mode) an RTSP URL or host.

        ``mode`` None: an ``rtsp://`` or ``rtsps://`` URL is a camera without ONVIF, anything else ONVIF.
        """
        with self._lock:
            self._expect(Step.ADDRESS)
            address = address.strip()
            if mode is None:
                mode = Mode.RTSP if address.lower().startswith(("rtsp://", "rtsps://")) else Mode.ONVIF
            mode = Mode(mode)
            if not address:
                return self._fail_here("enter the camera's IP address or host name")
            if mode is Mode.RTSP and "://" in address and urlsplit(address).scheme.lower() not in ("rtsp", "rtsps"):
                return self._fail_here(f"{redact_url(address)} is not an rtsp:// URL")
            address_password = ""
            if mode is Mode.RTSP and "://" in address:
                # The password leaves the URL here, so no later step shows or stores it with the URL.
                bare, user, password = split_credentials(address)
                bare, in_query = split_url_password(bare)
                address, address_password = with_credentials(bare, user, None), password or in_query or ""
            host = ""
            if mode is Mode.ONVIF:
                try:
                    parsed = onvif_client.parse_camera_address(address, port)
                except BadCameraAddress as exc:
                    return self._fail_here(str(exc))
                address, host, port = parsed.device_xaddr, parsed.host, parsed.port
            existing = find_registered(self.registered, endpoint_reference=endpoint_reference, host=host,
                                       port=port if mode is Mode.ONVIF else None)
            if existing is not None:
                label = name or (f"The camera at {host}:{port}" if host else "This camera")
                return self._fail_here(already_registered_message(label, existing.name))
            self.mode, self.address, self.endpoint_reference, self.name = mode, address, endpoint_reference, name
            self._address_password = address_password
            self.port = port or (rtsp_paths.DEFAULT_RTSP_PORT if mode is Mode.RTSP else 80)
            self._advance(Step.CREDENTIALS)

    def set_credentials(self, username: str, password: str) -> None:
        """CREDENTIALS → PROBING (then call :meth:`probe`, in the background)."""
        with self._lock:
            self._expect(Step.CREDENTIALS)
            if self._address_password:
                if password and password != self._address_password:
                    return self._fail_here("the stream URL already carries a password, and a different one "
                                           "was typed: leave the password empty, or go back and take it out "
                                           "of the URL")
                password = self._address_password
            self.username, self._password = username.strip(), password
            self._advance(Step.PROBING, remember=False)

    def probe(self) -> None:
        """PROBING → CHOOSE_PROFILE (ONVIF) or TEST_STREAM (RTSP), or FAILED naming the problem. Blocking."""
        with self._lock:
            if self.step is Step.CANCELLED:
                return  # cancelled before the background operation got going
            self._expect(Step.PROBING)
            generation = self._generation
        try:
            if self.mode is Mode.ONVIF:
                camera = self._read_camera(self.address, self.port, self.username, self._password,
                                           timeout_s=self.timeout_s)
                profile = None
            else:
                camera, profile = self._probe_rtsp()
        except (OnvifError, rtsp_paths.RtspPathNotFound) as exc:
            with self._lock:
                if generation == self._generation:
                    back_to = Step.CREDENTIALS if _is_auth_problem(exc) else Step.ADDRESS
                    self._fail(self._scrub(str(exc)), back_to)
            return
        except Exception as exc:  # a fault no gateway names: back to the address, said plainly
            log.exception("reading the camera at %s failed unexpectedly", self.address)
            with self._lock:
                if generation == self._generation:
                    self._fail(self._scrub(f"the camera at {self.address} could not be read "
                                           f"({type(exc).__name__}: {exc})"), Step.ADDRESS)
            return
        with self._lock:
            if generation != self._generation:
                return
            device = camera.device
            existing = find_registered(self.registered, serial=device.serial, manufacturer=device.manufacturer)
            if existing is not None:
                label = self.name or " ".join(x for x in (device.manufacturer, device.model, device.serial) if x)
                return self._fail(already_registered_message(label, existing.name), Step.ADDRESS)
            self.camera, self.warnings = camera, camera.warnings
            others = [n for n in self.known_names if n]
            if self.name in others:
                others.remove(self.name)  # this camera's own discovered entry; twins stay
            taken = [c.name for c in self.registered] + others
            self.name = unique_name(self.name or _default_name(camera), taken, serial=device.serial,
                                    host=camera.host)
            if profile is not None:
                self.profile = profile
                self._advance(Step.TEST_STREAM)
            else:
                self._advance(Step.CHOOSE_PROFILE)

    def choose_profile(self, token: str) -> None:
        """CHOOSE_PROFILE → TEST_STREAM."""
        with self._lock:
            self._expect(Step.CHOOSE_PROFILE)
            assert self.camera is not None
            for profile in self.camera.profiles:
                if profile.token == token:
                    self.profile = profile
                    return self._advance(Step.TEST_STREAM)
            known = ", ".join(p.token for p in self.camera.profiles)
            raise WizardStepError(f"no profile {token!r} on this camera (it has {known})")

    def test_stream(self, via_device: bool | None = None) -> None:
        """TEST_STREAM → REVIEW with :attr:`first_frame`, or FAILED. Blocking.

        ``via_device=None`` picks: the device for device-only (sim://) URLs or
        when the console cannot open the stream but a device is paired.
        """
        with self._lock:
            if self.step is Step.CANCELLED:
                return
            self._expect(Step.TEST_STREAM)
            assert self.profile is not None
            generation = self._generation
            url = self._stream_url_with_credentials()
        device_only = stream_reader.is_device_only(url)
        if via_device is None:
            via_device = device_only and self._device_probe is not None
        if via_device and self._device_probe is None:
            with self._lock:
                return self._fail("no paired device to test the stream through; pair a device first",
                                  Step.TEST_STREAM)
        try:
            first = (self._device_probe(url, self.timeout_s) if via_device  # type: ignore[misc]
                     else self._local_test_open(url, self.timeout_s))
            if not first.ok and not via_device and not first.device_only and self._device_probe is not None:
                # The console may simply not reach the camera's VLAN: the device might.
                first, via_device = self._device_probe(url, self.timeout_s), True
        except Exception as exc:  # the device's connection dropped, a decoder crashed: try again from here
            log.info("test-opening the stream failed: %s", type(exc).__name__)
            first = FirstFrame(ok=False, error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            if generation != self._generation:
                return
            if not first.ok:
                where = "through the paired device" if via_device else "from this console"
                reason = first.error or "no frame"
                if first.device_only:
                    reason += " (no device is paired)"
                return self._fail(self._scrub(f"the stream did not open {where}: {reason}"), Step.TEST_STREAM)
            self.first_frame, self.tested_via = first, "device" if via_device else "console"
            self._advance(Step.REVIEW)

    def set_name(self, name: str) -> None:
        """Rename the camera while reviewing."""
        with self._lock:
            self._expect(Step.REVIEW)
            if not name.strip():
                raise WizardStepError("a camera needs a name")
            self.name = name.strip()

    def save(self) -> CameraRegistration | None:
        """REVIEW → SAVING → SAVED, or FAILED with the inventory's message (nothing saved). Blocking."""
        with self._lock:
            self._expect(Step.REVIEW)
            registration = self._build_registration()
            self._advance(Step.SAVING, remember=False)
        try:
            self._save(registration, self._password)
        except Exception as exc:  # the inventory's errors (duplicate, database down) are shown as they are
            existing_name = getattr(exc, "existing_name", None)
            message = (already_registered_message(registration.name, existing_name) if existing_name
                       else self._scrub(str(exc)) or type(exc).__name__)
            with self._lock:
                self._fail(message, Step.REVIEW)
            return None
        with self._lock:
            self.registration = registration
            self._password = self._address_password = ""
            self._advance(Step.SAVED, remember=False)
            return registration

    def back(self) -> None:
        """Return to the previous step (from FAILED: to the step that can fix the problem)."""
        with self._lock:
            if self.step in (Step.SAVED, Step.CANCELLED, Step.SAVING):
                raise WizardStepError(f"cannot go back from {self.step.value}")
            self._generation += 1
            self.error = ""
            if self.step is Step.ADDRESS:
                raise WizardStepError("already at the first step")
            if self.step is Step.FAILED:
                while self._history and self._history[-1] != self._back_to:
                    self._history.pop()
            elif self._history and self._history[-1] == self.step:
                self._history.pop()
            # else a transient step (PROBING): back to the step that started it
            self.step = self._history[-1] if self._history else Step.ADDRESS
            if self.step is Step.ADDRESS:
                self._history = [Step.ADDRESS]
            self._changed()

    def cancel(self) -> None:
        """Abandon the session from any step before SAVED; a running probe's result is dropped."""
        with self._lock:
            if self.step in (Step.SAVED, Step.CANCELLED):
                return
            self._generation += 1
            self._password = self._address_password = ""
            self.step = Step.CANCELLED
            self._changed()

    # ------------------------------------------------------------ helpers

    def _probe_rtsp(self) -> tuple[OnvifCameraInfo, OnvifProfile]:
        user = self.username or None
        password = self._password or None
        if "://" in self.address:
            url = with_camera_credentials(self.address, user, password)
            answer = diagnose(url, self.timeout_s)
            if not answer.camera_ok:
                raise rtsp_paths.RtspPathNotFound(answer.reason, status=answer.status)
            vendor = ""
        else:
            found = self._find_stream(self.address, self.port, user, password, timeout_s=self.timeout_s)
            url, vendor = found.url, found.vendor
        bare = split_url_password(split_credentials(url)[0])[0]
        parts = urlsplit(bare)
        profile = OnvifProfile(token="rtsp", name="RTSP stream", codec="", width=0, height=0, fps=0.0,
                               stream_uri=bare)
        camera = OnvifCameraInfo(
            host=parts.hostname or self.address, port=parts.port or rtsp_paths.DEFAULT_RTSP_PORT, device_xaddr="",
            device=onvif_client.OnvifDeviceInfo(vendor, "", "", "", ""), profiles=(profile,),
            auth_method=onvif_client.AuthMethod.WS_DIGEST, clock_offset_s=0.0,
        )
        return camera, profile

    def _stream_url_with_credentials(self) -> str:
        assert self.profile is not None
        url = self.profile.stream_uri
        if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
            return with_camera_credentials(url, self.username, self._password or None)
        return url

    def _build_registration(self) -> CameraRegistration:
        camera, profile = self.camera, self.profile
        assert camera is not None and profile is not None
        if self.first_frame is not None and self.first_frame.ok and not profile.width:
            profile = replace(profile, codec=self.first_frame.codec, width=self.first_frame.width,
                              height=self.first_frame.height, fps=self.first_frame.fps)
        onvif = self.mode is Mode.ONVIF
        return CameraRegistration(
            name=self.name, host=camera.host, port=camera.port, manufacturer=camera.device.manufacturer,
            model=camera.device.model, serial=camera.device.serial, endpoint_reference=self.endpoint_reference,
            profiles=camera.profiles if onvif else (profile,), profile_token=profile.token,
            stream_uri=profile.stream_uri, snapshot_uri=profile.snapshot_uri or camera.snapshot_uri,
            auth_method=camera.auth_method.value if onvif else "rtsp", clock_offset_s=camera.clock_offset_s,
            username=self.username, onvif=onvif, firmware=camera.device.firmware,
            reachable_via_device_id=self.probe_device_id if self.tested_via == "device" else None,
        )

    def _scrub(self, text: str) -> str:
        # Last line of defence: gateway messages never carry the password, foreign ones might.
        if self._password and len(self._password) >= 3:
            text = text.replace(self._password, "***")
        return text

    def _expect(self, *steps: Step) -> None:
        if self.step not in steps:
            wanted = " or ".join(s.value for s in steps)
            raise WizardStepError(f"the wizard is at {self.step.value}, not {wanted}")

    def _advance(self, step: Step, remember: bool = True) -> None:
        if not self._history:
            self._history.append(self.step)
        self.error = ""
        self.step = step
        if remember:
            self._history.append(step)
        self._changed()

    def _fail(self, message: str, back_to: Step) -> None:
        self.error, self._back_to, self.step = message, back_to, Step.FAILED
        self._changed()

    def _fail_here(self, message: str) -> None:
        self.error = message
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)


def _is_auth_problem(exc: Exception) -> bool:
    return isinstance(exc, OnvifAuthError) or getattr(exc, "status", None) == 401


def _default_name(camera: OnvifCameraInfo) -> str:
    label = " ".join(x for x in (camera.device.manufacturer, camera.device.model) if x) or "Camera"
    return f"{label} ({camera.host})"
