"""A still frame of a camera for the application builder to draw zones and lines on."""

from __future__ import annotations

from typing import Any

from console_app.core.persistence.records import strip_credentials
from console_app.core.services.app_builder_types import BuilderError, Problem


class SnapshotSource:
    """A still frame (JPEG bytes) of a camera for drawing zones on, fetched where it can be.

    Locally first (OpenCV, with the camera's credentials from ``credentials``,
    a ``url -> (user, password) | None`` lookup); streams only a device can
    open (``sim://``, or a camera on the plant network the workstation cannot
    reach) through a paired device's ProbeCamera call. Blocking: call it from
    a background task.
    """

    def __init__(self, appliances: Any = None, credentials: Any = None, timeout_s: float = 5.0):
        self.appliances = appliances
        self.credentials = credentials
        self.timeout_s = timeout_s

    def __call__(self, url: str) -> bytes:
        from urllib.parse import urlsplit

        from console_app.core.gateways.stream_reader import test_open
        from console_app.core.services.app_library import CREDENTIAL_SCHEMES
        from device_runtime.media.redact import with_camera_credentials

        network = urlsplit(url).scheme.lower() in CREDENTIAL_SCHEMES
        found = self.credentials(url) if self.credentials and network else None
        full = with_camera_credentials(url, *found) if found else url
        first = test_open(full, self.timeout_s)
        if first.ok and first.jpeg:
            return first.jpeg
        problems = [first.error]
        for entry in (self.appliances.paired_entries() if self.appliances else []):
            try:
                with self.appliances.connect(entry.device_id) as client:
                    reply = client.probe_camera(full, int(self.timeout_s * 1000))
            except Exception as exc:  # next device; the messages are collected for the engineer
                problems.append(f"{entry.name}: {exc}")
                continue
            if reply.ok and reply.jpeg:
                return reply.jpeg
            problems.append(f"{entry.name}: {reply.error or 'no frame'}")
        raise BuilderError([Problem("snapshot", "no snapshot of " + strip_credentials(url) + ": "
                                    + "; ".join(p for p in problems if p))])
