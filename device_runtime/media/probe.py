"""One frame from a camera URL: what a test-open reports, and the console's opener.

:class:`FirstFrame` is what both halves report after trying a URL: the
device's ``probe_url`` (through its sources, so test:// and sim:// work
too) and the console's own test-open, :func:`first_frame`, which opens RTSP
and files with OpenCV directly. RTSP is tried over TCP first, then UDP
(cameras and networks that block one of them are common); after a failed
open one DESCRIBE (:mod:`~device_runtime.media.rtsp_diagnose`) says why.
Errors never hold a password.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from device_runtime.media.ffmpeg_capture import codec_name, open_capture
from device_runtime.media.redact import redact_url
from device_runtime.media.rtsp_diagnose import diagnose

RTSP_SCHEMES = ("rtsp", "rtsps")
TRANSPORTS = ("tcp", "udp")
# A one-shot open may probe a little longer than the device's reconnecting reader: it reports the
# stream's rate and codec, which FFmpeg fills in from what it probed (GStreamer and most cameras
# send SPS/PPS at once; FFmpeg's own defaults add about a second per open).
PROBE_OPTIONS = {"analyzeduration": "500000", "probesize": "500000"}
JPEG_QUALITY = 85


@dataclass(frozen=True)
class FirstFrame:
    """The outcome of a test-open; on failure only ``ok``, ``error`` (no password) and timing.

    ``open_ms`` runs from the start to the first decoded frame (or the
    failure); ``fps`` is the rate the stream announces.
    """

    ok: bool
    error: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    codec: str = ""
    jpeg: bytes = b""
    open_ms: float = 0.0
    transport: str = ""        # "tcp" or "udp" for RTSP
    device_only: bool = False  # only a Sightline device can open this URL (sim://)


def encode_jpeg(image: np.ndarray) -> bytes:
    """``image`` (BGR) as JPEG bytes, ``b""`` if it cannot be encoded."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return encoded.tobytes() if ok else b""


def is_rtsp(url: str) -> bool:
    """Whether ``url`` is an rtsp:// or rtsps:// URL."""
    return urlsplit(url).scheme.lower() in RTSP_SCHEMES


def _open_stream(url: str, deadline: float) -> tuple[cv2.VideoCapture | None, str]:
    """Open ``url`` before ``deadline`` (RTSP: TCP, then UDP); the capture and its transport.

    Returns ``(None, "")`` when nothing opened; the caller releases the capture.
    """
    for transport in (TRANSPORTS if is_rtsp(url) else ("",)):
        left = deadline - time.monotonic()
        if left <= 0.05:
            break
        options = {**PROBE_OPTIONS, "rtsp_transport": transport} if transport else None
        capture = open_capture(url, options, open_timeout_s=left, read_timeout_s=left)
        if capture.isOpened():
            return capture, transport
        capture.release()
    return None, ""


def _why_not_opened(url: str, deadline: float, timeout_s: float) -> str:
    """Why :func:`_open_stream` failed, asking the camera with DESCRIBE (at most ~2 s)."""
    shown = redact_url(url)
    if not is_rtsp(url):
        return f"could not open {shown}"
    diagnosis = diagnose(url, max(0.5, min(2.0, deadline - time.monotonic())))
    if diagnosis.camera_ok:  # the camera is fine: the media setup failed (codec, transport blocked)
        return (f"{shown} answers but its video could not be received over TCP or UDP within "
                f"{timeout_s:g} s (firewall, or a codec this program cannot decode)")
    return diagnosis.reason


def first_frame(url: str, timeout_s: float = 5.0) -> FirstFrame:
    """Open ``url``, read one frame, and return it as JPEG with the stream's properties.

    Never takes much longer than ``timeout_s`` in total (TCP and UDP share it).
    """
    started = time.monotonic()
    deadline = started + timeout_s
    capture, transport = _open_stream(url, deadline)
    if capture is None:
        return FirstFrame(ok=False, error=_why_not_opened(url, deadline, timeout_s),
                          open_ms=(time.monotonic() - started) * 1000)
    try:
        ok, image = capture.read()
        if not ok or image is None:
            return FirstFrame(ok=False, transport=transport, open_ms=(time.monotonic() - started) * 1000,
                              error=f"{redact_url(url)} opened but sent no decodable frame within {timeout_s:g} s")
        return FirstFrame(
            ok=True, width=int(image.shape[1]), height=int(image.shape[0]),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0), codec=codec_name(capture),
            jpeg=encode_jpeg(image), open_ms=(time.monotonic() - started) * 1000, transport=transport,
        )
    finally:
        capture.release()
