"""Offline device software updates, the root half: install, restart, check health, roll back.

``sightline-device apply-update`` runs as root from ``sightline-update.service``
when ``sightline-update.path`` sees ``data_dir/updates/pending.json``:

1. ``dpkg -i staged.deb`` (its postinst rebuilds the venv and restarts the
   service);
2. wait until the service is healthy: it wrote ``runtime-status.json`` after
   the install began, with the new version, its process is alive and its port
   accepts connections; at most ``health_timeout_s``;
3. healthy: keep the .deb as ``installed/VERSION.deb`` (the rollback target of
   the next update); otherwise reinstall the previous version's kept .deb and
   restart, so the previous version serves again, and say so in ``state.json``
   and the audit log. Without a kept .deb (the first update of a device) the
   rollback restores a hard-link snapshot of the install folder taken before
   ``dpkg -i`` and restarts the service; dpkg then still lists the new version
   and the report says so.

``dpkg_root`` installs into a scratch root instead of ``/`` (tests, images):
``dpkg --root`` with maintainer scripts run outside it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from device_runtime.security.audit import LOCAL, AuditLog
from device_runtime.security.identity import write_atomically
from device_runtime.update.staging import PENDING, STAGED, STATE, UPDATES_DIR, UpdateState

log = logging.getLogger(__name__)

STATUS_FILE = "runtime-status.json"
INSTALLED_DIR = "installed"
KEEP_INSTALLED = 3
PREFIX = Path("/opt/sightline-device")


def write_runtime_status(data_dir: Path, version: str, port: int) -> None:
    """Called by the runtime once it serves: what the updater's health check reads."""
    doc = {"version": version, "pid": os.getpid(), "port": port, "started_at": time.time()}
    write_atomically(Path(data_dir) / STATUS_FILE, json.dumps(doc).encode(), mode=0o644)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class UpdaterOptions:
    """Where and how to install. ``restart`` and ``check_version`` are parameters for tests and images."""

    dpkg_root: Path | None = None
    prefix: Path = PREFIX
    health_timeout_s: float = 120.0
    restart: Callable[[], None] | None = None
    check_version: bool = True


class Updater:
    """Applies the staged update of the device whose data folder is ``data_dir``."""

    def __init__(self, data_dir: Path, options: UpdaterOptions | None = None):
        self.data_dir = Path(data_dir)
        self.folder = self.data_dir / UPDATES_DIR
        self.options = options or UpdaterOptions()
        self.audit = AuditLog(self.data_dir)

    def _set(self, state: UpdateState) -> None:
        write_atomically(self.folder / STATE, json.dumps(asdict(state)).encode(), mode=0o644)

    def _dpkg(self, deb: Path) -> subprocess.CompletedProcess:
        argv = ["dpkg"]
        if self.options.dpkg_root is not None:
            argv += [f"--root={self.options.dpkg_root}", "--force-script-chrootless", "--force-not-root"]
        return subprocess.run([*argv, "-i", str(deb)], capture_output=True, text=True, timeout=1800)

    def _restart(self) -> None:
        if self.options.restart is not None:
            self.options.restart()
            return
        subprocess.run(["systemctl", "restart", "sightline-device.service"], capture_output=True, timeout=300)

    def _healthy(self, since: float, version: str) -> str:
        """Empty when the service came up healthy after ``since``; else why not."""
        deadline = time.monotonic() + self.options.health_timeout_s
        why = "it did not report running"
        while time.monotonic() < deadline:
            try:
                status = json.loads((self.data_dir / STATUS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                status = {}
            if status.get("started_at", 0) > since and _pid_alive(int(status.get("pid", 0))):
                if self.options.check_version and status.get("version") != version:
                    why = f"it runs version {status.get('version')}, not {version}"
                elif _port_open(int(status.get("port", 0))):
                    return ""
                else:
                    why = f"its API port {status.get('port')} does not accept connections"
            time.sleep(0.5)
        return f"{why} within {self.options.health_timeout_s:.0f} s"

    def _snapshot(self) -> Path | None:
        prefix = self._installed_prefix()
        if not prefix.is_dir():
            return None
        snapshot = self.folder / "rollback-tree"
        if snapshot.exists():
            shutil.rmtree(snapshot)
        # Hard links: dpkg replaces files by renaming new ones over them, so the old inodes survive.
        subprocess.run(["cp", "-al", str(prefix), str(snapshot)], check=True, capture_output=True)
        return snapshot

    def _installed_prefix(self) -> Path:
        root = self.options.dpkg_root
        return Path(root) / self.options.prefix.relative_to("/") if root is not None else self.options.prefix

    def apply(self) -> UpdateState:
        """Install the pending update; returns the final state (installed, rolled-back or failed)."""
        pending_path = self.folder / PENDING
        try:
            pending = json.loads(pending_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return UpdateState("none", detail="no update is pending")
        version, previous = pending["version"], pending.get("previous_version", "")
        staged = self.folder / STAGED
        pending_path.unlink(missing_ok=True)  # one attempt per staging, whatever happens
        if not staged.exists():
            return self._finish(UpdateState("failed", version, previous, "the staged .deb is missing; push it again",
                                            time.time()), "FAILED")
        self._set(UpdateState("installing", version, previous, "", time.time()))
        kept_previous = self.folder / INSTALLED_DIR / f"{previous}.deb"
        snapshot = None if kept_previous.exists() else self._snapshot()
        started = time.time()
        result = self._dpkg(staged)
        if result.returncode == 0:
            self._restart()
            why = self._healthy(started, version)
            if not why:
                (self.folder / INSTALLED_DIR).mkdir(exist_ok=True)
                staged.replace(self.folder / INSTALLED_DIR / f"{version}.deb")
                self._prune()
                return self._finish(UpdateState("installed", version, previous, "healthy", time.time()), "ok")
            reason = f"version {version} installed but not healthy: {why}"
        else:
            reason = f"dpkg could not install {version}: {(result.stderr or result.stdout).strip()[-500:]}"
        log.error("%s; rolling back to %s", reason, previous)
        return self._finish(self._roll_back(version, previous, kept_previous, snapshot, reason), "ROLLED_BACK")

    def _roll_back(self, version: str, previous: str, kept: Path, snapshot: Path | None, reason: str) -> UpdateState:
        started = time.time()
        if kept.exists():
            result = self._dpkg(kept)
            if result.returncode != 0:
                return UpdateState("failed", version, previous,
                                   f"{reason}; reinstalling {previous} failed too: {result.stderr.strip()[-300:]}",
                                   time.time())
            how = f"reinstalled {previous}"
        elif snapshot is not None:
            prefix = self._installed_prefix()
            shutil.rmtree(prefix, ignore_errors=True)
            subprocess.run(["cp", "-al", str(snapshot), str(prefix)], check=True, capture_output=True)
            how = f"restored the {previous} files (dpkg still lists {version}: reinstall {previous}'s .deb)"
        else:
            return UpdateState("failed", version, previous, f"{reason}; nothing to roll back to", time.time())
        self._restart()
        why = self._healthy(started, previous)
        if why:
            return UpdateState("failed", version, previous, f"{reason}; {how}, but it is not healthy either: {why}",
                               time.time())
        return UpdateState("rolled-back", version, previous, f"{reason}; {how}, which serves again", time.time())

    def _finish(self, state: UpdateState, outcome: str) -> UpdateState:
        self._set(state)
        self.audit.record("update", LOCAL, target=f"{state.previous_version} -> {state.version}",
                          outcome=outcome if state.state != "failed" else "FAILED", detail=state.detail)
        shutil.rmtree(self.folder / "rollback-tree", ignore_errors=True)
        (self.folder / STAGED).unlink(missing_ok=True)
        return state

    def _prune(self) -> None:
        kept = sorted((self.folder / INSTALLED_DIR).glob("*.deb"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_INSTALLED]:
            old.unlink(missing_ok=True)

