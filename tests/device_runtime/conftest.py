"""Shared fixtures for the device tests: the reference app manifest, dead and silent RTSP ports, a test video."""

from __future__ import annotations

import copy
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.peers.rtsp_server import RtspServer

LABELS = ["part", "defective_part", "person", "person_without_helmet"]

EXAMPLE_MANIFEST = {
    "schema": "sightline.app/v2",
    "id": "line3-safety",
    "name": "Line 3 defects and safety",
    "version": "1.0.0",
    "kind": "detector",
    "cameras": [
        {"id": "cam-1", "url": "rtsp://user:pw@10.0.0.5/stream1", "name": "Line 3 overhead"}
    ],
    "model": {
        "name": "sightline-demo",
        "file": "models/demo.onnx",
        "sha256": "0123456789abcdef" * 4,
        "decoder": "yolov8",
        "labels": LABELS,
        "input_size": [320, 320],
    },
    "params": {
        "confidence": 0.4,
        "iou": 0.45,
        "classes": ["person", "person_without_helmet"],
        "geometry": {
            "cam-1": {
                "zones": [
                    {
                        "name": "safety-zone",
                        "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6], [0.1, 0.6]],
                        "classes": ["person_without_helmet"],
                        "dwell_limit_s": 10,
                    }
                ],
                "lines": [
                    {
                        "name": "belt-count",
                        "a": [0.5, 0.0],
                        "b": [0.5, 1.0],
                        "classes": ["part", "defective_part"],
                        "count": "both",
                    }
                ],
            }
        },
    },
}

#: The same app as a console of schema v1 wrote it: app-wide zones and lines with camera filters.
EXAMPLE_MANIFEST_V1 = {
    **{k: v for k, v in EXAMPLE_MANIFEST.items() if k != "params"},
    "schema": "sightline.app/v1",
    "params": {
        "confidence": 0.4,
        "iou": 0.45,
        "classes": ["person", "person_without_helmet"],
        "zones": [
            {
                "name": "safety-zone",
                "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6], [0.1, 0.6]],
                "classes": ["person_without_helmet"],
                "dwell_limit_s": 10,
                "cameras": ["cam-1"],
            }
        ],
        "lines": [
            {
                "name": "belt-count",
                "a": [0.5, 0.0],
                "b": [0.5, 1.0],
                "classes": ["part", "defective_part"],
                "count": "both",
                "cameras": [],
            }
        ],
    },
}


@pytest.fixture
def manifest_data() -> dict:
    """A fresh deep copy of the reference manifest, free to mutate."""
    return copy.deepcopy(EXAMPLE_MANIFEST)


@pytest.fixture
def manifest_data_v1() -> dict:
    """A fresh deep copy of the reference manifest in schema v1, free to mutate."""
    return copy.deepcopy(EXAMPLE_MANIFEST_V1)


@pytest.fixture
def labels() -> list[str]:
    """The reference model's class names, by class id."""
    return list(LABELS)


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


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    """A real GStreamer RTSP camera (H.264, 320x240, 15 fps) on a free 127.0.0.1 port."""
    server = RtspServer()
    server.start()
    yield server
    server.stop()
