"""The inventory's ORM tables (SQLAlchemy 2 typed declarative).

Every table an engineer edits carries ``version_id``, SQLAlchemy's
``version_id_col``: each ORM UPDATE says ``WHERE id = ? AND version_id = ?``
and bumps it, so when two consoles edit one row the second UPDATE matches
nothing and we report an :class:`~console_app.core.persistence.errors.EditConflict`
instead of silently overwriting the first console's change.

Secrets are never columns: ``credential_ref`` / ``client_key_ref`` are keys into
:class:`console_app.core.credentials.CredentialStore`.

``models``, ``apps`` and ``app_versions`` belong to the next issue (model library,
deployments); they are here, minimal, so the migration history starts complete.

A change here needs a new migration in ``migrations/versions``; a test compares
the migrated schema with this metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names: migrations can then drop/alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column stores)."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with the project's naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Device(Base):
    """A Sightline appliance: seen by discovery, added by address, and (maybe) paired."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    software_version: Mapped[str | None] = mapped_column(String(64))
    paired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hex SHA-256 of the device certificate learnt at pairing; a different one is refused.
    pinned_fingerprint: Mapped[str | None] = mapped_column(String(64))
    device_cert_pem: Mapped[str | None] = mapped_column(Text)
    client_cert_pem: Mapped[str | None] = mapped_column(Text)
    client_key_ref: Mapped[str | None] = mapped_column(String(200))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )
    updated_by: Mapped[str | None] = mapped_column(String(255))
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}


class Camera(Base):
    """A registered IP camera. The stream URI is stored without credentials."""

    __tablename__ = "cameras"
    __table_args__ = (UniqueConstraint("manufacturer", "serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    onvif_port: Mapped[int | None] = mapped_column(Integer)
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(200))
    # WS-Discovery's stable identity (urn:uuid:…); NULL for cameras added by RTSP URL.
    endpoint_reference: Mapped[str | None] = mapped_column(String(255), unique=True)
    stream_uri: Mapped[str] = mapped_column(Text)
    profile_token: Mapped[str | None] = mapped_column(String(200))
    snapshot_uri: Mapped[str | None] = mapped_column(Text)
    auth_method: Mapped[str | None] = mapped_column(String(32))
    clock_offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    username: Mapped[str | None] = mapped_column(String(200))
    credential_ref: Mapped[str | None] = mapped_column(String(200))
    reachable_via_device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.device_id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )
    updated_by: Mapped[str | None] = mapped_column(String(255))
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    profiles: Mapped[list[CameraProfile]] = relationship(
        back_populates="camera",
        cascade="all, delete-orphan",
        order_by="CameraProfile.id",
        passive_deletes=True,
    )

    __mapper_args__ = {"version_id_col": version_id}


class CameraProfile(Base):
    """One ONVIF media profile of a camera, as read at registration.

    Owned by its camera: profiles change only with their camera (re-probe),
    whose ``version_id`` guards the edit.
    """

    __tablename__ = "camera_profiles"
    __table_args__ = (UniqueConstraint("camera_id", "token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    codec: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    stream_uri: Mapped[str | None] = mapped_column(Text)

    camera: Mapped[Camera] = relationship(back_populates="profiles")


class Model(Base):
    """An ONNX model in the console's library (next issue)."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    decoder: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[Any] = mapped_column(JSON, default=list)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}


class App(Base):
    """An application the console can deploy (next issue)."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    versions: Mapped[list[AppVersion]] = relationship(
        back_populates="app", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version_id}


class AppVersion(Base):
    """One built, immutable version of an app: its manifest and package digest (next issue)."""

    __tablename__ = "app_versions"
    __table_args__ = (UniqueConstraint("app_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[Any] = mapped_column(JSON)
    package_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    app: Mapped[App] = relationship(back_populates="versions")


# Tables of later migrations live in modules of their own; importing them here keeps
# Base.metadata complete, so the migrated schema can be compared with the ORM's.
from console_app.core.persistence import app_models, library_models  # noqa: E402,F401
