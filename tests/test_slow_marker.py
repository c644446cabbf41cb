"""The ``slow`` marker is found from what a test (or its fixtures and helpers) starts."""

from __future__ import annotations

import subprocess

from tests.conftest import _starts_servers
from tests.peers.onnx_models import make_constant_detector
from tests.peers.rtsp_server import RtspServer


def _opens_a_camera() -> None:
    with RtspServer():
        pass


def _runs_a_process() -> None:
    subprocess.run(["true"], check=True)


def _uses_a_helper_that_opens_a_camera() -> None:
    _opens_a_camera()


def _imports_a_peer_inside() -> None:
    from tests.peers.tls_device import TlsDevice

    TlsDevice()


def _pure(tmp_path) -> None:
    make_constant_detector(tmp_path / "m.onnx", "yolov8", [])  # builds a file: no server
    assert sorted([3, 1]) == [1, 3]


def test_a_test_that_starts_a_server_or_process_however_indirectly_is_slow():
    assert _starts_servers(_opens_a_camera)
    assert _starts_servers(_runs_a_process)
    assert _starts_servers(_uses_a_helper_that_opens_a_camera)
    assert _starts_servers(_imports_a_peer_inside)


def test_a_test_that_starts_nothing_is_fast():
    assert not _starts_servers(_pure)
    assert not _starts_servers(lambda: sorted([2, 1]))
