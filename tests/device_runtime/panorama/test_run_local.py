"""Specifications of ``sightline-device run-panorama``: a Panorama folder run as is on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.device_runtime.panorama.fixture_apps import app_source, write_override, write_project
from tests.peers.rtsp_server import RtspServer

REPO = Path(__file__).resolve().parents[3]


def run_panorama(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "device_runtime", "run-panorama", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


@pytest.mark.integration
def test_run_panorama_runs_a_project_on_a_real_rtsp_camera_and_a_test_pattern_with_override_and_param(tmp_path):
    root = write_project(tmp_path / "project", app_source())
    override = write_override(root, ["dock_cam", "gate_cam"], params={"min_score": 0.25})
    out = tmp_path / "out"
    with RtspServer() as camera:
        result = run_panorama(
            str(root),
            "--override", str(override),
            "--camera", f"dock_cam={camera.url}",
            "--camera", "gate_cam=test://pattern?width=640&height=360",
            "--param", "zone_name=dock-4",
            "--output", str(out),
            "--frames", "20",
            "--seconds", "60",
        )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "app-data" / "storage" / "report.json").read_text())
    assert report["zone_name"] == "dock-4" and report["min_score"] == 0.25
    frames = {name: sorted((out / name).glob("*.jpg")) for name in ("dock_cam", "gate_cam")}
    assert frames["dock_cam"] and frames["gate_cam"]
    assert cv2.imread(str(frames["dock_cam"][0])).shape == (240, 320, 3)  # the RTSP camera's size
    assert cv2.imread(str(frames["gate_cam"][0])).shape == (360, 640, 3)
    assert "counter_code" in result.stdout and "results/s" in result.stdout  # the per-node timing table
    assert "Dockerfile" not in result.stderr  # this package's Dockerfile needs nothing Sightline lacks


@pytest.mark.integration
def test_run_panorama_writes_video_from_a_sim_camera_and_explains_a_window_without_display(tmp_path):
    root = write_project(tmp_path / "project", app_source(call_order="name_first"))
    out = tmp_path / "out"

    result = run_panorama(str(root), "--camera", "camera_node=sim://production-line?width=640&height=480", "--output", str(out), "--video", "--window", "--frames", "10", "--seconds", "60")

    assert result.returncode == 0, result.stderr
    assert "no display; --window ignored (the output is still written)" in result.stderr
    capture = cv2.VideoCapture(str(out / "camera_node.mp4"))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (480, 640, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--camera", "lobby=test://pattern"], "the graph has no camera node 'lobby' (camera nodes: camera_node)"),
        ([], "camera node(s) without a camera: camera_node"),
        (["--camera", "camera_node=test://pattern", "--param", "zone_name=yard"], "--param: zone_name: 'yard' does not match the constraint"),
        (["--camera", "camera_node=test://pattern", "--model", "detector=x.onnx"], "the graph has no model node 'detector'"),
    ],
)
def test_run_panorama_refuses_bad_arguments_naming_the_problem(tmp_path, args, message):
    root = write_project(tmp_path / "project", app_source())

    result = run_panorama(str(root), *args, "--seconds", "5")

    assert result.returncode == 2
    assert message in result.stderr


def test_run_panorama_names_an_onnx_export_that_does_not_fit_the_descriptor(tmp_path):
    root = write_project(tmp_path / "project", app_source(), model_shape=[1, 3, 128, 128])

    result = run_panorama(str(root), "--camera", "camera_node=test://pattern", "--seconds", "5")

    assert result.returncode == 2
    assert "input 'images' has shape [1, 3, 128, 128] in descriptor.json but [-1, 3, 64, 64] in model.onnx" in result.stderr
