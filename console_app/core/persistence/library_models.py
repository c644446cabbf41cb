"""The model library's table and repository (migration ``0002_model_library``).

One row per stored model version: ``name`` + ``version`` (1, 2, … per name)
and the file's ``sha256`` (unique: the same bytes are stored once). The file
itself lives content-addressed on disk (``data_dir/models/<sha256>.onnx``);
the row holds what the library shows and what a deploy needs (decoder,
labels, tensors). Rows travel as plain dicts (see :func:`row_to_entry`) so
this module knows nothing of the service above it.

``version_id`` guards edits (decoder, labels) made by two consoles sharing a
PostgreSQL inventory: a stale edit matches no row and is reported, never
silently applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exc,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from console_app.core.persistence.database import unavailable
from console_app.core.persistence.errors import EditConflict
from console_app.core.persistence.models import Base, utc_now


class LibraryModelRow(Base):
    """One version of a model in the console's library."""

    __tablename__ = "library_models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    decoder: Mapped[str] = mapped_column(String(32))
    detected_decoder: Mapped[str] = mapped_column(String(32))
    labels: Mapped[Any] = mapped_column(JSON, default=list)
    inputs: Mapped[Any] = mapped_column(JSON, default=list)
    outputs: Mapped[Any] = mapped_column(JSON, default=list)
    opset: Mapped[int | None] = mapped_column(Integer)
    input_height: Mapped[int | None] = mapped_column(Integer)
    input_width: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version_id}


#: The keys of an entry dict, as the JSON index stores them too.
ENTRY_KEYS = (
    "name", "version", "sha256", "size", "decoder", "detected_decoder", "labels", "inputs",
    "outputs", "opset", "input_size", "source", "imported_at",
)


def row_to_entry(row: LibraryModelRow) -> dict[str, Any]:
    """A row as the library's plain entry dict (``imported_at`` as an ISO string)."""
    imported = row.imported_at
    if imported is not None and imported.tzinfo is None:
        imported = imported.replace(tzinfo=timezone.utc)  # SQLite keeps no zone; we store UTC
    return {
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "size": int(row.size_bytes),
        "decoder": row.decoder,
        "detected_decoder": row.detected_decoder,
        "labels": list(row.labels or []),
        "inputs": list(row.inputs or []),
        "outputs": list(row.outputs or []),
        "opset": row.opset,
        "input_size": [row.input_height, row.input_width] if row.input_height else None,
        "source": row.source,
        "imported_at": imported.isoformat() if imported else None,
        "row_version": row.version_id,
    }


class LibraryModelRepository:
    """The library's rows in the inventory; every method is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self.sessions() as session, session.begin():
                yield session
        except (exc.OperationalError, exc.InterfaceError) as error:
            bind = self.sessions.kw.get("bind")
            if bind is None:
                raise
            raise unavailable(bind.url, error) from None

    def entries(self) -> list[dict[str, Any]]:
        """Every version, by name then version."""
        with self._transaction() as session:
            rows = session.scalars(
                select(LibraryModelRow).order_by(LibraryModelRow.name, LibraryModelRow.version)
            )
            return [row_to_entry(row) for row in rows]

    def by_sha256(self, sha256: str) -> dict[str, Any] | None:
        with self._transaction() as session:
            row = session.scalars(select(LibraryModelRow).filter_by(sha256=sha256)).first()
            return row_to_entry(row) if row else None

    def add(self, entry: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store ``entry`` as the next version of its name; returns (stored entry, created).

        The same sha256 already stored returns that entry and ``False``. Two
        consoles importing at once cannot take the same version number: the
        unique constraint refuses the second, which then tries the next number.
        """
        for _attempt in range(5):
            existing = self.by_sha256(entry["sha256"])
            if existing is not None:
                return existing, False
            try:
                with self._transaction() as session:
                    latest = session.scalar(
                        select(func.max(LibraryModelRow.version)).filter_by(name=entry["name"])
                    )
                    height, width = entry.get("input_size") or (None, None)
                    row = LibraryModelRow(
                        name=entry["name"], version=(latest or 0) + 1, sha256=entry["sha256"],
                        size_bytes=entry["size"], decoder=entry["decoder"],
                        detected_decoder=entry["detected_decoder"], labels=list(entry["labels"]),
                        inputs=list(entry["inputs"]), outputs=list(entry["outputs"]),
                        opset=entry.get("opset"), input_height=height, input_width=width,
                        source=entry["source"],
                    )
                    session.add(row)
                    session.flush()
                    return row_to_entry(row), True
            except exc.IntegrityError:
                continue  # another console took that version number or stored those bytes
        raise RuntimeError(f"could not store model {entry['name']!r}: the inventory kept refusing it")

    def update(self, sha256: str, expected_row_version: int | None, **changes: Any) -> dict[str, Any]:
        """Change ``decoder`` and/or ``labels`` of one version; :class:`EditConflict` if stale."""
        try:
            with self._transaction() as session:
                row = session.scalars(select(LibraryModelRow).filter_by(sha256=sha256)).first()
                if row is None:
                    raise _conflict(
                        f"model {sha256[:12]} was removed by another console; your change was "
                        "not saved", sha256, expected_row_version, changes)
                if expected_row_version is not None and row.version_id != expected_row_version:
                    raise _conflict(
                        f"model '{row.name}' v{row.version} was changed by another console; "
                        "reload to see their change", sha256, expected_row_version, changes)
                for key, value in changes.items():
                    setattr(row, key, list(value) if key == "labels" else value)
                session.flush()
                return row_to_entry(row)
        except StaleDataError:
            raise _conflict(
                f"model {sha256[:12]} was changed by another console; reload to see their change",
                sha256, expected_row_version, changes) from None

    def delete(self, sha256: str) -> bool:
        """Remove the row; False when it was already gone."""
        with self._transaction() as session:
            row = session.scalars(select(LibraryModelRow).filter_by(sha256=sha256)).first()
            if row is None:
                return False
            session.delete(row)
            return True


def _conflict(message: str, sha256: str, expected: int | None, changes: dict) -> EditConflict:
    return EditConflict(message, kind="model", record_id=sha256, expected_version=expected,
                        current=None, attempted=dict(changes))
