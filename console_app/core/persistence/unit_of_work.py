"""Shared plumbing of the repositories: sessions, error mapping, conflict messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone

from sqlalchemy import exc
from sqlalchemy.orm import Session, sessionmaker

from console_app.core.credentials import CredentialStore
from console_app.core.persistence.database import unavailable
from console_app.core.persistence.errors import EditConflict


class Repository:
    """Base of the repositories: a session factory, the credential store, who is editing."""

    def __init__(self, sessions: sessionmaker[Session], credentials: CredentialStore, editor: str):
        self.sessions = sessions
        self.credentials = credentials
        self.editor = editor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session and transaction: committed on success, rolled back on any error.

        Lost connections and a database that went away become
        :class:`DatabaseUnavailable` (URL password redacted).
        """
        bind = self.sessions.kw["bind"]
        try:
            with self.sessions() as session, session.begin():
                yield session
        except (exc.OperationalError, exc.InterfaceError) as error:
            raise unavailable(bind.url, error) from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (same error mapping as :meth:`transaction`)."""
        with self.transaction() as session:
            yield session

    def forget_secret(self, ref: str | None) -> None:
        """Remove a secret written for a unit of work that did not commit."""
        if ref:
            # The unit of work already failed; a second failure here must not mask the first.
            with contextlib.suppress(Exception):
                self.credentials.delete(ref)


def when(moment: datetime | None) -> str:
    """A short local time for messages: '10:42' today, '2024-05-02 10:42' otherwise."""
    if moment is None:
        return "an unknown time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    today = datetime.now(local.tzinfo).date()
    return local.strftime("%H:%M" if local.date() == today else "%Y-%m-%d %H:%M")


def conflict(
    kind: str,
    record_id: object,
    label: str,
    expected_version: int | None,
    current,
    attempted: dict | None = None,
) -> EditConflict:
    """The :class:`EditConflict` for a stale edit of ``kind`` ``label``; ``current`` None = deleted."""
    if current is None:
        message = f"{kind} '{label}' was deleted by another console; your change was not saved"
        by = at = None
    else:
        by, at = current.updated_by, current.updated_at
        message = (
            f"{kind} '{current.name}' was changed by another console "
            f"(by {by or 'an unknown host'} at {when(at)}); reload to see their change"
        )
    return EditConflict(
        message,
        kind=kind,
        record_id=record_id,
        expected_version=expected_version,
        current=current,
        attempted=attempted,
        changed_by=by,
        changed_at=at,
    )
