"""Prometheus metrics: off by default; a real Prometheus scrapes /metrics and a query returns a stream's fps."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import detector_manifest, start_device, wait_for
from tests.peers.mosquitto import free_port
from tests.peers.prometheus import PrometheusServer

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_metrics_are_off_unless_an_address_is_configured(device) -> None:
    assert device.metrics is None


def test_prometheus_scrapes_the_device_and_a_query_returns_the_streams_fps(tmp_path: Path, make_package, signer) -> None:
    from console_app.core.gateways.device_client import DeviceClient, pair

    port = free_port()
    device = start_device(tmp_path / "device", metrics_listen=f"127.0.0.1:{port}")
    try:
        creds = pair("127.0.0.1", device.port, device.pairing.current_code(), "pytest", signer=signer)
        manifest = detector_manifest()
        manifest["outputs"] = [{"kind": "webhook", "name": "hook", "url": f"http://127.0.0.1:{free_port()}/x"}]
        with DeviceClient("127.0.0.1", device.port, creds, signer=signer) as client:
            client.deploy(make_package(manifest))
        families = wait_for(
            lambda: (f := scrape(port)) and any(s.value > 0 for s in f.get("sightline_stream_inference_fps", [])) and f,
            20, "a non-zero inference fps on /metrics",
        )
        [fps] = families["sightline_stream_inference_fps"]
        assert fps.labels == {"app": "widgets", "camera": "cam-1"}
        assert families["sightline_stream_inferred_frames"][0].name == "sightline_stream_inferred_frames_total"
        assert families["sightline_app_up"][0].labels == {"app": "widgets"}
        output = {s.name: s for s in families["sightline_output_delivered"]}
        assert output["sightline_output_delivered_total"].labels == {"app": "widgets", "output": "hook", "kind": "webhook"}
        assert "process_resident_memory_bytes" in families
        assert families["sightline_device_info"][0].labels["provider"] == "CPUExecutionProvider"

        with PrometheusServer(tmp_path / "prometheus", [f"127.0.0.1:{port}"]) as prometheus:
            result = wait_for(
                lambda: [r for r in prometheus.query('sightline_stream_inference_fps{camera="cam-1"}') if float(r["value"][1]) > 0],
                30, "Prometheus to return the stream's fps",
            )
        assert result[0]["metric"]["app"] == "widgets"
        assert 1.0 < float(result[0]["value"][1]) <= 16.0, "the camera runs at 15 fps"
    finally:
        device.stop()
