"""Network settings from a bundle, rendered for systemd-networkd and NetworkManager, and the cut-off check.

NetworkManager is not installed on the test machine, so the nmcli backend is
checked through the exact commands its dry run prints (compared with what nmcli
expects); systemd-networkd's files are applied for real in a network namespace
in tests/integration/test_provisioning.py.
"""

from __future__ import annotations

import subprocess

import pytest
from pydantic import ValidationError

from device_runtime.protocol.provisioning.manifest import InterfaceSettings, NetworkSettings
from device_runtime.provisioning import network


def static_eth0(**extra) -> NetworkSettings:
    return NetworkSettings(
        interfaces=[InterfaceSettings(name="eth0", method="static", address="192.168.10.20/255.255.255.0",
                                      gateway="192.168.10.1", dns=["192.168.10.1", "1.1.1.1"]),
                    InterfaceSettings(name="eth1", method="dhcp")],
        **extra)


def test_networkd_plan_writes_one_file_per_interface_with_the_exact_settings(tmp_path):
    # live=True: as on a device, whose files are the running system's (nothing is executed here).
    plan = network.plan(static_eth0(ntp_servers=["10.0.0.1", "ntp.site"], timezone="Europe/Berlin"), "b-123456789",
                        network.NetworkdBackend(tmp_path, live=True), tmp_path)
    files = {c.path.name: c.content for c in plan.changes if c.content}
    assert files["10-sightline-eth0.network"].splitlines()[1:] == [
        "[Match]", "Name=eth0", "", "[Network]", "Address=192.168.10.20/24", "Gateway=192.168.10.1",
        "DNS=192.168.10.1", "DNS=1.1.1.1", "ConfigureWithoutCarrier=yes"]
    assert "DHCP=ipv4" in files["10-sightline-eth1.network"]
    assert files["50-sightline.conf"].splitlines()[1:] == ["[Time]", "NTP=10.0.0.1 ntp.site", "FallbackNTP="]
    commands = [c.argv for c in plan.changes if c.argv]
    assert ("networkctl", "reload") in commands and ("networkctl", "reconfigure", "eth0", "eth1") in commands
    links = [c for c in plan.changes if c.link_to]
    assert links[0].path == tmp_path / "etc/localtime" and links[0].link_to == "/usr/share/zoneinfo/Europe/Berlin"
    assert ("systemctl", "try-restart", "systemd-timesyncd") in commands
    # The dry run prints exactly what would be written.
    described = "\n".join(c.describe() for c in plan.changes)
    assert "    Address=192.168.10.20/24" in described and "run networkctl reload" in described


def test_applying_the_same_settings_twice_changes_nothing_the_second_time(tmp_path):
    settings = static_eth0(ntp_servers=[], timezone="Europe/Berlin")
    first = network.plan(settings, "b-123456789", network.NetworkdBackend(tmp_path), tmp_path)
    done, warnings, errors = network.execute(first.changes, run=lambda *a, **k: subprocess.CompletedProcess(a, 0, "", ""))
    assert not errors and len(done) == len(first.changes)
    assert (tmp_path / "etc/systemd/timesyncd.conf.d/50-sightline.conf").read_text().splitlines()[2] == "NTP="
    again = network.plan(settings, "b-123456789", network.NetworkdBackend(tmp_path), tmp_path)
    assert again.changes == []
    assert len(again.unchanged) == 4  # two interfaces, time servers, time zone


def test_nmcli_dry_run_prints_the_connection_commands_nmcli_takes():
    calls = []

    def fake_nmcli(argv, **kwargs):  # NetworkManager is not installed here: stands in for `nmcli connection show`
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "Wired connection 1\nsightline-eth1\n", "")

    backend = network.NmcliBackend(run=fake_nmcli)
    plan = network.plan(static_eth0(), "b-123456789", backend)
    commands = [c.argv for c in plan.changes]
    assert commands == [
        ("nmcli", "connection", "add", "type", "ethernet", "con-name", "sightline-eth0", "ifname", "eth0",
         "ipv4.method", "manual", "ipv4.addresses", "192.168.10.20/24", "ipv4.gateway", "192.168.10.1",
         "ipv4.dns", "192.168.10.1,1.1.1.1", "connection.autoconnect", "yes"),
        ("nmcli", "connection", "up", "sightline-eth0"),
        ("nmcli", "connection", "modify", "sightline-eth1", "ipv4.method", "auto", "ipv4.addresses", "",
         "ipv4.gateway", "", "ipv4.dns", "", "connection.autoconnect", "yes"),
        ("nmcli", "connection", "up", "sightline-eth1"),
    ]
    assert plan.changes[0].describe().startswith("eth0: static 192.168.10.20/24 via 192.168.10.1")


def test_a_change_that_drops_the_current_address_of_a_paired_device_needs_confirmation():
    current = {"lo": [], "eth0": [{"address": "10.1.1.5/24", "dynamic": False}],
               "eth1": [{"address": "172.16.0.9/16", "dynamic": True}]}
    settings = static_eth0()
    problems = network.check_reachability(settings, current, managed=True, confirmed=False)
    assert len(problems) == 1 and "eth0: the change would drop 10.1.1.5/24" in problems[0]
    assert network.check_reachability(settings, current, managed=True, confirmed=True) == []
    # A fresh box (nobody paired) is being set up on purpose: no confirmation needed.
    assert network.check_reachability(settings, current, managed=False, confirmed=False) == []
    missing = network.check_reachability(settings, {"lo": [], "enp1s0": []}, managed=False, confirmed=False)
    assert missing[0] == "there is no interface eth0 on this device (it has: enp1s0)"


@pytest.mark.parametrize("iface, message", [
    (dict(name="eth0", method="static"), "needs an address"),
    (dict(name="eth0", method="static", address="10.0.0.0/24"), "network or broadcast"),
    (dict(name="eth0", method="static", address="10.0.0.5/24", gateway="10.9.9.1"), "outside 10.0.0.0/24"),
    (dict(name="eth0", method="dhcp", address="10.0.0.5/24"), "DHCP takes no address"),
    (dict(name="../x", method="dhcp"), "not an interface name"),
    (dict(name="eth0", method="static", address="10.0.0.5/24", dns=["nope"]), "not an IP address"),
])
def test_bad_interface_settings_are_refused_with_the_reason(iface, message):
    with pytest.raises(ValidationError, match=message):
        InterfaceSettings(**iface)


def test_an_unknown_time_zone_is_refused(tmp_path):
    with pytest.raises(network.InvalidArgument, match="Mars/Olympus"):
        network.plan(NetworkSettings(timezone="Mars/Olympus"), "b-123456789", network.NetworkdBackend(tmp_path), tmp_path)


def test_files_under_another_root_are_written_but_the_running_system_is_never_told_to_reload(tmp_path):
    plan = network.plan(static_eth0(ntp_servers=[]), "b-123456789", network.NetworkdBackend(tmp_path), tmp_path)
    assert [c.argv for c in plan.changes if c.argv] == []
    assert len([c for c in plan.changes if c.content]) == 3
