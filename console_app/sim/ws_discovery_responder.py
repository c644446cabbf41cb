"""A WS-Discovery target service that behaves like a real IP camera.

Used by the simulated ONVIF camera (``console_app/sim/onvif_camera.py``), the
tests and the discovery benchmark. It speaks WS-Discovery 2005/04 over SOAP
1.2 on UDP, as ONVIF cameras do:

* joins 239.255.255.250:3702 on one interface address (``IP_ADD_MEMBERSHIP``
  with that address; ``SO_REUSEADDR``/``SO_REUSEPORT`` so many responders share
  the group port on one host);
* answers a multicast Probe whose Types it matches (or that names no Types)
  with ProbeMatches sent *unicast* to the prober's address and port, from a
  fresh ephemeral socket, like real cameras;
* answers Resolve for its endpoint reference with ResolveMatches;
* answers unicast Probes sent to ``interface:3702`` (subnet scans). Only one
  responder can own a unicast address:port, so several responders meant to
  be found by a scan use distinct loopback addresses (127.0.0.2, 127.0.0.3 …,
  which all reach ``lo`` on Linux). A responder whose unicast port is taken
  still answers multicast and says so in :attr:`WsDiscoveryResponder.answers_unicast`;
* optionally announces Hello on start and Bye on stop.

Fault switches reproduce what real responders do: ``duplicate_replies``
(each reply sent again N times), ``reuse_message_id`` (every message carries
the same MessageID, as some firmwares do), ``include_xaddrs=False`` (only a
Resolve reveals the address) and ``stale_xaddrs`` (after the current reply, a
second reply with an older metadata version and an outdated address).

The XML is written here by hand, independently of the console's client, so
the client's parser is tested against a second implementation.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import uuid
from xml.sax.saxutils import escape

from lxml import etree

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
WS_DISCOVERY_PORT = 3702
MAX_DATAGRAM = 65_536

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
ANONYMOUS = f"{NS_WSA}/role/anonymous"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

#: Prefixes the ``types`` argument may use, and the namespaces they stand for.
TYPE_NAMESPACES = {
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "wsdp": "http://schemas.xmlsoap.org/ws/2006/02/devprof",
}

DEFAULT_TYPES = ["dn:NetworkVideoTransmitter", "tds:Device"]
DEFAULT_SCOPES = [
    "onvif://www.onvif.org/type/video_encoder",
    "onvif://www.onvif.org/Profile/Streaming",
    "onvif://www.onvif.org/name/Sightline%20Simulated%20Camera",
    "onvif://www.onvif.org/hardware/SL-SIM-1",
    "onvif://www.onvif.org/location/country/nowhere",
]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class ResponderError(Exception):
    """The responder was configured with something it cannot serve."""


def _resolve_type(qname: str) -> tuple[str, str]:
    prefix, sep, local = qname.partition(":")
    if not sep or prefix not in TYPE_NAMESPACES:
        raise ResponderError(
            f"responder type {qname!r} must be prefix:Name with a prefix among "
            f"{sorted(TYPE_NAMESPACES)}"
        )
    return TYPE_NAMESPACES[prefix], local


class WsDiscoveryResponder:
    """Answers WS-Discovery Probe and Resolve for one simulated device until :meth:`stop`.

    ``endpoint_reference`` is the stable identity (``urn:uuid:…``); ``xaddrs``
    the device service URLs it advertises; ``interface`` the IPv4 address it
    listens and answers on. See the module docstring for the fault switches.
    """

    def __init__(
        self,
        endpoint_reference: str,
        xaddrs: list[str],
        types: list[str] | None = None,
        scopes: list[str] | None = None,
        interface: str = "127.0.0.1",
        include_xaddrs: bool = True,
        reply_from_ephemeral_port: bool = True,
        duplicate_replies: int = 0,
        metadata_version: int = 1,
        *,
        reuse_message_id: bool = False,
        stale_xaddrs: list[str] | None = None,
        send_hello: bool = False,
        answer_unicast: bool = True,
    ) -> None:
        self.endpoint_reference = endpoint_reference
        self.xaddrs = list(xaddrs)
        self.types = list(types if types is not None else DEFAULT_TYPES)
        self._type_names = {_resolve_type(t) for t in self.types}
        self.scopes = list(scopes if scopes is not None else DEFAULT_SCOPES)
        self.interface = interface
        self.include_xaddrs = include_xaddrs
        self.reply_from_ephemeral_port = reply_from_ephemeral_port
        if duplicate_replies < 0:
            raise ResponderError(f"duplicate_replies must be >= 0, not {duplicate_replies}")
        self.duplicate_replies = duplicate_replies
        self.metadata_version = metadata_version
        self.reuse_message_id = reuse_message_id
        self.stale_xaddrs = list(stale_xaddrs) if stale_xaddrs is not None else None
        self.send_hello = send_hello
        self.answer_unicast = answer_unicast
        self._fixed_message_id = f"urn:uuid:{uuid.uuid4()}"
        self._instance_id = 1
        self._message_number = 0
        self._lock = threading.Lock()
        self._group_sock: socket.socket | None = None
        self._unicast_sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.answers_unicast = False
        self.probes_answered = 0
        #: MessageIDs of the probes answered, so a test can tell its own probes from anyone else's
        #: (another program probing on the same host answers too).
        self.answered_probe_ids: list[str] = []
        self.resolves_answered = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Join the group and begin answering; returns once the sockets are ready."""
        if self._thread is not None:
            raise RuntimeError("WsDiscoveryResponder.start() called twice")
        self._group_sock = self._open_group_socket()
        self._unicast_sock = self._open_unicast_socket() if self.answer_unicast else None
        self.answers_unicast = self._unicast_sock is not None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"wsd-responder-{self.interface}", daemon=True
        )
        self._thread.start()
        if self.send_hello:
            self._multicast(self._hello())

    def stop(self) -> None:
        """Send Bye (when Hello is on), stop answering and close the sockets. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        if self.send_hello:
            self._multicast(self._bye())
        self._stopping.set()
        assert self._wake_w is not None
        self._wake_w.send(b"x")
        thread.join(timeout=5)
        for sock in (self._group_sock, self._unicast_sock, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._group_sock = self._unicast_sock = self._wake_r = self._wake_w = None
        self._thread = None

    def __enter__(self) -> WsDiscoveryResponder:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def move_to(self, xaddrs: list[str]) -> None:
        """Change the advertised address, as a camera that got a new DHCP lease does.

        The metadata version goes up, so clients can tell the new address from the old.
        """
        with self._lock:
            self.xaddrs = list(xaddrs)
            self.metadata_version += 1
        if self.send_hello and self._thread is not None:
            self._multicast(self._hello())

    # -------------------------------------------------------------- sockets

    def _open_group_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            # Bound to the group, the socket sees only discovery multicast, not
            # unicast traffic meant for someone else's port 3702.
            sock.bind((MULTICAST_GROUP, WS_DISCOVERY_PORT))
        except OSError:
            sock.bind(("", WS_DISCOVERY_PORT))  # Windows cannot bind a group address
        membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton(self.interface)
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except OSError as exc:
            sock.close()
            raise ResponderError(
                f"cannot join {MULTICAST_GROUP} on interface {self.interface}: {exc}"
            ) from exc
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        return sock

    def _open_unicast_socket(self) -> socket.socket | None:
        # No SO_REUSEADDR: two responders sharing one unicast address:port
        # would split the probes between them at random.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.bind((self.interface, WS_DISCOVERY_PORT))
        except OSError as exc:
            sock.close()
            # Expected whenever two simulated cameras share an address (the demo's two on
            # 127.0.0.1): the first answers unicast probes, the others multicast only.
            log.debug(
                "WS-Discovery responder %s: %s:%d is taken (%s); answering multicast only",
                self.endpoint_reference,
                self.interface,
                WS_DISCOVERY_PORT,
                exc,
            )
            return None
        return sock

    def _serve(self) -> None:
        sockets = [s for s in (self._group_sock, self._unicast_sock, self._wake_r) if s]
        while not self._stopping.is_set():
            readable, _, _ = select.select(sockets, [], [])
            for sock in readable:
                if sock is self._wake_r:
                    return
                try:
                    data, source = sock.recvfrom(MAX_DATAGRAM)
                except OSError:
                    continue
                try:
                    self._handle(data, source)
                except Exception:
                    log.exception("WS-Discovery responder failed on a message from %s", source)

    def _multicast(self, payload: bytes) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.bind((self.interface, 0))
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface)
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.sendto(payload, (MULTICAST_GROUP, WS_DISCOVERY_PORT))
        except OSError as exc:
            log.warning("WS-Discovery responder could not multicast: %s", exc)
        finally:
            sock.close()

    def _send_reply(self, payloads: list[bytes], dest: tuple[str, int]) -> None:
        # A socket bound to the group address cannot send (its source would be
        # the group), so "reply from 3702" needs the unicast socket.
        fresh = self.reply_from_ephemeral_port or self._unicast_sock is None
        if fresh:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        else:
            sock = self._unicast_sock
        try:
            if fresh:
                sock.bind((self.interface, 0))
            for payload in payloads:
                for _ in range(1 + self.duplicate_replies):
                    sock.sendto(payload, dest)
        except OSError as exc:
            log.warning("WS-Discovery responder could not reply to %s: %s", dest, exc)
        finally:
            if fresh:
                sock.close()

    # ------------------------------------------------------------- messages

    def _handle(self, data: bytes, source: tuple[str, int]) -> None:
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError:
            log.debug("ignoring a malformed datagram from %s", source)
            return
        body = root.find(f"{{{NS_SOAP}}}Body")
        if body is None or len(body) == 0:
            return
        request = body[0]
        message_id = (root.findtext(f"{{{NS_SOAP}}}Header/{{{NS_WSA}}}MessageID") or "").strip()
        if request.tag == f"{{{NS_WSD}}}Probe" and self._matches_probe(request):
            payloads = [self._probe_matches(message_id, self.xaddrs, self.metadata_version)]
            if self.stale_xaddrs is not None:
                payloads.append(
                    self._probe_matches(message_id, self.stale_xaddrs, self.metadata_version - 1)
                )
            self._send_reply(payloads, source)
            with self._lock:
                self.probes_answered += 1
                self.answered_probe_ids.append(message_id)
        elif request.tag == f"{{{NS_WSD}}}Resolve" and self._matches_resolve(request):
            self._send_reply([self._resolve_matches(message_id)], source)
            with self._lock:
                self.resolves_answered += 1

    def _matches_probe(self, probe: etree._Element) -> bool:
        types_el = probe.find(f"{{{NS_WSD}}}Types")
        for qname in (types_el.text or "").split() if types_el is not None else []:
            prefix, sep, local = qname.rpartition(":")
            namespace = types_el.nsmap.get(prefix if sep else None)
            if (namespace, local) not in self._type_names:
                return False
        scopes_el = probe.find(f"{{{NS_WSD}}}Scopes")
        if scopes_el is not None and (scopes_el.text or "").strip():
            # RFC 3986 prefix matching, simplified: a probed scope matches
            # when one of ours starts with it (segment by segment).
            for wanted in scopes_el.text.split():
                wanted = wanted.rstrip("/")
                if not any(s == wanted or s.startswith(wanted + "/") for s in self.scopes):
                    return False
        return True

    def _matches_resolve(self, resolve: etree._Element) -> bool:
        address = resolve.findtext(f"{{{NS_WSA}}}EndpointReference/{{{NS_WSA}}}Address")
        return (address or "").strip() == self.endpoint_reference

    def _next_header(self, action: str, relates_to: str | None, to: str) -> str:
        with self._lock:
            self._message_number += 1
            number = self._message_number
        message_id = self._fixed_message_id if self.reuse_message_id else f"urn:uuid:{uuid.uuid4()}"
        relates = f"<wsa:RelatesTo>{escape(relates_to)}</wsa:RelatesTo>" if relates_to else ""
        return (
            f"<wsa:MessageID>{message_id}</wsa:MessageID>{relates}"
            f"<wsa:To>{escape(to)}</wsa:To>"
            f"<wsa:Action>{NS_WSD}/{action}</wsa:Action>"
            f'<wsd:AppSequence InstanceId="{self._instance_id}" MessageNumber="{number}"/>'
        )

    def _envelope(self, header: str, body: str) -> bytes:
        prefixes = " ".join(f'xmlns:{p}="{ns}"' for p, ns in TYPE_NAMESPACES.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{NS_SOAP}" xmlns:wsa="{NS_WSA}" '
            f'xmlns:wsd="{NS_WSD}" {prefixes}>'
            f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>"
            f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ).encode()

    def _match_fields(self, xaddrs: list[str] | None, metadata_version: int) -> str:
        addresses = f"<wsd:XAddrs>{escape(' '.join(xaddrs))}</wsd:XAddrs>" if xaddrs else ""
        return (
            "<wsa:EndpointReference>"
            f"<wsa:Address>{escape(self.endpoint_reference)}</wsa:Address>"
            "</wsa:EndpointReference>"
            f"<wsd:Types>{escape(' '.join(self.types))}</wsd:Types>"
            f"<wsd:Scopes>{escape(' '.join(self.scopes))}</wsd:Scopes>"
            f"{addresses}<wsd:MetadataVersion>{metadata_version}</wsd:MetadataVersion>"
        )

    def _probe_matches(self, relates_to: str, xaddrs: list[str], version: int) -> bytes:
        fields = self._match_fields(xaddrs if self.include_xaddrs else None, version)
        return self._envelope(
            self._next_header("ProbeMatches", relates_to, ANONYMOUS),
            f"<wsd:ProbeMatches><wsd:ProbeMatch>{fields}</wsd:ProbeMatch></wsd:ProbeMatches>",
        )

    def _resolve_matches(self, relates_to: str) -> bytes:
        fields = self._match_fields(self.xaddrs, self.metadata_version)
        return self._envelope(
            self._next_header("ResolveMatches", relates_to, ANONYMOUS),
            f"<wsd:ResolveMatches><wsd:ResolveMatch>{fields}</wsd:ResolveMatch>"
            "</wsd:ResolveMatches>",
        )

    def _hello(self) -> bytes:
        fields = self._match_fields(
            self.xaddrs if self.include_xaddrs else None, self.metadata_version
        )
        return self._envelope(
            self._next_header("Hello", None, DISCOVERY_URN), f"<wsd:Hello>{fields}</wsd:Hello>"
        )

    def _bye(self) -> bytes:
        return self._envelope(
            self._next_header("Bye", None, DISCOVERY_URN),
            "<wsd:Bye><wsa:EndpointReference>"
            f"<wsa:Address>{escape(self.endpoint_reference)}</wsa:Address>"
            "</wsa:EndpointReference></wsd:Bye>",
        )


def new_endpoint_reference() -> str:
    """A fresh ``urn:uuid:`` endpoint reference, as a camera burns into its firmware."""
    return f"urn:uuid:{uuid.uuid4()}"
