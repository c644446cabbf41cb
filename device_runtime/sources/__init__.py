"""Camera sources: RTSP cameras, video files and synthetic streams.

Every source reads in its own thread, shows a :class:`~device_runtime.types.StreamState`
with a reason, reconnects with capped backoff, and hands each consumer only
the newest frame::

    source = open_source("rtsp://admin:pw@10.0.0.5/stream1", "dock-1")
    frames = source.subscribe("detector")
    source.start()
    frame = frames.get(timeout=1.0)     # newest frame, or None
    source.stop()
"""

from device_runtime.media.probe import FirstFrame
from device_runtime.media.redact import redact_text, redact_url
from device_runtime.sources.base import Capture, Source, SourceStats, StateChange
from device_runtime.sources.buffer import Subscription
from device_runtime.sources.errors import (
    InvalidSourceUrl,
    SourceError,
    SourceStateError,
    UnsupportedScheme,
)
from device_runtime.sources.factory import open_source, register_scheme, supported_schemes
from device_runtime.sources.probe import probe_url

__all__ = [
    "Capture",
    "FirstFrame",
    "InvalidSourceUrl",
    "Source",
    "SourceError",
    "SourceStateError",
    "SourceStats",
    "StateChange",
    "Subscription",
    "UnsupportedScheme",
    "open_source",
    "probe_url",
    "redact_text",
    "redact_url",
    "register_scheme",
    "supported_schemes",
]
