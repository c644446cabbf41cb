"""Desired state: which apps should run, at which version, with which parameters.

The supervisor reads this on start and brings every app back to it, so a
restart or a power cut resumes what was running. Every change rewrites the
whole (small) JSON file atomically, so the file on disk is always one complete
state, old or new. A file that cannot be read is moved aside and the device
starts with no apps rather than not starting at all; ``warnings`` and
``corrupt_file`` tell the caller so it can report it.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_runtime.errors import InvalidArgument
from device_runtime.store.atomic import (
    atomic_write_json,
    dumps_json,
    load_json_file,
    remove_stale_temp_files,
)
from device_runtime.store.errors import AppNotFound
from device_runtime.store.names import check_id, check_version

log = logging.getLogger(__name__)

_FORMAT = 1
_UNSET: Any = object()


@dataclass(frozen=True)
class AppDesired:
    """What one app should be doing. ``params`` is the app's complete parameter object."""

    version: str
    running: bool = True
    params: dict[str, Any] = field(default_factory=dict)


def _check_entry(app_id: str, version: object, running: object, params: object) -> None:
    """Raise InvalidArgument naming the field if an app's desired state is malformed."""
    check_id("app id", app_id)
    check_version(version)
    if not isinstance(running, bool):
        raise InvalidArgument(f"'running' of app {app_id!r} must be true or false, got {running!r}")
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise InvalidArgument(
            f"params of app {app_id!r} must be an object with string keys, got {params!r:.80}"
        )
    try:
        dumps_json(params)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"params of app {app_id!r} cannot be saved as JSON: {exc}") from exc


def _check_file(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"expected an object with format {_FORMAT}")
    if not isinstance(data["apps"], dict):
        raise ValueError("'apps' is not an object")
    for app_id, entry in data["apps"].items():
        try:
            _check_entry(app_id, entry["version"], entry["running"], entry["params"])
        except InvalidArgument as exc:
            raise ValueError(str(exc)) from exc


class DesiredState:
    """The persisted desired state in the JSON file at ``path``; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        # Where an unreadable state file was moved to on load; None if it was fine.
        self.corrupt_file: Path | None = None
        self._lock = threading.Lock()
        self._apps: dict[str, AppDesired] = self._load()

    def _load(self) -> dict[str, AppDesired]:
        for stale in remove_stale_temp_files(self.path):
            log.info("removed %s left by an interrupted write", stale)
        data, moved_to, warning = load_json_file(self.path, _check_file)
        if warning is not None:
            self.corrupt_file = moved_to
            self.warnings.append(f"{warning}; starting with no apps")
            return {}
        if data is None:
            return {}
        return {
            app_id: AppDesired(entry["version"], entry["running"], entry["params"])
            for app_id, entry in data["apps"].items()
        }

    def apps(self) -> dict[str, AppDesired]:
        """Every app's desired state (a copy: changing it changes nothing on disk)."""
        with self._lock:
            return copy.deepcopy(self._apps)

    def get(self, app_id: str) -> AppDesired:
        """One app's desired state; AppNotFound if it has none."""
        with self._lock:
            desired = self._apps.get(app_id)
            if desired is None:
                raise AppNotFound(f"app {app_id!r} has no desired state")
            return copy.deepcopy(desired)

    def set(
        self,
        app_id: str,
        *,
        version: str = _UNSET,
        running: bool = _UNSET,
        params: dict[str, Any] = _UNSET,
    ) -> AppDesired:
        """Change the fields given for ``app_id`` (creating it, which needs ``version``); persist.

        Returns the new desired state. Nothing changes, on disk or in memory,
        if a field is invalid or the write fails.
        """
        with self._lock:
            current = self._apps.get(app_id)
            if current is None:
                if version is _UNSET:
                    raise InvalidArgument(
                        f"app {app_id!r} has no desired state yet; its version is required"
                    )
                current = AppDesired(version=version)
            updated = AppDesired(
                version=current.version if version is _UNSET else version,
                running=current.running if running is _UNSET else running,
                params=copy.deepcopy(current.params if params is _UNSET else params),
            )
            _check_entry(app_id, updated.version, updated.running, updated.params)
            apps = dict(self._apps)
            apps[app_id] = updated
            self._write(apps)
            return copy.deepcopy(updated)

    def remove(self, app_id: str) -> bool:
        """Forget ``app_id``; returns whether it had a desired state."""
        with self._lock:
            if app_id not in self._apps:
                return False
            apps = dict(self._apps)
            del apps[app_id]
            self._write(apps)
            return True

    def _write(self, apps: dict[str, AppDesired]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            self.path,
            {
                "format": _FORMAT,
                "apps": {
                    app_id: {"version": d.version, "running": d.running, "params": d.params}
                    for app_id, d in apps.items()
                },
            },
        )
        self._apps = apps
