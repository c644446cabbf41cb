"""Installed application packages: versions side by side, one active, atomic switches.

Layout under ``root``::

    apps/<app_id>/<version>/        an unpacked package, never modified after install
    apps/<app_id>/_versions.json    install order and the active version (the pointer file)
    staging/packages/               uploads and unpacking in progress; emptied on open

``_versions.json`` is the single source of truth and is only ever replaced
atomically, so activating, rolling back or pruning is one rename: a crash
leaves the previous choice or the new one. A package is unpacked and checked
in staging and moved into ``apps/`` with one rename only once everything
passed; folders that a crash left outside the pointer file are removed on the
next open. The store knows nothing about the manifest format: the caller
passes ``identify`` (and optionally ``validate``) callables that read it.

One process owns a store; threads may share it (every change holds a lock).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from device_runtime.errors import FailedPrecondition
from device_runtime.store.archive import ExtractLimits, extract_package
from device_runtime.store.atomic import (
    atomic_write_json,
    fsync_dir,
    load_json_file,
    remove_stale_temp_files,
)
from device_runtime.store.digests import file_sha256, tree_sha256
from device_runtime.store.errors import (
    AppNotFound,
    InvalidName,
    NothingToRollBack,
    PackageConflict,
)
from device_runtime.store.names import check_id, check_version
from device_runtime.store.package_records import (
    VERSIONS_FILE,
    AppRecord,
    InstalledPackage,
    check_versions_file,
    record_from_json,
    record_to_json,
)
from device_runtime.store.uploads import check_sha256

log = logging.getLogger(__name__)


class PackageStore:
    """Installed app packages under ``root``, keeping up to ``keep_versions`` per app.

    Opening the store empties its staging folder and reconciles every app's
    folders with its pointer file; anything it had to repair is described in
    ``warnings`` (also logged) for the caller to report.
    """

    def __init__(
        self, root: Path, keep_versions: int = 5, limits: ExtractLimits | None = None
    ) -> None:
        if keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
        self.root = Path(root)
        self.keep_versions = keep_versions
        self.limits = limits or ExtractLimits()
        self.warnings: list[str] = []
        self._apps_dir = self.root / "apps"
        self._staging_dir = self.root / "staging" / "packages"
        self._lock = threading.RLock()
        self._records: dict[str, AppRecord] = {}
        self._open()

    @property
    def staging_dir(self) -> Path:
        """Where uploads for this store should be received (same disk, emptied on open)."""
        return self._staging_dir

    # ------------------------------------------------------------------ queries

    def list_apps(self) -> list[str]:
        """Ids of every installed app, sorted."""
        with self._lock:
            return sorted(self._records)

    def versions(self, app_id: str) -> list[str]:
        """Installed versions of ``app_id``, oldest first (install order, persisted)."""
        with self._lock:
            return self._record(app_id).versions

    def active_version(self, app_id: str) -> str | None:
        """The version that should run, or None if none was activated yet."""
        with self._lock:
            return self._record(app_id).active

    def get(self, app_id: str, version: str | None = None) -> InstalledPackage:
        """One installed version (the active one when ``version`` is None)."""
        with self._lock:
            record = self._record(app_id)
            if version is None:
                if record.active is None:
                    raise FailedPrecondition(
                        f"app {app_id!r} has no active version; installed: "
                        f"{', '.join(record.versions)}"
                    )
                version = record.active
            package = record.find(version)
            if package is None:
                raise AppNotFound(
                    f"app {app_id!r} has no version {version!r} installed; installed: "
                    f"{', '.join(record.versions)}"
                )
            return package

    def path(self, app_id: str, version: str | None = None) -> Path:
        """Folder of an installed version (the active one when ``version`` is None)."""
        return self.get(app_id, version).path

    # ------------------------------------------------------------------ changes

    def install(
        self,
        archive: Path,
        identify: Callable[[Path], tuple[str, str]],
        validate: Callable[[Path], None] | None = None,
        *,
        sha256: str | None = None,
    ) -> InstalledPackage:
        """Unpack ``archive`` safely, identify and validate it, then add it as a new version.

        ``identify(folder)`` returns ``(app_id, version)`` read from the
        unpacked package; ``validate(folder)`` raises if the package is
        unusable. Both run on the staged copy, so a failure leaves nothing in
        ``apps/``. ``sha256`` is the archive's digest if the caller already has
        it (``receive_upload`` checked it); otherwise it is computed.

        Installing does not change which version is active. Installing the same
        id and version again with the same files returns the existing package;
        with different files it raises PackageConflict.
        """
        archive = Path(archive)
        archive_sha256 = check_sha256(sha256) if sha256 is not None else file_sha256(archive)
        work = Path(tempfile.mkdtemp(prefix="install-", dir=self._staging_dir))
        try:
            unpacked = work / "package"
            extract_package(archive, unpacked, self.limits)
            app_id, version = identify(unpacked)
            check_id("app id", app_id)
            check_version(version)
            if validate is not None:
                validate(unpacked)
            content_sha256 = tree_sha256(unpacked)
            with self._lock:
                return self._commit(unpacked, app_id, version, archive_sha256, content_sha256)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def activate(self, app_id: str, version: str) -> str | None:
        """Make ``version`` the active one; return the version that was active before."""
        with self._lock:
            record = self._record(app_id)
            self.get(app_id, version)  # NotFound with the installed list
            previous = record.active
            self._save(app_id, replace(record, active=version))
            return previous

    def rollback(self, app_id: str, to_version: str | None = None) -> str:
        """Activate ``to_version``, or the version installed before the active one; return it."""
        with self._lock:
            record = self._record(app_id)
            if to_version is None:
                if record.active is None:
                    raise NothingToRollBack(
                        f"app {app_id!r} has no active version to roll back from"
                    )
                to_version = record.previous_of_active()
                if to_version is None:
                    raise NothingToRollBack(
                        f"app {app_id!r} has no earlier version to roll back to "
                        f"(active: {record.active}; installed: {', '.join(record.versions)})"
                    )
            self.activate(app_id, to_version)
            return to_version

    def refresh_content_digest(self, app_id: str, version: str) -> tuple[str, str]:
        """Record the new content digest of a version whose files were rewritten in place.

        The one sanctioned change to an installed version: taking camera
        passwords out of its app.json (see ``security.camera_secrets``).
        Returns ``(old, new)`` content digests for the audit log; the
        archive's digest (what the signature covered) stays as it was.
        """
        with self._lock:
            record = self._record(app_id)
            package = record.find(version)
            if package is None:
                self.get(app_id, version)  # NotFound with the installed list
                raise AssertionError("unreachable")
            new = tree_sha256(package.path)
            if new != package.content_sha256:
                updated = replace(package, content_sha256=new)
                packages = tuple(updated if p.version == version else p for p in record.packages)
                self._write(app_id, replace(record, packages=packages))
                self._records[app_id] = replace(record, packages=packages)
            return package.content_sha256, new

    def remove(self, app_id: str) -> None:
        """Delete every installed version of ``app_id``."""
        with self._lock:
            self._record(app_id)
            # One rename takes the whole app out of apps/; the slow delete then
            # happens in staging, which the next open empties if it is cut short.
            doomed = Path(tempfile.mkdtemp(prefix=f"removed-{app_id}-", dir=self._staging_dir))
            os.replace(self._apps_dir / app_id, doomed / app_id)
            fsync_dir(self._apps_dir)
            del self._records[app_id]
        shutil.rmtree(doomed, ignore_errors=True)

    # ------------------------------------------------------------------ internals

    def _record(self, app_id: str) -> AppRecord:
        record = self._records.get(app_id)
        if record is None:
            raise AppNotFound(f"app {app_id!r} is not installed")
        return record

    def _commit(
        self, unpacked: Path, app_id: str, version: str, archive_sha256: str, content_sha256: str
    ) -> InstalledPackage:
        record = self._records.get(app_id) or AppRecord(active=None, packages=())
        existing = record.find(version)
        if existing is not None:
            if existing.content_sha256 == content_sha256:
                return existing
            raise PackageConflict(
                f"app {app_id} version {version} is already installed with different content; "
                "give the package a new version"
            )
        app_dir = self._apps_dir / app_id
        if not app_dir.is_dir():
            app_dir.mkdir()
            fsync_dir(self._apps_dir)
        target = app_dir / version
        if target.exists():  # left by a crash; open() normally removes these
            shutil.rmtree(target)
        os.rename(unpacked, target)
        fsync_dir(app_dir)
        package = InstalledPackage(
            app_id, version, target, archive_sha256, content_sha256, time.time()
        )
        self._save(app_id, replace(record, packages=(*record.packages, package)), package.version)
        log.info("installed app %s version %s", app_id, version)
        return package

    def _save(self, app_id: str, record: AppRecord, just_installed: str | None = None) -> None:
        """Prune, write the pointer file, then delete pruned folders (in that order for crashes)."""
        protected = {record.active, record.previous_of_active(), just_installed}
        excess = len(record.packages) - self.keep_versions
        kept, pruned = [], []
        for package in record.packages:
            if excess > 0 and package.version not in protected:
                pruned.append(package)
                excess -= 1
            else:
                kept.append(package)
        record = replace(record, packages=tuple(kept))
        self._write(app_id, record)
        self._records[app_id] = record
        for package in pruned:
            log.info("pruned app %s version %s", app_id, package.version)
            shutil.rmtree(package.path, ignore_errors=True)

    def _write(self, app_id: str, record: AppRecord) -> None:
        atomic_write_json(self._apps_dir / app_id / VERSIONS_FILE, record_to_json(record))

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    # ------------------------------------------------------------------ open & repair

    def _open(self) -> None:
        self._apps_dir.mkdir(parents=True, exist_ok=True)
        if self._staging_dir.exists():
            for leftover in self._staging_dir.iterdir():
                log.info("removing leftover from an interrupted install: %s", leftover)
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        self._staging_dir.mkdir(parents=True, exist_ok=True)
        for app_dir in sorted(self._apps_dir.iterdir()):
            try:
                check_id("app id", app_dir.name)
            except InvalidName as exc:
                self._warn(f"ignoring {app_dir}: {exc}")
                continue
            if app_dir.is_dir() and not app_dir.is_symlink():
                self._open_app(app_dir)
            else:
                self._warn(f"ignoring {app_dir}: not a folder")

    def _open_app(self, app_dir: Path) -> None:
        app_id = app_dir.name
        pointer = app_dir / VERSIONS_FILE
        remove_stale_temp_files(pointer)
        on_disk = {}
        for child in app_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                try:
                    on_disk[check_version(child.name)] = child
                except InvalidName as exc:
                    self._warn(f"ignoring {child}: {exc}")
        data, _moved, warning = load_json_file(pointer, check_versions_file)
        if warning is not None:
            self._warn(warning)
            record = self._rebuild(app_id, on_disk)
        elif data is None:
            # The first install of this app was cut short before its pointer
            # file existed: nothing here was ever reported as installed.
            record = AppRecord(active=None, packages=())
        else:
            record = self._reconcile(app_id, data, on_disk)
        listed = set(record.versions)
        for version, folder in on_disk.items():
            if version not in listed:
                log.info("removing incomplete install of app %s version %s", app_id, version)
                shutil.rmtree(folder, ignore_errors=True)
        if not record.packages:
            shutil.rmtree(app_dir, ignore_errors=True)
            return
        if data is None or record != record_from_json(app_id, self._apps_dir / app_id, data):
            self._write(app_id, record)
        self._records[app_id] = record

    def _reconcile(self, app_id: str, data: dict[str, Any], on_disk: dict[str, Path]) -> AppRecord:
        record = record_from_json(app_id, self._apps_dir / app_id, data)
        present = tuple(p for p in record.packages if p.version in on_disk)
        for package in record.packages:
            if package.version not in on_disk:
                self._warn(
                    f"app {app_id} version {package.version} is listed but its folder is gone"
                )
        active = record.active
        if active is not None and (record.find(active) is None or active not in on_disk):
            self._warn(f"app {app_id}: active version {active} is not installed; none is active")
            active = None
        return AppRecord(active=active, packages=present)

    def _rebuild(self, app_id: str, on_disk: dict[str, Path]) -> AppRecord:
        ordered = sorted(on_disk.items(), key=lambda item: (item[1].stat().st_mtime_ns, item[0]))
        packages = tuple(
            InstalledPackage(
                app_id, version, folder, "", tree_sha256(folder), folder.stat().st_mtime
            )
            for version, folder in ordered
        )
        if packages:
            self._warn(
                f"app {app_id}: rebuilt its version list from the folders on disk "
                f"({', '.join(p.version for p in packages)}); no version is active"
            )
        return AppRecord(active=None, packages=packages)
