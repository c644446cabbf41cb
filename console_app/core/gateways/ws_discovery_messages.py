"""WS-Discovery messages: building Probe and Resolve, reading ProbeMatches and ResolveMatches.

Replies come from untrusted devices on the LAN, so parsing is defensive: a
datagram larger than :data:`MAX_DATAGRAM_BYTES` is not parsed, entities and
network access are off in the XML parser, and the number and length of the
fields taken from one message are capped. Elements are found by local name
so both WS-Discovery 2005/04 (what ONVIF cameras speak) and 1.1 (2009/01)
replies are read; a datagram that is not well-formed XML yields ``None``.
:class:`ReplyCollector` merges the replies of one probe or scan by endpoint reference.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote
from xml.sax.saxutils import escape

from lxml import etree

_log = logging.getLogger(__name__)

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

NS_ONVIF_NETWORK = "http://www.onvif.org/ver10/network/wsdl"
NS_ONVIF_DEVICE = "http://www.onvif.org/ver10/device/wsdl"
#: The two types the console probes for, separately (some cameras answer only one).
NETWORK_VIDEO_TRANSMITTER = (NS_ONVIF_NETWORK, "NetworkVideoTransmitter")
ONVIF_DEVICE = (NS_ONVIF_DEVICE, "Device")
_CONVENTIONAL_PREFIXES = {
    NS_ONVIF_NETWORK: "dn",
    NS_ONVIF_DEVICE: "tds",
    "http://schemas.xmlsoap.org/ws/2006/02/devprof": "wsdp",
}

MAX_DATAGRAM_BYTES = 65_507  # the largest UDP/IPv4 payload
MAX_MATCHES_PER_MESSAGE = 32
MAX_LIST_ITEMS = 64
MAX_FIELD_CHARS = 2048
MAX_RESOLVES_PER_ENDPOINT = 3
MAX_CANDIDATES = 4096

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)
_ONVIF_SCOPE = "onvif://www.onvif.org/"


@dataclass(frozen=True)
class CameraCandidate:
    """A device that answered WS-Discovery, identified by its endpoint reference.

    ``xaddrs`` are its device-service URLs (empty when it gave none and no
    Resolve answered); ``types`` are qualified names written with the usual
    ONVIF prefixes (``dn:NetworkVideoTransmitter``, ``tds:Device``) or as
    ``{namespace}Name``; ``name``, ``hardware`` and ``location`` are decoded
    from its ``onvif://www.onvif.org/…`` scopes; ``source_address`` is the IP
    the reply came from; ``found_via`` the local interface or scan that found it.
    """

    endpoint_reference: str
    xaddrs: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    metadata_version: int = 0
    source_address: str = ""
    found_via: str = field(default="", compare=False)
    name: str = field(default="", compare=False)
    hardware: str = field(default="", compare=False)
    location: str = field(default="", compare=False)

    @property
    def host(self) -> str:
        """The host of the first XAddr, else the reply's source address."""
        for xaddr in self.xaddrs:
            rest = xaddr.split("://", 1)[-1]
            host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
            if host.startswith("["):
                return host[1 : host.find("]")]
            return host.split(":", 1)[0]
        return self.source_address


@dataclass(frozen=True)
class DiscoveryMessage:
    """One parsed WS-Discovery message: its action's local name and what it describes."""

    action: str
    message_id: str
    relates_to: str
    matches: tuple[CameraCandidate, ...]


def new_message_id() -> str:
    """A fresh ``urn:uuid:`` MessageID."""
    return f"urn:uuid:{uuid.uuid4()}"


def type_label(namespace: str | None, local: str) -> str:
    """How a type is shown and stored: ``dn:NetworkVideoTransmitter`` for known namespaces."""
    prefix = _CONVENTIONAL_PREFIXES.get(namespace or "")
    if prefix:
        return f"{prefix}:{local}"
    return f"{{{namespace}}}{local}" if namespace else local


def _envelope(action: str, message_id: str, body: str, extra_ns: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:a="{NS_WSA}" xmlns:d="{NS_WSD}"{extra_ns}>'
        "<s:Header>"
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        f"<a:To>{DISCOVERY_URN}</a:To>"
        f"<a:Action>{NS_WSD}/{action}</a:Action>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def build_probe(message_id: str, probe_type: tuple[str, str] | None) -> bytes:
    """A Probe for one type (``(namespace, local name)``), or for every device with ``None``."""
    if probe_type is None:
        return _envelope("Probe", message_id, "<d:Probe/>")
    namespace, local = probe_type
    return _envelope(
        "Probe",
        message_id,
        f"<d:Probe><d:Types>t:{escape(local)}</d:Types></d:Probe>",
        extra_ns=f' xmlns:t="{escape(namespace)}"',
    )


def build_resolve(message_id: str, endpoint_reference: str) -> bytes:
    """A Resolve asking the device with ``endpoint_reference`` for its XAddrs."""
    return _envelope(
        "Resolve",
        message_id,
        "<d:Resolve><a:EndpointReference>"
        f"<a:Address>{escape(endpoint_reference)}</a:Address>"
        "</a:EndpointReference></d:Resolve>",
    )


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child(element: etree._Element, local: str) -> etree._Element | None:
    for child in element:
        if _local(child) == local:
            return child
    return None


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return (element.text or "").strip()[:MAX_FIELD_CHARS]


def _words(element: etree._Element | None) -> list[str]:
    if element is None:
        return []
    return [w[:MAX_FIELD_CHARS] for w in (element.text or "").split()[:MAX_LIST_ITEMS]]


def _types(element: etree._Element | None) -> tuple[str, ...]:
    labels = []
    for word in _words(element):
        prefix, sep, local = word.rpartition(":")
        namespace = element.nsmap.get(prefix if sep else None) if element is not None else None
        # A prefix the message never declared is kept as written.
        labels.append(type_label(namespace, local) if namespace or not sep else word)
    return tuple(dict.fromkeys(labels))


def decode_scopes(scopes: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``name``, ``hardware`` and ``location`` from ONVIF scope URIs, percent-decoded.

    ``Line_3_camera_1`` and ``Line%203%20camera%201`` both read ``Line 3 camera 1``.
    """
    found = {"name": "", "hardware": "", "location": ""}
    for scope in scopes:
        if not scope.lower().startswith(_ONVIF_SCOPE):
            continue
        kind, _, value = scope[len(_ONVIF_SCOPE) :].partition("/")
        kind = kind.lower()
        if kind in found and value and not found[kind]:
            text = unquote(value.replace("+", " "))
            if kind != "hardware":
                # Scope values cannot hold spaces: firmwares write %20 or underscores.
                # ONVIF Device Manager shows both as spaces; model numbers keep theirs.
                text = text.replace("_", " ")
            found[kind] = " ".join(text.split())
    return found


def _match(element: etree._Element, source_address: str) -> CameraCandidate | None:
    reference = _child(element, "EndpointReference")
    address = _text(_child(reference, "Address")) if reference is not None else ""
    if not address:
        return None
    try:
        version = int(_text(_child(element, "MetadataVersion")) or 0)
    except ValueError:
        version = 0
    scopes = tuple(dict.fromkeys(_words(_child(element, "Scopes"))))
    return CameraCandidate(
        endpoint_reference=address,
        xaddrs=tuple(dict.fromkeys(_words(_child(element, "XAddrs")))),
        types=_types(_child(element, "Types")),
        scopes=scopes,
        metadata_version=max(0, min(version, 2**32 - 1)),
        source_address=source_address,
        **decode_scopes(scopes),
    )


def parse_message(data: bytes, source_address: str) -> DiscoveryMessage | None:
    """Read a datagram; ``None`` when it is too large, not XML, or not a SOAP envelope."""
    if len(data) > MAX_DATAGRAM_BYTES:
        return None
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if _local(root) != "Envelope":
        return None
    header = _child(root, "Header")
    body = _child(root, "Body")
    if body is None or len(body) == 0:
        return None
    payload = body[0]
    action = _local(payload)
    matches: list[CameraCandidate] = []
    if action in ("ProbeMatches", "ResolveMatches"):
        wanted = action[:-2]  # ProbeMatch / ResolveMatch
        for child in payload:
            if _local(child) != wanted:
                continue
            match = _match(child, source_address)
            if match is not None:
                matches.append(match)
            if len(matches) >= MAX_MATCHES_PER_MESSAGE:
                break
    elif action in ("Hello", "Bye"):
        match = _match(payload, source_address)
        if match is not None:
            matches.append(match)
    return DiscoveryMessage(
        action=action,
        message_id=_text(_child(header, "MessageID")) if header is not None else "",
        relates_to=_text(_child(header, "RelatesTo")) if header is not None else "",
        matches=tuple(matches),
    )


class ReplyCollector:
    """Merges matches by endpoint reference and reports each camera once it has an address."""

    def __init__(self, on_found: Callable[[CameraCandidate], None] | None) -> None:
        self._on_found = on_found
        self.by_reference: dict[str, CameraCandidate] = {}
        self._reported: dict[str, CameraCandidate] = {}
        self._resolves: dict[str, int] = {}

    def offer(self, match: CameraCandidate) -> CameraCandidate | None:
        """Merge one match; the merged candidate, or ``None`` when it was ignored."""
        old = self.by_reference.get(match.endpoint_reference)
        if old is None and len(self.by_reference) >= MAX_CANDIDATES:
            return None
        merged = _merge(old, match)
        self.by_reference[match.endpoint_reference] = merged
        if merged.xaddrs:
            self._report(merged)
        return merged

    def wants_resolve(self, candidate: CameraCandidate) -> bool:
        """Whether to send (another) Resolve for a candidate without XAddrs."""
        if candidate.xaddrs:
            return False
        count = self._resolves.get(candidate.endpoint_reference, 0)
        if count >= MAX_RESOLVES_PER_ENDPOINT:
            return False
        self._resolves[candidate.endpoint_reference] = count + 1
        return True

    def finish(self) -> list[CameraCandidate]:
        """Report what is still unresolved (with no XAddrs) and return everything found."""
        for candidate in self.by_reference.values():
            if candidate.endpoint_reference not in self._reported:
                self._report(candidate)
        return list(self.by_reference.values())

    def _report(self, candidate: CameraCandidate) -> None:
        if self._reported.get(candidate.endpoint_reference) == candidate:
            return
        self._reported[candidate.endpoint_reference] = candidate
        if self._on_found is None:
            return
        try:
            self._on_found(candidate)
        except Exception:
            # A failing listener must not end discovery for every other camera.
            _log.exception("on_found failed for %s", candidate.endpoint_reference)


def _merge(old: CameraCandidate | None, new: CameraCandidate) -> CameraCandidate:
    if old is None:
        return new
    if new.metadata_version < old.metadata_version:
        return old  # a stale reply (old address) arriving late
    if new.metadata_version > old.metadata_version:
        # The device changed: its old addresses may be stale, so only a new
        # XAddrs (or a Resolve) gives it an address again.
        return replace(new, found_via=old.found_via or new.found_via)
    types = tuple(dict.fromkeys(old.types + new.types))
    scopes = tuple(dict.fromkeys(old.scopes + new.scopes))
    return replace(
        old,
        xaddrs=new.xaddrs or old.xaddrs,
        types=types,
        scopes=scopes,
        source_address=new.source_address or old.source_address,
        **decode_scopes(scopes),
    )
