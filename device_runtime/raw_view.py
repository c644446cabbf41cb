"""A camera's raw picture for the console, at the camera's own rate, with no app running on it.

The console previews cameras it cannot open itself (another VLAN, or the
synthetic ``sim://`` line only a device renders) through :meth:`RawViews.watch`.
A camera an app already reads is shared (one decoder, as the source pool
shares it between apps); any other URL gets a source of its own, opened for
this viewer and stopped when it leaves. Every frame is handed over as it
arrives (newest wins when the viewer is slower); while none arrives, the
viewer is told the stream's state once a second, so a console never shows a
frozen picture as live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from device_runtime.media.redact import get_logger, redact_url
from device_runtime.types import Frame, StreamState

log = get_logger(__name__)

#: How long a viewer waits for a frame before it is told the stream's state.
STATE_EVERY_S = 1.0


@dataclass(frozen=True)
class RawFrame:
    """One step of a raw view: a frame (None while none arrives) and the stream's state then."""

    frame: Frame | None
    state: str
    reason: str = ""


class RawViews:
    """Opens (or shares) the source behind each raw view; see the module docstring."""

    def __init__(self, pool: Any, open_source: Callable[..., Any]) -> None:
        self._pool = pool
        self._open_source = open_source

    def watch(self, url: str, is_active: Callable[[], bool]) -> Iterator[RawFrame]:
        """Yield the camera's frames (and its state when none comes) while ``is_active()``.

        A URL the factory cannot open raises its own error (the interceptor maps it).
        """
        source = self._pool.find_by_url(url)
        owned = source is None
        if owned:
            source = self._open_source(url, stream_id="raw-view")
        subscription = source.subscribe("raw-view")
        log.info("raw view of %s (%s)", redact_url(url), "own source" if owned else "shared with an app")
        try:
            if owned:
                source.start()
            while is_active():
                frame = subscription.get(timeout=STATE_EVERY_S)
                if frame is not None:
                    yield RawFrame(frame, StreamState.LIVE.value)
                    continue
                state = source.state
                # LIVE with no frame for a second is a stall, whatever the source thinks yet.
                shown = StreamState.STALLED if state is StreamState.LIVE else state
                yield RawFrame(None, shown.value, source.state_reason or "no frame for a second")
        finally:
            subscription.close()
            if owned:
                source.stop(timeout=0.5)
