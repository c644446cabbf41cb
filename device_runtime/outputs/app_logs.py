"""An app's log records as output messages (CloudWatch ``app_log``): which records are an app's, and the handler.

A record is an app's when it says so (``extra={"app_id": ...}``), when it
comes from a code app's own logger (``device_runtime.code_app.<app>.<node>``),
or when it is one of the device's lines about the app (``"app %s ..."``,
``"output %s ..."`` with ``<app>/<output>``). The handler only appends to the
outbox's in-memory queue, like the camera's thread does for events: a full
queue drops the record, counted against the log output, and never waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

CODE_APP_LOGGER = "device_runtime.code_app."
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


def app_of(record: logging.LogRecord) -> str | None:
    """The app id a log record is about, or None."""
    app = getattr(record, "app_id", None)
    if app:
        return str(app)
    if record.name.startswith(CODE_APP_LOGGER):
        return record.name[len(CODE_APP_LOGGER) :].partition(".")[0] or None
    msg, args = record.msg, record.args
    if isinstance(msg, str) and isinstance(args, tuple) and args:
        if msg.startswith("app %s"):
            return str(args[0])
        if msg.startswith("output %s"):
            return str(args[0]).partition("/")[0]
    return None


def log_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What one log record's message carries in the outbox."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        message = f"{message}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return {"time": record.created, "level": record.levelname, "logger": record.name, "message": message}


def capture_app_logs(handler: AppLogHandler | None, targets: dict[str, list[tuple[str, int]]],
                     current: Callable[[], dict[str, list[tuple[str, int]]]],
                     put: Callable[[str, dict[str, Any]], bool]) -> AppLogHandler | None:
    """Keep an :class:`AppLogHandler` on the ``device_runtime`` logger while ``targets`` has any; the handler now on it.

    ``handler`` is the one installed before (None: none); a new one reads the targets through
    ``current`` and queues records with ``put``.
    """
    logger = logging.getLogger("device_runtime")
    if targets and handler is None:
        handler = AppLogHandler(current, put)
        logger.addHandler(handler)
        # Records below the logger's level never reach a handler: say so when the app log asks for them.
        wanted = min(level for items in targets.values() for _, level in items)
        if logger.getEffectiveLevel() > wanted:
            logging.getLogger(__name__).info(
                "app log outputs want %s records; the device logs from %s only",
                logging.getLevelName(wanted), logging.getLevelName(logger.getEffectiveLevel()))
    elif not targets and handler is not None:
        logger.removeHandler(handler)
        handler = None
    return handler


class AppLogHandler(logging.Handler):
    """Puts the records of apps with a log output into the outbox (never blocks, never raises).

    ``targets`` returns, per app id, the ``(outbox key, minimum level)`` of each of its log outputs.
    """

    def __init__(self, targets: Callable[[], dict[str, list[tuple[str, int]]]], put: Callable[[str, dict[str, Any]], bool]) -> None:
        super().__init__(logging.DEBUG)
        self._targets = targets
        self._put = put
        self._busy = threading.local()  # a record logged while queueing one must not recurse

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            app = app_of(record)
            wanted = self._targets().get(app, ()) if app else ()
            fields = None
            for key, level in wanted:
                if record.levelno >= level:
                    fields = fields or log_fields(record)
                    self._put(key, fields)
        except Exception:  # a log handler must never raise into the caller
            self.handleError(record)
        finally:
            self._busy.on = False
