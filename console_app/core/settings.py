"""Console settings: a small JSON file in the user's config folder, and where the database is.

The database URL is resolved, first match wins, from

1. the ``--database`` command-line flag,
2. the ``SIGHTLINE_DATABASE_URL`` environment variable,
3. ``database_url`` in the settings file
   (``platformdirs.user_config_dir("sightline")/console.json``),
4. the default: an embedded SQLite file, ``user_data_dir("sightline")/inventory.sqlite``.

A site where several workstations share one inventory points them all at one
PostgreSQL URL by any of the first three. Window geometry and other per-window
state belong to QSettings in the UI, not here.

``cloud`` holds what the model library needs to reach S3 and SageMaker: an AWS
profile, a region and an endpoint URL (a private VPC endpoint, or an
S3-compatible store such as MinIO). Secrets never go here: boto3 reads keys
from the profile, its credential chain or the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from console_app.core.files import write_atomically

ENV_DATABASE_URL = "SIGHTLINE_DATABASE_URL"
APP_NAME = "sightline"
SETTINGS_FILE_NAME = "console.json"
DEFAULT_DATABASE_FILE_NAME = "inventory.sqlite"


class SettingsError(ValueError):
    """The settings file cannot be read or holds a value we cannot use."""


class CloudSettings(BaseModel):
    """Where the model library finds S3 and SageMaker; every field may stay empty."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = Field(
        default=None,
        title="AWS profile",
        description="A profile of ~/.aws/config and ~/.aws/credentials. Empty: boto3's default "
        "credential chain (environment variables, the default profile, an instance role).",
    )
    region: str | None = Field(
        default=None,
        title="AWS region",
        description="e.g. eu-west-1. Empty: the profile's region, or AWS_DEFAULT_REGION.",
    )
    endpoint_url: str | None = Field(
        default=None,
        title="Endpoint URL",
        description="An http(s) URL replacing the public AWS endpoint for S3 and SageMaker: a "
        "private (VPC) endpoint, or an S3-compatible store on the plant network. Empty: AWS.",
    )

    @field_validator("profile", "region", "endpoint_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"endpoint URL {value!r} is not an http(s) URL with a host; expected e.g. "
                "https://s3.eu-west-1.amazonaws.com or http://minio.plant.local:9000"
            )
        try:
            parts.port  # noqa: B018 - validates the port number
        except ValueError as exc:
            raise ValueError(f"endpoint URL {value!r} has an invalid port ({exc})") from None
        return value

    def describe(self) -> str:
        """One line for the UI: which profile, region and endpoint imports will use."""
        return (
            f"profile {self.profile or '(default)'}, region {self.region or '(default)'}, "
            f"endpoint {self.endpoint_url or 'AWS (public)'}"
        )


class PythonPackagesSettings(BaseModel):
    """Where the console gathers wheels for a Panorama app's Dockerfile ``pip install`` lines."""

    model_config = ConfigDict(extra="forbid")

    wheelhouse: str | None = Field(
        default=None,
        title="Wheelhouse folder",
        description="A folder of .whl files (for the devices' platform and Python) searched first, "
        "offline, e.g. one filled with 'pip download' on a machine with internet access. Empty: none.",
    )
    index_url: str | None = Field(
        default=None,
        title="Package index URL",
        description="An http(s) PyPI-style index (a site mirror, or https://pypi.org/simple) for "
        "wheels the wheelhouse lacks. Empty: the wheelhouse only.",
    )
    python: str | None = Field(
        default=None,
        title="Python for pip",
        description="The interpreter that runs 'pip download'. Empty: the console's own Python "
        "(from a source install) or python3 on PATH (an installed console).",
    )

    @field_validator("wheelhouse", "index_url", "python", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("index_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"index URL {value!r} is not an http(s) URL with a host, e.g. https://pypi.example.local/simple")
        return value


class ConsoleSettings(BaseModel):
    """What the console keeps between runs that is not per-window UI state."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        default=None,
        title="Inventory database URL",
        description=(
            "Any SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/sightline for an "
            "inventory shared by several workstations. Empty: an SQLite file in the user's "
            "data folder. The flag --database and SIGHTLINE_DATABASE_URL override it."
        ),
    )
    discovery_interfaces: list[str] | None = Field(
        default=None,
        title="Discovery interfaces",
        description=(
            "IPv4 addresses of the interfaces used for mDNS and WS-Discovery. "
            "Empty: every IPv4 interface."
        ),
    )
    cloud: CloudSettings = Field(
        default_factory=CloudSettings,
        title="Cloud",
        description="AWS profile, region and endpoint URL for model imports from S3 and SageMaker.",
    )
    python_packages: PythonPackagesSettings = Field(
        default_factory=PythonPackagesSettings,
        title="Python packages for Panorama apps",
        description="Wheelhouse folder and index URL the console gathers a Panorama app's pip "
        "requirements from, for the devices' platform and Python, into the signed package.",
    )


def default_settings_path() -> Path:
    """``user_config_dir("sightline")/console.json``."""
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME)) / SETTINGS_FILE_NAME


def default_data_dir() -> Path:
    """``user_data_dir("sightline")``: the inventory file and the fallback credential file."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


def default_database_url(data_dir: Path | None = None) -> str:
    """The SQLite URL of the embedded inventory file (its folder is created on first use)."""
    folder = Path(data_dir) if data_dir else default_data_dir()
    return f"sqlite:///{(folder / DEFAULT_DATABASE_FILE_NAME).as_posix()}"


def load_settings(path: Path | None = None) -> ConsoleSettings:
    """Read the settings file; a missing file gives the defaults.

    Raises :class:`SettingsError` naming the file, and the field and value when
    one is wrong, for a file we cannot use (never silently ignore it: the
    engineer edited it for a reason).
    """
    path = Path(path) if path else default_settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ConsoleSettings()
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"the settings file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from exc
    if not isinstance(raw, dict):
        raise SettingsError(
            f"the settings file {path} must hold a JSON object, not {type(raw).__name__}"
        )
    try:
        return ConsoleSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}' = {err.get('input')!r}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"the settings file {path} has a wrong value: {problems}") from exc


def save_settings(settings: ConsoleSettings, path: Path | None = None) -> Path:
    """Write the settings file atomically (a crash never leaves half a file)."""
    path = Path(path) if path else default_settings_path()
    write_atomically(path, settings.model_dump_json(indent=2, exclude_none=True) + "\n")
    return path


@dataclass(frozen=True)
class ResolvedDatabaseUrl:
    """The URL to open and where it came from ("flag", "environment", "settings", "default")."""

    url: str
    source: str


def resolve_database_url(
    flag: str | None = None,
    environ: Mapping[str, str] | None = None,
    settings: ConsoleSettings | None = None,
    data_dir: Path | None = None,
) -> ResolvedDatabaseUrl:
    """Pick the database URL: flag > ``SIGHTLINE_DATABASE_URL`` > settings file > SQLite default.

    Empty or blank values count as unset at every level. ``settings`` is loaded
    from the default file when not given.
    """
    if flag and flag.strip():
        return ResolvedDatabaseUrl(flag.strip(), "flag")
    env = os.environ if environ is None else environ
    from_env = env.get(ENV_DATABASE_URL, "")
    if from_env.strip():
        return ResolvedDatabaseUrl(from_env.strip(), "environment")
    if settings is None:
        settings = load_settings()
    if settings.database_url and settings.database_url.strip():
        return ResolvedDatabaseUrl(settings.database_url.strip(), "settings")
    return ResolvedDatabaseUrl(default_database_url(data_dir), "default")
