"""Check that a camera URL works: open it, take one frame, close it.

Used by the ProbeCamera API call (the console asks the device, since cameras
are often reachable only from the device's network). The probe never takes
much longer than its timeout, and its error text never holds a password.
"""

from __future__ import annotations

import time

from device_runtime.errors import SightlineError
from device_runtime.media.probe import FirstFrame, encode_jpeg
from device_runtime.media.redact import get_logger, redact_text, redact_url
from device_runtime.sources.base import StateChange
from device_runtime.sources.factory import open_source, scheme_of
from device_runtime.types import StreamState

log = get_logger(__name__)

_FAILURE_STATES = (StreamState.RECONNECTING, StreamState.FAILED, StreamState.STALLED)


def probe_url(url: str, timeout_ms: int = 5000) -> FirstFrame:
    """Open ``url`` as a source, read one frame, close; report size, codec, fps and a JPEG of it.

    On failure only ``ok``, ``error`` and ``open_ms`` are set; ``open_ms`` is
    the time from starting the probe to the first decoded frame.
    """
    started = time.monotonic()

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000.0

    timeout_s = max(0.1, timeout_ms / 1000.0)
    options: dict[str, object] = {}
    if scheme_of(url) in ("rtsp", "rtsps"):
        options = {"open_timeout_s": timeout_s, "read_timeout_s": timeout_s}
    try:
        source = open_source(url, "probe", **options)
    except SightlineError as exc:
        return FirstFrame(ok=False, error=redact_text(str(exc)), open_ms=elapsed_ms())

    subscription = source.subscribe("probe")
    failure: list[str] = []

    def on_state(change: StateChange) -> None:
        if change.state in _FAILURE_STATES or (
            change.state is StreamState.STOPPED and change.reason != "stopped"
        ):
            failure.append(change.reason)
            subscription.close()  # wakes the get() below

    source.add_state_listener(on_state)
    try:
        source.start()
        frame = subscription.get(timeout=max(0.0, timeout_s - (time.monotonic() - started)))
    finally:
        # Do not wait past the deadline for a thread stuck in OpenCV: it ends by itself
        # within the open timeout we gave it.
        source.stop(timeout=max(0.05, timeout_s - (time.monotonic() - started)))

    if frame is None:
        error = failure[0] if failure else (
            f"no frame from {redact_url(url)} within {timeout_s:.1f} s"
        )
        log.info("probe of %s failed: %s", redact_url(url), error)
        return FirstFrame(ok=False, error=redact_text(error), open_ms=elapsed_ms())

    first_frame_ms = (frame.monotonic - started) * 1000.0
    return FirstFrame(
        ok=True,
        width=frame.width,
        height=frame.height,
        fps=source.nominal_fps,
        codec=source.codec,
        jpeg=encode_jpeg(frame.image),
        open_ms=first_frame_ms,
    )
