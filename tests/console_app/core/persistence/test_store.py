"""Opening the inventory the way the console does: from flag, environment, settings or default."""

from __future__ import annotations

from pathlib import Path

from console_app.core.persistence import CameraDraft, InventoryStore
from console_app.core.settings import ENV_DATABASE_URL, ConsoleSettings


def test_default_inventory_is_an_sqlite_file_created_with_its_folder_in_the_data_dir(
    tmp_path: Path, credentials
):
    data_dir = tmp_path / "user-data" / "sightline"

    with InventoryStore.from_settings(
        environ={}, settings=ConsoleSettings(), data_dir=data_dir, credentials=credentials
    ) as store:
        store.cameras.add_camera(
            CameraDraft(name="Dock 1", host="h", stream_uri="rtsp://h/1"), None
        )
        assert store.url_for_display == f"sqlite:///{data_dir / 'inventory.sqlite'}"

    assert (data_dir / "inventory.sqlite").is_file()


def test_environment_url_wins_over_the_settings_file(tmp_path: Path, credentials):
    env_db, settings_db = tmp_path / "env.sqlite", tmp_path / "settings.sqlite"

    with InventoryStore.from_settings(
        environ={ENV_DATABASE_URL: f"sqlite:///{env_db}"},
        settings=ConsoleSettings(database_url=f"sqlite:///{settings_db}"),
        credentials=credentials,
    ):
        pass

    assert env_db.is_file() and not settings_db.exists()


def test_postgresql_url_is_shown_without_its_password(postgres_server, credentials):
    url = postgres_server.create_database("shown").replace("postgres@", "postgres:not-checked@")
    try:
        with InventoryStore.from_settings(flag=url, environ={}, credentials=credentials) as store:
            assert store.url_for_display.startswith("postgresql+psycopg2://postgres:***@127.0.0.1:")
    finally:
        postgres_server.drop_database("shown")
