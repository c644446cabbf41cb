"""The camera discovery service: background probes, scans and add-by-address, merged by endpoint."""

from __future__ import annotations

import threading

import pytest

from console_app.core.gateways.ws_discovery import NoWsDiscoveryReply, SubnetTooLarge
from console_app.core.services.camera_discovery import CameraDiscovery
from tests.peers.wsd_responders import ResponderPool

WAIT_S = 5.0


@pytest.fixture
def pool():
    responders = ResponderPool()
    yield responders
    responders.stop_all()


class Recorder:
    """Collects callbacks from the service's worker thread."""

    def __init__(self) -> None:
        self.found = []
        self.done = threading.Event()
        self.summary = None
        self.error = None

    def on_found(self, candidate) -> None:
        self.found.append(candidate)

    def on_done(self, summary, error) -> None:
        self.summary, self.error = summary, error
        self.done.set()


def test_probe_runs_in_the_background_and_reports_then_finishes(pool) -> None:
    camera = pool.start("127.92.0.2")
    service = CameraDiscovery(default_interfaces=["127.0.0.1"])
    recorder = Recorder()
    handle = service.start_probe(None, recorder.on_found, recorder.on_done, timeout_s=0.4)
    assert recorder.done.wait(WAIT_S) and handle.done
    assert recorder.error is None
    assert camera.endpoint_reference in {c.endpoint_reference for c in recorder.found}
    assert [i.address for i in recorder.summary.interfaces] == ["127.0.0.1"]
    assert camera.endpoint_reference in {c.endpoint_reference for c in service.cameras()}


def test_a_camera_found_by_probe_and_by_scan_is_one_camera(pool) -> None:
    camera = pool.start("127.92.1.2")
    service = CameraDiscovery(default_interfaces=["127.0.0.1"])
    first, second = Recorder(), Recorder()
    service.start_probe(None, first.on_found, first.on_done, timeout_s=0.3)
    assert first.done.wait(WAIT_S)
    service.start_scan("127.92.1.0/30", second.on_found, second.on_done, timeout_s=0.3)
    assert second.done.wait(WAIT_S) and second.error is None
    assert [c.endpoint_reference for c in service.cameras()].count(camera.endpoint_reference) == 1
    # Nothing changed between the two, so the scan reports nothing new.
    assert camera.endpoint_reference not in {c.endpoint_reference for c in second.found}


def test_add_by_address_finds_a_camera_or_names_the_silent_host(pool) -> None:
    camera = pool.start("127.92.2.2")
    service = CameraDiscovery()
    ok, silent = Recorder(), Recorder()
    service.start_add_by_address("127.92.2.2", ok.on_found, ok.on_done, timeout_s=1.0)
    service.start_add_by_address("127.92.2.3", silent.on_found, silent.on_done, timeout_s=0.2)
    assert ok.done.wait(WAIT_S) and silent.done.wait(WAIT_S)
    assert [c.endpoint_reference for c in ok.found] == [camera.endpoint_reference]
    assert isinstance(silent.error, NoWsDiscoveryReply) and silent.summary is None
    assert str(silent.error) == (
        "no WS-Discovery reply from 127.92.2.3 within 0.2 s; it may still be an ONVIF camera: press Add camera… and type its address"
    )


def test_cancel_ends_a_long_probe_and_on_done_says_cancelled() -> None:
    service = CameraDiscovery(default_interfaces=["127.0.0.1"])
    recorder = Recorder()
    handle = service.start_probe(None, recorder.on_found, recorder.on_done, timeout_s=60)
    handle.cancel()
    assert recorder.done.wait(WAIT_S), "cancelled probe did not finish"
    assert recorder.summary.cancelled and recorder.error is None


def test_bad_requests_fail_at_once_on_the_callers_thread() -> None:
    service = CameraDiscovery()
    with pytest.raises(SubnetTooLarge, match="/8"):
        service.start_scan("10.0.0.0/8")
    with pytest.raises(Exception, match="'192.0.2.1' is not an IPv4 address of this machine"):
        service.start_probe(["192.0.2.1"])


def test_a_newer_metadata_version_replaces_the_known_address(pool) -> None:
    camera = pool.start("127.92.3.2")
    service = CameraDiscovery(default_interfaces=["127.0.0.1"])
    first, second = Recorder(), Recorder()
    service.start_add_by_address("127.92.3.2", first.on_found, first.on_done)
    assert first.done.wait(WAIT_S)
    camera.move_to(["http://127.92.3.2:9090/onvif/device_service"])
    service.start_add_by_address("127.92.3.2", second.on_found, second.on_done)
    assert second.done.wait(WAIT_S)
    [known] = [c for c in service.cameras() if c.endpoint_reference == camera.endpoint_reference]
    assert known.xaddrs == ("http://127.92.3.2:9090/onvif/device_service",)
    assert [c.metadata_version for c in second.found] == [2]
