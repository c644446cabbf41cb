"""Test media for benchmarks: the synthetic production line as a real H.264 file.

Rendered with the product's :class:`ProductionLineRenderer` and encoded once
by the ffmpeg CLI into ``build/bench/`` (cached by its parameters), so
benchmarks that decode go through real H.264 decoding, as from a camera.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import CACHE, BenchmarkError
from device_runtime.sources.synthetic_line import ProductionLineRenderer


@dataclass(frozen=True)
class Clip:
    """Which clip: size, length, frame rate and scene seed (the cache key)."""

    frames: int = 250
    width: int = 640
    height: int = 480
    fps: int = 25
    seed: int = 7

    @property
    def filename(self) -> str:
        return f"line-{self.width}x{self.height}-{self.fps}fps-{self.frames}f-seed{self.seed}.mp4"


def make_clip(clip: Clip = Clip(), directory: Path = CACHE) -> Path:
    """The H.264 file of ``clip`` in ``directory``, rendered and encoded if not there yet.

    Encoded as a camera would send it: yuv420p, a keyframe every two seconds,
    no B-frames. Raises :class:`BenchmarkError` when ffmpeg is missing or fails.
    """
    path = directory / clip.filename
    if path.is_file() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.mp4")
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{clip.width}x{clip.height}",
        "-r", str(clip.fps), "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", str(2 * clip.fps), "-bf", "0", str(partial),
    ]  # fmt: skip
    renderer = ProductionLineRenderer(clip.width, clip.height, seed=clip.seed, fps=clip.fps)
    try:
        encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise BenchmarkError(
            "the ffmpeg command is needed to encode the benchmark's H.264 clip "
            "(Debian: apt-get install ffmpeg)"
        ) from None
    assert encoder.stdin is not None and encoder.stderr is not None
    try:
        for index in range(clip.frames):
            image, _ = renderer.render(index)
            encoder.stdin.write(image.tobytes())
        encoder.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped reading; its own message is read below
    error = encoder.stderr.read().decode(errors="replace").strip()
    if encoder.wait() != 0:
        partial.unlink(missing_ok=True)
        raise BenchmarkError(f"ffmpeg could not encode {path}: {error or 'no message'}")
    os.replace(partial, path)  # never leave half a clip where the next run looks
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of the file, decoded with OpenCV's FFmpeg backend as the file source does."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    if not frames:
        raise BenchmarkError(f"OpenCV decoded no frames from {path}; delete it to re-encode")
    return frames
