"""The device API end to end: a real runtime, real gRPC over TLS on 127.0.0.1, a real client."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import grpc
import pytest

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient
from console_app.core.gateways.device_tls import CHANNEL_OPTIONS, channel_credentials
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.protocol.v1 import device_pb2_grpc as pb_grpc
from tests.integration.conftest import (
    CONSTANT_LABELS,
    DEMO_LABELS,
    DEMO_MODEL,
    detector_manifest,
    first_message,
    next_preview,
    start_device,
    wait_for,
)
from tests.peers.rtsp_server import RtspServer


def raw_stub(device, credentials=None) -> pb_grpc.DeviceStub:
    """A bare generated stub, for requests the friendly client would never send."""
    cert = device.identity.cert_pem
    creds = (
        channel_credentials(cert, credentials.client_key_pem, credentials.client_cert_pem)
        if credentials
        else channel_credentials(cert)
    )
    channel = grpc.secure_channel(f"127.0.0.1:{device.port}", creds, options=list(CHANNEL_OPTIONS))
    return pb_grpc.DeviceStub(channel)


def upload(header: pb.UploadHeader, data: bytes, chunk: int = 64 * 1024):
    yield pb.UploadChunk(header=header)
    for i in range(0, len(data), chunk):
        yield pb.UploadChunk(data=data[i : i + chunk])


def header_for(data: bytes, **fields) -> pb.UploadHeader:
    return pb.UploadHeader(size=len(data), sha256=hashlib.sha256(data).hexdigest(), **fields)


# ----------------------------------------------------------------------------- identity and pairing


def test_device_info_is_open_to_unpaired_clients_and_names_provider_and_fingerprint(device):
    with DeviceClient("127.0.0.1", device.port) as guest:
        info = guest.info()
    assert info.device_id == device.identity.device_id
    assert info.cert_fingerprint == device.identity.fingerprint == guest.fingerprint
    assert info.active_provider == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in info.available_providers
    assert info.caller_paired is False
    assert info.versions["onnxruntime"]


UNARY_CALLS = [
    ("ListApps", pb.ListAppsRequest()),
    ("StartApp", pb.AppRef(app_id="x")),
    ("StopApp", pb.AppRef(app_id="x")),
    ("RemoveApp", pb.AppRef(app_id="x")),
    ("RollbackApp", pb.RollbackRequest(app_id="x")),
    ("SetParams", pb.SetParamsRequest(app_id="x", params_json="{}")),
    ("ListModels", pb.ListModelsRequest()),
    ("RemoveModel", pb.ModelRef(name="x")),
    ("GetSnapshot", pb.SnapshotRequest(camera_id="x")),
    ("ProbeCamera", pb.ProbeCameraRequest(url="test://pattern")),
]
STREAM_CALLS = [
    ("WatchHealth", pb.WatchHealthRequest()),
    ("WatchEvents", pb.WatchEventsRequest()),
    ("WatchLogs", pb.WatchLogsRequest()),
    ("WatchPreview", pb.PreviewRequest()),
    ("WatchCamera", pb.WatchCameraRequest(url="test://pattern")),
]


@pytest.mark.parametrize("method, request_message", UNARY_CALLS + STREAM_CALLS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_call_but_info_and_pair_is_refused_to_an_unpaired_client(device, method, request_message):
    stub = raw_stub(device)
    with pytest.raises(grpc.RpcError) as err:
        result = getattr(stub, method)(request_message, timeout=5)
        if (method, request_message) in STREAM_CALLS:
            next(iter(result))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "pair" in err.value.details()


@pytest.mark.parametrize("method", ["DeployApp", "UploadModel"])
def test_uploads_are_refused_to_an_unpaired_client(device, method):
    data = b"x" * 10
    with pytest.raises(grpc.RpcError) as err:
        getattr(raw_stub(device), method)(upload(header_for(data, name="m"), data), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_pairing_with_a_wrong_code_is_refused_and_the_right_code_gives_a_working_credential(device):
    from console_app.core.gateways.device_client import pair

    with pytest.raises(DeviceCallError) as err:
        pair("127.0.0.1", device.port, "0000-0000", "intruder")
    assert err.value.code == "PERMISSION_DENIED"
    creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "engineer")
    with DeviceClient("127.0.0.1", device.port, creds) as paired:
        assert paired.info().caller_paired is True
        assert paired.list_apps() == []


# ----------------------------------------------------------------------------- apps


def test_deployed_app_runs_and_its_preview_carries_detections_timings_and_state(client, make_package):
    status = client.deploy(make_package(detector_manifest()))
    assert (status.app_id, status.version, status.state) == ("widgets", "1.0.0", "running")
    frame = next_preview(client, "cam-1")
    assert frame.state == "live"
    assert frame.jpeg[:2] == b"\xff\xd8"
    assert (frame.width, frame.height) == (320, 240)
    [det] = frame.detections
    assert det.label == CONSTANT_LABELS[0]
    # The model's 320x320 input is the 320x240 frame letterboxed with 40 px bars top and bottom.
    assert (det.x1, det.y1, det.x2, det.y2) == pytest.approx((140 / 320, 100 / 240, 180 / 320, 140 / 240), abs=1e-3)
    assert {"preprocess", "inference", "postprocess", "app"} <= set(frame.timings_ms)
    assert frame.provider == "CPUExecutionProvider"


def test_a_live_parameter_change_shows_in_the_next_frames_metadata(client, make_package):
    client.deploy(make_package(detector_manifest()))
    assert next_preview(client, "cam-1").detections, "the constant detector's box should pass confidence 0.5"
    changed = client.set_params("widgets", json.dumps({"confidence": 0.9}))
    assert json.loads(changed.params_json)["confidence"] == 0.9
    after = time.time()
    assert list(next_preview(client, "cam-1", after=after + 0.2).detections) == []
    # Live, not a restart: the same version is still the only one, and the change is persisted.
    assert list(client.list_apps()[0].versions) == ["1.0.0"]


def test_invalid_parameters_are_refused_and_the_running_parameters_stay(client, make_package):
    client.deploy(make_package(detector_manifest()))
    with pytest.raises(DeviceCallError) as err:
        client.set_params("widgets", json.dumps({"geometry": {"cam-1": {"zones": [{"name": "z", "points": [[0, 0], [1, 1]]}]}}}))
    assert err.value.code == "INVALID_ARGUMENT"
    assert "3 points" in err.value.message
    assert json.loads(client.list_apps()[0].params_json)["geometry"] == {}


def test_rollback_switches_back_to_the_previous_version(client, make_package):
    client.deploy(make_package(detector_manifest(version="1.0.0")))
    client.deploy(make_package(detector_manifest(version="1.1.0", params={"confidence": 0.7})))
    assert client.list_apps()[0].version == "1.1.0"
    rolled = client.rollback_app("widgets")
    assert (rolled.version, rolled.state) == ("1.0.0", "running")
    assert list(rolled.versions) == ["1.0.0", "1.1.0"]
    assert json.loads(rolled.params_json)["confidence"] == 0.5


def test_stop_start_and_remove_an_app(client, make_package):
    client.deploy(make_package(detector_manifest()))
    assert client.stop_app("widgets").state == "stopped"
    assert client.start_app("widgets").state == "running"
    client.remove_app("widgets")
    assert client.list_apps() == []


def test_a_version_that_fails_to_start_leaves_the_running_version_untouched(client, make_package):
    client.deploy(make_package(detector_manifest(version="1.0.0")))
    broken = detector_manifest(version="2.0.0", model={"name": "not-on-this-device"})
    with pytest.raises(DeviceCallError) as err:
        client.deploy(make_package(broken, bundle_model=False))
    assert err.value.code == "NOT_FOUND"
    assert "not-on-this-device" in err.value.message
    [app] = client.list_apps()
    assert (app.version, app.state) == ("1.0.0", "running")
    assert next_preview(client, "cam-1", after=time.time()).detections


# ----------------------------------------------------------------------------- events, health, logs


def test_events_report_line_crossings_with_a_snapshot_of_the_frame(client, make_package):
    client.upload_model(DEMO_MODEL, "sightline-demo", DEMO_LABELS)
    manifest = detector_manifest(
        app_id="line",
        camera_url="sim://production-line?seed=7&width=640&height=480&fps=15",
        model={"name": "sightline-demo"},
        params={"confidence": 0.4, "geometry": {"cam-1": {
            "lines": [{"name": "exit", "a": [0.8, 0.0], "b": [0.8, 0.45], "count": "both"}]}}},
    )
    client.deploy(make_package(manifest, bundle_model=False))
    with client.events(app_id="line") as stream:
        event = first_message(stream, 30, "a line_crossed event", lambda e: e.type == "line_crossed")
    assert event.line == "exit" and event.label in {"part", "defective_part"} and event.track_id > 0
    snapshot = client.snapshot(snapshot_id=event.snapshot_id)
    assert snapshot.jpeg[:2] == b"\xff\xd8"
    # The frame's boxes and counts come with it, so the console can draw them on the snapshot.
    assert snapshot.app_id == "line" and snapshot.counts["exit"] >= 1
    assert any(d.track_id == event.track_id and d.label == event.label for d in snapshot.detections)
    assert all(0 <= d.x1 < d.x2 <= 1 and 0 <= d.y1 < d.y2 <= 1 for d in snapshot.detections)
    # And the camera's counting line as it was then: a later change must not redraw this snapshot.
    assert [(ln["name"], ln["a"], ln["b"]) for ln in json.loads(snapshot.geometry_json)["lines"]] == \
        [("exit", [0.8, 0.0], [0.8, 0.45])]


def test_health_reports_each_stream_and_the_device(client, make_package):
    client.deploy(make_package(detector_manifest()))

    def live_sample():
        with client.health(interval_s=0.2) as stream:
            for sample in stream:
                if sample.streams and sample.streams[0].state == "live" and sample.streams[0].inferred_fps > 0:
                    return sample
        return None

    sample = wait_for(live_sample, 15, "a health sample with a live, inferring stream")
    stream = sample.streams[0]
    assert stream.camera_id == "cam-1" and stream.camera_fps > 5 and stream.inference_ms > 0
    assert (stream.width, stream.height) == (320, 240)
    assert 0 <= sample.device.cpu_percent <= 100 * 64 and sample.device.memory_used_bytes > 0
    assert sample.active_provider == "CPUExecutionProvider"
    assert [a.app_id for a in sample.apps] == ["widgets"]
    assert stream.availability == "online"


def test_health_says_which_camera_refused_the_password(client, make_package):
    from tests.peers.rtsp_server import RtspServer

    with RtspServer(path="/live", user="admin", password="right-pw", width=320, height=240) as camera:
        client.deploy(make_package(detector_manifest(
            camera_url=f"rtsp://admin:wrong-pw@127.0.0.1:{camera.port}/live", camera_id="gate")))

        def refused():
            with client.health(interval_s=0.2) as stream:
                for sample in stream:
                    if sample.streams and sample.streams[0].state in ("failed", "live"):
                        return sample.streams[0]
            return None

        stream = wait_for(refused, 20, "the camera's verdict in health")
    assert (stream.camera_id, stream.state, stream.availability) == ("gate", "failed", "auth_failed")
    assert "401" in stream.state_reason and "wrong-pw" not in stream.state_reason


def test_health_and_info_say_how_each_camera_is_decoded(client, make_package):
    with RtspServer() as camera:
        client.deploy(make_package(detector_manifest(camera_url=camera.url + "#backend=gstreamer")))

        def live_sample():
            with client.health(interval_s=0.2) as stream:
                for sample in stream:
                    if sample.streams and sample.streams[0].state == "live":
                        return sample
            return None

        sample = wait_for(live_sample, 15, "a health sample with the RTSP camera live")
        info = client.info()
    stream = sample.streams[0]
    assert (stream.video_backend, stream.decoder) == ("gstreamer", info.video_decoders[0])
    assert "avdec_h264" in info.video_decoders  # FFmpeg's decoder: the last resort, always present
    assert info.gstreamer.startswith("GStreamer 1.")
    # No TensorRT here: models run in FP32 and no engine is built.
    assert info.inference_precision == "fp32" and not info.engine_builds and not sample.engine_builds


def test_log_stream_replays_recent_records_and_filters_by_level(client, make_package):
    client.deploy(make_package(detector_manifest()))
    with client.logs(min_level="INFO", replay=200, contains="deployed app widgets") as stream:
        record = first_message(stream, 10, "the deploy log record")
    assert record.level == "INFO" and "1.0.0" in record.message
    with pytest.raises(DeviceCallError) as err:
        with client.logs(min_level="LOUD") as stream:
            next(iter(stream))
    assert err.value.code == "INVALID_ARGUMENT"


# ----------------------------------------------------------------------------- models and cameras


def test_models_upload_list_and_removal_refused_while_an_app_uses_them(client, make_package, constant_model):
    stored = client.upload_model(constant_model, "shared", CONSTANT_LABELS)
    assert stored.decoder == "yolov8" and list(stored.labels) == CONSTANT_LABELS
    assert [t.name for t in stored.inputs] == ["images"]
    client.deploy(make_package(detector_manifest(model={"name": "shared"}), bundle_model=False))
    [listed] = client.list_models()
    assert list(listed.used_by) == ["widgets"]
    with pytest.raises(DeviceCallError) as err:
        client.remove_model("shared")
    assert err.value.code == "FAILED_PRECONDITION" and "widgets" in err.value.message
    client.remove_app("widgets")
    client.remove_model("shared")
    assert client.list_models() == []


def test_probe_opens_a_camera_the_device_can_reach_and_explains_one_it_cannot(client):
    ok = client.probe_camera("test://pattern?width=320&height=240", timeout_ms=3000)
    assert ok.ok and (ok.width, ok.height) == (320, 240) and ok.jpeg[:2] == b"\xff\xd8"
    dead = client.probe_camera("rtsp://admin:hunter2@127.0.0.1:9/stream", timeout_ms=2000)
    assert not dead.ok and dead.error
    assert "hunter2" not in dead.error


def raw_frames(client, url: str, count: int, timeout: float = 15.0) -> list:
    """The first ``count`` frames (with a picture) of a raw camera view."""
    frames: list = []
    stream = client.watch_camera(url, max_width=320)
    first_message(stream, timeout, f"{count} raw frames of {url}",
                  accept=lambda m: bool(m.jpeg) and (frames.append(m) or len(frames) >= count))
    stream.cancel()
    return frames


def test_a_camera_no_app_reads_is_watched_raw_at_the_cameras_own_rate(client, device):
    started = time.monotonic()
    frames = raw_frames(client, "test://pattern?width=320&height=240&fps=25", 30)
    elapsed = time.monotonic() - started
    assert all(f.state == "live" and f.jpeg[:2] == b"\xff\xd8" and (f.width, f.height) == (320, 240)
               for f in frames)
    seqs = [f.seq for f in frames]
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] + 1 >= len(frames)
    # Every frame the camera sends is passed on, not one test-open every few seconds.
    assert len(frames) / elapsed > 8, f"{len(frames)} frames in {elapsed:.1f} s"
    wait_for(lambda: device.supervisor.camera_ids() == [], 5, "the raw view's source to stop")


def test_a_camera_an_app_reads_is_shared_with_the_raw_view(client, make_package, device):
    client.deploy(make_package(detector_manifest()))
    [frame] = raw_frames(client, "test://pattern?width=320&height=240&fps=15", 1)
    assert frame.camera_id == "cam-1"  # the app's source, not a second decoder
    assert device.supervisor.camera_ids() == ["cam-1"]


def test_a_raw_view_of_a_dead_camera_says_its_state_and_never_shows_the_password(client):
    stream = client.watch_camera("rtsp://admin:hunter2@127.0.0.1:9/stream")
    message = first_message(stream, 10, "a state message", accept=lambda m: not m.jpeg)
    stream.cancel()
    assert message.state in ("connecting", "reconnecting", "failed") and message.state != "live"
    assert message.state_reason and "hunter2" not in message.state_reason


# ----------------------------------------------------------------------------- bad input


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_malformed_manifest_is_refused_naming_the_field(client, make_package):
    bad = detector_manifest()
    bad["params"]["confidence"] = 7
    with pytest.raises(DeviceCallError) as err:
        client.deploy(make_package(bad))
    assert err.value.code == "INVALID_ARGUMENT"
    assert "params.confidence" in err.value.message


def test_a_package_whose_paths_escape_its_folder_is_refused(client):
    package = tar_gz({"app.json": json.dumps(detector_manifest()).encode(), "../escape.txt": b"x"})
    with pytest.raises(DeviceCallError) as err:
        client.deploy(package)
    assert err.value.code == "INVALID_ARGUMENT" and "../escape.txt" in err.value.message


def test_a_truncated_upload_is_refused(device, credentials, signer):
    data = b"\x1f\x8b" + b"0" * 5000
    sha256 = hashlib.sha256(data).hexdigest()
    header = pb.UploadHeader(size=len(data) + 1000, sha256=sha256, signature=signer.sign_package(sha256))
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(device, credentials).DeployApp(upload(header, data), timeout=10)
    assert err.value.code() == grpc.StatusCode.DATA_LOSS and "truncated" in err.value.details()


def test_an_upload_whose_sha256_does_not_match_is_refused(device, credentials, signer):
    data = b"0" * 5000
    header = pb.UploadHeader(size=len(data), sha256="ab" * 32, signature=signer.sign_package("ab" * 32))
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(device, credentials).DeployApp(upload(header, data), timeout=10)
    assert err.value.code() == grpc.StatusCode.DATA_LOSS and "sha256" in err.value.details()


def test_an_oversized_message_is_refused_and_the_device_keeps_serving(device, credentials, client, signer):
    data = b"0" * (9 * 1024 * 1024)
    header = header_for(data, signature=signer.sign_bytes(data))
    with pytest.raises(grpc.RpcError) as err:
        raw_stub(device, credentials).DeployApp(upload(header, data, chunk=len(data)), timeout=10)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert client.list_apps() == []


def test_a_corrupt_model_is_refused_at_upload(client):
    with pytest.raises(DeviceCallError) as err:
        client.upload_model(b"this is not onnx" * 10, "broken")
    assert err.value.code == "INVALID_ARGUMENT" and "not a valid ONNX model" in err.value.message
    assert client.list_models() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.start_app("ghost"),
        lambda c: c.rollback_app("ghost"),
        lambda c: c.set_params("ghost", "{}"),
        lambda c: c.remove_model("ghost"),
        lambda c: c.snapshot(camera_id="ghost"),
    ],
    ids=["start", "rollback", "params", "remove-model", "snapshot"],
)
def test_unknown_ids_are_not_found(client, call):
    with pytest.raises(DeviceCallError) as err:
        call(client)
    assert err.value.code == "NOT_FOUND" and "ghost" in err.value.message


# ----------------------------------------------------------------------------- restart


def test_a_restarted_device_resumes_its_apps_with_their_live_parameters(tmp_path: Path, make_package, signer):
    from console_app.core.gateways.device_client import pair

    data_dir = tmp_path / "device"
    first = start_device(data_dir)
    try:
        creds = pair("127.0.0.1", first.port, first.pairing.current_code(), "pytest", signer=signer)
        with DeviceClient("127.0.0.1", first.port, creds, signer=signer) as c:
            c.deploy(make_package(detector_manifest()))
            c.set_params("widgets", json.dumps({"confidence": 0.6}))
    finally:
        first.stop()
    second = start_device(data_dir)
    try:
        # Same identity, so the old pairing still works.
        with DeviceClient("127.0.0.1", second.port, creds) as c:
            [app] = c.list_apps()
            assert app.state == "running" and json.loads(app.params_json)["confidence"] == 0.6
            assert next_preview(c, "cam-1").detections
    finally:
        second.stop()


def test_a_slow_preview_client_gets_fewer_frames_and_never_slows_inference(client, make_package):
    client.deploy(make_package(detector_manifest(camera_url="test://pattern?width=320&height=240&fps=20")))
    with client.preview("cam-1", fps=2, max_width=160) as slow:
        frames = iter(slow)
        paced = [next(frames) for _ in range(3)]
        # The viewer also stalls for a while; the device keeps inferring at the camera's rate.
        time.sleep(1.5)
        with client.health(interval_s=0.2) as health:
            sample = first_message(health, 10, "a health sample", lambda h: h.streams and h.streams[0].inferred_fps)
    assert sample.streams[0].inferred_fps > 0.8 * sample.streams[0].camera_fps
    # At 2 fps from a 20 fps camera the viewer sees about every tenth frame: the newest one each time.
    gaps = [b.seq - a.seq for a, b in zip(paced, paced[1:], strict=False)]
    assert all(gap >= 5 for gap in gaps), f"frames should be skipped between sends, got gaps {gaps}"


def test_live_parameters_saved_by_a_v1_runtime_resume_on_the_cameras_they_applied_to(
        tmp_path: Path, make_package, signer):
    """state.json from before schema v2: app-wide zones in the live parameters."""
    from console_app.core.gateways.device_client import pair

    data_dir = tmp_path / "device"
    first = start_device(data_dir)
    try:
        creds = pair("127.0.0.1", first.port, first.pairing.current_code(), "pytest", signer=signer)
        with DeviceClient("127.0.0.1", first.port, creds, signer=signer) as c:
            c.deploy(make_package(detector_manifest()))
    finally:
        first.stop()
    state_file = data_dir / "state.json"
    state = json.loads(state_file.read_text())
    zone = {"name": "dock", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "cameras": []}
    params = {k: v for k, v in state["apps"]["widgets"]["params"].items() if k != "geometry"}
    state["apps"]["widgets"]["params"] = {**params, "confidence": 0.6, "zones": [zone], "lines": []}
    state_file.write_text(json.dumps(state))

    second = start_device(data_dir)
    try:
        with DeviceClient("127.0.0.1", second.port, creds) as c:
            [app] = c.list_apps()
            params = json.loads(app.params_json)
    finally:
        second.stop()
    assert app.state == "running" and params["confidence"] == 0.6
    assert [z["name"] for z in params["geometry"]["cam-1"]["zones"]] == ["dock"] and "zones" not in params
