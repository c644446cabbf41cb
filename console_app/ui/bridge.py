"""The one bridge from core callbacks (any thread) to the GUI thread.

Core services call plain Python callbacks from zeroconf's thread, the
console's worker pool or their own threads. The bridge turns those calls
into Qt signals delivered on the GUI thread (queued connections), so UI code
never touches widgets from another thread and never blocks on I/O.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)


def receiver_alive(fn: Callable[..., Any]) -> bool:
    """False when ``fn`` is a method of a Qt object that has been deleted (a closed window)."""
    target = getattr(fn, "func", fn)  # functools.partial
    owner = getattr(target, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class Bridge(QObject):
    """Lives on the GUI thread; call its methods from any thread.

    ``devices_changed(list[DeviceEntry])`` carries the appliance service's
    snapshots; :meth:`call_in_gui` runs any callable on the GUI thread.
    """

    devices_changed = Signal(list)
    _invoke = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        # Explicitly queued: even a call made on the GUI thread runs later,
        # from the event loop, so callers never re-enter their own code.
        self._invoke.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def call_in_gui(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the GUI thread, soon. Safe from any thread."""
        try:
            self._invoke.emit(functools.partial(fn, *args))
        except RuntimeError:  # the bridge was deleted at shutdown: nobody to tell
            log.debug("bridge gone; dropped a call to %r", fn)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """A thread-safe version of ``fn`` for a core service's callback."""

        def posted(*args: Any) -> None:
            self.call_in_gui(fn, *args)

        return posted

    def on_devices_changed(self, entries: list) -> None:
        """Listener for ``ApplianceService``; re-emitted as ``devices_changed`` on the GUI thread.

        One posted call that emits there, not an emit from the service's thread: that would post
        one event per receiver, and the GUI could paint between them, with the status bar and a
        page showing different snapshots.
        """
        self.call_in_gui(self.devices_changed.emit, list(entries))

    @Slot(object)
    def _run(self, call: Callable[[], Any]) -> None:
        if not receiver_alive(call):
            return  # its widget was closed while the work ran
        try:
            call()
        except Exception:
            # A failing UI callback must not take the event loop down.
            log.exception("GUI callback %s failed", getattr(getattr(call, "func", call), "__qualname__", "?"))
