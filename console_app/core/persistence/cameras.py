"""Registered cameras: add (with the password in the credential store), list, edit, delete.

Every write is one unit of work. ``add_camera`` stores the password first and
removes it again if the database write fails, so there is never a row without
its secret nor (short of a crash between the two) a secret without its row.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import exc, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from console_app.core.persistence.database import driver_message
from console_app.core.persistence.errors import (
    DuplicateCamera,
    EditConflict,
    InventoryError,
    NotFound,
)
from console_app.core.persistence.models import Camera, CameraProfile
from console_app.core.persistence.records import (
    CameraDraft,
    CameraRecord,
    ProfileRecord,
    strip_credentials,
)
from console_app.core.persistence.unit_of_work import Repository, conflict
from device_runtime.media.redact import (
    split_credentials,
    split_url_password,
    with_camera_credentials,
)

#: Fields an engineer may change with ``update_camera``.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "host",
        "onvif_port",
        "manufacturer",
        "model",
        "serial",
        "endpoint_reference",
        "stream_uri",
        "profile_token",
        "snapshot_uri",
        "auth_method",
        "clock_offset_s",
        "username",
        "reachable_via_device_id",
    }
)
_URI_FIELDS = ("stream_uri", "snapshot_uri")


class SecretInRecord(InventoryError):
    """The camera's password appears in a field that would be stored in the database."""


class CameraRepository(Repository):
    """Cameras in the inventory. Get one from :class:`InventoryStore` (``store.cameras``)."""

    # -- reads -------------------------------------------------------------------------

    def list_cameras(self) -> list[CameraRecord]:
        """Every registered camera, by name."""
        with self.reading() as session:
            rows = session.scalars(
                select(Camera)
                .options(selectinload(Camera.profiles))
                .order_by(Camera.name, Camera.id)
            )
            return [CameraRecord.from_row(row) for row in rows]

    def get_camera(self, camera_id: int) -> CameraRecord:
        """The camera with ``camera_id``; :class:`NotFound` when there is none."""
        with self.reading() as session:
            row = session.get(Camera, camera_id)
            if row is None:
                raise NotFound(f"there is no camera #{camera_id} in the inventory (deleted?)")
            return CameraRecord.from_row(row)

    def camera_password(self, camera_id: int) -> str | None:
        """The camera's password from the credential store (``None``: no password set)."""
        ref = self.get_camera(camera_id).credential_ref
        return self.credentials.get(ref) if ref else None

    def stream_url(self, camera_id: int) -> str:
        """The camera's stream URI with its user and password put in, for whatever opens the stream.

        The result holds a secret: hand it to the decoder or the device, never to a log or a label
        (``console_app.core.credentials.redact`` / ``device_runtime.media.redact`` strip it).
        """
        camera = self.get_camera(camera_id)
        if not camera.stream_uri.lower().startswith(("rtsp://", "rtsps://", "http://", "https://")):
            return camera.stream_uri  # sim:// and files carry no credentials
        password = self.credentials.get(camera.credential_ref) if camera.credential_ref else None
        return with_camera_credentials(camera.stream_uri, camera.username, password)

    # -- writes ------------------------------------------------------------------------

    def add_camera(self, registration: Any, password: str | None) -> CameraRecord:
        """Register a camera: password to the credential store, the rest (and the ref) to the DB.

        ``registration``: a :class:`CameraDraft` or any object with its attribute
        names (see :meth:`CameraDraft.from_registration`). Credentials in the URIs
        are stripped. Raises :class:`DuplicateCamera` when the endpoint reference,
        manufacturer+serial or stream URI is already registered; nothing is saved then.
        """
        draft = CameraDraft.from_registration(registration)
        password = _with_query_password(draft, password)
        draft = replace(
            draft,
            stream_uri=strip_credentials(draft.stream_uri),
            snapshot_uri=strip_credentials(draft.snapshot_uri),
        )
        _refuse_secret_in(draft, password)
        ref = f"camera:{uuid.uuid4().hex}" if password else None
        try:
            with self.transaction() as session:
                _refuse_duplicate(session, draft)
                if ref:
                    self.credentials.put(ref, password)
                row = _new_row(draft, ref, self.editor)
                session.add(row)
                session.flush()
                record = CameraRecord.from_row(row)
        except exc.IntegrityError as error:
            self.forget_secret(ref)
            # Most likely another console registered the same camera between our check
            # and our insert: say which one it is.
            with self.reading() as session:
                _refuse_duplicate(session, draft)
            raise InventoryError(
                f"camera '{draft.name}' could not be saved, nothing was stored: the database "
                f"refused it ({driver_message(self.sessions.kw['bind'].url, error)})"
            ) from None
        except BaseException:
            self.forget_secret(ref)
            raise
        return record

    def update_camera(self, camera_id: int, expected_version: int, **changes: Any) -> CameraRecord:
        """Apply ``changes`` if the camera is still at ``expected_version``.

        Raises :class:`EditConflict` when another console changed or deleted it
        first (``conflict.current`` is the record to reload), :class:`DuplicateCamera`
        when the change would make it a duplicate.
        """
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise ValueError(
                f"cannot edit camera field(s) {sorted(unknown)}; editable: {sorted(EDITABLE_FIELDS)}"
            )
        for name in _URI_FIELDS:
            if name in changes:
                if changes[name] and split_url_password(changes[name])[1] is not None:
                    raise InventoryError(
                        f"camera #{camera_id}: the new {name.replace('_', ' ')} holds a password; nothing "
                        "was changed. Give the address without it, and the password with the camera's "
                        "credentials")
                changes[name] = strip_credentials(changes[name])

        try:
            with self.transaction() as session:
                row = self._row_at_version(session, camera_id, expected_version, changes)
                for name, value in changes.items():
                    setattr(row, name, value)
                row.updated_by = self.editor
                _refuse_duplicate(session, _draft_of(row), exclude_id=camera_id)
                session.flush()
                return CameraRecord.from_row(row)
        except StaleDataError:
            raise self._conflict_now(camera_id, expected_version, changes) from None
        except exc.IntegrityError as error:
            with self.reading() as session:
                _refuse_duplicate(
                    session, _draft_with(session, camera_id, changes), exclude_id=camera_id
                )
            raise InventoryError(
                f"camera #{camera_id} could not be saved, nothing was changed: the database "
                f"refused it ({driver_message(self.sessions.kw['bind'].url, error)})"
            ) from None

    def set_camera_password(
        self, camera_id: int, expected_version: int, username: str | None, password: str | None
    ) -> CameraRecord:
        """Replace the camera's credentials (new secret first; the old one removed after commit)."""
        new_ref = f"camera:{uuid.uuid4().hex}" if password else None
        old_ref = None
        try:
            with self.transaction() as session:
                row = self._row_at_version(
                    session, camera_id, expected_version, {"username": username}
                )
                _refuse_secret_in(_draft_of(row), password)
                old_ref = row.credential_ref
                if new_ref:
                    self.credentials.put(new_ref, password)
                row.username = username
                row.credential_ref = new_ref
                row.updated_by = self.editor
                session.flush()
                record = CameraRecord.from_row(row)
        except StaleDataError:
            self.forget_secret(new_ref)
            raise self._conflict_now(camera_id, expected_version, {"username": username}) from None
        except BaseException:
            self.forget_secret(new_ref)
            raise
        self.forget_secret(old_ref)
        return record

    def move_url_passwords(self) -> int:
        """Take the passwords that older consoles stored in URIs' queries (``?pwd=x``) out of the
        database; returns how many cameras were changed.

        Each goes to the credential store unless the camera already has a password there (the
        one the engineer gave wins); its URIs keep the parameter, empty, as the place it goes back.
        A camera another console changed meanwhile is left to the next run.
        """
        moved = 0
        for camera in self.list_cameras():
            uris = [camera.stream_uri, camera.snapshot_uri, *(p.stream_uri for p in camera.profiles)]
            found = next((pw for pw in (split_url_password(u)[1] for u in uris if u) if pw), None)
            if found is None:
                continue
            new_ref = None if camera.credential_ref else f"camera:{uuid.uuid4().hex}"
            try:
                with self.transaction() as session:
                    row = self._row_at_version(session, camera.id, camera.version_id, {})
                    if new_ref:
                        self.credentials.put(new_ref, found)
                        row.credential_ref = new_ref
                    row.stream_uri = strip_credentials(row.stream_uri)
                    row.snapshot_uri = strip_credentials(row.snapshot_uri)
                    for profile in row.profiles:
                        profile.stream_uri = strip_credentials(profile.stream_uri)
                    session.flush()
            except (StaleDataError, EditConflict):
                self.forget_secret(new_ref)
                continue
            except BaseException:
                self.forget_secret(new_ref)
                raise
            moved += 1
        return moved

    def delete_camera(self, camera_id: int, expected_version: int) -> None:
        """Remove the camera, its profiles and its password (conflict if changed meanwhile)."""
        try:
            with self.transaction() as session:
                row = self._row_at_version(session, camera_id, expected_version, {})
                ref = row.credential_ref
                session.delete(row)
                session.flush()
        except StaleDataError:
            raise self._conflict_now(camera_id, expected_version, {}) from None
        self.forget_secret(ref)

    # -- helpers -----------------------------------------------------------------------

    def _row_at_version(
        self, session: Session, camera_id: int, expected_version: int, attempted: dict
    ) -> Camera:
        row = session.get(Camera, camera_id)
        if row is None:
            raise conflict(
                "camera",
                camera_id,
                attempted.get("name") or f"#{camera_id}",
                expected_version,
                None,
                attempted,
            )
        if row.version_id != expected_version:
            raise conflict(
                "camera",
                camera_id,
                row.name,
                expected_version,
                CameraRecord.from_row(row),
                attempted,
            )
        return row

    def _conflict_now(self, camera_id: int, expected_version: int, attempted: dict):
        """The conflict after our UPDATE/DELETE matched no row: read what is there now."""
        with self.reading() as session:
            row = session.get(Camera, camera_id)
            current = CameraRecord.from_row(row) if row is not None else None
        return conflict(
            "camera",
            camera_id,
            attempted.get("name") or f"#{camera_id}",
            expected_version,
            current,
            attempted,
        )


def _new_row(draft: CameraDraft, credential_ref: str | None, editor: str) -> Camera:
    return Camera(
        name=draft.name,
        host=draft.host,
        onvif_port=draft.onvif_port,
        manufacturer=draft.manufacturer,
        model=draft.model,
        serial=draft.serial,
        endpoint_reference=draft.endpoint_reference,
        stream_uri=draft.stream_uri,
        profile_token=draft.profile_token,
        snapshot_uri=draft.snapshot_uri,
        auth_method=draft.auth_method,
        clock_offset_s=float(draft.clock_offset_s or 0.0),
        username=draft.username,
        credential_ref=credential_ref,
        reachable_via_device_id=draft.reachable_via_device_id,
        updated_by=editor,
        profiles=[_profile_row(p) for p in draft.profiles],
    )


def _profile_row(profile: ProfileRecord) -> CameraProfile:
    return CameraProfile(
        token=profile.token,
        name=profile.name,
        codec=profile.codec,
        width=profile.width,
        height=profile.height,
        fps=profile.fps,
        stream_uri=profile.stream_uri,
    )


def _draft_of(row: Camera) -> CameraDraft:
    return CameraDraft(
        name=row.name,
        host=row.host,
        stream_uri=row.stream_uri,
        manufacturer=row.manufacturer,
        serial=row.serial,
        endpoint_reference=row.endpoint_reference,
        snapshot_uri=row.snapshot_uri,
        username=row.username,
        profiles=tuple(_profile_record_of(p) for p in row.profiles),
    )


def _draft_with(session: Session, camera_id: int, changes: dict) -> CameraDraft:
    """The camera as it would be with ``changes`` (for naming the duplicate after a race)."""
    row = session.get(Camera, camera_id)
    if row is None:
        raise NotFound(f"there is no camera #{camera_id} in the inventory (deleted?)")
    return replace(_draft_of(row), **{k: v for k, v in changes.items() if k in _DRAFT_FIELDS})


_DRAFT_FIELDS = frozenset(
    {
        "name",
        "host",
        "stream_uri",
        "manufacturer",
        "serial",
        "endpoint_reference",
        "snapshot_uri",
        "username",
    }
)


def _profile_record_of(row: CameraProfile) -> ProfileRecord:
    return ProfileRecord(token=row.token, name=row.name, stream_uri=row.stream_uri)


def _with_query_password(draft: CameraDraft, password: str | None) -> str | None:
    """The camera's password: ``password``, or the one its stream URI carries in the query
    (``?user=admin&pwd=x``), which is taken out of the URI when it is stored. Both, and different:
    :class:`InventoryError` (which one opens the stream cannot be known), naming neither."""
    _, in_query = split_url_password(split_credentials(draft.stream_uri)[0])
    if in_query and password and in_query != password:
        raise InventoryError(
            f"camera '{draft.name}': its stream URI carries a password in its query that differs from "
            "the password given; nothing was saved. Remove one of them and register it again")
    return password or in_query


def _refuse_secret_in(draft: CameraDraft, password: str | None) -> None:
    """Refuse a draft that would put the password into the database in plain text."""
    if not password:
        return
    from console_app.core.credentials import redact

    texts = [
        draft.name,
        draft.host,
        draft.stream_uri,
        draft.snapshot_uri,
        draft.username,
        draft.endpoint_reference,
        draft.serial,
    ]
    texts += [p.stream_uri for p in draft.profiles] + [p.name for p in draft.profiles]
    for text in texts:
        if text and redact(text, [password]) != text:
            raise SecretInRecord(
                f"camera '{redact(draft.name, [password])}': a field that is stored in the "
                "database contains the password (e.g. a stream URI with ?password=…); "
                "store it without credentials, the password goes to the credential store"
            )


def _refuse_duplicate(session: Session, draft: CameraDraft, exclude_id: int | None = None) -> None:
    """:class:`DuplicateCamera` when a camera with the same identity is already registered."""
    identities = []
    if draft.endpoint_reference:
        identities.append(
            (
                Camera.endpoint_reference == draft.endpoint_reference,
                f"endpoint {draft.endpoint_reference}",
            )
        )
    if draft.serial:
        identities.append(
            (
                (Camera.serial == draft.serial)
                & (
                    Camera.manufacturer == draft.manufacturer
                    if draft.manufacturer
                    else Camera.manufacturer.is_(None)
                ),
                f"serial {draft.serial}",
            )
        )
    identities.append((Camera.stream_uri == draft.stream_uri, f"stream {draft.stream_uri}"))
    query = select(Camera).where(or_(*(condition for condition, _ in identities)))
    if exclude_id is not None:
        query = query.where(Camera.id != exclude_id)
    existing = session.scalars(query.order_by(Camera.id).limit(1)).first()
    if existing is None:
        return
    what = next(
        label
        for condition, label in identities
        if session.scalar(select(Camera.id).where(condition, Camera.id == existing.id)) is not None
    )
    raise DuplicateCamera(
        f"a camera with {what} is already registered as '{existing.name}'",
        existing_id=existing.id,
        existing_name=existing.name,
    )
