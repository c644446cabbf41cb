"""The mDNS advert, checked with real browsers on 127.0.0.1: ours and Avahi's.

Every test advertises a device id and name of its own, so test runs in
parallel on the same loopback interface cannot mistake each other's adverts.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

import ifaddr
import pytest

from console_app.core.gateways.appliance_browser import ApplianceBrowser
from device_runtime.discovery.advertiser import (
    SERVICE_TYPE,
    Advertiser,
    DiscoveryConfigError,
    advertised_addresses,
    instance_name,
)
from device_runtime.errors import InvalidArgument, Unavailable
from tests.peers.avahi import AvahiDaemon

LOOPBACK = ["127.0.0.1"]
FINGERPRINT = "ab" * 32


@dataclass(frozen=True)
class Device:
    """A device id and name no other test (or parallel test run) uses."""

    device_id: str
    name: str


@pytest.fixture
def device() -> Device:
    suffix = secrets.token_hex(6)
    return Device(device_id=f"sl-{suffix}", name=f"Line {suffix[:4]}")


def make_advertiser(device: Device) -> Advertiser:
    return Advertiser(
        device_id=device.device_id,
        name=device.name,
        port=7443,
        fingerprint=FINGERPRINT,
        runtime_version="0.1.0",
        interfaces=LOOPBACK,
    )


@pytest.fixture
def browser(browser_events):
    with ApplianceBrowser(interfaces=LOOPBACK, on_change=browser_events) as running:
        yield running


def test_browser_on_loopback_sees_the_advert_with_its_txt_then_its_removal(
    device, browser, browser_events
):
    advertiser = make_advertiser(device)
    advertiser.start()
    try:
        seen = browser_events.wait_for("added", lambda a: a.device_id == device.device_id)
    finally:
        advertiser.stop()
    gone = browser_events.wait_for("removed", lambda a: a.device_id == device.device_id)

    assert seen.name == device.name
    assert seen.address == "127.0.0.1" and seen.port == 7443
    assert seen.api == "v1" and seen.version == "0.1.0"
    assert seen.fingerprint == FINGERPRINT
    assert seen.service_name == f"{device.name}.{SERVICE_TYPE}"
    assert gone == seen
    assert device.device_id not in [a.device_id for a in browser.appliances()]


def test_start_returns_before_the_advert_is_announced_and_wait_announced_blocks_until_it_is(
    device,
):
    advertiser = make_advertiser(device)
    advertiser.start()
    try:
        # Probing takes at least half a second, so nothing can be announced yet.
        with pytest.raises(Unavailable, match="not announced within 0.0 s"):
            advertiser.wait_announced(timeout=0)
        advertiser.wait_announced(timeout=10)
        assert advertiser.registered_name == f"{device.name}.{SERVICE_TYPE}"
        assert advertiser.properties() == {
            "id": device.device_id,
            "name": device.name,
            "api": "v1",
            "port": "7443",
            "fp": FINGERPRINT,
            "ver": "0.1.0",
        }
    finally:
        advertiser.stop()
    advertiser.stop()  # idempotent


def test_advertiser_started_again_after_stop_is_seen_again(device, browser, browser_events):
    advertiser = make_advertiser(device)
    advertiser.start(wait=True)
    advertiser.stop()
    browser_events.wait_for("removed", lambda a: a.device_id == device.device_id)
    advertiser.start(wait=True)
    try:
        browser_events.wait_for("added", lambda a: a.device_id == device.device_id, occurrence=2)
    finally:
        advertiser.stop()


def test_rename_re_advertises_under_the_new_name_and_other_changes_update_the_txt(
    device, browser, browser_events
):
    new_name = f"Packing {device.device_id}"
    mine = device.device_id
    advertiser = make_advertiser(device)
    advertiser.start()
    try:
        browser_events.wait_for("added", lambda a: a.device_id == mine)
        advertiser.update(name=new_name)
        renamed = browser_events.wait_for("added", lambda a: a.name == new_name)
        browser_events.wait_for("removed", lambda a: a.device_id == mine and a.name == device.name)
        advertiser.update(fingerprint="cd" * 32, runtime_version="0.2.0")
        updated = browser_events.wait_for(
            "updated", lambda a: a.device_id == mine and a.version == "0.2.0"
        )
    finally:
        advertiser.stop()

    assert renamed.service_name == f"{new_name}.{SERVICE_TYPE}"
    assert updated.fingerprint == "cd" * 32
    assert updated.service_name == renamed.service_name


def test_avahi_browse_sees_the_advert_and_then_its_removal(device):
    """Avahi, the mDNS stack of Linux desktops and Jetsons, as an independent browser."""
    # avahi-browse -p escapes a space in names as \032.
    avahi_name = device.name.replace(" ", "\\032")
    with AvahiDaemon() as avahi:
        advertiser = make_advertiser(device)
        advertiser.start(wait=True)
        try:
            listing = avahi.run_tool(["avahi-browse", "-rpt", "_sightline._tcp"])
            # A browser left running reports the removal as it happens.
            watcher = avahi.start_tool(["avahi-browse", "-p", "_sightline._tcp"])
            assert watcher.wait_for(f"+;lo;IPv4;{avahi_name};", timeout=10), watcher.lines
        finally:
            advertiser.stop()
        removal = watcher.wait_for(f"-;lo;IPv4;{avahi_name};", timeout=10)

    resolved = [
        line.split(";")
        for line in listing.stdout.splitlines()
        if line.startswith(f"=;lo;IPv4;{avahi_name};")
    ]
    assert len(resolved) == 1, f"avahi-browse output: {listing.stdout!r} {listing.stderr!r}"
    fields = resolved[0]
    assert fields[6:9] == [f"{device.device_id}.local", "127.0.0.1", "7443"]
    txt = fields[9]
    for entry in (
        f'"id={device.device_id}"',
        f'"name={device.name}"',
        '"api=v1"',
        '"port=7443"',
        f'"fp={FINGERPRINT}"',
        '"ver=0.1.0"',
    ):
        assert entry in txt
    assert removal is not None, f"avahi-browse never reported the removal: {watcher.lines}"


def test_loopback_and_adapter_names_resolve_to_their_ipv4_addresses():
    loopback_adapter = next(
        a.nice_name for a in ifaddr.get_adapters() if any(ip.ip == "127.0.0.1" for ip in a.ips)
    )

    assert advertised_addresses(["127.0.0.1"]) == ["127.0.0.1"]
    assert advertised_addresses([loopback_adapter]) == ["127.0.0.1"]


def test_all_interfaces_means_the_non_loopback_ipv4_addresses():
    everywhere = advertised_addresses(None)

    # A machine with no network at all falls back to loopback.
    assert everywhere == ["127.0.0.1"] or not any(
        ipaddress.IPv4Address(a).is_loopback for a in everywhere
    ), everywhere


def test_unknown_interface_is_a_config_error_naming_it():
    with pytest.raises(DiscoveryConfigError, match="'wlan-does-not-exist'") as caught:
        make_advertiser_on(["wlan-does-not-exist"])
    assert isinstance(caught.value, InvalidArgument)


def make_advertiser_on(interfaces: list[str]) -> Advertiser:
    return Advertiser("sl-0123456789ab", "x", 7443, FINGERPRINT, interfaces=interfaces)


def test_instance_name_is_printable_and_fits_a_dns_label():
    assert instance_name("Line\n3", "sl-1") == "Line 3"
    assert instance_name("   ", "sl-1") == "sl-1"
    long = instance_name("ü" * 100, "sl-1")
    assert len(long.encode()) <= 59 and set(long) == {"ü"}
