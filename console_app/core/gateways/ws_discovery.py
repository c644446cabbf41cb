"""Finds ONVIF cameras with WS-Discovery: multicast probes per interface, and unicast subnet scans.

Hand-written on plain UDP sockets rather than the PyPI ``WSDiscovery``
package, because that package skips loopback addresses entirely (so neither
the tests nor the demo's simulated cameras could be found) and breaks on
machines that have IPv6 addresses (docs: shared/design/TEST-PEERS.md). What
it does instead is what real cameras need:

* a separate Probe for ``dn:NetworkVideoTransmitter`` and for ``tds:Device``
  on each chosen IPv4 interface (socket bound to the interface address,
  ``IP_MULTICAST_IF`` set to it), each sent twice as WS-Discovery's UDP
  retransmission rule asks;
* ProbeMatches accepted from any source port (cameras answer from a fresh
  ephemeral port), duplicates and reused MessageIDs tolerated: results are
  keyed by endpoint reference only, and a higher metadata version wins;
* a Resolve when a match carries no XAddrs;
* ``on_found`` called as each camera is known, not at the timeout.

Everything here blocks the calling thread; ``console_app/core/services/camera_discovery.py``
runs it in the background with cancel. No Qt.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import ifaddr

from console_app.core.gateways.ws_discovery_messages import (
    NETWORK_VIDEO_TRANSMITTER,
    ONVIF_DEVICE,
    CameraCandidate,
    ReplyCollector,
    build_probe,
    build_resolve,
    new_message_id,
    parse_message,
)

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
WS_DISCOVERY_PORT = 3702
PROBE_TYPES = (NETWORK_VIDEO_TRANSMITTER, ONVIF_DEVICE)
REPEAT_AFTER_S = 0.25  # WS-Discovery sends each multicast message twice
#: A probe ends early once it was repeated, this long has passed (WS-Discovery's
#: APP_MAX_DELAY is 0.5 s: a camera answers within it, plus the LAN), and the
#: replies have stopped for QUIET_S.
SETTLE_AFTER_S = 1.0
QUIET_S = 0.4
LARGEST_SCAN_PREFIX = 16
_RECEIVE_BUFFER_BYTES = 1 << 20

FoundCallback = Callable[[CameraCandidate], None]

__all__ = [
    "CameraCandidate",
    "Cancellation",
    "DiscoveryInterfaceError",
    "DiscoverySummary",
    "NoWsDiscoveryReply",
    "ProbedInterface",
    "SubnetTooLarge",
    "WsDiscoveryError",
    "probe",
    "probe_address",
    "resolve_interfaces",
    "scan_subnet",
    "validate_scan_network",
]


class WsDiscoveryError(Exception):
    """Camera discovery could not do what was asked; the message says why."""


class DiscoveryInterfaceError(WsDiscoveryError):
    """An interface to probe is neither an IPv4 address of this machine nor an adapter name."""


class SubnetTooLarge(WsDiscoveryError):
    """A subnet scan was asked for a network larger than a /16."""


class NoWsDiscoveryReply(WsDiscoveryError):
    """A host did not answer a unicast WS-Discovery probe."""


class Cancellation:
    """Stops a running probe or scan from another thread, at once.

    The waiting loop selects on a socket pair, so :meth:`cancel` wakes it
    without polling. Close it when done (the service does).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)

    def cancel(self) -> None:
        """Ask the probe or scan to stop; it returns its summary with ``cancelled`` set."""
        self._event.set()
        try:
            self._writer.send(b"x")
        except OSError:
            pass  # already closed: nothing is waiting

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def fileno(self) -> int:
        """The socket a waiting loop selects on."""
        return self._reader.fileno()

    def close(self) -> None:
        """Release the wake-up sockets."""
        self._reader.close()
        self._writer.close()


@dataclass(frozen=True)
class ProbedInterface:
    """A local IPv4 address that was probed, its subnet and its adapter's name."""

    address: str
    subnet: str
    adapter: str = ""


@dataclass
class DiscoverySummary:
    """What a probe or scan covered and found.

    ``interfaces`` are the local interfaces multicast was sent on; ``scanned``
    the CIDR of a unicast scan; ``errors`` what failed on the way (one line
    each); ``max_in_flight`` the most hosts a scan waited on at once.
    """

    interfaces: list[ProbedInterface] = field(default_factory=list)
    scanned: str = ""
    probes_sent: int = 0
    found: list[CameraCandidate] = field(default_factory=list)
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)
    max_in_flight: int = 0
    seconds: float = 0.0

    @property
    def subnets(self) -> list[str]:
        """Every subnet covered, for the view's "probed …" line."""
        nets = [i.subnet for i in self.interfaces]
        if self.scanned:
            nets.append(self.scanned)
        return list(dict.fromkeys(nets))

    def describe(self) -> str:
        """One line for the UI, e.g. ``probed 127.0.0.1 (127.0.0.0/8) on lo: 3 cameras``."""
        parts = [
            f"{i.address} ({i.subnet}{' on ' + i.adapter if i.adapter else ''})"
            for i in self.interfaces
        ]
        if self.scanned:
            parts.append(f"scan of {self.scanned}")
        what = ", ".join(parts) or "nothing"
        count = len(self.found)
        line = f"probed {what}: {count} camera{'s' if count != 1 else ''}"
        return line + (" (cancelled)" if self.cancelled else "")


# -------------------------------------------------------------- interfaces


def resolve_interfaces(interfaces: list[str] | None) -> list[ProbedInterface]:
    """The local interfaces to probe.

    ``None`` means every non-loopback IPv4 interface of this machine (or
    127.0.0.1 on a machine that has none). Otherwise each entry is an IPv4
    address of this machine (any 127.x.y.z counts) or an adapter name such as
    ``eth0``. Raises :class:`DiscoveryInterfaceError` naming an entry that is neither.
    """
    known: list[ProbedInterface] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4:
                net = ipaddress.IPv4Interface(f"{ip.ip}/{ip.network_prefix}").network
                known.append(ProbedInterface(ip.ip, str(net), adapter.nice_name))
    if interfaces is None:
        chosen = [i for i in known if not ipaddress.IPv4Address(i.address).is_loopback]
        return chosen or [ProbedInterface("127.0.0.1", "127.0.0.0/8", "lo")]
    result: list[ProbedInterface] = []
    for entry in interfaces:
        try:
            address = ipaddress.IPv4Address(entry)
        except ValueError:
            matching = [i for i in known if i.adapter == entry.strip()]
            if not matching:
                raise DiscoveryInterfaceError(
                    f"interface {entry!r} is neither an IPv4 address nor a network adapter of "
                    f"this machine (adapters: {', '.join(sorted({i.adapter for i in known}))})"
                ) from None
            result.extend(matching)
            continue
        same = [i for i in known if i.address == str(address)]
        if same:
            result.append(same[0])
        elif address.is_loopback:
            result.append(ProbedInterface(str(address), "127.0.0.0/8", "lo"))
        else:
            raise DiscoveryInterfaceError(
                f"interface {entry!r} is not an IPv4 address of this machine "
                f"(its addresses: {', '.join(i.address for i in known)})"
            )
    return list(dict.fromkeys(result))


# ------------------------------------------------------------- the waiting


def _receive_loop(
    sockets: list[socket.socket],
    cancel: Cancellation,
    next_wake: Callable[[float], float | None],
    on_datagram: Callable[[socket.socket, bytes, str], None],
) -> bool:
    """Wait for datagrams until ``next_wake`` says done; ``True`` when cancelled."""
    while True:
        if cancel.cancelled:
            return True
        now = time.monotonic()
        wake = next_wake(now)
        if wake is None:
            return False
        readable, _, _ = select.select([*sockets, cancel], [], [], max(0.0, wake - now))
        for sock in readable:
            if sock is cancel:
                continue
            while True:
                try:
                    data, source = sock.recvfrom(65_536)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionResetError:
                    continue  # Windows reports an earlier ICMP port-unreachable here
                except OSError as exc:
                    log.debug("receive failed on %s: %s", sock, exc)
                    break
                on_datagram(sock, data, source[0])


def _handle_reply(
    collector: ReplyCollector, data: bytes, source: str, found_via: str
) -> list[CameraCandidate]:
    """Merge a reply; the candidates that still need a Resolve."""
    message = parse_message(data, source)
    if message is None:
        log.debug(
            "ignoring a malformed WS-Discovery datagram from %s (%d bytes)", source, len(data)
        )
        return []
    if message.action not in ("ProbeMatches", "ResolveMatches"):
        return []
    unresolved = []
    for match in message.matches:
        merged = collector.offer(replace(match, found_via=found_via))
        if merged is not None and collector.wants_resolve(merged):
            unresolved.append(merged)
    return unresolved


def _udp_socket(bind_address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        sock.bind((bind_address, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


# ------------------------------------------------------------------- probe


def probe(
    interfaces: list[str] | None = None,
    timeout_s: float = 3.0,
    on_found: FoundCallback | None = None,
    cancel: Cancellation | None = None,
    ttl: int = 1,
) -> DiscoverySummary:
    """Multicast Probes for NVT and Device on each interface; collect answers for at most ``timeout_s``.

    The probe is sent twice; once it was repeated, :data:`SETTLE_AFTER_S` has
    passed and no datagram came for :data:`QUIET_S`, the probe ends early (a LAN's
    cameras all answer within a second), else at ``timeout_s``.
    ``on_found(candidate)`` runs on this thread as soon as a camera has an
    address, and again if a later reply changes it. Interfaces that fail are
    listed in the summary's ``errors``; the others are still probed.
    """
    if not 1 <= ttl <= 4:
        raise WsDiscoveryError(f"multicast TTL must be 1 to 4 (hops on the LAN), not {ttl}")
    chosen = resolve_interfaces(interfaces)
    summary = DiscoverySummary()
    collector = ReplyCollector(on_found)
    own_cancel = cancel is None
    cancel = cancel or Cancellation()
    started = time.monotonic()
    sockets: dict[socket.socket, ProbedInterface] = {}
    try:
        for interface in chosen:
            try:
                sock = _udp_socket(interface.address)
                address = socket.inet_aton(interface.address)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, address)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            except OSError as exc:
                summary.errors.append(f"interface {interface.address}: cannot open a socket: {exc}")
                continue
            sockets[sock] = interface
            summary.interfaces.append(interface)
        probes = {sock: [build_probe(new_message_id(), t) for t in PROBE_TYPES] for sock in sockets}

        def send_probes() -> None:
            for sock, messages in probes.items():
                for message in messages:
                    try:
                        sock.sendto(message, (MULTICAST_GROUP, WS_DISCOVERY_PORT))
                        summary.probes_sent += 1
                    except OSError as exc:
                        error = f"interface {sockets[sock].address}: cannot send a probe: {exc}"
                        if error not in summary.errors:
                            summary.errors.append(error)

        send_probes()
        deadline = started + timeout_s
        repeat_at: list[float] = [started + REPEAT_AFTER_S] if REPEAT_AFTER_S < timeout_s else []
        last_heard = [started]

        def next_wake(now: float) -> float | None:
            if repeat_at and now >= repeat_at[0]:
                repeat_at.clear()
                send_probes()
            settled = max(started + SETTLE_AFTER_S, last_heard[0] + QUIET_S)
            if now >= deadline or (not repeat_at and now >= settled):
                return None
            return min([deadline, settled, *repeat_at])

        def on_datagram(sock: socket.socket, data: bytes, source: str) -> None:
            last_heard[0] = time.monotonic()
            for candidate in _handle_reply(collector, data, source, sockets[sock].address):
                resolve = build_resolve(new_message_id(), candidate.endpoint_reference)
                try:
                    sock.sendto(resolve, (MULTICAST_GROUP, WS_DISCOVERY_PORT))
                except OSError as exc:
                    log.debug("cannot send Resolve on %s: %s", sockets[sock].address, exc)

        summary.cancelled = _receive_loop(list(sockets), cancel, next_wake, on_datagram)
    finally:
        for sock in sockets:
            sock.close()
        if own_cancel:
            cancel.close()
    summary.found = collector.finish()
    summary.seconds = time.monotonic() - started
    return summary


# -------------------------------------------------------------------- scan


def validate_scan_network(cidr: str) -> ipaddress.IPv4Network:
    """The network to scan; :class:`SubnetTooLarge` past a /16, :class:`WsDiscoveryError` if not a CIDR."""
    try:
        network = ipaddress.IPv4Network(cidr.strip(), strict=False)
    except ValueError:
        raise WsDiscoveryError(
            f"{cidr!r} is not an IPv4 network in CIDR form (for example 192.168.10.0/24)"
        ) from None
    if network.prefixlen < LARGEST_SCAN_PREFIX:
        raise SubnetTooLarge(
            f"refusing to scan {network}: {network.num_addresses:,} addresses; a scan covers at "
            f"most a /{LARGEST_SCAN_PREFIX} ({2 ** (32 - LARGEST_SCAN_PREFIX):,} addresses)"
        )
    return network


def _hosts(network: ipaddress.IPv4Network) -> Iterator[str]:
    if network.prefixlen >= 31:
        return (str(a) for a in network)
    return (str(a) for a in network.hosts())


def scan_subnet(
    cidr: str,
    concurrency: int = 64,
    rate_per_s: float = 200.0,
    timeout_s: float = 1.0,
    on_found: FoundCallback | None = None,
    cancel: Cancellation | None = None,
    port: int = WS_DISCOVERY_PORT,
    source_address: str = "0.0.0.0",
) -> DiscoverySummary:
    """Unicast Probes to every host of ``cidr`` at ``port``, for cameras on other VLANs.

    At most ``concurrency`` hosts are awaited at once and at most
    ``rate_per_s`` hosts are probed per second (each gets the NVT and the
    Device probe); a host is done when it answered with an address or after
    ``timeout_s``. Networks larger than a /16 raise :class:`SubnetTooLarge`.
    """
    network = validate_scan_network(cidr)
    if concurrency < 1 or rate_per_s <= 0 or timeout_s <= 0:
        raise WsDiscoveryError(
            f"scan needs concurrency >= 1, rate > 0 and timeout > 0 "
            f"(got {concurrency}, {rate_per_s}, {timeout_s})"
        )
    return _unicast_scan(
        _hosts(network), str(network), concurrency, rate_per_s, timeout_s, on_found, cancel,
        port, source_address, f"scan {network}",
    )  # fmt: skip


def _unicast_scan(
    hosts: Iterator[str],
    label: str,
    concurrency: int,
    rate_per_s: float,
    timeout_s: float,
    on_found: FoundCallback | None,
    cancel: Cancellation | None,
    port: int,
    source_address: str,
    found_via: str,
) -> DiscoverySummary:
    summary = DiscoverySummary(scanned=label)
    collector = ReplyCollector(on_found)
    own_cancel = cancel is None
    cancel = cancel or Cancellation()
    started = time.monotonic()
    try:
        sock = _udp_socket(source_address)
    except OSError as exc:
        raise WsDiscoveryError(f"cannot open a UDP socket on {source_address}: {exc}") from exc
    remaining = iter(hosts)
    upcoming = next(remaining, None)  # looked up early so the scan ends as its last host answers
    in_flight: dict[str, float] = {}  # host -> when to give up on it
    interval = 1.0 / rate_per_s
    next_send = started

    def next_wake(now: float) -> float | None:
        nonlocal upcoming, next_send
        for host in [h for h, give_up in in_flight.items() if give_up <= now]:
            del in_flight[host]
        while upcoming is not None and len(in_flight) < concurrency and now >= next_send:
            host, upcoming = upcoming, next(remaining, None)
            for probe_type in PROBE_TYPES:
                try:
                    sock.sendto(build_probe(new_message_id(), probe_type), (host, port))
                    summary.probes_sent += 1
                except OSError as exc:
                    summary.errors.append(f"{host}: cannot send a probe: {exc}")
                    break
            in_flight[host] = now + timeout_s
            summary.max_in_flight = max(summary.max_in_flight, len(in_flight))
            next_send = max(next_send, now) + interval
        exhausted = upcoming is None
        if exhausted and not in_flight:
            return None
        wakes = list(in_flight.values())
        if not exhausted and len(in_flight) < concurrency:
            wakes.append(next_send)
        return min(wakes)

    def on_datagram(_sock: socket.socket, data: bytes, source: str) -> None:
        unresolved = _handle_reply(collector, data, source, found_via)
        for candidate in unresolved:
            try:
                sock.sendto(
                    build_resolve(new_message_id(), candidate.endpoint_reference), (source, port)
                )
            except OSError as exc:
                log.debug("cannot send Resolve to %s: %s", source, exc)
        known = [c for c in collector.by_reference.values() if c.source_address == source]
        if known and all(c.xaddrs for c in known):
            in_flight.pop(source, None)  # this host answered: free its slot

    try:
        summary.cancelled = _receive_loop([sock], cancel, next_wake, on_datagram)
    finally:
        sock.close()
        if own_cancel:
            cancel.close()
    summary.found = collector.finish()
    summary.seconds = time.monotonic() - started
    return summary


def probe_address(
    host: str,
    timeout_s: float = 2.0,
    cancel: Cancellation | None = None,
    port: int = WS_DISCOVERY_PORT,
) -> CameraCandidate:
    """Add-by-address: a unicast Probe to one host; its camera, or :class:`NoWsDiscoveryReply`."""
    try:
        infos = socket.getaddrinfo(host.strip(), port, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WsDiscoveryError(f"cannot resolve camera address {host!r}: {exc}") from exc
    address = infos[0][4][0]
    summary = _unicast_scan(
        iter([address]), address, 1, 1.0, timeout_s, None, cancel, port, "0.0.0.0",
        f"address {host.strip()}",
    )  # fmt: skip
    if not summary.found:
        raise NoWsDiscoveryReply(
            f"no WS-Discovery reply from {host.strip()} within {timeout_s:g} s; "
            "it may still be an ONVIF camera: press Add camera… and type its address"
        )
    return summary.found[0]
