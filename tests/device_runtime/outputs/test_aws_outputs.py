"""S3 snapshot and CloudWatch outputs against moto's real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from device_runtime.outputs.dispatcher import output_key
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.moto_s3 import (
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    MotoServer,
    isolated_aws_environment,
)

pytestmark = pytest.mark.integration

KEYS = {"output/aws/key-id": TEST_ACCESS_KEY, "output/aws/secret-key": TEST_SECRET_KEY}
AWS = {"access_key_id_secret": "output/aws/key-id", "secret_access_key_secret": "output/aws/secret-key"}


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    # The device's keys come from its secret store, not from the environment.
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    with MotoServer() as server:
        yield server


def test_each_events_snapshot_is_uploaded_at_the_key_template(moto, make_dispatcher) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="plant-snapshots")
    dispatcher = make_dispatcher(KEYS)
    dispatcher.attach(
        manifest_with([{"kind": "s3", "name": "snapshots", "bucket": "plant-snapshots", "endpoint_url": moto.endpoint_url,
                        "key": "line3/{camera}/{date}/{event}-{track_id}.jpg", **AWS}])
    )
    jpeg = b"\xff\xd8\xff\xe0 fake jpeg bytes \xff\xd9"
    event = zone_event(4, when=1767168000.0)
    dispatcher.submit("line3", [event], jpeg)
    key = output_key("line3", "snapshots")
    wait_until(lambda: dispatcher.outbox.counters(key).delivered == 1, what="the upload")
    stored = s3.get_object(Bucket="plant-snapshots", Key="line3/cam-1/2025-12-31/zone_entered-4.jpg")
    assert stored["Body"].read() == jpeg
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"]["zone"] == "reject" and stored["Metadata"]["camera"] == "cam-1"


def grey_jpeg(width: int = 320, height: int = 240) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def test_with_overlays_the_uploaded_snapshot_shows_the_frames_boxes_and_the_events_zone(moto, make_dispatcher) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="plant-snapshots")
    dispatcher = make_dispatcher(KEYS)
    common = {"kind": "s3", "bucket": "plant-snapshots", "endpoint_url": moto.endpoint_url, **AWS}
    dispatcher.attach(manifest_with([{**common, "name": "annotated", "key": "drawn/{track_id}.jpg", "overlays": True},
                                     {**common, "name": "plain", "key": "plain/{track_id}.jpg"}]))
    jpeg = grey_jpeg()
    # What the supervisor passes: the frame's snapshot_meta (boxes normalised to 0..1).
    meta = {"counts": {"reject": 1}, "detections": [
        {"x1": 0.5, "y1": 0.5, "x2": 0.875, "y2": 0.875, "score": 0.91, "class_id": 0, "label": "part", "track_id": 4}]}
    dispatcher.submit("line3", [zone_event(4)], jpeg, overlay=meta)
    wait_until(lambda: dispatcher.outbox.counters(output_key("line3", "annotated")).delivered == 1, what="the upload")
    wait_until(lambda: dispatcher.outbox.counters(output_key("line3", "plain")).delivered == 1, what="the plain upload")

    assert s3.get_object(Bucket="plant-snapshots", Key="plain/4.jpg")["Body"].read() == jpeg
    drawn = s3.get_object(Bucket="plant-snapshots", Key="drawn/4.jpg")["Body"].read()
    image = cv2.imdecode(np.frombuffer(drawn, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)
    b, g, r = (int(v) for v in image[210, 200])  # on the box's bottom edge
    assert g > 150 and r < 80 and b < 80, "the detection box is drawn in green"
    # The manifest's zone "reject" is the triangle (0,0)-(1,0)-(1,1): its diagonal runs through (100, 75).
    b, g, r = (int(v) for v in image[75, 100])
    assert r > 150 and g < 80 and b < 80, "the event's zone is outlined in red"
    b, g, r = (int(v) for v in image[150, 40])  # away from every drawing: the frame as it was
    assert abs(b - 128) < 12 and abs(g - 128) < 12 and abs(r - 128) < 12


def test_a_missing_bucket_is_a_clear_error_and_the_snapshot_stays_queued(moto, make_dispatcher) -> None:
    dispatcher = make_dispatcher(KEYS)
    dispatcher.attach(
        manifest_with([{"kind": "s3", "name": "snapshots", "bucket": "no-such-bucket", "endpoint_url": moto.endpoint_url, **AWS}])
    )
    dispatcher.submit("line3", [zone_event(1)], b"\xff\xd8jpeg")
    key = output_key("line3", "snapshots")
    counters = wait_until(lambda: (c := dispatcher.outbox.counters(key)).last_error and c, what="an error")
    assert counters.last_error.startswith("S3 bucket 'no-such-bucket' answered NoSuchBucket")
    assert counters.queued == 1
    assert TEST_SECRET_KEY not in counters.last_error


def test_event_counts_become_cloudwatch_metrics_and_log_lines(moto, make_dispatcher) -> None:
    dispatcher = make_dispatcher(KEYS)
    dispatcher.attach(
        manifest_with([{"kind": "cloudwatch", "name": "cw", "endpoint_url": moto.endpoint_url, "namespace": "Plant/Line3",
                        "log_group": "/sightline/line3", **AWS}])
    )
    dispatcher.submit("line3", [zone_event(1), zone_event(2), zone_event(0, kind="zone_left")])
    key = output_key("line3", "cw")
    wait_until(lambda: dispatcher.outbox.counters(key).delivered == 3, what="three deliveries")
    cloudwatch = moto.client("cloudwatch")
    metrics = cloudwatch.list_metrics(Namespace="Plant/Line3")["Metrics"]
    dimensions = sorted({tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics})
    assert dimensions == [
        (("App", "line3"), ("Camera", "cam-1"), ("Event", "zone_entered")),
        (("App", "line3"), ("Camera", "cam-1"), ("Event", "zone_left")),
    ]
    logs = moto.client("logs").get_log_events(logGroupName="/sightline/line3", logStreamName="test-device/line3")
    assert [e["message"] for e in logs["events"]][0].startswith('{"detail": "event 1"')
    assert len(logs["events"]) == 3


@pytest.fixture
def device_logs_info():
    """The device logs from INFO (app log outputs want INFO records) for the test."""
    device_logger = logging.getLogger("device_runtime")
    level = device_logger.level
    device_logger.setLevel(logging.INFO)
    yield
    device_logger.setLevel(level)


def app_log_output(moto) -> list[dict]:
    return [{"kind": "cloudwatch", "name": "cw", "endpoint_url": moto.endpoint_url, "log_group": "/sightline/line3",
             "app_log": True, **AWS}]


def test_the_apps_log_records_go_to_the_app_log_stream_and_other_apps_records_do_not(
        moto, make_dispatcher, device_logs_info) -> None:
    dispatcher = make_dispatcher(KEYS)
    dispatcher.attach(manifest_with(app_log_output(moto)))
    logging.getLogger("device_runtime.code_app.line3.main").warning("belt speed %d m/min", 42)
    logging.getLogger("device_runtime.supervisor").info("app %s parameters changed", "line3")
    logging.getLogger("device_runtime.supervisor").info("app %s parameters changed", "other-app")
    logging.getLogger("device_runtime.code_app.line3.main").debug("below the output's level")
    key = output_key("line3", "cw.log")
    # The dispatcher's own "1 output(s) attached" line is about the app too.
    wait_until(lambda: dispatcher.outbox.counters(key).delivered == 3, what="three log records")
    assert {s.name for s in dispatcher.statuses()} == {"cw", "cw.log"}
    logs = moto.client("logs").get_log_events(logGroupName="/sightline/line3", logStreamName="test-device/line3/log")
    assert [e["message"] for e in logs["events"]] == [
        "INFO device_runtime.outputs.dispatcher: app line3: 1 output(s) attached",
        "WARNING device_runtime.code_app.line3.main: belt speed 42 m/min",
        "INFO device_runtime.supervisor: app line3 parameters changed",
    ]
    assert dispatcher.outbox.counters(output_key("line3", "cw")).delivered == 0  # log records are not events


def test_through_the_outputs_process_the_devices_records_and_its_own_reach_the_app_log_once(
        moto, make_outputs_process, device_logs_info) -> None:
    """The device captures app log records (the outputs process's own come back to it as the device's)."""
    outputs = make_outputs_process(KEYS)
    outputs.attach(manifest_with(app_log_output(moto)))
    logging.getLogger("device_runtime.code_app.line3.main").warning("belt speed %d m/min", 42)
    logging.getLogger("device_runtime.supervisor").info("app %s parameters changed", "other-app")

    def delivered() -> int:
        return next((s.counters.delivered for s in outputs.statuses() if s.name == "cw.log"), 0)
    wait_until(lambda: delivered() == 2, what="two log records")
    logs = moto.client("logs").get_log_events(logGroupName="/sightline/line3", logStreamName="test-device/line3/log")
    assert sorted(e["message"] for e in logs["events"]) == [
        "INFO device_runtime.outputs.dispatcher: app line3: 1 output(s) attached",  # the outputs process's line
        "WARNING device_runtime.code_app.line3.main: belt speed 42 m/min",
    ]


def test_an_app_log_without_a_log_group_is_refused_naming_the_field() -> None:
    from device_runtime.protocol.apps.errors import ManifestError
    from device_runtime.protocol.apps.outputs import parse_output

    with pytest.raises(ManifestError, match="log_group.*app_log sends records to a log group"):
        parse_output({"kind": "cloudwatch", "name": "cw", "app_log": True})
