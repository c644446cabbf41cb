"""Console settings: the settings file and where the database URL comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_app.core.settings import (
    ENV_DATABASE_URL,
    ConsoleSettings,
    SettingsError,
    load_settings,
    resolve_database_url,
    save_settings,
)

FLAG, ENV, FILE = "sqlite:///flag.sqlite", "sqlite:///env.sqlite", "sqlite:///file.sqlite"


@pytest.mark.parametrize(
    "flag, env, from_file, expected",
    [
        (FLAG, ENV, FILE, (FLAG, "flag")),
        (None, ENV, FILE, (ENV, "environment")),
        ("  ", ENV, FILE, (ENV, "environment")),
        (None, None, FILE, (FILE, "settings")),
        (None, "", FILE, (FILE, "settings")),
        (None, None, None, ("sqlite:////data/sightline/inventory.sqlite", "default")),
    ],
    ids=[
        "flag-wins",
        "env-over-file",
        "blank-flag-ignored",
        "file",
        "empty-env-ignored",
        "default",
    ],
)
def test_database_url_precedence_is_flag_then_environment_then_file_then_default(
    flag, env, from_file, expected
):
    environ = {ENV_DATABASE_URL: env} if env is not None else {}

    resolved = resolve_database_url(
        flag, environ, ConsoleSettings(database_url=from_file), data_dir=Path("/data/sightline")
    )

    assert (resolved.url, resolved.source) == expected


def test_default_database_lives_in_the_platformdirs_user_data_folder(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # platformdirs honours it on Linux

    resolved = resolve_database_url(None, {}, ConsoleSettings())

    assert resolved.url == f"sqlite:///{tmp_path / 'xdg' / 'sightline' / 'inventory.sqlite'}"


def test_settings_round_trip_through_the_file(tmp_path: Path):
    path = tmp_path / "conf" / "console.json"
    save_settings(ConsoleSettings(database_url=FILE, discovery_interfaces=["127.0.0.1"]), path)

    loaded = load_settings(path)

    assert loaded.database_url == FILE and loaded.discovery_interfaces == ["127.0.0.1"]
    assert resolve_database_url(None, {}, loaded).source == "settings"


def test_missing_settings_file_gives_defaults(tmp_path: Path):
    assert load_settings(tmp_path / "absent.json") == ConsoleSettings()


def test_settings_file_with_an_unknown_field_names_the_file_field_and_value(tmp_path: Path):
    path = tmp_path / "console.json"
    path.write_text('{"databse_url": "sqlite:///x"}')

    with pytest.raises(SettingsError) as raised:
        load_settings(path)

    assert str(path) in str(raised.value)
    assert "field 'databse_url' = 'sqlite:///x'" in str(raised.value)


def test_settings_file_that_is_not_json_names_the_line(tmp_path: Path):
    path = tmp_path / "console.json"
    path.write_text('{\n  "database_url": sqlite\n}')

    with pytest.raises(SettingsError, match=r"is not valid JSON \(line 2"):
        load_settings(path)
