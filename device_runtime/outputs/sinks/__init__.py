"""Sinks by output kind. Each kind's module (and its library: paho-mqtt, pymodbus, asyncua,
boto3) is imported only when an app uses that kind."""

from __future__ import annotations

import importlib
from typing import Any

from device_runtime.outputs.sinks.base import DeliveryError, Sink, SinkContext

_MODULES = {
    "mqtt": ("device_runtime.outputs.sinks.mqtt", "MqttSink"),
    "webhook": ("device_runtime.outputs.sinks.webhook", "WebhookSink"),
    "modbus": ("device_runtime.outputs.sinks.modbus", "ModbusSink"),
    "opcua": ("device_runtime.outputs.sinks.opcua", "OpcUaSink"),
    "s3": ("device_runtime.outputs.sinks.aws", "S3Sink"),
    "cloudwatch": ("device_runtime.outputs.sinks.aws", "CloudWatchSink"),
}

#: Kinds whose sink sends the event's snapshot (``Sink.wants_snapshot``): known without importing
#: their library, so the device sends snapshots to the outputs process only for apps that use one.
SNAPSHOT_KINDS = frozenset({"s3"})


def wants_snapshot(spec: Any) -> bool:
    """Whether the output's messages carry the event's JPEG snapshot."""
    return spec.kind in SNAPSHOT_KINDS


def make_sink(spec: Any, context: SinkContext) -> Sink:
    """The sink for one output spec (nothing connects until the first delivery)."""
    module_name, class_name = _MODULES[spec.kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeliveryError(f"{spec.kind} outputs need the Python package {exc.name!r} on the device") from exc
    return getattr(module, class_name)(spec, context)


__all__ = ["SNAPSHOT_KINDS", "DeliveryError", "Sink", "SinkContext", "make_sink", "wants_snapshot"]
