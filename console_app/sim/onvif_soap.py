"""SOAP 1.2 envelopes, faults and WS-Security checks for the simulated ONVIF camera.

Only what a registering client reads is modelled: the device service
(GetSystemDateAndTime, GetDeviceInformation, GetCapabilities, GetServices)
and the media service (GetProfiles, GetStreamUri, GetSnapshotUri). Replies
are string templates whose every inserted value goes through
:func:`xml.sax.saxutils.escape`, so a camera name like ``Dock <3> & co``
stays well-formed. Requests are parsed with lxml.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
# How far a UsernameToken's Created may be from the camera clock; real cameras use a few seconds.
CREATED_TOLERANCE_S = 5.0


@dataclass(frozen=True)
class SimProfile:
    """One media profile the simulated camera offers (a real camera has 2-3)."""

    token: str
    name: str
    width: int
    height: int
    fps: int = 15
    encoding: str = "H264"
    bitrate_kbps: int = 2048


DEFAULT_PROFILES = (
    SimProfile("main", "MainStream", 1280, 720, 15, "H264", 4096),
    SimProfile("sub", "SubStream", 640, 480, 15, "H264", 1024),
)


class SoapFault(Exception):
    """A fault to send back: ``subcode`` is an ONVIF ``ter:`` code such as ``NotAuthorized``."""

    def __init__(self, code: str, subcode: str, reason: str, http_status: int = 400):
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.http_status = http_status


# ------------------------------------------------------------------ requests


def parse_request(body: bytes) -> tuple[etree._Element, str]:
    """Return the envelope and the operation name (local name of the Body's child)."""
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapFault("s:Sender", "ter:WellFormed", f"request is not well-formed XML: {exc}") from exc
    body_el = root.find("s:Body", NS)
    if body_el is None or len(body_el) == 0:
        raise SoapFault("s:Sender", "ter:WellFormed", "request has no SOAP 1.2 Body")
    return root, etree.QName(body_el[0]).localname


def request_field(envelope: etree._Element, local_name: str) -> str | None:
    """The text of the first element named ``local_name`` in the Body (any namespace)."""
    found = envelope.xpath(f"//*[local-name()='Body']//*[local-name()='{local_name}']")
    return found[0].text.strip() if found and found[0].text else None


def check_username_token(
    envelope: etree._Element, username: str, password: str, camera_now: dt.datetime
) -> None:
    """Raise a NotAuthorized fault unless the WS-Security UsernameToken is valid.

    PasswordDigest = Base64(SHA1(nonce + created + password)) with ``created``
    within :data:`CREATED_TOLERANCE_S` of the camera's clock (``camera_now``),
    which is what makes a skewed camera reject a client that signs with its
    own clock. PasswordText is accepted too, as most cameras do.
    """
    token = envelope.find("s:Header/wsse:Security/wsse:UsernameToken", NS)
    if token is None:
        raise _not_authorized("no WS-Security UsernameToken in the request")
    user = token.findtext("wsse:Username", default="", namespaces=NS)
    pw_el = token.find("wsse:Password", NS)
    if pw_el is None:
        raise _not_authorized("UsernameToken has no Password")
    given = (pw_el.text or "").strip()
    if pw_el.get("Type", "").endswith("#PasswordText"):
        if user != username or given != password:
            raise _not_authorized("wrong user name or password")
        return
    nonce_b64 = token.findtext("wsse:Nonce", default="", namespaces=NS)
    created = token.findtext("wsu:Created", default="", namespaces=NS)
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        created_at = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _not_authorized(f"bad Nonce or Created ({exc})") from exc
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=dt.timezone.utc)
    if abs((created_at - camera_now).total_seconds()) > CREATED_TOLERANCE_S:
        raise _not_authorized("Created is outside the allowed clock window")
    expected = base64.b64encode(
        hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    ).decode("ascii")
    if user != username or given != expected:
        raise _not_authorized("wrong user name or password")


def _not_authorized(why: str) -> SoapFault:
    # The reason text is what Hikvision/Axis send; ``why`` is for the simulator's log only.
    fault = SoapFault("s:Sender", "ter:NotAuthorized", "Sender not Authorized")
    fault.detail = why  # type: ignore[attr-defined]
    return fault


# ------------------------------------------------------------------- replies


def envelope(body_xml: str) -> bytes:
    """Wrap ``body_xml`` in a SOAP 1.2 envelope declaring the ONVIF prefixes."""
    decls = " ".join(f'xmlns:{p}="{uri}"' for p, uri in NS.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {decls}><s:Body>{body_xml}'
        "</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(fault: SoapFault) -> bytes:
    """A SOAP 1.2 Fault with an ONVIF subcode, shaped like real cameras send it."""
    code = escape(fault.code)
    subcode = escape(fault.subcode)
    return envelope(
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">{escape(fault.reason)}</s:Text>"
        "</s:Reason></s:Fault>"
    )


def _date_time(when: dt.datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{when.hour}</tt:Hour><tt:Minute>{when.minute}</tt:Minute>"
        f"<tt:Second>{when.second}</tt:Second></tt:Time><tt:Date><tt:Year>{when.year}</tt:Year>"
        f"<tt:Month>{when.month}</tt:Month><tt:Day>{when.day}</tt:Day></tt:Date>"
    )


def system_date_and_time(camera_now: dt.datetime) -> str:
    """GetSystemDateAndTimeResponse reporting ``camera_now`` (UTC) as the camera clock."""
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime>{_date_time(camera_now)}</tt:UTCDateTime>"
        f"<tt:LocalDateTime>{_date_time(camera_now)}</tt:LocalDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def device_information(manufacturer: str, model: str, firmware: str, serial: str, hardware: str) -> str:
    """GetDeviceInformationResponse."""
    return (
        "<tds:GetDeviceInformationResponse>"
        f"<tds:Manufacturer>{escape(manufacturer)}</tds:Manufacturer><tds:Model>{escape(model)}</tds:Model>"
        f"<tds:FirmwareVersion>{escape(firmware)}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{escape(serial)}</tds:SerialNumber><tds:HardwareId>{escape(hardware)}</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def capabilities(device_xaddr: str, media_xaddr: str) -> str:
    """GetCapabilitiesResponse naming the device and media services only."""
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{escape(device_xaddr)}</tt:XAddr></tt:Device>"
        f"<tt:Media><tt:XAddr>{escape(media_xaddr)}</tt:XAddr><tt:StreamingCapabilities>"
        "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
        "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def services(device_xaddr: str, media_xaddr: str) -> str:
    """GetServicesResponse (the newer way clients find the media service)."""
    items = ((NS["tds"], device_xaddr, 2, 40), (NS["trt"], media_xaddr, 2, 40))
    return "<tds:GetServicesResponse>" + "".join(
        f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{escape(xaddr)}</tds:XAddr>"
        f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
        for ns, xaddr, major, minor in items
    ) + "</tds:GetServicesResponse>"


def profile_xml(profile: SimProfile) -> str:
    """One ``trt:Profiles`` element with its video source and encoder configurations."""
    p = profile
    codec_part = (
        f"<tt:H264><tt:GovLength>{p.fps}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>"
        if p.encoding == "H264" else ""
    )
    return (
        f"<trt:Profiles token={quoteattr(p.token)} fixed=\"true\"><tt:Name>{escape(p.name)}</tt:Name>"
        f"<tt:VideoSourceConfiguration token=\"vsc\"><tt:Name>VideoSource</tt:Name>"
        "<tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>"
        f"<tt:Bounds x=\"0\" y=\"0\" width=\"{p.width}\" height=\"{p.height}\"/></tt:VideoSourceConfiguration>"
        f"<tt:VideoEncoderConfiguration token={quoteattr('vec-' + p.token)}>"
        f"<tt:Name>{escape(p.name)}Encoder</tt:Name><tt:UseCount>1</tt:UseCount>"
        f"<tt:Encoding>{escape(p.encoding)}</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality><tt:RateControl>"
        f"<tt:FrameRateLimit>{p.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{p.bitrate_kbps}</tt:BitrateLimit></tt:RateControl>{codec_part}"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
        "</tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart>"
        "</tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>"
        "</trt:Profiles>"
    )


def profiles(items: tuple[SimProfile, ...] | list[SimProfile]) -> str:
    """GetProfilesResponse."""
    return "<trt:GetProfilesResponse>" + "".join(profile_xml(p) for p in items) + "</trt:GetProfilesResponse>"


def media_uri(operation: str, uri: str) -> str:
    """GetStreamUriResponse / GetSnapshotUriResponse."""
    return (
        f"<trt:{operation}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
        "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
        f"</trt:MediaUri></trt:{operation}Response>"
    )
