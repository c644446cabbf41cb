"""The WS-Discovery client against real responders on loopback (console_app/sim).

Every multicast here goes out on 127.0.0.1 only. Other tests may run
responders at the same time, so assertions look only at the endpoint
references each test created.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest

from console_app.core.gateways.ws_discovery import (
    Cancellation,
    DiscoveryInterfaceError,
    NoWsDiscoveryReply,
    SubnetTooLarge,
    WsDiscoveryError,
    probe,
    probe_address,
    scan_subnet,
)
from console_app.sim.ws_discovery_responder import MULTICAST_GROUP, WS_DISCOVERY_PORT
from tests.peers.wsd_responders import ResponderPool

LOOPBACK = ["127.0.0.1"]
WAIT_S = 5.0


@pytest.fixture
def pool():
    responders = ResponderPool()
    yield responders
    responders.stop_all()


def mine(summary, *responders):
    refs = {r.endpoint_reference for r in responders}
    return {c.endpoint_reference: c for c in summary.found if c.endpoint_reference in refs}


def test_one_probe_finds_several_responders_with_their_addresses_and_scopes(pool) -> None:
    responders = [pool.start(f"127.90.0.{i}") for i in (2, 3, 4)]
    summary = probe(LOOPBACK, timeout_s=0.5)
    found = mine(summary, *responders)
    assert set(found) == {r.endpoint_reference for r in responders}
    camera = found[responders[1].endpoint_reference]
    assert camera.xaddrs == ("http://127.90.0.3:8080/onvif/device_service",)
    assert camera.host == "127.90.0.3" and camera.source_address == "127.90.0.3"
    assert set(camera.types) == {"dn:NetworkVideoTransmitter", "tds:Device"}
    assert (camera.name, camera.hardware) == ("Sightline Simulated Camera", "SL-SIM-1")
    assert camera.found_via == "127.0.0.1"


def test_probe_ends_soon_after_the_last_answer_instead_of_waiting_its_full_timeout(pool) -> None:
    responders = [pool.start(f"127.90.0.{i}") for i in (5, 6)]
    summary = probe(LOOPBACK, timeout_s=3.0)
    assert set(mine(summary, *responders)) == {r.endpoint_reference for r in responders}
    assert summary.probes_sent == 4  # both probe types, sent twice: the repeat is never skipped
    assert summary.seconds < 2.0, f"waited {summary.seconds:.2f} s for answers that all came at once"


def test_name_scopes_read_as_the_camera_calls_itself(pool) -> None:
    scopes = ["onvif://www.onvif.org/name/Line_3_camera_1", "onvif://www.onvif.org/hardware/SIM_ONVIF_2",
              "onvif://www.onvif.org/location/Hall%20B_north"]
    responder = pool.start("127.90.0.7", scopes=scopes)
    [camera] = mine(probe(LOOPBACK, timeout_s=2.0), responder).values()
    assert (camera.name, camera.hardware, camera.location) == ("Line 3 camera 1", "SIM_ONVIF_2", "Hall B north")


def test_probe_reports_cameras_as_they_answer_and_cancel_stops_it_promptly(pool) -> None:
    responders = [pool.start(f"127.90.1.{i}") for i in (2, 3)]
    wanted = {r.endpoint_reference for r in responders}
    seen: set[str] = set()
    all_seen = threading.Event()
    cancel = Cancellation()
    result = {}

    def on_found(candidate) -> None:
        seen.add(candidate.endpoint_reference)
        if wanted <= seen:
            all_seen.set()

    worker = threading.Thread(
        target=lambda: result.update(summary=probe(LOOPBACK, 60.0, on_found, cancel))
    )
    worker.start()
    assert all_seen.wait(WAIT_S), f"callbacks saw {seen & wanted} of {wanted}"
    assert worker.is_alive(), "the probe returned before its timeout: results were not streamed"
    cancelled_at = time.monotonic()
    cancel.cancel()
    worker.join(WAIT_S)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 0.5
    assert result["summary"].cancelled
    cancel.close()


def test_probe_finds_nvt_only_and_device_only_responders_by_probing_each_type(pool) -> None:
    nvt = pool.start("127.90.2.2", types=["dn:NetworkVideoTransmitter"])
    device = pool.start("127.90.2.3", types=["tds:Device"])
    found = mine(probe(LOOPBACK, timeout_s=0.5), nvt, device)
    assert found[nvt.endpoint_reference].types == ("dn:NetworkVideoTransmitter",)
    assert found[device.endpoint_reference].types == ("tds:Device",)
    assert nvt.probes_answered >= 1 and device.probes_answered >= 1


def test_duplicate_replies_with_reused_message_ids_give_one_camera_reported_once(pool) -> None:
    noisy = pool.start("127.90.3.2", duplicate_replies=3, reuse_message_id=True)
    other = pool.start("127.90.3.3", reuse_message_id=True)
    reports = []
    summary = probe(LOOPBACK, 0.5, reports.append)
    assert len([c for c in summary.found if c.endpoint_reference == noisy.endpoint_reference]) == 1
    assert [c.endpoint_reference for c in reports].count(noisy.endpoint_reference) == 1
    assert other.endpoint_reference in mine(summary, other)


def test_replies_from_ephemeral_ports_and_from_port_3702_are_both_accepted(pool) -> None:
    ephemeral = pool.start("127.90.4.2", reply_from_ephemeral_port=True)
    fixed = pool.start("127.90.4.3", reply_from_ephemeral_port=False)
    assert fixed.answers_unicast  # so its replies really come from 3702
    assert set(mine(probe(LOOPBACK, 0.5), ephemeral, fixed)) == {
        ephemeral.endpoint_reference,
        fixed.endpoint_reference,
    }


def test_missing_xaddrs_are_fetched_with_resolve(pool) -> None:
    hidden = pool.start("127.90.5.2", include_xaddrs=False)
    reports = []
    found = mine(probe(LOOPBACK, 0.5, reports.append), hidden)
    assert found[hidden.endpoint_reference].xaddrs == (
        "http://127.90.5.2:8080/onvif/device_service",
    )
    assert hidden.resolves_answered >= 1
    assert all(c.xaddrs for c in reports), "a camera was reported before it had an address"


def test_a_stale_reply_with_an_older_metadata_version_never_replaces_the_address(pool) -> None:
    moved = pool.start("127.90.6.2", metadata_version=3, stale_xaddrs=["http://10.9.9.9/onvif"])
    reports = []
    found = mine(probe(LOOPBACK, 0.5, reports.append), moved)
    assert found[moved.endpoint_reference].xaddrs == (
        "http://127.90.6.2:8080/onvif/device_service",
    )
    assert found[moved.endpoint_reference].metadata_version == 3
    assert not any("10.9.9.9" in x for c in reports for x in c.xaddrs)


def test_a_camera_that_moved_is_reported_again_with_its_new_address(pool) -> None:
    camera = pool.start("127.90.7.2")
    first = mine(probe(LOOPBACK, 0.3), camera)[camera.endpoint_reference]
    camera.move_to(["http://127.90.7.9:80/onvif/device_service"])
    second = mine(probe(LOOPBACK, 0.3), camera)[camera.endpoint_reference]
    assert second.metadata_version == first.metadata_version + 1
    assert second.xaddrs == ("http://127.90.7.9:80/onvif/device_service",)


def run_foreign_responder(replies: list[bytes], ready: threading.Event, stop: threading.Event):
    """A hand-made 'camera' that answers every probe with the given raw datagrams."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((MULTICAST_GROUP, WS_DISCOVERY_PORT))
    membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton("127.0.0.1")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.settimeout(0.1)
    ready.set()
    answered = False
    try:
        while not stop.is_set():
            try:
                _, source = sock.recvfrom(65536)
            except TimeoutError:
                continue
            if not answered:
                answered = True
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                    for reply in replies:
                        out.sendto(reply, source)
    finally:
        sock.close()


# A reply as a Hikvision-style camera writes it: WS-Discovery 2005/04, its own prefixes.
REAL_STYLE_REPLY = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsadis:MessageID>uuid:1</wsadis:MessageID>
<wsadis:RelatesTo>uuid:whatever</wsadis:RelatesTo></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>urn:uuid:{ref}</wsadis:Address></wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/name/Dock%203 onvif://www.onvif.org/hardware/DS-2CD2143
 onvif://www.onvif.org/location/city/hangzhou</d:Scopes>
<d:XAddrs>http://127.90.8.2/onvif/device_service</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""


def test_malformed_replies_are_ignored_and_a_real_style_reply_is_read() -> None:
    ref = str(uuid.uuid4())
    replies = [
        b"<env:Envelope><unclosed",
        b"\x00\xff not xml at all",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b"<Envelope><Body><ProbeMatches><ProbeMatch/></ProbeMatches></Body></Envelope>",
        b"<a>" + b"x" * 60_000 + b"</a>",
        REAL_STYLE_REPLY.format(ref=ref).encode(),
    ]
    ready, stop = threading.Event(), threading.Event()
    peer = threading.Thread(target=run_foreign_responder, args=(replies, ready, stop))
    peer.start()
    try:
        assert ready.wait(WAIT_S)
        summary = probe(LOOPBACK, 0.5)
    finally:
        stop.set()
        peer.join(WAIT_S)
    [camera] = [c for c in summary.found if c.endpoint_reference == f"urn:uuid:{ref}"]
    assert camera.name == "Dock 3" and camera.hardware == "DS-2CD2143"
    assert camera.location == "city/hangzhou" and camera.metadata_version == 10
    assert camera.types == ("dn:NetworkVideoTransmitter", "tds:Device")
    assert camera.xaddrs == ("http://127.90.8.2/onvif/device_service",)


def test_summary_names_the_interface_and_subnet_probed() -> None:
    summary = probe(LOOPBACK, timeout_s=0.05)
    assert [i.address for i in summary.interfaces] == ["127.0.0.1"]
    assert summary.subnets == ["127.0.0.0/8"]
    assert "127.0.0.1 (127.0.0.0/8" in summary.describe()
    assert summary.probes_sent >= 2 and summary.errors == []


def test_an_interface_that_is_not_on_this_machine_is_refused_by_name() -> None:
    with pytest.raises(DiscoveryInterfaceError, match="'192.0.2.77' is not an IPv4 address"):
        probe(["192.0.2.77"], timeout_s=0.05)
    with pytest.raises(DiscoveryInterfaceError, match="'no-such-nic0'"):
        probe(["no-such-nic0"], timeout_s=0.05)


def test_subnet_scan_finds_responders_on_loopback_addresses_with_bounded_concurrency(pool) -> None:
    responders = [pool.start(f"127.90.9.{i}") for i in (2, 5, 9, 13)]
    hidden = pool.start("127.90.9.11", include_xaddrs=False)
    reports = []
    summary = scan_subnet("127.90.9.0/28", concurrency=3, timeout_s=0.3, on_found=reports.append)
    assert set(mine(summary, *responders, hidden)) == {
        r.endpoint_reference for r in [*responders, hidden]
    }
    assert mine(summary, hidden)[hidden.endpoint_reference].xaddrs
    assert summary.max_in_flight == 3
    assert summary.scanned == "127.90.9.0/28" and "scan of 127.90.9.0/28" in summary.describe()
    assert len(reports) == 5


def test_subnet_scan_never_waits_on_more_hosts_than_its_concurrency() -> None:
    """Silent hosts record when each probe arrives; with 2 slots and 0.25 s per host,
    the third host cannot be probed before the first one timed out."""
    arrivals: dict[str, float] = {}
    listeners = []
    for i in range(1, 5):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.90.10.{i}", WS_DISCOVERY_PORT))
        sock.setblocking(False)
        listeners.append(sock)
    stop = threading.Event()

    def record() -> None:
        import selectors

        selector = selectors.DefaultSelector()
        for sock in listeners:
            selector.register(sock, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select(0.05):
                key.fileobj.recvfrom(65536)
                arrivals.setdefault(key.fileobj.getsockname()[0], time.monotonic())
        selector.close()

    recorder = threading.Thread(target=record)
    recorder.start()
    try:
        summary = scan_subnet("127.90.10.0/29", concurrency=2, rate_per_s=1000, timeout_s=0.25)
    finally:
        stop.set()
        recorder.join(WAIT_S)
        for sock in listeners:
            sock.close()
    order = sorted(arrivals.values())
    assert len(order) == 4 and summary.max_in_flight == 2
    assert order[2] - order[0] >= 0.2, (
        f"third host probed {order[2] - order[0]:.3f} s after the first"
    )


def test_subnet_scan_is_rate_limited(pool) -> None:
    responders = [pool.start(f"127.90.11.{i}") for i in range(1, 7)]
    summary = scan_subnet("127.90.11.0/29", rate_per_s=20, timeout_s=0.2)
    assert len(mine(summary, *responders)) == 6
    assert summary.seconds >= 5 / 20  # six hosts at 20 per second: at least 0.25 s


def test_subnet_scan_refuses_a_slash_8_and_nonsense() -> None:
    with pytest.raises(SubnetTooLarge, match="refusing to scan 10.0.0.0/8: 16,777,216 addresses"):
        scan_subnet("10.0.0.0/8")
    with pytest.raises(WsDiscoveryError, match="'cameras' is not an IPv4 network"):
        scan_subnet("cameras")


def test_cancel_stops_a_subnet_scan_promptly() -> None:
    cancel = Cancellation()
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(
            summary=scan_subnet("127.91.0.0/16", concurrency=4, timeout_s=30, cancel=cancel)
        )
    )
    worker.start()
    cancel.cancel()
    worker.join(WAIT_S)
    assert not worker.is_alive() and result["summary"].cancelled
    assert result["summary"].probes_sent <= 8
    cancel.close()


def test_probe_address_returns_the_camera_or_says_to_try_onvif(pool) -> None:
    camera = pool.start("127.90.12.2")
    assert (
        probe_address("127.90.12.2", timeout_s=1.0).endpoint_reference == camera.endpoint_reference
    )
    with pytest.raises(
        NoWsDiscoveryReply,
        match="no WS-Discovery reply from 127.90.12.3 within 0.2 s; it may still be an ONVIF camera: press Add camera… and type its address",
    ):
        probe_address("127.90.12.3", timeout_s=0.2)
