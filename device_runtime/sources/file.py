"""Video files as cameras: paced at the file's frame rate, looping by default.

A file source stands in for a camera in demos, tests and evaluation, so it
behaves like one: frames arrive in real time (``realtime=False`` reads as
fast as decoding allows), and at the end of the file it starts over. With
``loop=False`` it ends in STOPPED with the reason "end of file".

``wait_for_consumers=True`` (with ``realtime=False``) publishes a frame only
once every consumer has taken the previous one: the next frame is decoded
while they work on the last, none is dropped, and no core is spent decoding
frames nobody sees (a free-running decoder took most of a core from
inference in ``benchmarks/pipeline.py``). A consumer that takes nothing holds
the file back at most a second per frame.

A missing, unreadable or undecodable file is a permanent error (FAILED).
"""

from __future__ import annotations

import os
import time
from urllib.parse import unquote, urlsplit

import cv2

from device_runtime.media.ffmpeg_capture import codec_name, open_capture
from device_runtime.sources.base import Capture, Source
from device_runtime.sources.errors import EndOfStream, InvalidSourceUrl, SourceOpenError

DEFAULT_FPS = 25.0  # when the container does not say
_MAX_BEHIND_S = 0.5  # further behind than this, the clock is reset instead of bursting frames
_CONSUMER_WAIT_S = 1.0  # longest wait_for_consumers waits for a consumer that takes nothing


def path_from_url(url: str) -> str:
    """The local path of ``file:///abs/x.mp4``, ``file:rel.mp4`` or a plain path."""
    if not url.lower().startswith("file:"):
        return url
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise InvalidSourceUrl(
            f"{url}: file URLs must name a local file (file:///path), not host {parts.netloc!r}"
        )
    path = unquote(parts.path)
    if not path:
        raise InvalidSourceUrl(f"{url}: the file URL has no path")
    return path


class FileSource(Source):
    """Frames from a video file, looping, paced at the file's fps."""


    def __init__(
        self,
        url: str,
        stream_id: str,
        *,
        loop: bool = True,
        realtime: bool = True,
        fps: float | None = None,
        wait_for_consumers: bool = False,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 1.0,
    ) -> None:
        super().__init__(
            url, stream_id, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s
        )
        self.path = path_from_url(url)
        if fps is not None and not fps > 0:
            raise InvalidSourceUrl(f"stream {stream_id!r}: fps must be positive, got {fps!r}")
        self.loop = loop
        self.realtime = realtime
        self.wait_for_consumers = wait_for_consumers and not realtime
        self._fps_override = fps
        self._capture: cv2.VideoCapture | None = None
        self._frames_this_pass = 0
        self._next_due = 0.0
        self.loops = 0  # completed passes through the file

    def _open(self) -> None:
        if not os.path.isfile(self.path):
            raise SourceOpenError(f"video file not found: {self.path}", permanent=True)
        if not os.access(self.path, os.R_OK):
            raise SourceOpenError(f"video file not readable (permissions): {self.path}", permanent=True)
        self._capture = self._open_capture()
        self.codec = codec_name(self._capture)
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = self._fps_override or (fps if fps and 0 < fps < 1000 else DEFAULT_FPS)
        self._frames_this_pass = 0
        self._next_due = time.monotonic()

    def _open_capture(self) -> cv2.VideoCapture:
        try:
            capture = open_capture(self.path, None, open_timeout_s=10.0, read_timeout_s=10.0)
        except cv2.error as exc:
            raise SourceOpenError(f"OpenCV cannot open {self.path}: {exc}", permanent=True) from None
        if not capture.isOpened():
            raise SourceOpenError(
                f"not a video file OpenCV can decode: {self.path}", permanent=True
            )
        return capture

    def _read(self) -> Capture | None:
        assert self._capture is not None
        ok, image = self._capture.read()
        if not ok or image is None:
            if self._frames_this_pass == 0:
                raise SourceOpenError(f"no decodable frames in {self.path}", permanent=True)
            if not self.loop:
                raise EndOfStream
            # Reopening is simpler and more robust than seeking to frame 0 in every container.
            self.loops += 1
            self._capture.release()
            self._capture = self._open_capture()
            self._frames_this_pass = 0
            ok, image = self._capture.read()
            if not ok or image is None:
                raise SourceOpenError(f"{self.path} could not be read again for looping")
        self._frames_this_pass += 1
        if self.realtime:
            self._pace()
        elif self.wait_for_consumers:
            # Decoded ahead; now wait until the previous frame is taken.
            self._fanout.wait_until_taken(_CONSUMER_WAIT_S)
        return Capture(image)

    def _pace(self) -> None:
        now = time.monotonic()
        if now - self._next_due > _MAX_BEHIND_S:
            self._next_due = now  # fell far behind (slow disk, busy CPU): do not burst
        self._wait(self._next_due - now)
        self._next_due += 1.0 / self.nominal_fps

    def _close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
