"""Plain, immutable values that cross the inventory's boundary (no ORM objects leak out).

The UI and services get :class:`CameraRecord` / :class:`DeviceRecord` snapshots
they can hand between threads; each carries ``version_id``, the version an edit
must name (``expected_version``) to be applied.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from console_app.core.persistence.models import Camera, CameraProfile, Device
from device_runtime.media.redact import split_url_password


def as_utc(value: datetime | None) -> datetime | None:
    """Timezone-aware UTC (SQLite hands back naive datetimes for what we stored as UTC)."""
    if value is None:
        return None
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def strip_credentials(uri: str | None) -> str | None:
    """``uri`` without ``user:password@`` and without the value of a password query parameter
    (``?user=admin&pwd=x`` keeps ``pwd=`` as the place to put it back): the password belongs in
    the credential store."""
    if not uri:
        return uri
    parts = urllib.parse.urlsplit(uri)
    if "@" in parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        uri = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return split_url_password(uri)[0]


@dataclass(frozen=True)
class ProfileRecord:
    """One media profile of a camera: what the engineer chooses between."""

    token: str
    name: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    stream_uri: str | None = None

    @classmethod
    def from_object(cls, obj: Any) -> ProfileRecord:
        """Read a profile from any object (or dict) with these attribute names."""
        get = (
            obj.get
            if isinstance(obj, dict)
            else (lambda name, default=None: getattr(obj, name, default))
        )
        return cls(
            token=str(get("token")),
            name=get("name"),
            codec=get("codec") or get("encoding"),
            width=get("width"),
            height=get("height"),
            fps=get("fps"),
            stream_uri=strip_credentials(get("stream_uri")),
        )


# Alternative attribute names accepted by CameraDraft.from_registration, so the
# registration wizard's value can be passed as it is.
_ALIASES = {
    "onvif_port": ("onvif_port", "port"),
    "stream_uri": ("stream_uri", "chosen_stream_uri"),
    "profile_token": ("profile_token", "chosen_profile_token"),
    "clock_offset_s": ("clock_offset_s", "clock_offset"),
}


@dataclass(frozen=True)
class CameraDraft:
    """What registration found out about a camera: the input of ``add_camera``.

    ``stream_uri`` and ``snapshot_uri`` must not carry credentials (they are
    stripped); the password is passed to ``add_camera`` separately.
    """

    name: str
    host: str
    stream_uri: str
    onvif_port: int | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    endpoint_reference: str | None = None
    profile_token: str | None = None
    snapshot_uri: str | None = None
    auth_method: str | None = None
    clock_offset_s: float = 0.0
    username: str | None = None
    reachable_via_device_id: str | None = None
    profiles: tuple[ProfileRecord, ...] = ()

    @classmethod
    def from_registration(cls, registration: Any) -> CameraDraft:
        """A draft from any object with these attribute names (or the aliases
        ``port``, ``chosen_stream_uri``, ``chosen_profile_token``, ``clock_offset``)."""
        if isinstance(registration, CameraDraft):
            return registration
        values: dict[str, Any] = {}
        for f in fields(cls):
            names = _ALIASES.get(f.name, (f.name,))
            if f.name == "onvif_port" and hasattr(registration, "onvif_port"):
                names = ("onvif_port",)  # None there means "no ONVIF": its ``port`` is the RTSP port
            for name in names:
                value = getattr(registration, name, None)
                if value is not None:
                    values[f.name] = value
                    break
        values["profiles"] = tuple(ProfileRecord.from_object(p) for p in values.get("profiles", ()))
        missing = [n for n in ("name", "host", "stream_uri") if not values.get(n)]
        if missing:
            raise ValueError(
                f"a camera registration needs {', '.join(missing)}; got {registration!r}"
            )
        return cls(**values)


@dataclass(frozen=True)
class CameraRecord:
    """A registered camera as stored (no secrets: ``credential_ref`` names the password)."""

    id: int
    version_id: int
    name: str
    host: str
    stream_uri: str
    onvif_port: int | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    endpoint_reference: str | None
    profile_token: str | None
    snapshot_uri: str | None
    auth_method: str | None
    clock_offset_s: float
    username: str | None
    credential_ref: str | None
    reachable_via_device_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None
    profiles: tuple[ProfileRecord, ...] = field(default=())

    @classmethod
    def from_row(cls, row: Camera) -> CameraRecord:
        return cls(
            id=row.id,
            version_id=row.version_id,
            name=row.name,
            host=row.host,
            stream_uri=row.stream_uri,
            onvif_port=row.onvif_port,
            manufacturer=row.manufacturer,
            model=row.model,
            serial=row.serial,
            endpoint_reference=row.endpoint_reference,
            profile_token=row.profile_token,
            snapshot_uri=row.snapshot_uri,
            auth_method=row.auth_method,
            clock_offset_s=row.clock_offset_s,
            username=row.username,
            credential_ref=row.credential_ref,
            reachable_via_device_id=row.reachable_via_device_id,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            updated_by=row.updated_by,
            profiles=tuple(_profile_record(p) for p in row.profiles),
        )


def _profile_record(row: CameraProfile) -> ProfileRecord:
    return ProfileRecord(
        token=row.token,
        name=row.name,
        codec=row.codec,
        width=row.width,
        height=row.height,
        fps=row.fps,
        stream_uri=row.stream_uri,
    )


@dataclass(frozen=True)
class DeviceRecord:
    """A known appliance (the client key lives in the credential store under ``client_key_ref``)."""

    id: int
    version_id: int
    device_id: str
    name: str
    host: str
    port: int
    software_version: str | None
    paired: bool
    pinned_fingerprint: str | None
    device_cert_pem: str | None
    client_cert_pem: str | None
    client_key_ref: str | None
    last_seen: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def from_row(cls, row: Device) -> DeviceRecord:
        return cls(
            id=row.id,
            version_id=row.version_id,
            device_id=row.device_id,
            name=row.name,
            host=row.host,
            port=row.port,
            software_version=row.software_version,
            paired=row.paired,
            pinned_fingerprint=row.pinned_fingerprint,
            device_cert_pem=row.device_cert_pem,
            client_cert_pem=row.client_cert_pem,
            client_key_ref=row.client_key_ref,
            last_seen=as_utc(row.last_seen),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            updated_by=row.updated_by,
        )
