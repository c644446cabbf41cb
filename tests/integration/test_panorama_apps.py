"""Panorama code apps on a real device runtime: signed packages over TLS gRPC, a real RTSP camera."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, pair
from console_app.core.packaging import build_package
from tests.device_runtime.panorama.fixture_apps import (
    ACCOUNT,
    WHEEL_APP,
    app_source,
    pip_wheel,
    write_override,
    write_project,
    write_wheel,
)
from tests.integration.conftest import (
    CONSTANT_LABELS,
    detector_manifest,
    next_preview,
    start_device,
    wait_for,
)
from tests.peers.onnx_models import make_constant_detector
from tests.peers.rtsp_server import RtspServer

pytestmark = pytest.mark.integration

PATTERN = "test://pattern?width=320&height=240&fps=15"


def panorama_manifest(version: str = "1.0.0", cameras: dict[str, str] | None = None, **fields: object) -> dict:
    cameras = cameras or {"cam-1": PATTERN}
    return {
        "schema": "sightline.app/v1",
        "id": "counter",
        "name": "Dock counter",
        "version": version,
        "kind": "panorama",
        "cameras": [{"id": cid, "url": url} for cid, url in cameras.items()],
        **fields,
    }


@pytest.fixture
def make_panorama_package(tmp_path: Path) -> Callable[..., bytes]:
    """A signed-ready package: app.json plus an unchanged Panorama project under project/."""
    counter = iter(range(1000))

    def make(
        manifest: dict, app: str | None = None, edit: Callable[[Path], None] | None = None,
        wheels: bool = False, **project_options: object,
    ) -> bytes:
        folder = tmp_path / f"pkg-{next(counter)}"
        write_project(folder / "project", app or app_source(), **project_options)
        if wheels:
            write_wheel(folder / "wheels")
        if edit is not None:
            edit(folder / "project")
        (folder / "app.json").write_text(json.dumps(manifest))
        return build_package(folder)

    return make


def report(device, name: str = "report.json") -> dict | None:  # noqa: ANN001
    path = Path(device.config.data_dir) / "app-data" / "counter" / "storage" / name
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_a_panorama_app_deploys_from_a_signed_package_and_its_display_is_the_preview_stream(device, client, make_panorama_package):
    with RtspServer() as camera:
        status = client.deploy(make_panorama_package(panorama_manifest(cameras={"dock-cam": camera.url})))

        assert (status.kind, status.state, status.version) == ("panorama", "running", "1.0.0")
        [node] = status.nodes
        assert node.name == "counter_code" and node.pid > 0
        frame = next_preview(client, "counter/dock-cam", timeout=20, after=time.time())
    assert (frame.width, frame.height, frame.app_id) == (320, 240, "counter")
    [box] = frame.detections
    assert (round(box.x1, 3), round(box.y1, 3), round(box.x2, 3), round(box.y2, 3)) == (0.1, 0.2, 0.5, 0.6)
    assert frame.labels[0].text.startswith("dock-1 ") and round(frame.labels[0].x, 3) == 0.1
    stored = wait_for(lambda: report(device), 10, "the app's report in its storage folder")
    assert stored["streams"][0]["stream_id"] == "dock-cam"


def test_parameters_are_live_tunable_and_checked_against_the_graph(device, client, make_panorama_package):
    client.deploy(make_panorama_package(panorama_manifest(params={"zone_name": "dock-2"})))
    wait_for(lambda: (r := report(device)) and r["zone_name"] == "dock-2", 20, "the deployed parameter")

    status = client.set_params("counter", json.dumps({"zone_name": "dock-3", "min_score": 0.9}))

    assert json.loads(status.params_json) == {"zone_name": "dock-3", "min_score": 0.9}
    wait_for(lambda: (r := report(device)) and r["zone_name"] == "dock-3" and r["min_score"] == 0.9, 20, "the new values")
    with pytest.raises(DeviceCallError) as err:
        client.set_params("counter", json.dumps({"zone_name": "yard"}))
    assert err.value.code == "INVALID_ARGUMENT" and "does not match the constraint 'dock-[0-9]+'" in err.value.message
    [app] = client.list_apps()
    assert json.loads(app.params_json)["zone_name"] == "dock-3"


def test_two_registered_cameras_feed_one_abstract_node_through_an_override(device, client, make_panorama_package):
    manifest = panorama_manifest(
        cameras={"dock-cam": PATTERN + "&seed=1", "gate-cam": PATTERN + "&seed=2"},
        overrides=["graphs/counter_app/override.json"],
        bindings={"dock_cam": ["dock-cam"], "gate_cam": ["gate-cam"]},
    )
    client.deploy(make_panorama_package(manifest, edit=lambda root: write_override(root, ["dock_cam", "gate_cam"])))

    seen = wait_for(lambda: (r := report(device)) and len(r["streams"]) == 2 and r, 20, "both cameras in one get()")
    assert sorted(s["stream_id"] for s in seen["streams"]) == ["dock-cam", "gate-cam"]


def _remove_model_package(root: Path) -> None:
    shutil.rmtree(root / "packages" / f"{ACCOUNT}-mean_model-1.0")


def _bad_edge(root: Path) -> None:
    path = root / "graphs" / "counter_app" / "graph.json"
    data = json.loads(path.read_text())
    data["nodeGraph"]["edges"].append({"producer": "min_score", "consumer": "counter_code.threshold"})
    path.write_text(json.dumps(data))


def _malformed_override(root: Path) -> None:
    (root / "graphs" / "counter_app" / "override.json").write_text('{"nodeGraphOverrides": {"nodes": 3}}')


@pytest.mark.parametrize(
    "options, code, message",
    [
        ({"edit": _remove_model_package}, "INVALID_ARGUMENT", f"has no folder packages/{ACCOUNT}-mean_model-1.0"),
        ({"model_shape": [1, 3, 128, 128]}, "INVALID_ARGUMENT", "input 'images' has shape [1, 3, 128, 128] in descriptor.json but [-1, 3, 64, 64] in model.onnx"),
        ({"edit": _bad_edge}, "INVALID_ARGUMENT", "node 'counter_code' (interface) has no input port 'threshold'"),
        ({"edit": _malformed_override, "overrides": True}, "INVALID_ARGUMENT", "override.json: nodeGraphOverrides.nodes: expected a list, got the number 3"),
        ({"app": app_source("import_error")}, "FAILED_PRECONDITION", "ModuleNotFoundError: No module named 'module_that_does_not_exist'"),
    ],
    ids=["missing-package", "onnx-mismatch", "unknown-port", "malformed-override", "missing-import"],
)
def test_a_broken_new_version_is_refused_naming_the_problem_and_the_running_version_keeps_running(
    device, client, make_panorama_package, options, code, message
):
    client.deploy(make_panorama_package(panorama_manifest("1.0.0")))
    wait_for(lambda: report(device), 20, "version 1.0.0 running")
    options = dict(options)
    manifest = panorama_manifest("2.0.0", **({"overrides": ["graphs/counter_app/override.json"]} if options.pop("overrides", False) else {}))

    with pytest.raises(DeviceCallError) as err:
        client.deploy(make_panorama_package(manifest, **options))

    assert err.value.code == code
    assert message in err.value.message
    [app] = client.list_apps()
    assert (app.version, app.state) == ("1.0.0", "running")
    frames = report(device)["frames"]
    wait_for(lambda: report(device)["frames"] > frames, 20, "version 1.0.0 still processing frames")


def test_health_shows_a_crashing_code_node_with_its_crash_count_and_traceback(device, client, make_panorama_package):
    client.deploy(make_panorama_package(panorama_manifest(), app=app_source("crash", n=5)))

    def crashed_twice():
        [app] = client.list_apps()
        return app.nodes and app.nodes[0].crashes >= 2 and app

    app = wait_for(crashed_twice, 30, "two crashes")
    assert "RuntimeError: boom after 5 frames" in app.nodes[0].last_traceback
    assert app.state == "running"  # supervised: it keeps being restarted, with backoff
    with client.health(interval_s=0.2) as stream:
        sample = next(iter(stream))
    [health_app] = [a for a in sample.apps if a.app_id == "counter"]
    assert health_app.nodes[0].crashes >= 2


def test_a_code_app_and_a_detector_app_share_one_session_of_a_stored_model(device, client, make_panorama_package, tmp_path):
    model = make_constant_detector(tmp_path / "shared.onnx", "yolov8", detections=[(140, 140, 180, 180, 0.8, 0)], num_classes=3)
    client.upload_model(model, "shared", CONSTANT_LABELS)
    client.deploy(build_package_with_manifest(tmp_path, detector_manifest(app_id="widgets", model={"name": "shared"})))
    manifest = panorama_manifest(models={"model_node": {"name": "shared"}})

    client.deploy(make_panorama_package(manifest, app=app_source(size=320), model_shape=[1, 3, 320, 320]))

    wait_for(lambda: (r := report(device)) and r["frames"] >= 2, 20, "the code app calling the shared model")
    [use] = device.supervisor.registry.models()
    assert (use.name, use.users) == ("shared", 2)


def build_package_with_manifest(tmp_path: Path, manifest: dict) -> bytes:
    folder = tmp_path / f"detector-{manifest['id']}"
    folder.mkdir()
    (folder / "app.json").write_text(json.dumps(manifest))
    return build_package(folder)


def _free_port_in_routing_range() -> int:
    import socket

    for port in range(8000, 9001):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 8000-9000")


def test_an_app_serves_http_on_its_routed_port_and_a_port_outside_8000_9000_is_refused(device, client, make_panorama_package):
    import urllib.request

    port = _free_port_in_routing_range()
    client.deploy(make_panorama_package(panorama_manifest(), app=app_source("http", port=port), route_port=port))

    def fetch() -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            return None

    assert wait_for(fetch, 20, "the app's HTTP server on its routed port") == {"zone": "dock-1"}
    with pytest.raises(DeviceCallError) as err:
        client.deploy(make_panorama_package(panorama_manifest("2.0.0"), app=app_source("http", port=443), route_port=443))
    assert err.value.code == "INVALID_ARGUMENT"
    assert "networkRoutingRules[0].hostPort: must be greater than or equal to 8000, got 443" in err.value.message


def test_a_routed_host_port_other_than_the_container_port_is_relayed_to_the_app(device, client, make_panorama_package):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        container_port = s.getsockname()[1]
    host_port = _free_port_in_routing_range()
    client.deploy(make_panorama_package(
        panorama_manifest(), app=app_source("http", port=container_port), route_port=host_port, container_port=container_port,
    ))

    def fetch() -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            return None

    assert wait_for(fetch, 20, "the app's HTTP server through the routed host port") == {"zone": "dock-1"}
    client.remove_app("counter")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", host_port), timeout=1).close()


def test_an_app_stuck_in_get_on_a_silent_camera_stops_promptly(device, client, make_panorama_package):
    client.deploy(make_panorama_package(panorama_manifest(cameras={"cam-1": "rtsp://127.0.0.1:9/silent"}), app=app_source("stuck")))
    [app] = client.list_apps()
    pid = app.nodes[0].pid
    assert pid > 0

    started = time.monotonic()
    status = client.stop_app("counter")

    assert status.state == "stopped" and time.monotonic() - started < 10
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_an_on_signal_camera_starts_paused_and_the_console_resumes_and_pauses_it(device, client, make_panorama_package):
    manifest = panorama_manifest(
        cameras={"dock-cam": PATTERN + "&seed=1", "gate-cam": PATTERN + "&seed=2"},
        overrides=["graphs/counter_app/override.json"],
        bindings={"dock_cam": ["dock-cam"], "gate_cam": ["gate-cam"]},
    )
    client.deploy(make_panorama_package(manifest, edit=lambda root: write_override(root, ["dock_cam", "gate_cam"], on_signal=("gate_cam",))))

    def streams_seen() -> list[str]:
        r = report(device)
        return sorted(s["stream_id"] for s in r["streams"]) if r else []

    wait_for(lambda: streams_seen() == ["dock-cam"], 20, "only the onAppStart camera")
    client.set_camera_paused("counter", "gate-cam", False)
    wait_for(lambda: streams_seen() == ["dock-cam", "gate-cam"], 20, "the resumed camera")
    client.set_camera_paused("counter", "dock-cam", True)
    wait_for(lambda: streams_seen() == ["gate-cam"], 20, "only the camera left running")
    with pytest.raises(DeviceCallError) as err:
        client.set_camera_paused("counter", "lobby", True)
    assert err.value.code == "NOT_FOUND" and "no camera 'lobby'" in err.value.message


def test_a_dockerfile_pip_requirement_is_installed_offline_from_wheels_the_package_bundles(device, client, make_panorama_package):
    dockerfile = "FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\nRUN pip3 install tinylib==1.0\n"

    client.deploy(make_panorama_package(panorama_manifest(), app=WHEEL_APP, wheels=True, dockerfile=dockerfile))

    seen = wait_for(lambda: report(device, "wheel.json"), 30, "the app importing its bundled package")
    assert seen["value"] == 42
    assert "/app-data/counter/python/venv-" in seen["file"]


def test_the_console_gathers_the_wheels_the_device_lacks_and_the_app_imports_them_from_its_own_venv(tmp_path, device, client):
    from console_app.core.services.panorama_import import (
        build_panorama_package,
        open_panorama_project,
    )
    from console_app.core.services.panorama_wheels import WheelTarget
    from console_app.core.settings import PythonPackagesSettings

    dockerfile = "FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\nRUN pip3 install tinylib==1.0 numpy\n"
    imported = open_panorama_project(write_project(tmp_path / "people_counter", WHEEL_APP, dockerfile=dockerfile))
    wheelhouse = tmp_path / "wheelhouse"
    pip_wheel(wheelhouse, tmp_path)
    target = WheelTarget.from_device_info(client.info())  # the device's own platform tags and Python

    package = build_panorama_package(
        imported, app_id="counter", name="People counter", version="1.0.0", cameras={"cam-1": PATTERN},
        wheel_targets=[target], python_packages=PythonPackagesSettings(wheelhouse=str(wheelhouse)),
    )
    client.deploy(package)

    seen = wait_for(lambda: report(device, "wheel.json"), 30, "the app importing the package the console gathered")
    assert seen["value"] == 42
    venv = Path(device.config.data_dir) / "app-data" / "counter" / "python"
    assert seen["file"].startswith(str(next(venv.glob("venv-*/lib/python*/site-packages"))))


def test_storage_survives_an_upgrade_and_a_device_restart_which_resumes_the_app(tmp_path, make_panorama_package, signer):
    data_dir = tmp_path / "device"
    starts = data_dir / "app-data" / "counter" / "storage" / "starts.txt"
    first = start_device(data_dir)
    try:
        creds = pair("127.0.0.1", first.port, first.pairing.current_code(), "pytest", signer=signer)
        with DeviceClient("127.0.0.1", first.port, creds, signer=signer) as c:
            c.deploy(make_panorama_package(panorama_manifest("1.0.0"), app=app_source("paths")))
            wait_for(lambda: starts.exists() and starts.read_text() == "1", 20, "version 1.0.0 writing its storage")
            c.deploy(make_panorama_package(panorama_manifest("1.1.0", params={"zone_name": "dock-5"}), app=app_source("paths")))
            wait_for(lambda: starts.read_text() == "2", 20, "version 1.1.0 reading the same storage")
    finally:
        first.stop()
    second = start_device(data_dir)
    try:
        with DeviceClient("127.0.0.1", second.port, creds) as c:
            [app] = c.list_apps()
            assert (app.version, app.state) == ("1.1.0", "running")
            assert json.loads(app.params_json) == {"zone_name": "dock-5"}
            wait_for(lambda: starts.read_text() == "3", 20, "the resumed app")
    finally:
        second.stop()


def test_a_project_the_console_imported_from_a_zip_deploys_to_two_devices(tmp_path, device, client, signer):
    import zipfile

    from console_app.core.services.panorama_import import (
        build_panorama_package,
        open_panorama_project,
    )

    root = write_project(tmp_path / "people_counter", app_source())
    archive = tmp_path / "people_counter.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, "people_counter/" + path.relative_to(root).as_posix())
    imported = open_panorama_project(archive)
    try:
        package = build_panorama_package(
            imported, app_id="counter", name="People counter", version="1.0.0", cameras={"cam-1": PATTERN},
            params={"zone_name": "dock-8"},
        )
    finally:
        imported.close()
    second = start_device(tmp_path / "second-device")
    try:
        creds = pair("127.0.0.1", second.port, second.pairing.current_code(), "pytest", signer=signer)
        with DeviceClient("127.0.0.1", second.port, creds, signer=signer) as other:
            for target, runtime in ((client, device), (other, second)):
                status = target.deploy(package)
                assert (status.kind, status.state) == ("panorama", "running")
                wait_for(lambda runtime=runtime: (r := report(runtime)) and r["zone_name"] == "dock-8", 20, "the app on each device")
    finally:
        second.stop()


def test_the_consoles_live_feed_shows_the_code_apps_display_with_its_boxes_and_labels(device, client, credentials, signer, make_panorama_package):
    from console_app.core.services.live_feed import LiveFeed

    client.deploy(make_panorama_package(panorama_manifest()))
    frames = []
    feed = LiveFeed(
        "dev-1", lambda: DeviceClient("127.0.0.1", device.port, credentials, signer=signer),
        on_frame=lambda camera_id: frames.append(camera_id) if camera_id == "counter/cam-1" else None,
    ).start()
    try:
        wait_for(lambda: frames, 20, "a frame of the app's display stream")
        frame = wait_for(lambda: feed.take("counter/cam-1"), 10, "the frame")
    finally:
        feed.stop()
    assert "counter/cam-1" in feed.camera_ids() and frame.app_id == "counter"
    [box] = frame.detections
    assert (round(box.x1, 3), round(box.y2, 3), box.class_id) == (0.1, 0.6, -1)
    [(text, x, y)] = frame.labels
    assert text.startswith("dock-1 ") and (round(x, 3), round(y, 3)) == (0.1, 0.1)


def test_sightline_ctl_deploys_a_panorama_folder_and_pauses_and_resumes_its_camera(device, tmp_path, make_package):
    from tests.integration.test_sightline_ctl import ctl

    state = tmp_path / "ctl"
    assert ctl(device, state, "pair", device.pairing.current_code()).returncode == 0
    folder = tmp_path / "dock-counter"
    write_project(folder / "project", app_source())
    (folder / "app.json").write_text(json.dumps(panorama_manifest()))

    deployed = ctl(device, state, "deploy", str(folder))
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed counter version 1.0.0: running" in deployed.stdout
    wait_for(lambda: report(device), 20, "the app's first frames")

    paused = ctl(device, state, "pause-camera", "counter", "cam-1")
    assert paused.returncode == 0 and "camera cam-1 paused" in paused.stdout
    frames = report(device)["frames"]
    time.sleep(0.5)  # no event says "no frame came": give a paused camera a chance to deliver one
    assert report(device)["frames"] <= frames + 1  # at most the get() that was already answered
    resumed = ctl(device, state, "resume-camera", "counter", "cam-1")
    assert resumed.returncode == 0
    wait_for(lambda: report(device)["frames"] > frames + 1, 20, "frames after resuming")
    ctl(device, state, "deploy", str(_detector_folder(tmp_path)))
    refused = ctl(device, state, "pause-camera", "widgets", "cam-2")
    assert refused.returncode == 1 and "is a detector app: its cameras cannot be paused" in refused.stderr


def _detector_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "widgets"
    (folder / "models").mkdir(parents=True)
    make_constant_detector(folder / "models" / "constant.onnx", "yolov8", detections=[(140, 140, 180, 180, 0.8, 0)], num_classes=3)
    (folder / "app.json").write_text(json.dumps(detector_manifest(camera_id="cam-2")))
    return folder


def test_a_code_nodes_prints_reach_the_device_log_tagged_with_app_and_node(device, client, make_panorama_package):
    from tests.integration.conftest import first_message

    client.deploy(make_panorama_package(panorama_manifest()))

    with client.logs(min_level="INFO", replay=500, contains="[counter/counter_code] frame") as stream:
        record = first_message(stream, 20, "the app's print() in the device log")
    assert record.logger == "device_runtime.code_app.counter.counter_code" and record.level == "INFO"
