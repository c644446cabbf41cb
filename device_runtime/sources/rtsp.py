"""RTSP cameras (H.264/H.265) through OpenCV's FFmpeg backend.

Opening tries TCP first (works through NAT and firewalls, no packet loss)
and falls back to UDP when TCP fails while the camera itself answers (a
UDP-only camera answers TCP with 461). The transport that worked is tried
first on the next reconnect. Every open and read is bounded by timeouts, so
a dead camera never holds the reader thread for long.

What is retried and what is final:

* FAILED (final): 401 Unauthorized (wrong or missing credentials; retrying
  could lock the account on many cameras), 403 Forbidden, a URL without a
  host or with a bad port.
* RECONNECTING (retried with backoff): connection refused, no answer,
  unknown host (DNS may come back), 404 (relays and NVRs answer 404 while a
  channel is offline), any other RTSP error, a stream that stops delivering.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import cv2

from device_runtime.media.ffmpeg_capture import codec_name, open_capture
from device_runtime.media.redact import get_logger, redact_text, redact_url, split_credentials
from device_runtime.media.rtsp_diagnose import diagnose
from device_runtime.sources.base import Capture, Source
from device_runtime.sources.errors import InvalidSourceUrl, SourceOpenError

log = get_logger(__name__)

TRANSPORTS = ("tcp", "udp")
# Small probe: the camera's SDP already names the codec; this cuts open time from ~1.2 s to ~0.3 s.
FAST_OPEN_OPTIONS = {"analyzeduration": "200000", "probesize": "65536"}
_MAX_DIAGNOSE_S = 2.0


def check_before_next_transport(shown_url: str, raw_url: str, open_timeout_s: float, tried: list[str],
                                deadline: float) -> None:
    """After a transport gave no stream: raise SourceOpenError when the open's time is up or the
    camera says why (401, 404, refused: RTSP DESCRIBE); return when another transport may help.

    Shared by the OpenCV and GStreamer backends, so both give up for the same reasons.
    """
    left = deadline - time.monotonic()
    if left < 0.05:
        raise SourceOpenError(
            f"no usable answer from {shown_url} within {open_timeout_s:.1f} s (tried {', '.join(tried)})"
        )
    # Only a camera that answers DESCRIBE is worth another transport.
    diagnosis = diagnose(raw_url, min(left, _MAX_DIAGNOSE_S))
    if not diagnosis.camera_ok:
        raise SourceOpenError(diagnosis.reason, permanent=diagnosis.permanent)


def validate_rtsp_url(url: str) -> None:
    """Raise :class:`InvalidSourceUrl` unless ``url`` is a usable rtsp:// or rtsps:// URL."""
    shown = redact_url(url)
    bare, _user, _password = split_credentials(url)
    parts = urlsplit(bare)
    if parts.scheme.lower() not in ("rtsp", "rtsps"):
        raise InvalidSourceUrl(f"{shown}: expected an rtsp:// or rtsps:// URL")
    if not parts.hostname:
        raise InvalidSourceUrl(f"{shown}: the URL has no camera host (expected rtsp://HOST[:PORT]/PATH)")
    try:
        port = parts.port
    except ValueError:
        raise InvalidSourceUrl(f"{shown}: the port is not a number between 1 and 65535") from None
    if port == 0:
        raise InvalidSourceUrl(f"{shown}: port 0 is not a camera port")


def check_rtsp_options(
    stream_id: str, transports: tuple[str, ...], open_timeout_s: float, read_timeout_s: float
) -> None:
    """Raise :class:`InvalidSourceUrl` for options no RTSP backend can use."""
    unknown = [t for t in transports if t not in TRANSPORTS]
    if unknown or not transports:
        raise InvalidSourceUrl(
            f"stream {stream_id!r}: transports must be a non-empty list of {TRANSPORTS},"
            f" got {tuple(transports)!r}"
        )
    if open_timeout_s <= 0 or read_timeout_s <= 0:
        raise InvalidSourceUrl(f"stream {stream_id!r}: timeouts must be positive seconds")


class RtspSource(Source):
    """An RTSP camera read with OpenCV (FFmpeg backend, software decoding).

    ``open_timeout_s`` bounds one whole open (TCP try, diagnosis, UDP try);
    ``read_timeout_s`` bounds the wait for each frame before the stream
    counts as stalled. ``transports`` orders the lower transports to try.
    ``ffmpeg_options`` adds FFmpeg demuxer options (e.g. ``{"max_delay": "0"}``).
    """


    def __init__(
        self,
        url: str,
        stream_id: str,
        *,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        transports: tuple[str, ...] = TRANSPORTS,
        ffmpeg_options: dict[str, str] | None = None,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 1.0,
    ) -> None:
        super().__init__(
            url, stream_id, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s
        )
        validate_rtsp_url(url)
        check_rtsp_options(stream_id, tuple(transports), open_timeout_s, read_timeout_s)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.transports = tuple(transports)
        self.transport = ""  # the one in use, once open
        self._ffmpeg_options = dict(ffmpeg_options or {})
        self._capture: cv2.VideoCapture | None = None
        self.backend = "opencv"
        self.decoder = "ffmpeg (OpenCV)"

    def _read_timeout_s(self) -> float:
        return self.read_timeout_s

    def _open(self) -> None:
        deadline = time.monotonic() + self.open_timeout_s
        tried: list[str] = []
        for transport in self.transports:
            left = deadline - time.monotonic()
            if left < 0.05:
                break
            started = time.monotonic()
            capture = self._open_with(transport, left)
            if capture.isOpened():
                self._capture = capture
                self.transport = transport
                self.codec = codec_name(capture)
                fps = capture.get(cv2.CAP_PROP_FPS)
                self.nominal_fps = float(fps) if fps and fps == fps and fps < 1000 else 0.0
                # Start with the transport that worked next time.
                self.transports = (transport, *[t for t in self.transports if t != transport])
                log.debug(
                    "stream %s: opened %s over %s in %.0f ms",
                    self.stream_id, self.url, transport, (time.monotonic() - started) * 1000,
                )
                return
            capture.release()
            tried.append(transport)
            check_before_next_transport(self.url, self._raw_url, self.open_timeout_s, tried, deadline)
        raise SourceOpenError(
            f"{self.url} answers but its stream could not be opened over"
            f" {' or '.join(tried or self.transports)} (unsupported codec or transport?)"
        )

    def _open_with(self, transport: str, timeout_s: float) -> cv2.VideoCapture:
        options = {"rtsp_transport": transport, **FAST_OPEN_OPTIONS, **self._ffmpeg_options}
        try:
            return open_capture(
                self._raw_url, options, open_timeout_s=timeout_s, read_timeout_s=self.read_timeout_s
            )
        except cv2.error as exc:
            raise SourceOpenError(f"OpenCV cannot open {self.url}: {redact_text(str(exc))}") from None

    def _read(self) -> Capture | None:
        capture = self._capture
        if capture is None:
            return None
        ok, image = capture.read()
        if not ok or image is None:
            return None
        return Capture(image)

    def _close(self) -> None:
        capture, self._capture = self._capture, None
        self.transport = ""
        if capture is not None:
            capture.release()
