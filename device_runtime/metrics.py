"""Prometheus ``/metrics`` for the device (prometheus-client), off unless ``metrics_listen`` is set.

Everything is read at scrape time from the parts that already keep it
(stream stats, sources, the outputs' outbox counters, the health reader),
so an unscraped device pays nothing and a pipeline thread never touches a
metric. Names follow Prometheus conventions: ``sightline_`` prefix, base
units (seconds, bytes, ratios), ``_total`` for counters. Process metrics
(CPU seconds, resident memory, open files) come from prometheus-client's
process collector.

Metrics:

- ``sightline_device_info{device,version,provider}`` 1
- ``sightline_stream_camera_fps{camera}``, ``sightline_stream_inference_fps{app,camera}``,
  ``sightline_stream_inferred_frames_total{app,camera}``, ``sightline_stream_dropped_frames_total{app,camera}``,
  ``sightline_stream_inference_seconds{app,camera}`` (smoothed per-frame inference time),
  ``sightline_stream_up{app,camera}`` (1 while the camera is live)
- ``sightline_app_up{app}`` (1 while running), ``sightline_app_events_total{app,kind}``
- ``sightline_output_delivered_total``, ``sightline_output_failed_attempts_total``,
  ``sightline_output_dropped_total``, ``sightline_output_suppressed_total``,
  ``sightline_output_queued_messages``, ``sightline_output_queued_bytes``,
  ``sightline_output_up`` (0 while retrying or stalled), all ``{app,output,kind}``;
  ``sightline_output_delivery_latency_seconds{app,output,kind,quantile}`` (0.5 and 0.99, over the
  output's last 1000 messages)
- ``sightline_cpu_utilization_ratio``, ``sightline_memory_utilization_ratio``,
  ``sightline_gpu_utilization_ratio``, ``sightline_gpu_memory_utilization_ratio``,
  ``sightline_temperature_celsius`` (the GPU and temperature ones only when the device reads them)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from device_runtime import __version__
from device_runtime.health import read_device_health

log = logging.getLogger(__name__)


class DeviceCollector(Collector):
    """Collects the device's metrics from a running :class:`DeviceRuntime` on each scrape."""

    def __init__(self, device: Any) -> None:
        self.device = device

    def collect(self) -> Iterator[Metric]:
        yield from self._device()
        yield from self._streams()
        yield from self._apps()
        yield from self._outputs()
        yield from self._host()

    def _device(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("sightline_device_info", "The device's name, runtime version and inference provider.",
                                 labels=["device", "version", "provider"])
        info.add_metric([self.device.config.name, __version__, self.device.supervisor.registry.providers.active], 1)
        yield info

    def _streams(self) -> Iterator[Metric]:
        now = time.monotonic()
        camera_fps = GaugeMetricFamily("sightline_stream_camera_fps", "Frames per second the camera delivers.", labels=["camera"])
        fps = GaugeMetricFamily("sightline_stream_inference_fps", "Frames per second inferred, over the last 5 s.", labels=["app", "camera"])
        inferred = CounterMetricFamily("sightline_stream_inferred_frames", "Frames inferred since the app started.", labels=["app", "camera"])
        dropped = CounterMetricFamily("sightline_stream_dropped_frames", "Frames skipped because inference was busy (newest frame wins).", labels=["app", "camera"])
        seconds = GaugeMetricFamily("sightline_stream_inference_seconds", "Smoothed inference time per frame.", labels=["app", "camera"])
        up = GaugeMetricFamily("sightline_stream_up", "1 while the camera stream is live.", labels=["app", "camera"])
        seen_cameras = set()
        for runner in self.device.supervisor.runners():
            for camera_id, worker in list(runner.workers.items()):
                labels = [runner.app_id, camera_id]
                source = worker.source
                if camera_id not in seen_cameras:
                    camera_fps.add_metric([camera_id], float(source.camera_fps or 0.0))
                    seen_cameras.add(camera_id)
                fps.add_metric(labels, worker.stats.fps(now))
                inferred.add_metric(labels, worker.stats.inferred)
                dropped.add_metric(labels, worker.dropped)
                seconds.add_metric(labels, worker.stats.inference_ms / 1000.0)
                up.add_metric(labels, 1.0 if source.state.value == "live" else 0.0)
        yield from (camera_fps, fps, inferred, dropped, seconds, up)

    def _apps(self) -> Iterator[Metric]:
        supervisor = self.device.supervisor
        up = GaugeMetricFamily("sightline_app_up", "1 while the app runs.", labels=["app"])
        running = {runner.app_id for runner in supervisor.runners()}
        for app_id in supervisor.packages.list_apps():
            up.add_metric([app_id], 1.0 if app_id in running else 0.0)
        events = CounterMetricFamily("sightline_app_events", "Events the app emitted since the device started.", labels=["app", "kind"])
        for (app_id, kind), n in sorted(supervisor.outputs.events_by_kind().items()):
            events.add_metric([app_id, kind], n)
        yield from (up, events)

    def _outputs(self) -> Iterator[Metric]:
        labels = ["app", "output", "kind"]
        families = {
            "delivered": CounterMetricFamily("sightline_output_delivered", "Messages the receiver confirmed.", labels=labels),
            "failed": CounterMetricFamily("sightline_output_failed_attempts", "Failed delivery attempts (each retry counts).", labels=labels),
            "dropped": CounterMetricFamily("sightline_output_dropped", "Messages given up: outbox full, too old, or refused.", labels=labels),
            "suppressed": CounterMetricFamily("sightline_output_suppressed", "Events skipped by the output's minimum interval.", labels=labels),
            "queued": GaugeMetricFamily("sightline_output_queued_messages", "Messages waiting in the outbox.", labels=labels),
            "queued_bytes": GaugeMetricFamily("sightline_output_queued_bytes", "Bytes waiting in the outbox.", labels=labels),
        }
        up = GaugeMetricFamily("sightline_output_up", "0 while the output is failing and retrying, or stalled, else 1.", labels=labels)
        latency = GaugeMetricFamily(
            "sightline_output_delivery_latency_seconds",
            "From the camera's hand-over to the receiver's confirmation, over the output's last 1000 messages.",
            labels=[*labels, "quantile"])
        for status in self.device.supervisor.outputs.statuses():
            values = [status.app_id, status.name, status.kind]
            for name, family in families.items():
                family.add_metric(values, getattr(status.counters, name))
            up.add_metric(values, 0.0 if status.state in ("retrying", "stalled") else 1.0)
            for quantile, key in (("0.5", "p50"), ("0.99", "p99")):
                if key in status.latency_ms:
                    latency.add_metric([*values, quantile], status.latency_ms[key] / 1000.0)
        yield from families.values()
        yield up
        yield latency

    def _host(self) -> Iterator[Metric]:
        sample = read_device_health()
        values = {
            "sightline_cpu_utilization_ratio": ("CPU in use, 0..1 of all cores.", sample.cpu_percent / 100.0),
            "sightline_memory_utilization_ratio": ("Memory in use, 0..1.", sample.memory_percent / 100.0),
            "sightline_gpu_utilization_ratio": (
                "GPU busy, 0..1.", None if sample.gpu_percent is None else sample.gpu_percent / 100.0),
            "sightline_gpu_memory_utilization_ratio": (
                "GPU memory in use, 0..1.", None if sample.gpu_memory_percent is None else sample.gpu_memory_percent / 100.0),
            "sightline_temperature_celsius": ("Hottest plausible temperature sensor.", sample.temperature_c),
        }
        for name, (text, value) in values.items():
            if value is not None:
                yield GaugeMetricFamily(name, text, value=value)


class MetricsServer:
    """Serves ``/metrics`` on ``HOST:PORT`` in its own thread (port 0 picks a free port)."""

    def __init__(self, device: Any, listen: str) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(DeviceCollector(device))
        self.registry.register(ProcessCollector(registry=None))
        host, _, port = listen.rpartition(":")
        self._host, self._port = host, int(port)
        self._server: Any = None
        self._thread: Any = None
        self.port = 0

    def start(self) -> MetricsServer:
        self._server, self._thread = start_http_server(self._port, addr=self._host, registry=self.registry)
        self.port = self._server.server_port
        log.info("Prometheus metrics on http://%s:%d/metrics", self._host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
