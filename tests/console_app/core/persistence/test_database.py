"""Opening databases: clear errors for bad URLs and unreachable servers, migrations at start."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from console_app.core.persistence import (
    DatabaseUnavailable,
    DatabaseUrlError,
    InventoryStore,
)
from console_app.core.persistence.database import (
    current_revision,
    head_revision,
    open_engine,
    redacted,
    upgrade_to_head,
)
from console_app.core.persistence.models import Base
from tests.peers.postgres import PostgresServer, free_port


def test_migrations_at_start_create_exactly_the_orm_schema(database_url):
    engine = open_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade_to_head(engine)

        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(sa.inspect(conn).get_table_names())
        assert {"devices", "cameras", "camera_profiles", "models", "apps", "app_versions"} <= tables
    finally:
        engine.dispose()


def test_migrations_are_idempotent_on_an_already_migrated_database(open_store):
    first = open_store("console-a")
    first.cameras.add_camera(_draft(), None)

    second = open_store("console-b")  # runs upgrade head again on the same database

    assert current_revision(second.engine) == head_revision()
    assert [c.name for c in second.cameras.list_cameras()] == ["Dock 1"]


def _draft():
    from console_app.core.persistence import CameraDraft

    return CameraDraft(name="Dock 1", host="h", stream_uri="rtsp://h/1")


@pytest.mark.parametrize(
    "url, expected",
    [
        ("not a url", "'not a url' is not a database URL SQLAlchemy understands"),
        ("", "is not a database URL SQLAlchemy understands: it is empty"),
        ("nosuchdb://user:hunter2@host/db", "no dialect 'nosuchdb'"),
        ("postgresql+nosuchdriver://user:hunter2@host/db", "no dialect 'postgresql+nosuchdriver'"),
    ],
)
def test_invalid_database_url_is_named_with_the_password_redacted(url, expected):
    with pytest.raises(DatabaseUrlError) as raised:
        InventoryStore(url)

    assert expected in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_postgresql_that_is_not_running_is_reported_as_unavailable_with_the_password_redacted():
    url = f"postgresql+psycopg2://sightline:hunter2@127.0.0.1:{free_port()}/inventory"

    with pytest.raises(DatabaseUnavailable) as raised:
        InventoryStore(url)

    message = str(raised.value)
    assert message.startswith(
        "cannot reach the database at postgresql+psycopg2://sightline:***@127.0.0.1:"
    )
    assert "Connection refused" in message
    assert "hunter2" not in message


def test_sqlite_file_in_a_missing_folder_is_reported_naming_the_folder(tmp_path: Path):
    missing = tmp_path / "no-such-folder"

    with pytest.raises(DatabaseUnavailable, match=f"the folder {missing} does not exist"):
        InventoryStore(f"sqlite:///{missing / 'inventory.sqlite'}")


def test_database_going_down_while_the_console_runs_gives_a_clear_error(credentials):
    server = PostgresServer().start()
    try:
        store = InventoryStore(server.create_database("goes_down"), credentials=credentials)
        store.cameras.add_camera(_draft(), None)
        server.stop()

        with pytest.raises(
            DatabaseUnavailable,
            match=r"cannot reach the database at postgresql\+psycopg2://postgres@127\.0\.0\.1",
        ):
            store.cameras.list_cameras()
        store.close()
    finally:
        server.stop()


def test_redacted_url_hides_only_the_password():
    assert redacted("postgresql://ann:p%40ss@db.local:5432/sightline") == (
        "postgresql://ann:***@db.local:5432/sightline"
    )
    assert redacted("sqlite:////var/lib/x.sqlite") == "sqlite:////var/lib/x.sqlite"


def test_migrate_brings_a_database_to_head_for_self_tests_and_installers(database_url):
    from console_app.core.persistence import migrate

    assert migrate(database_url) == head_revision()
    assert migrate(database_url) == head_revision()  # and again: nothing to do


def test_bare_postgresql_url_uses_the_installed_driver(postgres_server, credentials):
    url = postgres_server.create_database("bare_scheme").replace(
        "postgresql+psycopg2://", "postgresql://"
    )
    try:
        with InventoryStore(url, credentials=credentials) as store:
            assert store.engine.dialect.driver in ("psycopg", "psycopg2")
    finally:
        postgres_server.drop_database("bare_scheme")


def test_heroku_style_postgres_scheme_gets_a_hint():
    with pytest.raises(
        DatabaseUrlError, match=r"no dialect 'postgres' \(did you mean postgresql://\?\)"
    ):
        InventoryStore("postgres://ann:hunter2@127.0.0.1/inv")
