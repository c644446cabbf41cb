"""Fixtures for the sources tests: real RTSP servers, test videos, state waits."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from device_runtime.sources import Source, StateChange, open_source
from device_runtime.types import StreamState
from tests.peers.rtsp_server import RtspServer


class StateRecorder:
    """Records every state change of a source and waits for one, with a deadline."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.changes: list[StateChange] = []
        self._cond = threading.Condition()
        source.add_state_listener(self._on_change)

    def _on_change(self, change: StateChange) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    @property
    def states(self) -> list[StreamState]:
        with self._cond:
            return [c.state for c in self.changes]

    def wait_for(
        self,
        *states: StreamState,
        timeout: float,
        after: int = 0,
        reason_contains: str = "",
    ) -> StateChange:
        """The first change to one of ``states`` (at index >= ``after``, with
        ``reason_contains`` in its reason); fails with the history after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for change in self.changes[after:]:
                    if change.state in states and reason_contains in change.reason:
                        return change
                left = deadline - time.monotonic()
                if left <= 0:
                    history = ", ".join(f"{c.state.value}({c.reason})" for c in self.changes)
                    raise AssertionError(
                        f"stream {self.source.stream_id} did not reach"
                        f" {'/'.join(s.value for s in states)} ({reason_contains!r}) within {timeout} s;"
                        f" now {self.source.state.value}; history: {history}"
                    )
                self._cond.wait(left)

    def mark(self) -> int:
        """An index for ``wait_for(after=...)``: only changes from now on count."""
        with self._cond:
            return len(self.changes)


@pytest.fixture
def make_source() -> Iterator[Callable[..., tuple[Source, StateRecorder]]]:
    """``make_source(url, **options)`` -> (unstarted source, its recorder); stopped at teardown.

    Teardown fails the test if a reader thread is still alive after stop:
    sources must never leak threads.
    """
    made: list[Source] = []

    def make(url: str, stream_id: str = "cam", **options: object) -> tuple[Source, StateRecorder]:
        source = open_source(url, stream_id, **options)
        made.append(source)
        return source, StateRecorder(source)

    yield make
    leaked = [s for s in made if not s.stop(timeout=10.0)]
    assert not leaked, f"reader threads still alive after stop(): {leaked}"


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    """A real GStreamer RTSP camera (H.264, 320x240, 15 fps) on a free 127.0.0.1 port."""
    server = RtspServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An RTSP URL whose server accepts TCP connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    yield f"rtsp://admin:hush-hush@127.0.0.1:{port}/cam"
    listener.close()


@pytest.fixture
def closed_port_url() -> str:
    """An RTSP URL on a 127.0.0.1 port where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"rtsp://admin:topsecret@127.0.0.1:{port}/cam"


@dataclass(frozen=True)
class RampVideo:
    """A test video whose every frame is a flat grey of its own level."""

    path: Path
    levels: list[float]  # mean brightness of each frame, as OpenCV decodes it
    fps: float

    def index_of(self, image: np.ndarray) -> int:
        """Which frame of the video ``image`` is (the nearest brightness level)."""
        mean = float(np.mean(image))
        return int(np.argmin([abs(mean - level) for level in self.levels]))


@pytest.fixture(scope="session")
def ramp_video(tmp_path_factory: pytest.TempPathFactory) -> RampVideo:
    """A 20-frame, 40 fps, 64x48 H.264 MP4 made by ffmpeg; frame n has grey level 40 + 8n."""
    path = tmp_path_factory.mktemp("video") / "ramp.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
            "-i", "nullsrc=s=64x48:r=40:d=0.5,geq=lum='40+N*8':cb=128:cr=128",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "5", "-g", "10", "-bf", "0",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    levels = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        levels.append(float(np.mean(image)))
    capture.release()
    assert len(levels) == 20, f"ffmpeg made {len(levels)} frames, expected 20"
    return RampVideo(path, levels, 40.0)
