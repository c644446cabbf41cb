"""The device's Prometheus collector, on a real runtime whose outputs deliver to a real HTTP server."""

from __future__ import annotations

import pytest

from device_runtime.config import load_config
from device_runtime.metrics import DeviceCollector
from device_runtime.runtime import DeviceRuntime
from tests.device_runtime.outputs.conftest import manifest_with, wait_until, zone_event
from tests.peers.plant_servers import HttpReceiver

pytestmark = pytest.mark.integration


def test_each_output_reports_its_delivery_counts_and_latency_quantiles(tmp_path) -> None:
    config = load_config(None, data_dir=tmp_path, providers=["cpu"], advertise=False)
    runtime = DeviceRuntime(config)
    outputs = runtime.supervisor.outputs
    try:
        with HttpReceiver() as receiver:
            outputs.attach(manifest_with([{"kind": "webhook", "name": "hook", "url": f"{receiver.url}/x"}]))
            outputs.submit("line3", [zone_event(n) for n in range(1, 4)])
            wait_until(lambda: any(s.counters.delivered == 3 for s in outputs.statuses()), what="three deliveries")
        families = {family.name: family for family in DeviceCollector(runtime).collect()}
    finally:
        runtime.supervisor.close()
    labels = {"app": "line3", "output": "hook", "kind": "webhook"}
    [delivered] = families["sightline_output_delivered"].samples
    assert delivered.labels == labels and delivered.value == 3
    latency = {s.labels["quantile"]: s.value for s in families["sightline_output_delivery_latency_seconds"].samples}
    assert set(latency) == {"0.5", "0.99"}
    assert 0 < latency["0.5"] <= latency["0.99"] < 20, "seconds from the camera's hand-over to the server's answer"
