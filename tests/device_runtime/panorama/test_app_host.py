"""Specifications of running Panorama apps: real code-node processes, real sources, a real ONNX session."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from device_runtime.errors import FailedPrecondition
from device_runtime.inference.registry import ModelRegistry
from device_runtime.panorama.app_host import PanoramaAppHost, StreamBinding
from device_runtime.panorama.models import acquire_model
from device_runtime.panorama.node_process import DEFAULT_LIMITS, NodeLimits, OutputMedia
from device_runtime.protocol.panorama.project import load_project
from device_runtime.sources.factory import open_source
from device_runtime.sources_pool import SourcePool
from tests.device_runtime.panorama.fixture_apps import app_source, write_override, write_project

PATTERN = "test://pattern?width=320&height=240&fps=20"


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@contextmanager
def running(
    tmp_path: Path,
    app: str,
    *,
    streams: list[StreamBinding] | None = None,
    overrides: Callable[[Path], list[Path]] | None = None,
    limits: NodeLimits = DEFAULT_LIMITS,
    **project_options: object,
) -> Iterator[tuple[PanoramaAppHost, list[OutputMedia]]]:
    root = write_project(tmp_path / "project", app, **project_options)
    project = load_project(root, overrides(root) if overrides else None)
    registry = ModelRegistry(providers=["cpu"])
    node = project.model_nodes["model_node"]
    session = acquire_model(registry, "model_node", node.folder / "model.onnx")
    pool = SourcePool(open_source)
    outputs: list[OutputMedia] = []
    host = PanoramaAppHost(
        "counter",
        project,
        streams=streams or [StreamBinding("camera_node", "cam-1", PATTERN)],
        sources=pool,
        models={"model_node": session},
        params=project.parameter_values(),
        data_dir=tmp_path / "data",
        on_output=outputs.append,
        limits=limits,
        route_host="127.0.0.1",
    )
    host.start()
    try:
        yield host, outputs
    finally:
        host.stop()
        pool.close()
        registry.close()


@pytest.mark.integration
@pytest.mark.parametrize("call_order", ["inputs_first", "name_first"])
def test_a_subclass_style_app_reads_frames_runs_its_model_and_puts_annotated_output(tmp_path, call_order):
    with running(tmp_path, app_source("subclass", call_order=call_order)) as (host, outputs):
        report_path = tmp_path / "data" / "storage" / "report.json"
        report = wait_for(lambda: (r := read_json(report_path)) and r["frames"] >= 3 and r, what="3 frames")
        wait_for(lambda: len(outputs) >= 3, what="outputs")

    [stream] = report["streams"]
    assert stream["stream_id"] == "cam-1" and stream["shape"] == [240, 320, 3]
    assert len(stream["scores"][0]) == 3  # the channel-mean model's three scores
    assert report["min_score"] == 0.5 and report["zone_name"] == "dock-1" and report["region"]
    out = outputs[-1]
    assert (out.node, out.port, out.stream_id) == ("counter_code", "video_out", "cam-1")
    assert out.rects == [(0.1, 0.2, 0.5, 0.6)]
    assert out.labels[0][0].startswith("dock-1 ")
    assert out.image[5, 5].tolist() == [0, 255, 0]  # the pixels the app drew are in the output
    assert isinstance(out.time_stamp[0], int) and 0 <= out.time_stamp[1] < 1_000_000


@pytest.mark.integration
def test_a_composition_style_app_calls_its_model_from_a_thread_of_its_own(tmp_path):
    with running(tmp_path, app_source("composition_thread")) as (host, outputs):
        result = wait_for(
            lambda: (r := read_json(tmp_path / "data" / "storage" / "thread.json")) and r["calls"] >= 3 and r,
            what="model calls from the worker thread",
        )
        wait_for(lambda: len(outputs) >= 3, what="outputs from the main thread")
    assert result["thread"] != "MainThread"


@pytest.mark.integration
def test_two_cameras_bound_to_one_abstract_node_arrive_in_one_get(tmp_path):
    streams = [
        StreamBinding("camera_node", "dock_cam", PATTERN + "&seed=1"),
        StreamBinding("camera_node", "gate_cam", PATTERN + "&seed=2"),
    ]
    with running(
        tmp_path,
        app_source(),
        streams=streams,
        overrides=lambda root: [write_override(root, ["dock_cam", "gate_cam"], params={"zone_name": "dock-7"})],
    ) as (host, outputs):
        report = wait_for(
            lambda: (r := read_json(tmp_path / "data" / "storage" / "report.json")) and len(r["streams"]) == 2 and r,
            what="a get() with both cameras",
        )
    assert sorted(s["stream_id"] for s in report["streams"]) == ["dock_cam", "gate_cam"]
    assert report["zone_name"] == "dock-7"  # the override's value


@pytest.mark.integration
def test_parameters_change_while_the_app_runs(tmp_path):
    with running(tmp_path, app_source()) as (host, outputs):
        report_path = tmp_path / "data" / "storage" / "report.json"
        wait_for(lambda: read_json(report_path), what="a first report")
        pid = host.nodes[0].pid

        host.set_params({"min_score": 0.8})

        wait_for(lambda: (r := read_json(report_path)) and r["min_score"] == 0.8, what="the new value")
        assert host.nodes[0].pid == pid  # nothing restarted


@pytest.mark.integration
def test_an_app_that_crashes_is_restarted_with_backoff_and_its_traceback_kept(tmp_path):
    with running(tmp_path, app_source("crash", n=3)) as (host, outputs):
        node = host.nodes[0]
        wait_for(lambda: node.crashes >= 2, timeout=30, what="two crashes")
        assert "RuntimeError: boom after 3 frames" in node.last_traceback
        assert "crashed" in host.error or node.state != "backoff"


@pytest.mark.integration
def test_an_app_that_leaks_memory_is_stopped_at_its_limit_and_restarted(tmp_path):
    with running(tmp_path, app_source("leak"), limits=NodeLimits(memory_mb=512)) as (host, outputs):
        node = host.nodes[0]
        wait_for(lambda: node.crashes >= 1, timeout=30, what="the memory limit to stop the app")
        assert "MemoryError" in node.last_traceback


@pytest.mark.integration
def test_an_app_stuck_in_get_on_a_silent_camera_still_stops_promptly(tmp_path):
    silent = StreamBinding("camera_node", "cam-1", "rtsp://127.0.0.1:9/nothing-listens-here")
    with running(tmp_path, app_source("stuck"), streams=[silent]) as (host, outputs):
        node = host.nodes[0]
        wait_for(lambda: node.pid, what="the process")
        time.sleep(0.2)  # let it block in get()
        started = time.monotonic()
        host.stop()
        assert time.monotonic() - started < 10
        assert node.pid is None and node.crashes == 0


@pytest.mark.integration
def test_a_code_node_importing_a_missing_module_reports_the_import_error(tmp_path):
    with running(tmp_path, app_source("import_error")) as (host, outputs):
        node = host.nodes[0]
        wait_for(lambda: node.crashes >= 1, what="the failed start")
        assert "ModuleNotFoundError: No module named 'module_that_does_not_exist'" in node.last_traceback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_an_app_serves_http_from_its_code_node(tmp_path):
    port = _free_port()
    with running(tmp_path, app_source("http", port=port), route_port=8080) as (host, outputs):

        def fetch() -> dict | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    return json.loads(response.read())
            except OSError:
                return None

        assert wait_for(fetch, what="the app's HTTP server") == {"zone": "dock-1"}


def _free_port_in_routing_range() -> int:
    for port in range(8000, 9001):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 8000-9000")


def fetch_json(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.mark.integration
def test_a_routed_host_port_reaches_the_container_port_the_app_listens_on_until_the_app_stops(tmp_path):
    container_port, host_port = _free_port(), _free_port_in_routing_range()
    with running(tmp_path, app_source("http", port=container_port), route_port=host_port, container_port=container_port) as (host, _):
        assert wait_for(lambda: fetch_json(host_port), what="the app's HTTP server through its host port") == {"zone": "dock-1"}
        host.set_params({"zone_name": "dock-9"})
        assert wait_for(lambda: (r := fetch_json(host_port)) and r["zone"] == "dock-9" and r, what="a second request") == {"zone": "dock-9"}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", host_port), timeout=1).close()


@pytest.mark.integration
def test_a_routed_host_port_already_in_use_fails_the_start_naming_the_port(tmp_path):
    container_port, busy = _free_port(), _free_port_in_routing_range()
    with socket.socket() as holder:  # another program already serves on the host port
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        with pytest.raises(FailedPrecondition, match=f"node 'counter_code': cannot listen on host port {busy}"):
            with running(tmp_path, app_source("http", port=container_port), route_port=busy, container_port=container_port):
                pass


@pytest.mark.integration
def test_panorama_paths_in_python_file_functions_reach_the_apps_own_folders(tmp_path):
    with running(tmp_path, app_source("paths")) as (host, outputs):
        storage = tmp_path / "data" / "storage"
        wait_for(lambda: (storage / "starts.txt").exists() and len(outputs) >= 1, what="the app's files")
        host.nodes[0]._terminate()  # an unexpected exit: the node restarts, its storage stays
        wait_for(lambda: (storage / "starts.txt").read_text() == "2", timeout=30, what="the restarted node")

    assert (storage / "runs" / "labels.txt").read_text() == "part,person"  # pathlib + os.makedirs
    assert (storage / "copied.txt").read_text() == "part\nperson\n"  # shutil, /panorama → src/
    assert "INFO:root:started" in (tmp_path / "data" / "logs" / "counter_code" / "app.log").read_text()


@pytest.mark.integration
def test_a_code_node_runs_within_its_cpu_and_priority_limits(tmp_path):
    import os

    with running(tmp_path, app_source(), limits=NodeLimits(memory_mb=1024, cpu_cores=1, nice=7)) as (host, outputs):
        pid = wait_for(lambda: host.nodes[0].pid, what="the process")
        wait_for(lambda: outputs, what="the app running")
        assert len(os.sched_getaffinity(pid)) == 1
        assert os.getpriority(os.PRIO_PROCESS, pid) >= 7
        limits = (Path(f"/proc/{pid}/limits").read_text()).splitlines()
        [address_space] = [line for line in limits if line.startswith("Max address space")]
        assert address_space.split()[3] == str(1024 * 1024 * 1024)
