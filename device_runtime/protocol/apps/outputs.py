"""Outputs: where an app's events go besides the console (MQTT, webhooks, PLCs, OPC UA, S3, CloudWatch).

A detector manifest may carry ``"outputs": [...]``; each entry names one
destination, which events it takes (:class:`EventFilter`) and what it sends
(templates over :data:`PAYLOAD_FIELDS`). Secrets (passwords, tokens, keys)
are never in the manifest: an output names them (``password_secret:
"output/plant-mqtt/password"``) and the device reads them from its secret
store when it delivers, so they appear in no manifest, log, event, health
report or error text.

Templates and the documented fields live in :mod:`.templates` (re-exported here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.templates import (  # noqa: F401 - re-exported: part of this module's API
    PAYLOAD_FIELDS,
    check_template,
    default_payload,
    event_fields,
    payload_problems,
    render_payload,
    render_text,
    template_fields,
)
from device_runtime.protocol.apps.validation import (
    FieldProblems,
    StrictModel,
    describe_error,
    describe_validation_error,
    format_loc,
    show_value,
)

EVENT_KINDS = ("zone_entered", "zone_left", "line_crossed", "count_changed", "dwell_exceeded")

OUTPUT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,199}$")


def secret_name(output: str, what: str) -> str:
    """The conventional secret name for an output's ``what`` (``output/<name>/<what>``)."""
    return f"output/{output}/{what}"


class EventFilter(StrictModel):
    """Which events an output takes; an empty list means "any"."""

    kinds: list[Literal["zone_entered", "zone_left", "line_crossed", "count_changed", "dwell_exceeded"]] = Field(
        default_factory=list,
        title="Event kinds",
        description="Event kinds to send; empty: every kind.",
    )
    cameras: list[str] = Field(
        default_factory=list, title="Cameras", description="Camera ids to take events from; empty: all."
    )
    zones: list[str] = Field(
        default_factory=list,
        title="Zones",
        description="Zone names; an event about another zone (or about a line only) is skipped. Empty: any.",
    )
    lines: list[str] = Field(
        default_factory=list,
        title="Lines",
        description="Line names; an event about another line (or about a zone only) is skipped. Empty: any.",
    )
    classes: list[str] = Field(
        default_factory=list,
        title="Classes",
        description="Object classes; events about other classes are skipped (counts have no class "
        "and pass only when this is empty). Empty: any.",
    )
    min_interval_s: float = Field(
        default=0.0,
        ge=0.0,
        le=86400.0,
        title="Minimum interval (debounce)",
        description="After an event is sent, the same kind of event for the same camera, zone/line "
        "and class is skipped for this many seconds (counted as suppressed). 0: send every event.",
    )

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` (an event dict) passes every list of this filter (the interval is not checked here)."""
        if self.kinds and event.get("type") not in self.kinds:
            return False
        if self.cameras and event.get("camera_id") not in self.cameras:
            return False
        if self.zones and event.get("zone") not in self.zones:
            return False
        if self.lines and event.get("line") not in self.lines:
            return False
        return not (self.classes and event.get("label") not in self.classes)

    @staticmethod
    def debounce_key(event: Mapping[str, Any]) -> tuple[str, ...]:
        """What "the same event" means for :attr:`min_interval_s`."""
        return tuple(str(event.get(k, "")) for k in ("type", "camera_id", "zone", "line", "label"))


def _secret_field(description: str) -> Any:
    return Field(
        default="",
        title="Secret name",
        description=description + " The name of a secret in the device's secret store "
        "(e.g. 'output/<output name>/password'); the value never appears in the manifest. '' for none.",
    )


class _OutputBase(StrictModel):
    name: str = Field(
        title="Output name",
        description="Unique in the app; 1-63 lowercase letters, digits, '_' or '-'. Names its counters in health.",
    )
    enabled: bool = Field(default=True, title="Enabled", description="Off: events are not queued for this output.")
    events: EventFilter = Field(
        default_factory=EventFilter, title="Events", description="Which events this output takes."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not OUTPUT_NAME_PATTERN.match(value):
            raise ValueError(
                f"output name {show_value(value)} is not valid: use 1-63 lowercase letters, "
                "digits, '_' or '-', starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _valid_secret_names(self) -> _OutputBase:
        problems = []
        for field_name in type(self).model_fields:
            value = getattr(self, field_name)
            if field_name.endswith("_secret") and value and not SECRET_NAME_PATTERN.match(value):
                problems.append(((field_name,), f"secret name {show_value(value)} is not valid"))
        if problems:
            raise FieldProblems(problems)
        return self

    def secret_names(self) -> list[str]:
        """Names of the secrets this output needs from the device's store."""
        names = [getattr(self, f) for f in type(self).model_fields if f.endswith("_secret")]
        headers = getattr(self, "header_secrets", {}) or {}
        return [n for n in names if n] + [n for n in headers.values() if n]


class _PayloadMixin(StrictModel):
    payload: dict[str, Any] | None = Field(
        default=None,
        title="Payload template",
        description="JSON object whose strings are templates over the payload fields; "
        "\"{count}\" alone keeps the number. Unset: every documented field.",
    )

    @field_validator("payload")
    @classmethod
    def _valid_payload(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            problems = payload_problems(value)
            if problems:
                raise FieldProblems(problems)
        return value

    def render(self, fields: Mapping[str, Any]) -> Any:
        """The payload for one event's fields."""
        return default_payload(fields) if self.payload is None else render_payload(self.payload, fields)


class MqttOutput(_PayloadMixin, _OutputBase):
    """Publish each event as JSON to an MQTT broker (also AWS IoT Core: mqtts on 8883 with a client certificate)."""

    kind: Literal["mqtt"] = Field(title="Kind", description="'mqtt'.")
    url: str = Field(
        title="Broker URL",
        description="mqtt://host:1883 (plain) or mqtts://host:8883 (TLS). AWS IoT Core: "
        "mqtts://<endpoint>-ats.iot.<region>.amazonaws.com:8883 with a client certificate.",
    )
    topic: str = Field(
        default="sightline/{device}/{app}/{camera}/{event}",
        title="Topic template",
        description="Topic per event, a template over the payload fields.",
    )
    qos: Literal[0, 1, 2] = Field(
        default=1,
        title="QoS",
        description="0: at most once (no acknowledgement); 1: at least once (the outbox waits for "
        "PUBACK); 2: exactly once between device and broker.",
    )
    retain: bool = Field(default=False, title="Retain", description="Ask the broker to keep the last message per topic.")
    client_id: str = Field(
        default="",
        max_length=128,
        title="Client id",
        description="MQTT client id; '' makes 'sightline-<device>-<app>-<output>' (AWS IoT policies often require the thing name).",
    )
    username: str = Field(default="", title="User name", description="Broker user name; '' for none.")
    password_secret: str = _secret_field("Broker password.")
    ca_cert: str = Field(
        default="",
        title="CA certificate (PEM)",
        description="Certificate(s) that sign the broker's; '' uses the system's trust store (mqtts only).",
    )
    client_cert: str = Field(
        default="",
        title="Client certificate (PEM)",
        description="Device certificate for brokers that authenticate clients by X.509 (AWS IoT Core).",
    )
    client_key_secret: str = _secret_field("Private key (PEM) of the client certificate.")
    online_topic: str = Field(
        default="",
        title="Online topic",
        description="If set, 'online' is published here (retained) on connect and 'offline' is the "
        "broker's last will, so SCADA sees when the device drops off. Template over device/app/output.",
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, title="Keep-alive", description="Seconds between MQTT pings.")
    timeout_s: float = Field(
        default=10.0, gt=0, le=120, title="Timeout", description="Seconds to wait for the connection or an acknowledgement."
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"expected mqtt://host[:port] or mqtts://host[:port], got {show_value(value)}")
        if parts.username or parts.password:
            raise ValueError("put the user name in 'username' and the password in the secret store, not in the URL")
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return value

    _topic = field_validator("topic", "online_topic")(classmethod(lambda cls, v: check_template(v)))

    @model_validator(mode="after")
    def _tls_settings_need_mqtts(self) -> MqttOutput:
        if (self.ca_cert or self.client_cert) and not self.url.startswith("mqtts://"):
            raise FieldProblems([(("url",), "certificates are set: use an mqtts:// URL")])
        if bool(self.client_cert) != bool(self.client_key_secret):
            raise FieldProblems([(("client_key_secret",), "a client certificate needs its key secret, and a key needs a certificate")])
        return self


class WebhookOutput(_PayloadMixin, _OutputBase):
    """POST each event as JSON to an HTTP(S) URL."""

    kind: Literal["webhook"] = Field(title="Kind", description="'webhook'.")
    url: str = Field(title="URL", description="http:// or https:// address the JSON is POSTed to.")
    headers: dict[str, str] = Field(
        default_factory=dict, title="Headers", description="Extra request headers (not secret: use header_secrets)."
    )
    header_secrets: dict[str, str] = Field(
        default_factory=dict,
        title="Secret headers",
        description="Header name → secret name, e.g. {\"Authorization\": \"output/chat/token\"}; "
        "the value comes from the device's secret store.",
    )
    hmac_secret: str = _secret_field(
        "Key for the signature header: HMAC-SHA256 of the exact body, sent as 'sha256=<hex>'."
    )
    signature_header: str = Field(
        default="X-Sightline-Signature", title="Signature header", description="Header that carries the HMAC signature."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, title="Timeout", description="Seconds to wait for the answer.")
    ca_cert: str = Field(default="", title="CA certificate (PEM)", description="Trust for https; '' uses the system's.")

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {show_value(value)}")
        if parts.username or parts.password:
            raise ValueError("put credentials in header_secrets, not in the URL")
        return value


class ModbusOutput(_OutputBase):
    """Write a coil or holding register on a PLC over Modbus TCP."""

    kind: Literal["modbus"] = Field(title="Kind", description="'modbus'.")
    host: str = Field(min_length=1, title="PLC address", description="Host name or IP of the Modbus TCP server.")
    port: int = Field(default=502, ge=1, le=65535, title="Port", description="Modbus TCP port.")
    unit_id: int = Field(default=1, ge=0, le=255, title="Unit id", description="Modbus unit (slave) id.")
    target: Literal["coil", "holding_register"] = Field(
        default="coil", title="Register type", description="'coil' (a bit) or 'holding_register' (16-bit word)."
    )
    address: int = Field(ge=0, le=65535, title="Address", description="Zero-based address of the coil or register.")
    mode: Literal["pulse", "occupied", "count"] = Field(
        default="pulse",
        title="Mode",
        description="'pulse': set to 'value' for pulse_ms then clear (a reject gate, a horn); "
        "'occupied': set while the event's zone holds objects, clear when it is empty (a stack light); "
        "'count': write the event's count (holding register).",
    )
    value: int = Field(default=1, ge=0, le=65535, title="Value", description="Value written when set (coils: any non-zero is ON).")
    pulse_ms: int = Field(default=500, ge=1, le=60000, title="Pulse length", description="Milliseconds the pulse lasts.")
    stale_after_s: float = Field(
        default=0.0,
        ge=0.0,
        title="Stale after",
        description="Events older than this many seconds when the PLC is reachable again are not written "
        "(counted as dropped): a reject pulse for a part long gone must not fire. 0: always write.",
    )
    timeout_s: float = Field(default=3.0, gt=0, le=60, title="Timeout", description="Seconds to wait for the PLC.")

    @model_validator(mode="after")
    def _count_needs_register(self) -> ModbusOutput:
        if self.mode == "count" and self.target != "holding_register":
            raise FieldProblems([(("target",), "mode 'count' writes a number: use 'holding_register'")])
        return self


class OpcUaWrite(StrictModel):
    """One node written per event."""

    node_id: str = Field(min_length=1, title="Node id", description="e.g. 'ns=2;s=Line3.RejectCount'.")
    value: str = Field(
        title="Value template",
        description="Template over the payload fields, e.g. '{count}', 'true', '{class} in {zone}'.",
    )
    type: Literal["int32", "int64", "double", "boolean", "string"] = Field(
        default="string", title="Data type", description="OPC UA type the text is converted to."
    )

    _value = field_validator("value")(classmethod(lambda cls, v: check_template(v)))


class OpcUaOutput(_OutputBase):
    """Write values (a counter, an alarm flag, the last defect text) to nodes of an OPC UA server."""

    kind: Literal["opcua"] = Field(title="Kind", description="'opcua'.")
    url: str = Field(title="Endpoint", description="opc.tcp://host:4840/path of the server.")
    writes: list[OpcUaWrite] = Field(min_length=1, max_length=32, title="Writes", description="Nodes written per event, in order.")
    security_policy: Literal["None", "Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"] = Field(
        default="None", title="Security policy", description="OPC UA security policy."
    )
    security_mode: Literal["Sign", "SignAndEncrypt"] = Field(
        default="SignAndEncrypt", title="Security mode", description="Used when the policy is not 'None'."
    )
    certificate: str = Field(
        default="", title="Client certificate (PEM)", description="Application certificate, needed with a security policy."
    )
    private_key_secret: str = _secret_field("Private key (PEM) of the client certificate.")
    server_certificate: str = Field(
        default="", title="Server certificate (PEM)", description="Pins the server's certificate; '' accepts the one it presents."
    )
    username: str = Field(default="", title="User name", description="'' for anonymous.")
    password_secret: str = _secret_field("Password of the user.")
    timeout_s: float = Field(default=5.0, gt=0, le=60, title="Timeout", description="Seconds to wait for the server.")

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not value.startswith("opc.tcp://") or not urlsplit(value).hostname:
            raise ValueError(f"expected opc.tcp://host:port[/path], got {show_value(value)}")
        return value

    @model_validator(mode="after")
    def _policy_needs_certificate(self) -> OpcUaOutput:
        if self.security_policy != "None" and not (self.certificate and self.private_key_secret):
            raise FieldProblems([(("certificate",), f"security policy {self.security_policy} needs a certificate and private_key_secret")])
        return self


class _AwsMixin(StrictModel):
    region: str = Field(default="us-east-1", min_length=1, title="Region", description="AWS region (any value for most S3-compatible stores).")
    endpoint_url: str = Field(
        default="", title="Endpoint URL", description="S3-compatible or private endpoint; '' for AWS's own."
    )
    access_key_id_secret: str = _secret_field("Access key id.")
    secret_access_key_secret: str = _secret_field("Secret access key.")


class S3Output(_AwsMixin, _OutputBase):
    """Upload each event's JPEG snapshot to a bucket (AWS S3 or any S3-compatible store)."""

    kind: Literal["s3"] = Field(title="Kind", description="'s3'.")
    bucket: str = Field(min_length=3, max_length=63, title="Bucket", description="Bucket name.")
    key: str = Field(
        default="{app}/{camera}/{date}/{event_id}.jpg",
        title="Key template",
        description="Object key per event, a template over the payload fields.",
    )
    overlays: bool = Field(
        default=False,
        title="Draw overlays",
        description="Draw the frame's boxes (class, track and score) and the event's zone or line on the "
        "uploaded JPEG; off: the snapshot as the camera saw it.",
    )

    _key = field_validator("key")(classmethod(lambda cls, v: check_template(v)))


class CloudWatchOutput(_AwsMixin, _OutputBase):
    """Event counts as CloudWatch metrics and event lines as a CloudWatch Logs stream."""

    kind: Literal["cloudwatch"] = Field(title="Kind", description="'cloudwatch'.")
    namespace: str = Field(default="Sightline", min_length=1, title="Metric namespace", description="CloudWatch namespace.")
    metric_name: str = Field(
        default="Events", min_length=1, title="Metric name", description="Count metric, with dimensions App, Camera and Event."
    )
    log_group: str = Field(
        default="", title="Log group", description="Log group for event lines (created if missing); '' sends metrics only."
    )
    log_stream: str = Field(
        default="{device}/{app}", title="Log stream template", description="Log stream name (created if missing)."
    )
    app_log: bool = Field(
        default=False,
        title="Send the app's log",
        description="Also send the app's log records (its own output, and the device's lines about the app and "
        "its outputs) to the log group, through the outbox like events. Needs a log group.",
    )
    app_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", title="App log level", description="Records below this level are not sent."
    )
    app_log_stream: str = Field(
        default="{device}/{app}/log",
        title="App log stream template",
        description="Log stream for the app's log records, a template over 'device' and 'app' (created if missing).",
    )

    _stream = field_validator("log_stream")(classmethod(lambda cls, v: check_template(v)))

    @field_validator("app_log_stream")
    @classmethod
    def _valid_app_log_stream(cls, value: str) -> str:
        unknown = [name for name in template_fields(value) if name not in ("device", "app")]
        if unknown:
            raise ValueError(f"the app log stream may use only {{device}} and {{app}}, not {{{unknown[0]}}}")
        return value

    @model_validator(mode="after")
    def _app_log_needs_group(self) -> CloudWatchOutput:
        if self.app_log and not self.log_group:
            raise FieldProblems([(("log_group",), "app_log sends records to a log group: name one")])
        return self


OutputSpec = Annotated[
    MqttOutput | WebhookOutput | ModbusOutput | OpcUaOutput | S3Output | CloudWatchOutput,
    Field(discriminator="kind"),
]
"""Any output; ``kind`` picks the class."""

OUTPUT_KINDS = ("mqtt", "webhook", "modbus", "opcua", "s3", "cloudwatch")


def output_problems(
    outputs: list[Any],
    *,
    camera_ids: list[str] | None = None,
    labels: list[str] | None = None,
    zones: list[str] | None = None,
    lines: list[str] | None = None,
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems across outputs, as ``(loc, message)`` relative to the list: duplicate names, and
    filters naming cameras, classes, zones or lines the app does not have (when those are given)."""
    first: dict[str, int] = {}
    problems = []
    known = {"cameras": camera_ids, "classes": labels, "zones": zones, "lines": lines}
    for index, output in enumerate(outputs):
        if output.name in first:
            problems.append(
                ((index, "name"), f"output name {show_value(output.name)} is already used by outputs[{first[output.name]}]")
            )
        first.setdefault(output.name, index)
        for field_name, allowed in known.items():
            if allowed is None:
                continue
            for position, value in enumerate(getattr(output.events, field_name)):
                if value not in allowed:
                    problems.append(
                        (
                            (index, "events", field_name, position),
                            f"{show_value(value)} is not one of the app's {field_name} "
                            f"({', '.join(allowed) or 'none'})",
                        )
                    )
    return problems


_OUTPUT_ADAPTER: TypeAdapter[Any] = TypeAdapter(OutputSpec)


def parse_output(data: str | bytes | Mapping[str, Any], source: str = "output") -> Any:
    """One output (JSON text or data) validated into its kind's model; ManifestError naming each problem."""
    raw = load_output_json(data, source)
    try:
        return _OUTPUT_ADAPTER.validate_python(raw)
    except ValidationError as error:
        raise ManifestError(describe_validation_error(error, source)) from None


def output_field_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field path, problem)`` for one output's data; empty when it is valid (for forms)."""
    try:
        _OUTPUT_ADAPTER.validate_python(dict(data))
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            for loc, message in describe_error(item):
                # The first element is the union's tag (the kind); forms name fields without it.
                path = format_loc(loc[1:] if loc and loc[0] == data.get("kind") else loc)
                problems.append((path, message))
        return problems
    return []


def load_output_json(data: str | bytes | Mapping[str, Any], source: str) -> dict[str, Any]:
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ManifestError([f"{source}: not valid JSON: {exc}"]) from None
    if not isinstance(data, Mapping):
        raise ManifestError([f"{source}: expected a JSON object"])
    return dict(data)
