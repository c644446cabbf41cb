"""The simulated camera's WS-Discovery responder, checked with raw UDP sockets on loopback.

The probes here are written by hand (not by the console's client) so the
responder is checked against a second implementation of the protocol.
"""

from __future__ import annotations

import socket
import uuid

import pytest
from lxml import etree

from console_app.sim.ws_discovery_responder import (
    MULTICAST_GROUP,
    WS_DISCOVERY_PORT,
    ResponderError,
    WsDiscoveryResponder,
    new_endpoint_reference,
)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
REPLY_WAIT_S = 2.0


def raw_probe(types: str = "", message_id: str | None = None, extra_ns: str = "") -> bytes:
    types_el = f"<d:Types>{types}</d:Types>" if types else ""
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:d="{NS["d"]}" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
        f'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" {extra_ns}>'
        f"<s:Header><a:MessageID>{message_id or f'urn:uuid:{uuid.uuid4()}'}</a:MessageID>"
        f"<a:Action>{NS['d']}/Probe</a:Action></s:Header>"
        f"<s:Body><d:Probe>{types_el}</d:Probe></s:Body></s:Envelope>"
    ).encode()


def raw_resolve(endpoint_reference: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:d="{NS["d"]}">'
        f"<s:Header><a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID></s:Header>"
        f"<s:Body><d:Resolve><a:EndpointReference><a:Address>{endpoint_reference}"
        "</a:Address></a:EndpointReference></d:Resolve></s:Body></s:Envelope>"
    ).encode()


@pytest.fixture
def prober():
    """A client socket on 127.0.0.1 whose multicast stays on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.settimeout(REPLY_WAIT_S)
    yield sock
    sock.close()


def replies_for(sock: socket.socket, endpoint_reference: str, count: int):
    """The next ``count`` replies about ``endpoint_reference`` (others' responders may answer too)."""
    found = []
    while len(found) < count:
        try:
            data, source = sock.recvfrom(65536)
        except TimeoutError:
            pytest.fail(f"only {len(found)} of {count} replies from {endpoint_reference}")
        root = etree.fromstring(data)
        if root.findtext(".//a:EndpointReference/a:Address", namespaces=NS) == endpoint_reference:
            found.append((root, source))
    return found


def no_reply_for(sock: socket.socket, endpoint_reference: str, wait_s: float = 0.3) -> bool:
    sock.settimeout(wait_s)
    try:
        while True:
            data, _ = sock.recvfrom(65536)
            if endpoint_reference.encode() in data:
                return False
    except TimeoutError:
        return True


def test_responder_answers_a_multicast_probe_unicast_from_an_ephemeral_port(prober) -> None:
    ref = new_endpoint_reference()
    with WsDiscoveryResponder(ref, ["http://127.0.0.1:8081/onvif/device_service"]):
        message_id = f"urn:uuid:{uuid.uuid4()}"
        prober.sendto(raw_probe("dn:NetworkVideoTransmitter", message_id), (MULTICAST_GROUP, 3702))
        [(root, source)] = replies_for(prober, ref, 1)
    assert source[0] == "127.0.0.1" and source[1] != WS_DISCOVERY_PORT
    assert root.findtext(".//a:RelatesTo", namespaces=NS) == message_id
    assert root.find(".//d:ProbeMatches/d:ProbeMatch", namespaces=NS) is not None
    assert (
        root.findtext(".//d:XAddrs", namespaces=NS) == "http://127.0.0.1:8081/onvif/device_service"
    )


def test_responder_ignores_a_probe_for_a_type_it_does_not_have(prober) -> None:
    ref = new_endpoint_reference()
    nvt_probe, device_probe = (f"urn:uuid:{uuid.uuid4()}" for _ in range(2))
    with WsDiscoveryResponder(ref, ["http://127.0.0.1:1/"], types=["tds:Device"]) as responder:
        prober.sendto(raw_probe("dn:NetworkVideoTransmitter", nvt_probe), (MULTICAST_GROUP, 3702))
        prober.sendto(raw_probe("tds:Device", device_probe), (MULTICAST_GROUP, 3702))
        [(root, _)] = replies_for(prober, ref, 1)
        assert no_reply_for(prober, ref)
    assert root.findtext(".//d:Types", namespaces=NS) == "tds:Device"
    # Only our own probes count: another program on this host may be probing too.
    assert device_probe in responder.answered_probe_ids and nvt_probe not in responder.answered_probe_ids


def test_responder_matches_types_by_namespace_not_by_prefix(prober) -> None:
    ref = new_endpoint_reference()
    odd_prefix = 'xmlns:x="http://www.onvif.org/ver10/network/wsdl"'
    with WsDiscoveryResponder(ref, ["http://127.0.0.1:1/"]):
        prober.sendto(
            raw_probe("x:NetworkVideoTransmitter", extra_ns=odd_prefix), (MULTICAST_GROUP, 3702)
        )
        assert len(replies_for(prober, ref, 1)) == 1


def test_responder_without_xaddrs_gives_them_only_to_resolve(prober) -> None:
    ref = new_endpoint_reference()
    xaddr = "http://127.0.0.1:8082/onvif/device_service"
    with WsDiscoveryResponder(ref, [xaddr], include_xaddrs=False):
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        [(match, _)] = replies_for(prober, ref, 1)
        prober.sendto(raw_resolve(ref), (MULTICAST_GROUP, 3702))
        [(resolved, _)] = replies_for(prober, ref, 1)
    assert match.find(".//d:XAddrs", namespaces=NS) is None
    assert resolved.findtext(".//d:ResolveMatch/d:XAddrs", namespaces=NS) == xaddr


def test_responder_fault_switches_duplicate_replies_with_one_message_id(prober) -> None:
    ref = new_endpoint_reference()
    with WsDiscoveryResponder(
        ref, ["http://127.0.0.1:1/"], duplicate_replies=2, reuse_message_id=True
    ):
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        replies = replies_for(prober, ref, 6)
    ids = {root.findtext(".//a:MessageID", namespaces=NS) for root, _ in replies}
    assert len(ids) == 1


def test_responder_stale_address_reply_carries_an_older_metadata_version(prober) -> None:
    ref = new_endpoint_reference()
    with WsDiscoveryResponder(
        ref, ["http://127.0.0.1:2/"], metadata_version=5, stale_xaddrs=["http://127.0.0.1:1/"]
    ):
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        replies = replies_for(prober, ref, 2)
    seen = {
        (
            root.findtext(".//d:XAddrs", namespaces=NS),
            root.findtext(".//d:MetadataVersion", namespaces=NS),
        )
        for root, _ in replies
    }
    assert seen == {("http://127.0.0.1:2/", "5"), ("http://127.0.0.1:1/", "4")}


def test_several_responders_on_one_host_all_answer_and_unicast_reaches_only_its_own(prober) -> None:
    refs = [new_endpoint_reference() for _ in range(3)]
    responders = [
        WsDiscoveryResponder(ref, [f"http://127.78.0.{i + 2}:80/"], interface=f"127.78.0.{i + 2}")
        for i, ref in enumerate(refs)
    ]
    for responder in responders:
        responder.start()
    try:
        assert all(r.answers_unicast for r in responders)
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        sources = {}
        while set(sources) != set(refs):
            data, source = prober.recvfrom(65536)  # the socket's timeout bounds the wait
            ref = etree.fromstring(data).findtext(".//a:EndpointReference/a:Address", namespaces=NS)
            sources[ref] = source[0]
        assert sorted(sources.values()) == ["127.78.0.2", "127.78.0.3", "127.78.0.4"]
        unicast_probe = f"urn:uuid:{uuid.uuid4()}"
        prober.sendto(raw_probe(message_id=unicast_probe), ("127.78.0.3", WS_DISCOVERY_PORT))
        [(_, source)] = replies_for(prober, refs[1], 1)
        assert source[0] == "127.78.0.3"
        assert no_reply_for(prober, refs[0])
        assert unicast_probe in responders[1].answered_probe_ids
        assert unicast_probe not in responders[0].answered_probe_ids + responders[2].answered_probe_ids
    finally:
        for responder in responders:
            responder.stop()


def test_responder_announces_hello_and_bye() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((MULTICAST_GROUP, WS_DISCOVERY_PORT))
    membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton("127.0.0.1")
    listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    listener.settimeout(REPLY_WAIT_S)
    ref = new_endpoint_reference()
    try:
        with WsDiscoveryResponder(
            ref, ["http://127.0.0.1:1/"], send_hello=True, answer_unicast=False
        ):
            pass
        actions = []
        while len(actions) < 2:
            data, _ = listener.recvfrom(65536)
            if ref.encode() in data:
                actions.append(etree.fromstring(data)[1][0].tag.rsplit("}", 1)[1])
    finally:
        listener.close()
    assert actions == ["Hello", "Bye"]


def test_responder_rejects_an_unknown_type_prefix() -> None:
    with pytest.raises(ResponderError, match="'foo:Camera'"):
        WsDiscoveryResponder(new_endpoint_reference(), [], types=["foo:Camera"])


def test_responder_survives_a_malformed_probe(prober) -> None:
    ref = new_endpoint_reference()
    with WsDiscoveryResponder(ref, ["http://127.0.0.1:1/"]):
        prober.sendto(b"<not-xml", (MULTICAST_GROUP, 3702))
        prober.sendto(raw_probe(), (MULTICAST_GROUP, 3702))
        assert len(replies_for(prober, ref, 1)) == 1


def test_a_second_responder_on_a_taken_address_says_so_only_at_debug_level(caplog) -> None:
    """The demo's two cameras share 127.0.0.1: expected, so no warning on every demo start."""
    import logging

    first = WsDiscoveryResponder(new_endpoint_reference(), ["http://127.0.0.1:1/"], interface="127.0.0.1")
    second = WsDiscoveryResponder(new_endpoint_reference(), ["http://127.0.0.1:2/"], interface="127.0.0.1")
    with caplog.at_level(logging.DEBUG, logger="console_app.sim.ws_discovery_responder"):
        first.start()
        second.start()
    try:
        assert not (first.answers_unicast and second.answers_unicast)
        taken = [r for r in caplog.records if "is taken" in r.getMessage()]
        assert taken and all(r.levelno == logging.DEBUG for r in taken)
    finally:
        second.stop()
        first.stop()
