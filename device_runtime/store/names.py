"""Rules for ids that become file or folder names in the store.

App ids, versions and model names end up as path components, so they are
checked here before any path is built from them: letters, digits, ``.``,
``_`` and ``-`` (versions may also use ``+`` for semver build metadata),
starting with a letter or digit, which also excludes ``.``, ``..`` and hidden
names, and leaves names starting with ``_`` free for the store's own files.
"""

from __future__ import annotations

import re

from device_runtime.store.errors import InvalidName

MAX_NAME_LENGTH = 64

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def _check(kind: str, value: object, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str):
        raise InvalidName(f"{kind} must be a string, got {type(value).__name__} {value!r}")
    if len(value) > MAX_NAME_LENGTH or not pattern.fullmatch(value):
        raise InvalidName(
            f"{kind} {value!r} is not allowed: use {allowed}, start with a letter or digit, "
            f"at most {MAX_NAME_LENGTH} characters"
        )
    return value


def check_id(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid app id or model name; ``kind`` names it in errors."""
    return _check(kind, value, _ID_PATTERN, "letters, digits, '.', '_' or '-'")


def check_version(value: object) -> str:
    """Return ``value`` if it is a valid package version (semver-like)."""
    return _check("version", value, _VERSION_PATTERN, "letters, digits, '.', '_', '+' or '-'")
