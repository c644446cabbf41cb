"""Opening ``cv2.VideoCapture`` with FFmpeg options, safely across threads.

OpenCV's FFmpeg backend takes demuxer options (RTSP transport, probe size)
only from the process-wide environment variable
``OPENCV_FFMPEG_CAPTURE_OPTIONS``, read when a capture opens. Two threads
opening cameras with different options must therefore not overlap. The
:class:`_OptionsGate` lets any number of opens that want the *same* options
run together (the usual case: every camera over TCP) and makes an open that
needs different ones (a UDP fallback) wait until those in flight are done,
so one dead camera never delays the others' opens behind a global lock.

Options already in the variable when the process started (set by an
operator) are kept; ours are layered on top. The variable is left holding
the last options used.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import cv2

ENV_VAR = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


def _parse(value: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in value.split("|"):
        key, sep, val = item.partition(";")
        if key and sep:
            options[key] = val
    return options


_OPERATOR_OPTIONS = _parse(os.environ.get(ENV_VAR, ""))


def options_string(options: Mapping[str, str]) -> str:
    """The env-var form of ``options`` merged over the operator's own."""
    merged = {**_OPERATOR_OPTIONS, **options}
    return "|".join(f"{k};{v}" for k, v in merged.items())


class _OptionsGate:
    """A readers-writer gate keyed by the env-var value (see module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._pending_switches = 0

    @contextmanager
    def use(self, value: str | None) -> Iterator[None]:
        """Hold the env var at ``value`` while the block runs (None: any value will do)."""
        with self._cond:
            while True:
                # Read the variable itself each time: someone else may have changed it.
                if value is None or value == os.environ.get(ENV_VAR):
                    # Let a waiting switch go first, or a run of same-option opens starves it.
                    if self._pending_switches == 0:
                        break
                    self._cond.wait()
                    continue
                self._pending_switches += 1
                try:
                    while self._active > 0:
                        self._cond.wait()
                finally:
                    self._pending_switches -= 1
                os.environ[ENV_VAR] = value
                self._cond.notify_all()
                break
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()


_gate = _OptionsGate()


def open_capture(
    url: str,
    options: Mapping[str, str] | None,
    *,
    open_timeout_s: float,
    read_timeout_s: float,
) -> cv2.VideoCapture:
    """Open ``url`` with OpenCV's FFmpeg backend; the caller checks ``isOpened()``.

    ``options`` are FFmpeg demuxer options (None: whatever is set, for local
    files where they do not matter). The timeouts bound the open and every
    later ``read`` (OpenCV's interrupt callback), so a silent camera never
    blocks the calling thread for longer.
    """
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, max(1, int(open_timeout_s * 1000)),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC, max(1, int(read_timeout_s * 1000)),
    ]
    value = None if options is None else options_string(options)
    with _gate.use(value):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


def codec_name(capture: cv2.VideoCapture) -> str:
    """The stream's codec as a short name ("h264", "h265", "mjpeg"...), "" if unknown."""
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
    if fourcc <= 0:
        return ""
    raw = fourcc.to_bytes(4, "little").decode("ascii", "replace").strip("\x00 ").lower()
    return {"avc1": "h264", "hevc": "h265", "hvc1": "h265", "hev1": "h265"}.get(raw, raw)
