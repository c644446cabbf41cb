"""Test-opening a camera stream on the console (OpenCV/FFmpeg; no Qt).

:func:`test_open` is what registration, the model test and the app
builder's snapshot use: open, read the first frame, return it as JPEG with
the stream's size, rate and codec. (The raw preview decodes in
``console_app.ui.preview.decoder``.)

Opening is the device's own (:mod:`device_runtime.media.probe`): RTSP over
TCP first, then UDP, bounded by OpenCV's open/read timeouts, through the
FFmpeg options gate, and after a failed RTSP open one DESCRIBE finds out
why: refused, silent, 401, 404. Credentials never appear in messages.

``sim://`` URLs (the synthetic production line of the simulated ONVIF
camera) are rendered by a Sightline *device*, not by the console: the
console has no decoder for them and may not import the device runtime.
:func:`test_open` answers them with ``device_only=True`` and a message
saying so; registration then test-opens through a paired device's
ProbeCamera call, which is the same path used for any camera only the
device can reach.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from device_runtime.media.probe import FirstFrame, first_frame
from device_runtime.media.redact import redact_url

__all__ = ["DEVICE_ONLY_SCHEMES", "FirstFrame", "is_device_only", "test_open"]

DEVICE_ONLY_SCHEMES = ("sim",)


def is_device_only(url: str) -> bool:
    """True for URLs only a Sightline device can open (``sim://``)."""
    return urlsplit(url).scheme.lower() in DEVICE_ONLY_SCHEMES


def test_open(url: str, timeout_s: float = 5.0) -> FirstFrame:
    """Open ``url``, read one frame, and return it as JPEG with the stream's properties.

    Never takes much longer than ``timeout_s`` in total (TCP and UDP share it).
    """
    shown = redact_url(url)
    if is_device_only(url):
        return FirstFrame(ok=False, device_only=True,
                          error=f"{shown} is rendered by a Sightline device; test it through a paired device")
    return first_frame(url, timeout_s)
