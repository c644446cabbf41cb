"""Raw preview against a real RTSP camera (GStreamer RTSP server from tests/peers)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtGui import QImage

from console_app.ui.preview.decoder import (
    StreamNote,
    StreamState,
    bgr_to_qimage,
    opencv_frames,
)
from console_app.ui.preview.video_view import VideoView
from tests.peers.rtsp_server import RtspServer

WAIT_MS = 15_000


@pytest.fixture(scope="module")
def camera():
    with RtspServer(width=320, height=240, fps=15) as server:
        yield server


def test_preview_shows_frames_from_a_live_rtsp_camera_and_closing_stops_the_decoder(qtbot, camera, tmp_path):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(480, 320)
    view.show()
    worker = view.play(opencv_frames(camera.url), "Dock camera")

    qtbot.waitUntil(lambda: view.frames_shown >= 5, timeout=WAIT_MS)
    assert view.state == StreamState.LIVE
    assert (view.stats.width, view.stats.height) == (320, 240)
    # The server sends ~30 buffered frames at once on connect; 2 s past that burst
    # the measured rate is the camera's 15 fps.
    qtbot.waitUntil(lambda: view.stats.frames > 80, timeout=WAIT_MS)
    assert 8 < view.stats.fps < 25, view.stats
    assert view.status_text().startswith("LIVE · 320×240 · ")
    view.grab().save("/tmp/k-preview.png")

    view.close()
    assert worker.thread is not None and not worker.thread.is_alive()
    assert view.worker is None and view.state == StreamState.STOPPED


def test_a_frozen_stream_is_never_shown_as_live(qtbot):
    """A camera that sends a few frames and then nothing (its socket stays open): STALLED, then LIVE again."""
    resume = threading.Event()

    def freezing(stop):
        for burst in range(2):
            for n in range(10):
                image = QImage(64, 48, QImage.Format.Format_RGB32)
                image.fill(n)
                yield image
                stop.wait(1 / 15)
            if burst == 0:
                while not resume.is_set() and not stop.is_set():  # frozen: no frame, no error
                    stop.wait(0.05)
        stop.wait()

    view = VideoView()
    qtbot.addWidget(view)
    view.play(freezing, "freezing camera")
    qtbot.waitUntil(lambda: view.frames_shown >= 1, timeout=WAIT_MS)
    assert view.state == StreamState.LIVE
    qtbot.waitUntil(lambda: view.state == StreamState.STALLED, timeout=WAIT_MS)
    assert view.status_text().startswith("STALLED · no frame for ")
    assert "LIVE" not in view.status_text()
    resume.set()
    qtbot.waitUntil(lambda: view.state == StreamState.LIVE, timeout=WAIT_MS)
    view.stop()


def test_a_device_saying_its_stream_reconnects_is_shown_until_frames_come_back(qtbot):
    def noted(stop):
        image = QImage(64, 48, QImage.Format.Format_RGB32)
        yield image
        yield StreamNote(StreamState.RECONNECTING, "connection refused by 10.0.0.5:554")
        stop.wait()

    view = VideoView()
    qtbot.addWidget(view)
    view.play(noted, "device camera")
    qtbot.waitUntil(lambda: view.state == StreamState.RECONNECTING, timeout=WAIT_MS)
    assert view.status_text() == "RECONNECTING · connection refused by 10.0.0.5:554"
    view.stop()


def test_the_rate_reads_a_dash_until_it_is_measured(qtbot):
    def one(stop):
        yield QImage(64, 48, QImage.Format.Format_RGB32)
        stop.wait()

    view = VideoView()
    qtbot.addWidget(view)
    view.play(one, "one frame")
    qtbot.waitUntil(lambda: view.frames_shown == 1, timeout=WAIT_MS)
    assert view.status_text() == "LIVE · 64×48 · — fps"
    view.stop()


def test_newest_frame_wins_when_the_gui_does_not_keep_up(qtbot):
    """A producer outruns a GUI that takes no frames: only the newest one is kept."""
    from console_app.ui.preview.decoder import PreviewWorker

    produced = threading.Event()

    def fast(stop):
        for n in range(50):
            image = QImage(8, 8, QImage.Format.Format_RGB32)
            image.fill(n)
            yield image
        produced.set()
        stop.wait()

    worker = PreviewWorker(fast, "fast")
    notifications = []
    worker.frame_ready.connect(lambda: notifications.append(1))
    worker.start()
    assert produced.wait(5)
    qtbot.waitUntil(lambda: len(notifications) >= 1, timeout=WAIT_MS)
    image, stats = worker.take_frame()
    assert stats.frames == 50 and image.pixel(0, 0) & 0xFFFFFF == 49
    assert len(notifications) == 1  # one notification for the 50 frames the GUI never took
    assert worker.take_frame() is None
    assert worker.stop()


def test_unreachable_stream_reports_failure_with_credentials_redacted(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.play(opencv_frames("rtsp://admin:s3cret@127.0.0.1:1/none"), "dead")
    qtbot.waitUntil(lambda: view.state == StreamState.FAILED, timeout=WAIT_MS)
    assert "could not open rtsp://admin:***@127.0.0.1:1/none" in view.detail
    assert "s3cret" not in view.status_text()
    view.stop()


def test_bgr_frames_become_rgb_qimages_with_the_right_colours():
    frame = np.zeros((2, 3, 3), dtype=np.uint8)
    frame[0, 0] = (255, 0, 0)  # blue in BGR
    image = bgr_to_qimage(frame)
    frame[0, 0] = (0, 0, 0)  # the image must not share the decoder's buffer
    assert (image.width(), image.height()) == (3, 2)
    assert image.pixelColor(0, 0).blue() == 255 and image.pixelColor(0, 0).red() == 0

