"""``InventoryStore``: the console's one entry point to the inventory.

Opens the database (SQLite by default, any SQLAlchemy URL by setting,
environment or flag), applies the packaged Alembic migrations, and offers the
repositories ``store.cameras`` and ``store.devices``. Every method is blocking
I/O: the UI calls them from its background operations, never the GUI thread.
Each call opens its own session, so one store may be used from several worker
threads at once; what comes back are immutable records, safe to hand to the GUI.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from console_app.core.credentials import CredentialStore
from console_app.core.persistence.cameras import CameraRepository
from console_app.core.persistence.database import open_engine, redacted, upgrade_to_head
from console_app.core.persistence.devices import DeviceRepository
from console_app.core.settings import ConsoleSettings, resolve_database_url

log = logging.getLogger(__name__)


class InventoryStore:
    """The inventory at ``url``: cameras, devices (and, next issue, models and apps).

    ``credentials``: where secrets go (default: :class:`CredentialStore` with the
    OS keyring or the encrypted-file fallback). ``editor``: who is editing, shown
    to other consoles in conflict messages (default: this host's name).
    ``migrate``: apply pending migrations now (the console always does).
    Raises :class:`DatabaseUrlError`, :class:`DatabaseUnavailable` or
    :class:`MigrationError` with a message naming the problem.
    """

    def __init__(
        self,
        url: str,
        credentials: CredentialStore | None = None,
        editor: str | None = None,
        migrate: bool = True,
        create_sqlite_folder: bool = False,
    ) -> None:
        self.engine: Engine = open_engine(url, create_sqlite_folder=create_sqlite_folder)
        try:
            if migrate:
                upgrade_to_head(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.credentials = credentials if credentials is not None else CredentialStore()
        self.editor = editor or socket.gethostname()
        # expire_on_commit=False: records are built inside the unit of work, but
        # keeping loaded values after commit avoids surprise lazy reloads.
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.cameras = CameraRepository(self.sessions, self.credentials, self.editor)
        self.devices = DeviceRepository(self.sessions, self.credentials, self.editor)
        if migrate:
            # Data, not schema: older consoles kept a password given in a URI's query in the database.
            try:
                self.cameras.move_url_passwords()
            except Exception as exc:  # the credential store may be locked: the inventory still opens
                log.warning("camera passwords in stored URIs were not moved to the credential store "
                            "(tried again next start): %s", type(exc).__name__)

    @classmethod
    def from_settings(
        cls,
        flag: str | None = None,
        environ: Mapping[str, str] | None = None,
        settings: ConsoleSettings | None = None,
        data_dir: Path | None = None,
        credentials: CredentialStore | None = None,
        editor: str | None = None,
    ) -> InventoryStore:
        """Open the inventory the console is configured for (flag > env > settings > default)."""
        resolved = resolve_database_url(flag, environ, settings, data_dir)
        return cls(
            resolved.url,
            credentials=credentials,
            editor=editor,
            create_sqlite_folder=resolved.source == "default",
        )

    @property
    def url_for_display(self) -> str:
        """The database URL with its password redacted (status bar, Settings page)."""
        return redacted(self.engine.url)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> InventoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
