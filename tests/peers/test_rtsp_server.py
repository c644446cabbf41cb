"""The GStreamer RTSP test camera itself: ports, restarts, credentials, clean-up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import cv2
import pytest

from tests.peers.rtsp_server import RtspServer, RtspServerError

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def fast_ffmpeg_open(monkeypatch):
    """A small probe: the default makes OpenCV analyse seconds of video before returning."""
    monkeypatch.setenv(
        "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;200000|probesize;65536"
    )


def _first_frame(url: str):
    capture = cv2.VideoCapture(
        url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
    )
    try:
        ok, image = capture.read()
        return image if ok else None
    finally:
        capture.release()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_server_serves_its_size_on_a_free_port_and_comes_back_on_the_same_port():
    server = RtspServer(width=160, height=96, fps=10)
    try:
        started = time.monotonic()
        server.start()
        assert time.monotonic() - started < 5, "the test camera must be quick to start"
        port = server.port
        assert server.url == f"rtsp://127.0.0.1:{port}/cam"
        image = _first_frame(server.url)
        assert image is not None and image.shape == (96, 160, 3)

        server.stop()
        assert not server.running and not _accepts(port)
        server.restart()
        assert server.port == port and _first_frame(server.url) is not None
    finally:
        server.stop()


def test_server_with_credentials_builds_urls_for_any_user():
    with RtspServer(user="admin", password="a b@c", path="live/1") as server:
        assert server.url == f"rtsp://admin:a%20b%40c@127.0.0.1:{server.port}/live/1"
        assert server.url_for("x", "y").startswith("rtsp://x:y@")
        assert _first_frame(server.url) is not None
        assert _first_frame(server.url_for("admin", "nope")) is None


def test_a_server_with_query_auth_wants_the_password_in_the_url_of_its_describe():
    with RtspServer(user="admin", password="a&b", path="live", auth="query") as server:
        assert server.url == f"rtsp://127.0.0.1:{server.port}/live?user=admin&pwd=a%26b"
        assert _first_frame(server.url) is not None
        assert _first_frame(server.url_for("admin", "nope")) is None
        assert _first_frame(f"rtsp://admin:a%26b@127.0.0.1:{server.port}/live") is None, "user info is not enough"


def test_server_refuses_a_busy_port_with_its_stderr():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = RtspServer(port=busy.getsockname()[1])
        with pytest.raises(RtspServerError, match="exited"):
            server.start(timeout=10)
        assert not server.running


def test_server_exits_when_its_parent_dies():
    """A test run killed mid-way must not leave cameras running."""
    script = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.peers.rtsp_server import RtspServer;"
        "s = RtspServer().start(); print(s.pid, s.port, flush=True); sys.stdin.read()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    try:
        child_pid, port = map(int, parent.stdout.readline().split())
        assert _accepts(port)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling another process's exit: there is no event to wait on
        assert not _alive(child_pid), "the RTSP server outlived its parent"
    finally:
        parent.kill()
        parent.wait(10)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_server_rejects_bad_arguments():
    with pytest.raises(ValueError, match="codec"):
        RtspServer(codec="vp9")
    with pytest.raises(ValueError, match="both user and password"):
        RtspServer(user="admin")
    with pytest.raises(ValueError, match="transports"):
        RtspServer(transports=("http",))
