"""Deploy one app package to many devices at once, with per-device progress, cancel and retry.

:meth:`Deployer.deploy` blocks (the UI runs it as a background task) while
at most ``max_parallel`` devices upload at a time. For each device
``on_progress(device_id, DeployProgress)`` is called from a worker thread as
it goes: queued → connecting → uploading (n/N bytes) → installing → running,
or failed (with the reason) or cancelled. The result per device says what
happened in words an engineer can act on; a device that went away
mid-upload keeps its running version (the device only switches versions
after a complete, verified upload) and :meth:`Deployer.retry` sends the
package again to just the devices that did not succeed.

A package may come with named secrets (:class:`DeployPackage`: camera
passwords as ``camera/<id>/password``, later other kinds): they go to each
device beside the package, in the upload's header, never inside it.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MAX_PARALLEL = 4
# Status codes that mean "the device or the network went away", not "the device said no".
CONNECTION_LOST = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "ABORTED", "INTERNAL", "UNKNOWN"}


class Stage(str, enum.Enum):
    """Where one device's deploy is."""

    QUEUED = "queued"
    CONNECTING = "connecting"
    UPLOADING = "uploading"
    INSTALLING = "installing"
    RUNNING = "running"
    INSTALLED = "installed"  # done, but the app is not running (stopped, starting)
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Stage.RUNNING, Stage.INSTALLED, Stage.FAILED, Stage.CANCELLED)


@dataclass(frozen=True)
class DeployProgress:
    """One progress report for one device."""

    stage: Stage
    sent: int = 0
    total: int = 0
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """Upload fraction 0..1 while uploading; 1 after; ``None`` before."""
        if self.stage in (Stage.QUEUED, Stage.CONNECTING):
            return None
        if self.stage == Stage.UPLOADING:
            return self.sent / self.total if self.total else 0.0
        return 1.0

    def describe(self) -> str:
        """A short text for a progress row."""
        if self.stage == Stage.UPLOADING and self.total:
            return f"uploading {self.sent / 1e6:.1f} / {self.total / 1e6:.1f} MB"
        return self.message or self.stage.value


@dataclass(frozen=True)
class DeployResult:
    """How one device's deploy ended. ``ok``: installed (and, normally, running)."""

    device_id: str
    stage: Stage
    message: str = ""
    app_id: str = ""
    version: str = ""
    state: str = ""

    @property
    def ok(self) -> bool:
        return self.stage in (Stage.RUNNING, Stage.INSTALLED)


ProgressCallback = Callable[[str, DeployProgress], None]


@dataclass(frozen=True)
class DeployPackage:
    """A package and the named secrets that go with it to each device (kept in memory only)."""

    data: bytes
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.data)


def _parts(package: bytes | DeployPackage) -> tuple[bytes, Mapping[str, str]]:
    if isinstance(package, DeployPackage):
        return package.data, package.secrets
    return package, {}


class Deployer:
    """Deploys packages through ``appliances`` (anything with ``connect(device_id)`` → a device client)."""

    def __init__(self, appliances: Any, max_parallel: int = DEFAULT_MAX_PARALLEL):
        self.appliances = appliances
        self.max_parallel = max_parallel
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    # ------------------------------------------------------------ public

    def deploy(self, package: bytes | DeployPackage, device_ids: list[str],
               on_progress: ProgressCallback | None = None,
               max_parallel: int | None = None) -> dict[str, DeployResult]:
        """Upload ``package`` (and its secrets) to every device in ``device_ids``; blocks until all have finished."""
        report = _safe(on_progress)
        self._cancel.clear()
        device_ids = list(dict.fromkeys(device_ids))
        for device_id in device_ids:
            report(device_id, DeployProgress(Stage.QUEUED, 0, len(package)))
        workers = max(1, min(max_parallel or self.max_parallel, len(device_ids) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deploy") as pool:
            futures = {d: pool.submit(self._deploy_one, package, d, report) for d in device_ids}
            return {d: future.result() for d, future in futures.items()}

    def retry(self, package: bytes | DeployPackage, previous: Mapping[str, DeployResult],
              on_progress: ProgressCallback | None = None, max_parallel: int | None = None) -> dict[str, DeployResult]:
        """Deploy again to the devices whose previous result was not ok; returns all results merged."""
        again = [d for d, result in previous.items() if not result.ok]
        merged = dict(previous)
        merged.update(self.deploy(package, again, on_progress, max_parallel))
        return merged

    def cancel(self) -> None:
        """Stop: queued devices are skipped, uploads in flight are cut (those devices keep their version)."""
        self._cancel.set()
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            try:
                client.close()
            except Exception:  # closing a half-dead channel may complain; it is closed either way
                log.debug("closing a deploy client failed", exc_info=True)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ------------------------------------------------------------ one device

    def _deploy_one(self, package: bytes | DeployPackage, device_id: str, report: ProgressCallback) -> DeployResult:
        data, secrets = _parts(package)
        total = len(data)
        name = self._device_name(device_id)

        def finish(stage: Stage, message: str, status: Any = None) -> DeployResult:
            result = DeployResult(device_id, stage, message,
                                  getattr(status, "app_id", ""), getattr(status, "version", ""),
                                  getattr(status, "state", ""))
            report(device_id, DeployProgress(stage, total if stage.finished and stage != Stage.FAILED else 0,
                                             total, message))
            return result

        if self._cancel.is_set():
            return finish(Stage.CANCELLED, "cancelled before it started")
        report(device_id, DeployProgress(Stage.CONNECTING, 0, total, f"connecting to {name}"))
        try:
            client = self.appliances.connect(device_id)
        except Exception as exc:
            return finish(Stage.FAILED, f"could not connect to {name}: {exc}")
        with self._lock:
            self._clients[device_id] = client
        try:
            if self._cancel.is_set():
                return finish(Stage.CANCELLED, "cancelled before the upload")
            report(device_id, DeployProgress(Stage.UPLOADING, 0, total))

            def on_sent(sent: int) -> None:
                if sent >= total:
                    report(device_id, DeployProgress(Stage.INSTALLING, total, total, f"installing on {name}"))
                else:
                    report(device_id, DeployProgress(Stage.UPLOADING, sent, total))

            try:
                status = self._send(client, data, lambda sent, _total: on_sent(sent), secrets)
            except Exception as exc:
                if self._cancel.is_set():
                    return finish(Stage.CANCELLED, f"cancelled; {name} keeps the version it was running")
                return finish(Stage.FAILED, _failure_text(name, exc))
            stage, message = self._outcome(status, name)
            return finish(stage, message, status)
        finally:
            with self._lock:
                self._clients.pop(device_id, None)
            try:
                client.close()
            except Exception:
                log.debug("closing the client of %s failed", device_id, exc_info=True)

    def _send(self, client: Any, package: bytes, progress: Callable[[int, int], None],
              secrets: Mapping[str, str]) -> Any:
        """Upload to one device; subclasses send other things (device software) the same way."""
        return client.deploy(package, progress=progress, secrets=secrets)

    def _outcome(self, status: Any, name: str) -> tuple[Stage, str]:
        state = getattr(status, "state", "")
        if state == "running":
            return Stage.RUNNING, f"{status.app_id} {status.version} running on {name}"
        if state == "failed":
            return Stage.FAILED, (f"{status.app_id} {status.version} was installed on {name} but "
                                  f"failed to start: {status.error or 'no reason given'}")
        return Stage.INSTALLED, f"{status.app_id} {status.version} installed on {name} ({state})"

    def _device_name(self, device_id: str) -> str:
        try:
            return self.appliances.entry(device_id).name or device_id
        except Exception:
            return device_id


def _failure_text(name: str, exc: BaseException) -> str:
    code = getattr(exc, "code", "")
    detail = getattr(exc, "message", "") or str(exc)
    if code in CONNECTION_LOST:
        return (f"lost the connection to {name} during the deploy ({code}: {detail}); "
                f"{name} keeps running the version it had. Retry when it is reachable again.")
    if code:
        return f"{name} refused the package ({code}): {detail}"
    return f"deploy to {name} failed: {detail}"


def _safe(callback: ProgressCallback | None) -> ProgressCallback:
    def report(device_id: str, progress: DeployProgress) -> None:
        if callback is None:
            return
        try:
            callback(device_id, progress)
        except Exception:  # a broken progress view must not fail the deploy
            log.exception("deploy progress callback failed")

    return report
