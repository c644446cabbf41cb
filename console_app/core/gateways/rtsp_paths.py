"""Finding a camera's RTSP stream without ONVIF: vendor path templates, tried with DESCRIBE.

Cameras without ONVIF (or with it switched off) still serve RTSP at a path
their vendor chose. :data:`VENDOR_PATHS` lists the common ones;
:func:`find_stream` asks the camera about each with a plain RTSP ``DESCRIBE``
(a few hundred bytes, answered in milliseconds: 404 for a wrong path, 401
for wrong credentials, 200 for a stream) instead of opening a video decoder
per guess. The DESCRIBE client, credential handling and redaction are the
device's own (:mod:`device_runtime.media`), so a camera is judged the same
way on both sides.

Passwords never appear in results or messages.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from device_runtime.media.redact import with_credentials
from device_runtime.media.rtsp_diagnose import DEFAULT_RTSP_PORT, diagnose

__all__ = ["DEFAULT_RTSP_PORT", "VENDOR_PATHS", "FoundStream", "RtspPathNotFound", "candidate_urls",
           "find_stream"]

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
class FoundStream:
    """A working RTSP URL found by :func:`find_stream` and the vendor template it came from."""

    url: str
    vendor: str
    tried: int


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
        answers = list(pool.map(lambda c: diagnose(c[1], timeout_s), candidates))
    for (vendor, url), answer in zip(candidates, answers, strict=True):
        if answer.camera_ok:
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
