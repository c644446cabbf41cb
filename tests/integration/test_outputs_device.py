"""Outputs of a deployed app, end to end: a real device (in-process and as a killable process) and a real Mosquitto."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from console_app.core.gateways.device_client import DeviceClient, pair
from device_runtime.security.secret_store import SecretStore
from tests.integration.conftest import DEMO_LABELS, DEMO_MODEL, detector_manifest, wait_for
from tests.integration.test_sightline_device_process import DeviceProcess
from tests.peers.mosquitto import PASSWORD, USER, MosquittoBroker, Subscriber

pytestmark = pytest.mark.integration

SECRET = "output/plant-mqtt/password"


def line_app(broker: MosquittoBroker) -> dict:
    manifest = detector_manifest(
        app_id="line",
        camera_url="sim://production-line?seed=7&width=640&height=480&fps=15",
        model={"name": "sightline-demo"},
        params={"confidence": 0.4,
                "geometry": {"cam-1": {"lines": [{"name": "exit", "a": [0.8, 0.0], "b": [0.8, 0.45], "count": "both"}]}}},
    )
    manifest["outputs"] = [
        {
            "kind": "mqtt",
            "name": "plant-mqtt",
            "url": f"mqtt://127.0.0.1:{broker.port}",
            "username": USER,
            "password_secret": SECRET,
            "topic": "plant/{app}/{event}",
            "events": {"kinds": ["line_crossed"]},
        }
    ]
    return manifest


def _key(payload: bytes) -> tuple:
    body = json.loads(payload)
    return body["event"], body["track_id"], body["time"]


class EventRecorder:
    """Collects the device's own event stream (what the console sees) in a thread."""

    def __init__(self, client: DeviceClient) -> None:
        self.events: list[tuple[float, tuple]] = []
        self._stream = client.events(app_id="line")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._stream:
                if event.type == "line_crossed":
                    self.events.append((time.time(), (event.type, event.track_id, event.time)))
        except Exception:  # the device went away: the test decides what that means
            pass

    def before(self, moment: float) -> list[tuple]:
        return [key for seen, key in list(self.events) if seen < moment]


def test_a_killed_device_loses_no_queued_event_while_the_broker_is_down(tmp_path: Path, make_package, signer) -> None:
    """Broker down, events keep coming, kill -9 the device, restart both: every event arrives, in order."""
    data_dir = tmp_path / "device"
    SecretStore(data_dir).put(SECRET, PASSWORD)  # what the console's deploy sends (see UploadHeader.secrets)
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    subscriber = Subscriber(broker, "plant/#")
    device = DeviceProcess(data_dir)
    try:
        creds = pair("127.0.0.1", device.port, device.code, "pytest", signer=signer)
        with DeviceClient("127.0.0.1", device.port, creds, signer=signer) as client:
            client.upload_model(DEMO_MODEL, "sightline-demo", DEMO_LABELS)
            recorder = EventRecorder(client)
            client.deploy(make_package(line_app(broker), bundle_model=False))
            subscriber.wait_for(lambda ms: len(ms) >= 2, timeout=60)
            broker.stop()
            outage_started = time.time()
            wait_for(lambda: len(recorder.before(time.time())) >= len(subscriber.snapshot()) + 4, 60,
                     "four more events while the broker is down")
            killed_at = time.time()
            device.kill()
    finally:
        if device.proc.poll() is None:
            device.kill()
    # Events the device reported more than a second before the kill are on disk by then
    # (the outbox commits within milliseconds); the ones during the outage are the point.
    expected = recorder.before(killed_at - 1.0)
    during_outage = [k for seen, k in recorder.events if outage_started < seen < killed_at - 1.0]
    assert during_outage, "some events happened while the broker was down"
    broker.start()
    restarted = DeviceProcess(data_dir)
    try:
        messages = subscriber.wait_for(lambda ms: {_key(p) for _, p, _ in ms} >= set(expected), timeout=90)
        received = list(dict.fromkeys(_key(p) for _, p, _ in messages))
        order = [received.index(k) for k in expected]
        assert order == sorted(order), "first arrivals are in the order the events happened"
        # The objects' detection scores come along (the app's confidence threshold is 0.4).
        assert all(0.4 <= json.loads(p)["confidence"] <= 1.0 for _, p, _ in messages)
        with DeviceClient("127.0.0.1", restarted.port, creds) as client:

            def caught_up():
                with client.health(interval_s=0.2) as stream:
                    health = next(iter(stream))
                found = [o for o in health.outputs if o.name == "plant-mqtt"]
                return found[0] if found and found[0].delivered >= len(expected) and found[0].last_error == "" else None

            output = wait_for(caught_up, 30, "health to show the queue delivered")
            assert output.kind == "mqtt" and output.dropped == 0 and output.state == "ok"
            assert output.failed > 0, "the outage shows in the failed attempts"
            # Messages from disk count from their event: the outage shows in the latency too.
            assert 0 < output.latency_p50_ms <= output.latency_p99_ms
    finally:
        assert restarted.stop() == 0
        subscriber.close()
        broker.close()


def test_test_output_reports_what_the_server_answered_and_refuses_a_bad_output(client) -> None:
    from console_app.core.gateways.device_client import DeviceCallError
    from tests.peers.plant_servers import HttpReceiver

    with HttpReceiver() as receiver:
        output = {"kind": "webhook", "name": "chat", "url": f"{receiver.url}/hook", "header_secrets": {"Authorization": "output/chat/token"}}
        reply = client.test_output(output, {"output/chat/token": "Bearer typed-in-the-form"})
        assert (reply.ok, reply.answer) == (True, 'HTTP 200 OK: {"ok": true}')
        assert receiver.requests[0].headers["Authorization"] == "Bearer typed-in-the-form"
        assert receiver.requests[0].json()["event"] == "zone_entered"
        receiver.status = 500
        reply = client.test_output(output, {"output/chat/token": "Bearer typed-in-the-form"})
    assert reply.ok is False
    assert reply.answer.startswith(f"{receiver.url}/hook answered HTTP 500")
    missing = client.test_output(output, {})
    assert (missing.ok, missing.answer) == (
        False, "header Authorization: secret 'output/chat/token' is not on this device; deploy the app again from a console that has it"
    )
    with pytest.raises(DeviceCallError) as error:
        client.test_output({"kind": "webhook", "name": "chat", "url": "ftp://nowhere"})
    assert error.value.code == "INVALID_ARGUMENT" and "url" in str(error.value)


def test_a_deployed_s3_output_with_overlays_uploads_the_event_frame_with_its_box_and_zone_drawn(
    client, make_package, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import cv2
    import numpy as np

    from tests.peers.moto_s3 import (
        TEST_ACCESS_KEY,
        TEST_SECRET_KEY,
        MotoServer,
        isolated_aws_environment,
    )

    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    with MotoServer() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="snapshots")
        manifest = detector_manifest(  # the constant model: one box at (140, 140)-(180, 180) in every frame
            app_id="boxes",
            params={"confidence": 0.5,
                    "geometry": {"cam-1": {"zones": [{"name": "all", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}}},
        )
        manifest["outputs"] = [{
            "kind": "s3", "name": "snaps", "bucket": "snapshots", "endpoint_url": moto.endpoint_url,
            "key": "{snapshot}.jpg", "overlays": True, "events": {"kinds": ["zone_entered"]},
            "access_key_id_secret": "output/snaps/key-id", "secret_access_key_secret": "output/snaps/secret-key",
        }]
        client.deploy(make_package(manifest),
                      secrets={"output/snaps/key-id": TEST_ACCESS_KEY, "output/snaps/secret-key": TEST_SECRET_KEY})
        listed = wait_for(lambda: s3.list_objects_v2(Bucket="snapshots").get("Contents"), 30, "the upload")
        key = listed[0]["Key"]
        uploaded = s3.get_object(Bucket="snapshots", Key=key)["Body"].read()
    stored = client.snapshot(snapshot_id=key.removesuffix(".jpg"))
    plain = stored.jpeg  # what the device keeps, undrawn, with the frame's boxes beside it
    [box] = stored.detections
    drawn_image = cv2.imdecode(np.frombuffer(uploaded, np.uint8), cv2.IMREAD_COLOR)
    plain_image = cv2.imdecode(np.frombuffer(plain, np.uint8), cv2.IMREAD_COLOR)
    assert drawn_image.shape == plain_image.shape == (240, 320, 3)
    b, g, r = (int(v) for v in drawn_image[round(box.y2 * 240), round((box.x1 + box.x2) / 2 * 320)])  # its bottom edge
    assert g > 150 and r < 90 and b < 90, "the detection box is drawn in green"
    b, g, r = (int(v) for v in drawn_image[120, 1])  # the zone "all" runs along the picture's edges
    assert r > 150 and g < 90 and b < 90, "the event's zone is outlined in red"
    assert np.abs(drawn_image[60:100, 60:100].astype(int) - plain_image[60:100, 60:100]).mean() < 8, \
        "away from the drawings the picture is the camera's"
