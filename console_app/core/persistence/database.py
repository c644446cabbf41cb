"""Opening the inventory database: URL checks, engines, clear errors, migrations at start.

``open_engine(url)`` turns every way a URL can be wrong into
:class:`DatabaseUrlError` and every way a database can be unreachable into
:class:`DatabaseUnavailable`, with the URL's password redacted.
``upgrade_to_head(engine)`` applies the Alembic migrations shipped in this
package; it needs no ``alembic.ini``.

Writing a new revision (developers)::

    from alembic import command
    from console_app.core.persistence.database import alembic_config
    command.revision(alembic_config("sqlite:////tmp/scratch.sqlite"), "what changed",
                     autogenerate=True)   # after upgrading the scratch DB to head
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine, make_url

from console_app.core.credentials import redact
from console_app.core.persistence.errors import (
    DatabaseUnavailable,
    DatabaseUrlError,
    MigrationError,
)

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "console_app.core.persistence:migrations"
CONNECT_TIMEOUT_S = 5
# Any constant: serialises migrations when several consoles start against one PostgreSQL.
_MIGRATION_LOCK_KEY = 0x5167_6874


def parse_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL, or :class:`DatabaseUrlError` saying why it is not one."""
    if isinstance(url, URL):
        return url
    if not isinstance(url, str) or not url.strip():
        raise DatabaseUrlError(f"{url!r} is not a database URL SQLAlchemy understands: it is empty")
    try:
        return make_url(url.strip())
    except exc.ArgumentError as error:
        shown = _redact_unparsed(url)
        raise DatabaseUrlError(
            f"'{shown}' is not a database URL SQLAlchemy understands: {error}; "
            "expected e.g. sqlite:///path/to/inventory.sqlite or "
            "postgresql+psycopg2://user:password@host:5432/sightline"
        ) from None


def redacted(url: str | URL) -> str:
    """The URL as text with its password shown as ``***``."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except DatabaseUrlError:
        return _redact_unparsed(str(url))


def _redact_unparsed(text: str) -> str:
    """Best effort for text that is not even a URL: hide what sits between ':' and '@'."""
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    userinfo, _, host = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def open_engine(url: str | URL, create_sqlite_folder: bool = False) -> Engine:
    """An Engine for ``url``, checked by connecting once.

    ``create_sqlite_folder``: create the folder of an SQLite file first (the
    default inventory in the user data folder); off for URLs the engineer
    typed, where a missing folder is more likely a typo to report.
    """
    parsed = _with_installed_postgres_driver(parse_url(url))
    options: dict = {"pool_pre_ping": True}
    connect_args: dict = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().resolve().parent
            if create_sqlite_folder:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                raise DatabaseUnavailable(
                    f"cannot open the database at {redacted(parsed)}: "
                    f"the folder {folder} does not exist"
                )
    elif backend == "postgresql" and parsed.get_driver_name() in ("psycopg2", "psycopg"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    except exc.NoSuchModuleError as error:
        hint = " (did you mean postgresql://?)" if parsed.drivername == "postgres" else ""
        raise DatabaseUrlError(
            f"'{redacted(parsed)}' is not a database URL SQLAlchemy understands: "
            f"no dialect '{parsed.drivername}'{hint} ({error}); expected e.g. sqlite:///… or "
            "postgresql://user:password@host:5432/sightline"
        ) from None
    except ImportError as error:
        raise DatabaseUrlError(
            f"'{redacted(parsed)}' needs the Python driver '{error.name or parsed.drivername}', "
            "which is not installed"
        ) from None
    except exc.ArgumentError as error:
        raise DatabaseUrlError(
            f"'{redacted(parsed)}' is not a database URL SQLAlchemy understands: {error}"
        ) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    check_connection(engine)
    return engine


def _with_installed_postgres_driver(url: URL) -> URL:
    """``postgresql://`` with whichever PostgreSQL driver is installed.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3; the console ships
    psycopg2. Engineers type the bare form, so pick what is there.
    """
    if url.drivername != "postgresql":
        return url
    import importlib.util

    for module, driver in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return url.set(drivername=driver)
    return url


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # SQLite leaves foreign keys off unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def check_connection(engine: Engine) -> None:
    """Connect once; :class:`DatabaseUnavailable` (password redacted) when that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (exc.DBAPIError, OSError) as error:
        raise unavailable(engine.url, error) from None


def unavailable(url: URL, error: BaseException) -> DatabaseUnavailable:
    """The :class:`DatabaseUnavailable` for ``error`` while talking to ``url``."""
    return DatabaseUnavailable(
        f"cannot reach the database at {redacted(url)}: {driver_message(url, error)}"
    )


def driver_message(url: URL, error: BaseException) -> str:
    """The driver's own words for ``error`` (first meaningful line), secrets removed."""
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    text = lines[0] if lines else type(original).__name__
    # psycopg2 puts the interesting part after the address it tried: keep both.
    if len(lines) > 1 and "failed" in text and len(text) < 120:
        text = f"{text} {lines[1]}"
    return redact(text, [url.password if isinstance(url.password, str) else None])


def alembic_config(url: str | URL | None = None):
    """An Alembic Config pointing at the migrations shipped in this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        # '%' is Config's interpolation character.
        config.set_main_option(
            "sqlalchemy.url",
            parse_url(url).render_as_string(hide_password=False).replace("%", "%%"),
        )
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration (a no-op on an up-to-date database).

    On PostgreSQL an advisory lock serialises consoles starting at the same
    moment, and the whole upgrade is one transaction (DDL is transactional
    there), so a failed migration leaves the schema as it was.
    """
    from alembic import command

    config = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except (exc.OperationalError, exc.InterfaceError) as error:
        raise unavailable(engine.url, error) from None
    except exc.SQLAlchemyError as error:
        raise MigrationError(
            f"cannot bring the database at {redacted(engine.url)} up to date: "
            f"{driver_message(engine.url, error)}"
        ) from None


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision shipped in this package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def migrate(url: str | URL, create_sqlite_folder: bool = False) -> str:
    """Open ``url``, apply every pending migration, close; returns the revision now current.

    For ``sightline-console --self-test`` and installers; the console itself
    migrates when it opens an :class:`InventoryStore`.
    """
    engine = open_engine(url, create_sqlite_folder=create_sqlite_folder)
    try:
        upgrade_to_head(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    assert revision is not None
    return revision
