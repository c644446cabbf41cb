"""The outputs process: runs an :class:`OutputDispatcher` for the device, fed over a socket.

Started by :class:`device_runtime.outputs.process.OutputsProcess` as
``python -m device_runtime.outputs.host`` with an end of two socket pairs
(``SIGHTLINE_OUTPUTS_FD``: the socket it reads, then the one it writes). The device sends frames
(:mod:`device_runtime.outputs.wire`); the first is the options, then:

- ``("attach", manifest, secrets)``: start the app's outputs (``secrets``:
  the values of the secrets they name, read from the device's store);
- ``("detach", app_id)``, ``("params", app_id, params)``;
- ``("submit", app_id, events, snapshot, overlay, submitted)``: events as dicts, and when;
- ``("log", key, fields)``: an app's log record, for its log output ``key``;
- ``("close",)``.

It sends back ``("statuses", [OutputStatus])`` whenever something changed
(at most every ``REPORT_S``, and every ``QUIET_REPORT_S`` regardless) and
``("log", ...)`` for each of its own log records, which the device logs as
its own. When the device goes away (even killed) the socket ends: the
dispatcher stops and stores what it holds, and the process exits, so a
device restart finds every undelivered message on disk. It ignores SIGTERM
and SIGINT (systemd stops a service by signalling all its processes): the
device's own stop closes it once no camera submits any more.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from device_runtime.outputs.app_logs import app_of
from device_runtime.outputs.dispatcher import OutputDispatcher
from device_runtime.outputs.wire import BlockingSender, FrameReader

log = logging.getLogger("device_runtime.outputs.host")

FD_VARIABLE = "SIGHTLINE_OUTPUTS_FD"
LOCK_FILE = "outbox.lock"
REPORT_S = 0.25
QUIET_REPORT_S = 2.0


class ForwardingHandler(logging.Handler):
    """Sends each log record to the device, which logs it as its own (with the app it is about)."""

    def __init__(self, sender: BlockingSender) -> None:
        super().__init__(logging.DEBUG)
        self._sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            self._sender.send(("log", record.name, record.levelno, message, record.created, app_of(record)))
        except Exception:  # a log handler must never raise into the caller
            self.handleError(record)


def lower_process_priority(nice: int) -> None:
    """Run this process at niceness ``nice``: every thread it has (Linux keeps a nice value per
    thread; libraries start some at import) and, by inheritance, every thread it starts later."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tasks = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ["0"]
    for task in tasks:
        try:
            if os.getpriority(os.PRIO_PROCESS, int(task)) < nice:
                os.setpriority(os.PRIO_PROCESS, int(task), nice)
        except OSError as exc:  # best effort: the outputs still run, only at the device's priority
            log.debug("cannot lower the outputs process's priority: %s", exc)


class Host:
    """The process's work: one dispatcher, its commands, its reports."""

    def __init__(self, options: dict[str, Any], sender: BlockingSender) -> None:
        self._sender = sender
        self._secrets: dict[str, str] = {}
        self.dispatcher = OutputDispatcher(
            Path(options["data_dir"]),
            device=options.get("device", ""),
            secrets=self._secrets.get,
            max_bytes=options["max_bytes"],
            max_age_s=options["max_age_s"],
            write_behind_s=options["write_behind_s"],
            retry_initial_s=options["retry_initial_s"],
            retry_max_s=options["retry_max_s"],
            stall_after_s=options["stall_after_s"],
            delivery_nice=0,  # the whole process already runs at the outputs' priority
            capture_app_logs=False,  # the device captures app log records, ours included, and sends them here
        )
        self._stop = threading.Event()
        self._reporter = threading.Thread(target=self._report_loop, name="outputs-report", daemon=True)

    def serve(self, reader: FrameReader) -> None:
        self._reporter.start()
        try:
            while True:
                message = reader.read()
                if message is None or message[0] == "close":
                    break
                try:
                    self.handle(message)
                except Exception:  # one bad command must not take every output down (and loop on restart)
                    log.exception("outputs process: %s failed", message[0])
        finally:
            self._stop.set()
            self._reporter.join(5)
            self.dispatcher.close()

    def handle(self, message: tuple) -> None:
        command, *args = message
        if command == "submit":
            app_id, events, snapshot, overlay, submitted = args
            self.dispatcher.submit(app_id, events, snapshot, overlay, submitted)
        elif command == "log":
            key, fields = args
            self.dispatcher.outbox.put(key, fields)
        elif command == "attach":
            manifest, secrets = args
            self._secrets.update(secrets)
            self.dispatcher.attach(manifest)
        elif command == "detach":
            self.dispatcher.detach(args[0])
        elif command == "params":
            self.dispatcher.update_params(args[0], args[1])
        else:
            log.error("outputs process: unknown command %r", command)

    def _report_loop(self) -> None:
        last: Any = None
        last_sent = 0.0
        while not self._stop.wait(REPORT_S):
            statuses = self.dispatcher.statuses()
            now = time.monotonic()
            if statuses != last or now - last_sent >= QUIET_REPORT_S:
                self._sender.send(("statuses", statuses))
                last, last_sent = statuses, now


def _lock_outbox(data_dir: Path) -> Any:
    """Wait until no other outputs process (one still storing what it held) uses this outbox."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the process's life
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def main() -> int:
    # The device stops us (a close, or its socket's end) after it stopped its cameras: a SIGTERM that
    # systemd sends every process of the service, or a terminal's Ctrl-C, must not lose what we hold.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd_in, fd_out = (int(fd) for fd in os.environ[FD_VARIABLE].split(","))
    reader, sender = FrameReader(socket.socket(fileno=fd_in)), BlockingSender(socket.socket(fileno=fd_out))
    options = reader.read()
    if options is None:
        return 0
    lower_process_priority(int(options.get("nice", 0)))
    root = logging.getLogger()
    root.handlers[:] = [ForwardingHandler(sender)]
    root.setLevel(logging.WARNING)
    logging.getLogger("device_runtime").setLevel(int(options.get("log_level", logging.INFO)))
    lock = _lock_outbox(Path(options["data_dir"]))
    try:
        Host(options, sender).serve(reader)
    finally:
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
