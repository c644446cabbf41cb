"""The DESCRIBE diagnosis that explains a failed RTSP open, against real servers."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from device_runtime.media.rtsp_diagnose import diagnose
from tests.peers.rtsp_server import RtspServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def auth_servers():
    servers = {
        auth: RtspServer(user="admin", password="c0rrect:h@rse", auth=auth).start()
        for auth in ("basic", "digest")
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_diagnose_accepts_the_right_credentials(auth_servers, auth):
    result = diagnose(auth_servers[auth].url, timeout_s=3)
    assert result.camera_ok and result.status == 200


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_diagnose_reports_wrong_credentials_as_permanent(auth_servers, auth):
    result = diagnose(auth_servers[auth].url_for("admin", "n0t-it"), timeout_s=3)
    assert (result.status, result.permanent) == (401, True)
    assert "wrong user name or password for user 'admin'" in result.reason
    assert "n0t-it" not in result.reason


def test_diagnose_reports_missing_credentials(auth_servers):
    result = diagnose(auth_servers["basic"].url_for(), timeout_s=3)
    assert result.status == 401 and "authentication required" in result.reason


def test_diagnose_reports_an_unknown_path_as_not_found(rtsp_server):
    result = diagnose(rtsp_server.url.replace("/cam", "/cam9"), timeout_s=3)
    assert (result.status, result.permanent) == (404, False)
    assert "stream not found" in result.reason and "'/cam9'" in result.reason


def test_diagnose_reports_refused_connections(closed_port_url):
    result = diagnose(closed_port_url, timeout_s=3)
    assert result.status is None and not result.permanent
    assert "connection refused" in result.reason and "topsecret" not in result.reason


def test_diagnose_is_bounded_by_its_timeout_on_a_silent_server(silent_server):
    started = time.monotonic()
    result = diagnose(silent_server, timeout_s=0.5)
    assert time.monotonic() - started < 1.5
    assert "no answer" in result.reason and "0.5 s" in result.reason


def test_diagnose_recognises_a_server_that_does_not_speak_rtsp():
    """A real HTTP server on the camera's port (a web UI where RTSP was expected)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = diagnose(f"rtsp://127.0.0.1:{server.server_address[1]}/cam", timeout_s=3)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert result.status is None and "not an RTSP answer" in result.reason
