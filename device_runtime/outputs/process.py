"""Every app's outputs, delivered from a child process of the device (the *outputs process*).

Why a process of their own: the outputs' client libraries (paho-mqtt,
http.client, pymodbus, asyncua, boto3) are Python, and in the device's
process every message they send holds the interpreter lock that the
cameras' threads need between their decode and inference calls. Measured on
a saturated 2-core machine (``benchmarks/outputs.py``), three outputs in the
device's process cost the pipeline 2-4 % of its results/s, even with their
threads at the lowest priority (a low-priority thread that holds the lock
when it is preempted makes the cameras wait for it); in a process of their
own at nice 19 they run on the CPU time the cameras leave and hold no lock
of theirs. The camera's thread pays one non-blocking socket write per
submit (:mod:`device_runtime.outputs.wire`).

This class has the :class:`~device_runtime.outputs.dispatcher.OutputDispatcher`'s
interface (attach, submit, statuses, ...); the dispatcher itself runs in
the child (:mod:`device_runtime.outputs.host`) over the same outbox. The
device keeps what the child needs again after a restart (the attached
manifests) and what it reports (the outputs' statuses, at most a quarter
of a second old). Its secrets are read here, from the device's store, and
sent with each app's attach. App log records are captured here (the child's
own records come back as the device's) and sent to the child.

Failures: a child that exits is started again (backoff 1 s doubling to
30 s) and given every attached app. What a crashed child had not yet stored
(at most the last write-behind interval, 0.2 s of undelivered events) is
lost, as in a power cut; events submitted while no child runs are counted as
dropped on the app's outputs, with the reason. The socket's end tells the child that the device went away, even
killed: it stores what it holds and exits; a new child waits for the old
one's lock on the outbox.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import device_runtime
from device_runtime.outputs.app_logs import LEVELS, AppLogHandler, capture_app_logs
from device_runtime.outputs.dispatcher import (
    LOG_SUFFIX,
    STALL_AFTER_S,
    OutputStatus,
    output_key,
    send_test,
)
from device_runtime.outputs.host import FD_VARIABLE
from device_runtime.outputs.outbox import FILE_NAME, OutputCounters
from device_runtime.outputs.sinks import wants_snapshot
from device_runtime.outputs.wire import FrameReader, Sender

log = logging.getLogger(__name__)

RESTART_INITIAL_S = 1.0
RESTART_MAX_S = 30.0
STOP_GRACE_S = 20.0  # a closing child stops its delivery threads and stores what it holds


class _Child:
    """One run of the outputs process: the process, its socket, the thread that reads its reports."""

    def __init__(self, options: dict[str, Any]) -> None:
        # Two socket pairs: the device writes without waiting (non-blocking), reads its reports blocking.
        to_child, child_in = socket.socketpair()
        from_child, child_out = socket.socketpair()
        env = dict(os.environ)
        root = str(Path(device_runtime.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env[FD_VARIABLE] = f"{child_in.fileno()},{child_out.fileno()}"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "device_runtime.outputs.host"],
                pass_fds=(child_in.fileno(), child_out.fileno()), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        except OSError:
            to_child.close()
            from_child.close()
            raise
        finally:
            child_in.close()
            child_out.close()
        self._sockets = (to_child, from_child)
        self.reader = FrameReader(from_child)
        self.sender = Sender(to_child, name="outputs-sender")
        self.sender.send(options)
        self.started = time.monotonic()

    def close(self) -> None:
        self.sender.close()
        self.reader.close()
        for sock in self._sockets:
            sock.close()


class OutputsProcess:
    """Every app's outputs on this device, over one outbox in ``<data_dir>/outbox.sqlite3``, in a child process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        device: str = "",
        secrets: Callable[[str], str | None] | None = None,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 7 * 86400.0,
        write_behind_s: float = 0.2,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        nice: int = 19,
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        """``nice``: the outputs process's niceness (Linux, 0-19); the rest as :class:`OutputDispatcher`'s."""
        self.data_dir = Path(data_dir)
        self.device = device
        self._secret_lookup = secrets or (lambda name: None)
        #: What the outputs process starts with (the dispatcher's options, its niceness).
        self.options = {
            "data_dir": str(self.data_dir), "device": device, "max_bytes": max_bytes, "max_age_s": max_age_s,
            "write_behind_s": write_behind_s, "retry_initial_s": retry_initial_s, "retry_max_s": retry_max_s,
            "stall_after_s": stall_after_s, "nice": nice,
        }
        self._lock = threading.Lock()
        self._starting = threading.Lock()  # held while a child starts and is given the apps
        self._child: _Child | None = None
        self._closing = False
        self.restarts = 0
        self._manifests: dict[str, Any] = {}
        self._params: dict[str, Any] = {}  # app id -> live params changed since its attach
        self._snapshots: dict[str, bool] = {}  # app id -> whether an output of it sends snapshots
        self._reported: list[OutputStatus] = []
        self._lost: dict[str, int] = {}  # app id -> events the outputs process did not take
        self._lost_reason: dict[str, str] = {}
        self._events_by_kind: dict[tuple[str, str], int] = {}
        self._log_targets: dict[str, list[tuple[str, int]]] = {}
        self._log_handler: AppLogHandler | None = None
        if (self.data_dir / FILE_NAME).exists():  # what an earlier run left queued shows (and drains) at once
            with self._starting:
                self._start()

    @property
    def pid(self) -> int | None:
        """The outputs process's id while it runs."""
        child = self._child
        return child.process.pid if child is not None and child.process.poll() is None else None

    def use_secrets(self, lookup: Callable[[str], str | None]) -> None:
        """Read output secrets from ``lookup`` (the device's SecretStore.get) from now on."""
        self._secret_lookup = lookup

    # ------------------------------------------------------------------ apps

    def attach(self, manifest: Any) -> None:
        """Start delivering the outputs of ``manifest`` (replacing the app's previous ones)."""
        outputs = [spec for spec in getattr(manifest, "outputs", []) or [] if spec.enabled]
        if not outputs:
            self.detach(manifest.id)
            return
        secrets = self._secrets_of(manifest)
        with self._lock:
            self._manifests[manifest.id] = manifest
            self._params.pop(manifest.id, None)
            self._snapshots[manifest.id] = any(wants_snapshot(spec) for spec in outputs)
            self._log_targets = {**self._log_targets, manifest.id: [
                (output_key(manifest.id, spec.name + LOG_SUFFIX), LEVELS[spec.app_log_level])
                for spec in outputs if getattr(spec, "app_log", False)]}
            self._update_log_handler()
        with self._starting:
            if self._child is None:
                self._start()  # which attaches every app, this one included
            else:
                self._child.sender.send(("attach", manifest, secrets))

    def update_params(self, app_id: str, params: Any) -> None:
        """The app's live parameters changed: overlays draw its new zones and lines from now on."""
        with self._lock:
            if app_id not in self._manifests:
                return
            self._params[app_id] = params  # for a restarted outputs process
        self._send(("params", app_id, params))

    def detach(self, app_id: str) -> None:
        """Stop the app's outputs; what they had queued stays in the outbox for the next start."""
        with self._lock:
            if self._manifests.pop(app_id, None) is None:
                return
            self._snapshots.pop(app_id, None)
            self._params.pop(app_id, None)
            self._log_targets = {k: v for k, v in self._log_targets.items() if k != app_id}
            self._update_log_handler()
        self._send(("detach", app_id))

    # ------------------------------------------------------------------ the pipeline side

    def submit(
        self, app_id: str, events: list[Any], snapshot: bytes = b"", overlay: dict[str, Any] | None = None
    ) -> None:
        """Send ``events`` to the app's outputs in the outputs process. Never blocks."""
        with self._lock:
            for event in events:
                kind = (app_id, getattr(event, "type", ""))
                self._events_by_kind[kind] = self._events_by_kind.get(kind, 0) + 1
            snapshots = self._snapshots.get(app_id)
            child = self._child
        if snapshots is None or not events:
            return
        data = [event.fields() if hasattr(event, "fields") else dict(event) for event in events]
        blob = snapshot if snapshots else b""
        message = ("submit", app_id, data, blob, overlay if blob else None, time.time())
        if child is None or not child.sender.send(message):
            self._count_lost(app_id, len(events), "the outputs process was not running")

    def _put_log(self, key: str, fields: dict[str, Any]) -> bool:
        return self._send(("log", key, fields))

    # ------------------------------------------------------------------ reporting

    def statuses(self) -> list[OutputStatus]:
        """Every attached output's state and counters (as the outputs process last reported them),
        then outputs that still hold messages but are detached."""
        with self._lock:
            reported = {(s.app_id, s.name): s for s in self._reported}
            manifests = list(self._manifests.values())
            lost = dict(self._lost)
            running = self._child is not None and self._child.process.poll() is None
        result = []
        for manifest in manifests:
            for spec in manifest.outputs:
                if not spec.enabled:
                    continue
                names = [spec.name] + ([spec.name + LOG_SUFFIX] if getattr(spec, "app_log", False) else [])
                for name in names:
                    status = reported.pop((manifest.id, name), None) or OutputStatus(
                        manifest.id, name, spec.kind, "idle", OutputCounters(output_key(manifest.id, name)))
                    result.append(self._with_losses(status, lost, running))
        result += [s for s in reported.values() if s.state == "detached"]
        return result

    def _with_losses(self, status: OutputStatus, lost: dict[str, int], running: bool) -> OutputStatus:
        """``status`` with the app's events that never reached the outputs process (and a down process) in it."""
        counters = status.counters
        n = lost.get(status.app_id, 0)
        if n:
            counters = replace(counters, dropped=counters.dropped + n)
            if not counters.last_error:
                counters.last_error = f"{n} event(s) lost: {self._lost_reason[status.app_id]}"
        if not running and not self._closing:
            return replace(status, state="retrying", counters=replace(
                counters, last_error="the outputs process stopped; starting it again"))
        return replace(status, counters=counters)

    def events_by_kind(self) -> dict[tuple[str, str], int]:
        """Events seen per (app, kind) since start, for metrics."""
        with self._lock:
            return dict(self._events_by_kind)

    # ------------------------------------------------------------------ test sends

    def send_test(self, spec: Any, app_id: str = "test", extra_secrets: dict[str, str] | None = None) -> str:
        """Deliver one sample event to ``spec`` now, from this process (a console's button, not a camera)."""
        return send_test(spec, app_id, device=self.device, secrets=self._secret_lookup, extra_secrets=extra_secrets)

    def close(self) -> None:
        """Stop the outputs process; it stores what it has not delivered."""
        with self._starting, self._lock:
            self._closing = True
            child, self._child = self._child, None
            self._manifests.clear()
            self._log_targets = {}
            self._update_log_handler()
        if child is not None:
            self._stop_child(child)

    # ------------------------------------------------------------------ internals

    def _send(self, message: tuple) -> bool:
        child = self._child
        return child is not None and child.sender.send(message)

    def _count_lost(self, app_id: str, n: int, reason: str) -> None:
        with self._lock:
            self._lost[app_id] = self._lost.get(app_id, 0) + n
            self._lost_reason[app_id] = reason
        log.warning("output %s/*: %d event(s) lost: %s", app_id, n, reason)

    def _secrets_of(self, manifest: Any) -> dict[str, str]:
        """The values of the secrets the app's outputs name (those the device's store has)."""
        names = {name for spec in manifest.outputs if spec.enabled for name in spec.secret_names()}
        return {name: value for name in names if (value := self._secret_lookup(name)) is not None}

    def _start(self) -> None:
        """Start the outputs process and give it every attached app. Holds ``_starting``."""
        if self._closing:
            return
        options = dict(self.options, log_level=logging.getLogger("device_runtime").getEffectiveLevel())
        child = _Child(options)
        with self._lock:
            self._child = child
            manifests, params = list(self._manifests.values()), dict(self._params)
        for manifest in manifests:
            child.sender.send(("attach", manifest, self._secrets_of(manifest)))
            if manifest.id in params:
                child.sender.send(("params", manifest.id, params[manifest.id]))
        threading.Thread(target=self._read, args=(child,), name="outputs-reports", daemon=True).start()

    def _read(self, child: _Child) -> None:
        """Take the child's reports until it ends; then start another unless the device is closing."""
        while (message := child.reader.read()) is not None:
            if message[0] == "statuses":
                with self._lock:
                    self._reported = message[1]
            elif message[0] == "log":
                self._log_child_record(*message[1:])
        code = child.process.wait()
        child.close()
        with self._lock:
            if self._closing or self._child is not child:
                return
        self.restarts += 1
        # One that ran a while had a fault now and then; one that keeps stopping waits longer each time.
        ran = time.monotonic() - child.started
        delay = RESTART_INITIAL_S if ran > RESTART_MAX_S else min(RESTART_MAX_S, RESTART_INITIAL_S * 2 ** min(self.restarts, 5))
        log.error("the outputs process stopped (exit status %s); starting it again in %.0f s", code, delay)
        while True:
            time.sleep(delay)
            try:
                with self._starting:
                    self._start()
                return
            except OSError as exc:
                delay = min(RESTART_MAX_S, delay * 2)
                log.error("cannot start the outputs process: %s; trying again in %.0f s", exc, delay)

    @staticmethod
    def _log_child_record(name: str, level: int, message: str, created: float, app_id: str | None) -> None:
        record = logging.LogRecord(name, level, "outputs-process", 0, message, None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        if app_id:
            record.app_id = app_id
        logging.getLogger(name).handle(record)

    def _stop_child(self, child: _Child) -> None:
        child.sender.send(("close",))
        child.sender.close(STOP_GRACE_S)
        try:
            child.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            log.error("the outputs process did not stop within %.0f s; killing it", STOP_GRACE_S)
            child.process.kill()
            child.process.wait()
        child.close()

    def _update_log_handler(self) -> None:
        """Install the app log handler while an app has a log output, remove it after. Holds ``_lock``."""
        self._log_targets = {app: items for app, items in self._log_targets.items() if items}
        self._log_handler = capture_app_logs(self._log_handler, self._log_targets, lambda: self._log_targets,
                                             self._put_log)
