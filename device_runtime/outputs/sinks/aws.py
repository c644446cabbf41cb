"""AWS (boto3): S3 snapshot upload and CloudWatch metrics and logs; any S3-compatible endpoint.

Credentials come from the secret store when the output names them, else
from boto3's usual chain (environment, instance role). Retries are the
outbox's job, so boto3's own are turned off and its timeouts kept short.
Errors keep AWS's error code (``NoSuchBucket``, ``InvalidAccessKeyId``, ...)
and never carry a key.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from device_runtime.outputs.outbox import Message
from device_runtime.outputs.overlays import draw_overlays
from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext
from device_runtime.protocol.apps.outputs import render_text

log = logging.getLogger(__name__)


def _client(spec: Any, context: SinkContext, service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=context.optional(spec.access_key_id_secret, "access key id"),
        aws_secret_access_key=context.optional(spec.secret_access_key_secret, "secret access key"),
        region_name=spec.region,
    )
    config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=spec.endpoint_url or None, config=config)


def _describe(exc: Exception, where: str) -> DeliveryError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        return DeliveryError(f"{where} answered {code}: {error.get('Message', '')}".rstrip(": "))
    if isinstance(exc, EndpointConnectionError):
        return DeliveryError(f"cannot reach {where}: {exc}")
    if isinstance(exc, BotoCoreError):
        return DeliveryError(f"{where}: {exc}")
    return DeliveryError(f"{where}: {type(exc).__name__}: {exc}")


class S3Sink(Sink):
    """Puts each event's JPEG at the key template, with the event's fields as object metadata."""

    wants_snapshot = True

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        self._s3: Any = None

    def send(self, message: Message) -> str:
        spec = self.spec
        if not message.blob:
            raise DeliveryError("the event has no snapshot (is snapshot_limit 0 on the device?)", permanent=True)
        if self._s3 is None:
            self._s3 = _client(spec, self.context, "s3")
        key = render_text(spec.key, message.fields).lstrip("/")
        metadata = {k: str(message.fields.get(k, "")) for k in ("event_id", "app", "camera", "event", "class", "zone", "line", "time_iso")}
        body = self._body(message)
        try:
            self._s3.put_object(Bucket=spec.bucket, Key=key, Body=body, ContentType="image/jpeg", Metadata=metadata)
        except Exception as exc:
            raise _describe(exc, f"S3 bucket {spec.bucket!r}") from None
        return f"stored s3://{spec.bucket}/{key} ({len(body)} bytes)"

    def _body(self, message: Message) -> bytes:
        """The JPEG to upload: with overlays drawn when the output asks for them and the event has them."""
        overlay = message.fields.get("overlay")
        if not (self.spec.overlays and overlay):
            return message.blob
        try:
            return draw_overlays(message.blob, overlay)
        except ValueError as exc:  # the picture still matters more than its boxes
            log.warning("output %s: uploading the snapshot without overlays: %s", self.spec.name, exc)
            return message.blob


class CloudWatchSink(Sink):
    """One Count datum per event (dimensions App, Camera, Event) and, with a log group, one log line per event."""

    def __init__(self, spec: Any, context: SinkContext) -> None:
        super().__init__(spec, context)
        self._metrics: Any = None
        self._logs: Any = None
        self._streams: set[tuple[str, str]] = set()

    def deliver(self, messages: list[Message]) -> int:
        spec = self.spec
        if self._metrics is None:
            self._metrics = _client(spec, self.context, "cloudwatch")
            if spec.log_group:
                self._logs = _client(spec, self.context, "logs")
        data = [
            {
                "MetricName": spec.metric_name,
                "Dimensions": [
                    {"Name": "App", "Value": m.fields["app"]},
                    {"Name": "Camera", "Value": m.fields["camera"]},
                    {"Name": "Event", "Value": m.fields["event"]},
                ],
                "Timestamp": float(m.fields["time"]),
                "Value": 1.0,
                "Unit": "Count",
            }
            for m in messages
        ]
        try:
            for start in range(0, len(data), 500):
                self._metrics.put_metric_data(Namespace=spec.namespace, MetricData=data[start : start + 500])
        except Exception as exc:
            raise _describe(exc, "CloudWatch") from None
        if self._logs is not None:
            self._put_logs(messages)
        return len(messages)

    def _put_logs(self, messages: list[Message]) -> None:
        spec = self.spec
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            stream = render_text(spec.log_stream, m.fields).replace(":", "_").replace("*", "_")
            line = json.dumps({"detail": m.fields["detail"], **{k: m.fields[k] for k in ("event_id", "camera", "event", "class", "zone", "line", "count")}})
            by_stream.setdefault(stream, []).append({"timestamp": int(float(m.fields["time"]) * 1000), "message": line})
        try:
            for stream, events in by_stream.items():
                self._ensure_stream(spec.log_group, stream)
                events.sort(key=lambda e: e["timestamp"])
                self._logs.put_log_events(logGroupName=spec.log_group, logStreamName=stream, logEvents=events)
        except Exception as exc:
            raise _describe(exc, f"CloudWatch Logs group {spec.log_group!r}") from None

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        for call, kwargs in (
            (self._logs.create_log_group, {"logGroupName": group}),
            (self._logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            try:
                call(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
        self._streams.add((group, stream))

    def send(self, message: Message) -> str:
        self.deliver([message])
        where = f"; log group {self.spec.log_group!r}" if self.spec.log_group else ""
        return f"CloudWatch accepted 1 datum in {self.spec.namespace}/{self.spec.metric_name}{where}"


class CloudWatchAppLogSink(CloudWatchSink):
    """The app's log records (queued by :class:`~device_runtime.outputs.app_logs.AppLogHandler`) to the app log stream."""

    def deliver(self, messages: list[Message]) -> int:
        spec = self.spec
        if self._logs is None:
            self._logs = _client(spec, self.context, "logs")
        stream = spec.app_log_stream.format(device=self.context.device, app=self.context.app_id)
        stream = stream.replace(":", "_").replace("*", "_")
        events = [
            {"timestamp": int(float(m.fields["time"]) * 1000),
             "message": f"{m.fields['level']} {m.fields['logger']}: {m.fields['message']}"}
            for m in messages
        ]
        events.sort(key=lambda e: e["timestamp"])  # CloudWatch wants them in order; a stable sort keeps ties
        try:
            self._ensure_stream(spec.log_group, stream)
            self._logs.put_log_events(logGroupName=spec.log_group, logStreamName=stream, logEvents=events)
        except Exception as exc:
            raise _describe(exc, f"CloudWatch Logs group {spec.log_group!r}") from None
        return len(messages)

    def send(self, message: Message) -> str:
        self.deliver([message])
        return f"CloudWatch Logs accepted 1 record in {self.spec.log_group!r}"
