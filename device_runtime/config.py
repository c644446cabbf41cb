"""Device runtime configuration.

Declared as pydantic models that reject unknown keys, with a title and a
description on every field: the field text is the documentation
(``sightline-device config-schema`` prints it as JSON Schema). Values come
from a JSON file (``--config``), then command-line flags override them.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from device_runtime.errors import InvalidArgument

DEFAULT_PORT = 7443


class ConfigError(InvalidArgument):
    """The configuration file or a flag is wrong; the message names the key."""


class DeviceConfig(BaseModel):
    """Everything a site may set on a device."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        default_factory=socket.gethostname,
        title="Device name",
        description="Shown in the console and advertised on the LAN. Defaults to the host name.",
        min_length=1,
        max_length=63,
    )
    data_dir: Path = Field(
        default=Path("/var/lib/sightline"),
        title="Data folder",
        description="Where the device keeps its identity, paired clients, installed apps, models, desired state and snapshots.",
    )
    listen: str = Field(
        default=f"0.0.0.0:{DEFAULT_PORT}",
        title="API address",
        description="HOST:PORT the TLS gRPC API binds. Port 0 picks a free port (tests).",
    )
    interfaces: list[str] | None = Field(
        default=None,
        title="Advertise on",
        description="IPv4 addresses whose interfaces carry the mDNS advert. Unset: every interface.",
    )
    advertise: bool = Field(
        default=True,
        title="Advertise on the LAN",
        description="Publish _sightline._tcp over mDNS so consoles find the device.",
    )
    providers: list[str] | None = Field(
        default=None,
        title="Execution providers",
        description="Preferred onnxruntime providers, in order: tensorrt, cuda, cpu. Unset: GPU first, whatever loads.",
    )
    video_backend: Literal["auto", "opencv", "gstreamer"] = Field(
        default="auto",
        title="Camera decoding",
        description=(
            "How RTSP cameras are read: auto (GStreamer where a hardware video decoder is present, "
            "else OpenCV), opencv or gstreamer. A camera URL's #backend=... overrides it."
        ),
    )
    max_upload_bytes: int = Field(
        default=2 * 1024**3,
        title="Largest upload",
        description="Packages and models larger than this are refused before any byte is stored.",
        gt=0,
    )
    keep_versions: int = Field(
        default=5,
        title="Versions kept per app",
        description="Installed versions kept for rollback; older ones are pruned.",
        ge=2,
    )
    snapshot_limit: int = Field(
        default=500,
        title="Event snapshots kept",
        description="Most recent event snapshots kept on disk; older ones are deleted.",
        ge=0,
    )
    require_signed_packages: bool = Field(
        default=True,
        title="Require signed app packages",
        description=(
            "Install only app packages signed by a paired console's key (Ed25519, sent at pairing); "
            "unsigned or tampered packages are refused. Turn off only on a development bench: "
            "then any paired client may install any package."
        ),
    )
    log_level: str = Field(
        default="INFO",
        title="Log level",
        description="DEBUG, INFO, WARNING or ERROR.",
    )
    metrics_listen: str | None = Field(
        default=None,
        title="Prometheus metrics address",
        description="HOST:PORT where GET /metrics serves Prometheus metrics (plain HTTP, no authentication: "
        "bind it to a management interface, e.g. '10.0.0.7:9464'). Unset: off.",
    )
    outbox_max_mb: int = Field(
        default=256,
        ge=1,
        le=1024 * 1024,
        title="Outbox size limit (MiB)",
        description="Largest size of the queue of undelivered output messages (MQTT, PLC, webhook, ...) in "
        "the data folder; past it the oldest messages are dropped and counted per output.",
    )
    outbox_max_age_h: float = Field(
        default=168.0,
        gt=0,
        title="Outbox age limit (hours)",
        description="Undelivered output messages older than this are dropped and counted per output "
        "(default a week: survives a long weekend without the network).",
    )
    outbox_write_behind_s: float = Field(
        default=0.2,
        ge=0,
        le=10,
        title="Outbox write-behind (seconds)",
        description="How long an output message may wait in memory for its receiver's confirmation before "
        "it is written to disk. Messages confirmed in time never touch the disk (less CPU, less flash wear); "
        "a power cut can lose the undelivered messages of this last interval. 0: every message is written "
        "to disk at once, before or while it is delivered.",
    )
    outputs_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        title="Outputs process niceness",
        description="The CPU priority of the outputs process (which runs every output's client library) below "
        "the cameras' and inference's (Linux nice, 0-19). When the CPU is saturated, output work waits for "
        "the gaps instead of taking frames from the cameras; a delivery may start some milliseconds later. "
        "0: the same priority as the cameras (for PLC outputs that must never wait).",
    )

    @field_validator("listen", "metrics_listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is None:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """One readable line per problem: ``source: field.path: message``."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {path}: {msg}")
    return "; ".join(lines)


def load_config(path: Path | None = None, **overrides: object) -> DeviceConfig:
    """Read ``path`` (JSON) if given, apply non-None ``overrides``, validate."""
    data: dict[str, object] = {}
    source = "flags"
    if path is not None:
        source = str(path)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object at the top level")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DeviceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
