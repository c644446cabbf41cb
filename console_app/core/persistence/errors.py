"""Errors a user can hit in the inventory, each with a message that names the problem."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class InventoryError(RuntimeError):
    """Base of every inventory error the UI shows to the engineer."""


class DatabaseUrlError(InventoryError):
    """The configured database URL is not one SQLAlchemy can open (bad syntax, unknown driver)."""


class DatabaseUnavailable(InventoryError):
    """The database could not be reached or opened; the URL in the message has its password redacted."""


class MigrationError(InventoryError):
    """The database schema could not be brought up to date."""


class NotFound(InventoryError):
    """The record asked for does not exist (any more)."""


class DuplicateCamera(InventoryError):
    """A camera with the same identity (endpoint reference, serial, stream) is already registered.

    ``existing_id`` and ``existing_name`` name the registered camera, so the UI can offer to open it.
    """

    def __init__(self, message: str, existing_id: int | None, existing_name: str | None) -> None:
        super().__init__(message)
        self.existing_id = existing_id
        self.existing_name = existing_name


class EditConflict(InventoryError):
    """Another console changed (or deleted) the record since this one read it.

    Carries what a "Reload" choice needs: ``current`` is the record as it is now
    in the database (``None`` when it was deleted); ``attempted`` holds the
    changes that were not applied, so the UI can offer to apply them again on
    top of ``current`` (with ``current.version_id`` as the expected version).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        record_id: Any,
        expected_version: int | None,
        current: Any | None,
        attempted: dict[str, Any] | None = None,
        changed_by: str | None = None,
        changed_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.record_id = record_id
        self.expected_version = expected_version
        self.current = current
        self.attempted = dict(attempted or {})
        self.changed_by = changed_by
        self.changed_at = changed_at

    @property
    def deleted(self) -> bool:
        """True when the record no longer exists (nothing to reload)."""
        return self.current is None


class FingerprintChanged(InventoryError):
    """A paired device presented a certificate whose fingerprint is not the pinned one.

    The console must refuse to connect: either the device was reset (re-pair it)
    or something is impersonating it.
    """

    def __init__(self, message: str, device_id: str, pinned: str, presented: str) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.pinned = pinned
        self.presented = presented
