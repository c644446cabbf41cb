"""The console's appliance browser against an advert made by an independent mDNS stack (Avahi).

The advert of our own runtime is covered in
tests/device_runtime/discovery/test_advertiser.py; here Avahi publishes, as a
device using the system's mDNS daemon would.
"""

from __future__ import annotations

import secrets
import threading

import pytest
from zeroconf import ServiceInfo

from console_app.core.gateways.appliance_browser import (
    SERVICE_TYPE,
    Appliance,
    ApplianceBrowser,
    appliance_from_service_info,
)
from tests.peers.avahi import AvahiDaemon

WAIT_S = 10.0


class Recorder:
    """Collects browser callbacks so the test can wait for one, with a bound."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self._cond = threading.Condition()

    def __call__(self, event, appliance) -> None:
        with self._cond:
            self.events.append((event, appliance))
            self._cond.notify_all()

    def wait_for(self, event: str, device_id: str):
        def match():
            return next(
                (a for e, a in self.events if e == event and a.device_id == device_id), None
            )

        with self._cond:
            self._cond.wait_for(lambda: match() is not None, WAIT_S)
            found = match()
        assert found is not None, f"no {event} for {device_id} within {WAIT_S} s: {self.events}"
        return found


@pytest.fixture(autouse=True)
def no_threads_left_running():
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before]
    for thread in leftover:
        thread.join(5)
    assert [t.name for t in leftover if t.is_alive()] == []


def unique_suffix() -> str:
    """Names and ids of our own, so parallel test runs on loopback never mix adverts."""
    return secrets.token_hex(6)


def test_appliance_published_by_avahi_is_added_then_removed_when_it_withdraws():
    suffix = unique_suffix()
    device_id, name = f"sl-{suffix}", f"Avahi box {suffix}"
    recorder = Recorder()
    with AvahiDaemon() as avahi, ApplianceBrowser(["127.0.0.1"], on_change=recorder) as browser:
        publisher = avahi.start_tool(
            [
                "avahi-publish-service",
                name,
                "_sightline._tcp",
                "7443",
                f"id={device_id}",
                f"name={name}",
                "api=v1",
                "port=7443",
                "fp=" + "ef" * 32,
                "ver=9.9.9",
            ]
        )
        added = recorder.wait_for("added", device_id)
        listed = browser.appliances()
        publisher.process.terminate()
        removed = recorder.wait_for("removed", device_id)

    assert added.name == name
    assert added.address == "127.0.0.1" and added.port == 7443
    assert added.api == "v1" and added.version == "9.9.9"
    assert added.fingerprint == "ef" * 32
    assert added.service_name == f"{name}.{SERVICE_TYPE}"
    assert added in listed
    assert removed == added


def test_service_without_a_device_id_is_ignored():
    """A `_sightline._tcp` advert lacking the id key is not a usable appliance."""
    suffix = unique_suffix()
    broken_name, good_id = f"broken {suffix}", f"sl-{suffix}"
    recorder = Recorder()
    with AvahiDaemon() as avahi, ApplianceBrowser(["127.0.0.1"], on_change=recorder) as browser:
        broken = avahi.start_tool(
            ["avahi-publish-service", broken_name, "_sightline._tcp", "7443", "api=v1"]
        )
        # Announced before the good one, so the browser handles it first.
        assert broken.wait_for("Established", timeout=WAIT_S), broken.lines
        avahi.start_tool(
            ["avahi-publish-service", f"good {suffix}", "_sightline._tcp", "7444", f"id={good_id}"]
        )
        recorder.wait_for("added", good_id)
        names = [a.name for a in browser.appliances()]

    assert f"good {suffix}" in names
    assert broken_name not in names
    assert all(a.name != broken_name for _, a in recorder.events)


def test_record_without_device_id_reads_as_no_appliance():
    info = ServiceInfo(
        SERVICE_TYPE,
        f"x.{SERVICE_TYPE}",
        port=1,
        properties={"api": "v1"},
        parsed_addresses=["127.0.0.1"],
    )

    assert appliance_from_service_info(info) is None


def test_record_with_device_id_reads_every_txt_key():
    info = ServiceInfo(
        SERVICE_TYPE,
        f"Line 3.{SERVICE_TYPE}",
        port=7443,
        properties={"id": "sl-1", "name": "Line 3", "api": "v1", "fp": "ab", "ver": "1"},
        parsed_addresses=["10.0.0.7"],
    )

    assert appliance_from_service_info(info) == Appliance(
        device_id="sl-1",
        name="Line 3",
        address="10.0.0.7",
        port=7443,
        api="v1",
        fingerprint="ab",
        version="1",
        service_name=f"Line 3.{SERVICE_TYPE}",
    )
