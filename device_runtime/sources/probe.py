"""Check that a camera URL works: open it, take one frame, close it.

Used by the ProbeCamera API call (the console asks the device, since cameras
are often reachable only from the device's network). The probe never takes
much longer than its timeout, and its error text never holds a password.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2

from device_runtime.errors import SightlineError
from device_runtime.sources.base import StateChange
from device_runtime.sources.factory import open_source, scheme_of
from device_runtime.sources.redact import get_logger, redact_text, redact_url
from device_runtime.types import StreamState

log = get_logger(__name__)

_FAILURE_STATES = (StreamState.RECONNECTING, StreamState.FAILED, StreamState.STALLED)


@dataclass(frozen=True)
class ProbeResult:
    """What a probe found. On failure only ``ok``, ``error`` and ``open_ms`` are set.

    ``open_ms`` is the time from starting the probe to the first decoded
    frame (or to the failure). ``fps`` is the rate the stream announces.
    """

    ok: bool
    error: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    codec: str = ""
    jpeg: bytes = b""
    open_ms: float = 0.0


def probe_url(url: str, timeout_ms: int = 5000) -> ProbeResult:
    """Open ``url``, read one frame, close; report size, codec, fps and a JPEG of it."""
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
        return ProbeResult(ok=False, error=redact_text(str(exc)), open_ms=elapsed_ms())

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
        return ProbeResult(ok=False, error=redact_text(error), open_ms=elapsed_ms())

    first_frame_ms = (frame.monotonic - started) * 1000.0
    ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return ProbeResult(
        ok=True,
        width=frame.width,
        height=frame.height,
        fps=source.nominal_fps,
        codec=source.codec,
        jpeg=encoded.tobytes() if ok else b"",
        open_ms=first_frame_ms,
    )
