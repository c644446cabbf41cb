"""Camera discovery for the Cameras page: probes, subnet scans and add-by-address, in the background.

No Qt. Each operation runs on its own daemon thread and returns a
:class:`DiscoveryHandle` at once; ``on_found`` and ``on_done`` are called on
that thread (the UI bridge re-emits them on the GUI thread). Results from
every operation are merged into one list keyed by endpoint reference, so a
camera seen by a probe and again by a scan is one camera, and a newer
metadata version (a camera that moved) replaces the older address.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from console_app.core.gateways import ws_discovery
from console_app.core.gateways.ws_discovery import (
    CameraCandidate,
    Cancellation,
    DiscoverySummary,
)

log = logging.getLogger(__name__)

#: Re-exported for the UI, which reaches gateways only through services.
NoWsDiscoveryReply = ws_discovery.NoWsDiscoveryReply

FoundCallback = Callable[[CameraCandidate], None]
#: ``on_done(summary, error)``: exactly one of the two is ``None``.
DoneCallback = Callable[["DiscoverySummary | None", "Exception | None"], None]


class DiscoveryHandle:
    """A running probe, scan or add-by-address: cancel it, wait for it, read its outcome."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._cancellation = Cancellation()
        self._done = threading.Event()
        self.summary: DiscoverySummary | None = None
        self.error: Exception | None = None
        self._thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Stop the operation soon; ``on_done`` still runs, with ``summary.cancelled`` set."""
        self._cancellation.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it finished (for tests and shutdown); ``False`` if ``timeout`` passed."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        """Whether the operation finished (and ``on_done`` was called)."""
        return self._done.is_set()


class CameraDiscovery:
    """Runs WS-Discovery operations off the caller's thread and keeps the merged camera list.

    ``default_interfaces`` is used when a probe names none (``None``: every
    IPv4 interface; tests and the demo pass ``["127.0.0.1"]``).
    """

    def __init__(self, default_interfaces: list[str] | None = None) -> None:
        self.default_interfaces = default_interfaces
        self._lock = threading.Lock()
        self._cameras: dict[str, CameraCandidate] = {}
        self._handles: set[DiscoveryHandle] = set()

    def cameras(self) -> list[CameraCandidate]:
        """Every camera found so far by any operation, by name then address."""
        with self._lock:
            return sorted(self._cameras.values(), key=lambda c: (c.name, c.host))

    def start_probe(
        self,
        interfaces: list[str] | None,
        on_found: FoundCallback | None = None,
        on_done: DoneCallback | None = None,
        timeout_s: float = 3.0,
    ) -> DiscoveryHandle:
        """Multicast probe on ``interfaces`` (or the default ones).

        Raises :class:`ws_discovery.DiscoveryInterfaceError` at once for an
        unknown interface, before any thread starts.
        """
        chosen = interfaces if interfaces is not None else self.default_interfaces
        ws_discovery.resolve_interfaces(chosen)  # fail fast, on the caller's thread
        return self._start(
            "probe",
            lambda cancel, found: ws_discovery.probe(chosen, timeout_s, found, cancel),
            on_found,
            on_done,
        )

    def start_scan(
        self,
        cidr: str,
        on_found: FoundCallback | None = None,
        on_done: DoneCallback | None = None,
        concurrency: int = 64,
        rate_per_s: float = 200.0,
        timeout_s: float = 1.0,
    ) -> DiscoveryHandle:
        """Unicast scan of ``cidr``. A bad or too large network raises at once."""
        ws_discovery.validate_scan_network(cidr)
        return self._start(
            f"scan {cidr}",
            lambda cancel, found: ws_discovery.scan_subnet(
                cidr, concurrency, rate_per_s, timeout_s, found, cancel
            ),
            on_found,
            on_done,
        )

    def start_add_by_address(
        self,
        host: str,
        on_found: FoundCallback | None = None,
        on_done: DoneCallback | None = None,
        timeout_s: float = 2.0,
    ) -> DiscoveryHandle:
        """Unicast probe of one host; ``on_done`` gets a :class:`ws_discovery.NoWsDiscoveryReply`
        ("no WS-Discovery reply from …; it may still be an ONVIF camera: press Add camera… and type its address") when it does not answer."""

        def run(cancel: Cancellation, found: FoundCallback) -> DiscoverySummary:
            camera = ws_discovery.probe_address(host, timeout_s, cancel)
            found(camera)
            return DiscoverySummary(scanned=camera.source_address, probes_sent=2, found=[camera])

        return self._start(f"add {host}", run, on_found, on_done)

    def cancel_all(self) -> None:
        """Cancel every running operation (on shutdown)."""
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            handle.cancel()

    # ----------------------------------------------------------- internals

    def _start(
        self,
        description: str,
        work: Callable[[Cancellation, FoundCallback], DiscoverySummary],
        on_found: FoundCallback | None,
        on_done: DoneCallback | None,
    ) -> DiscoveryHandle:
        handle = DiscoveryHandle(description)

        def found(candidate: CameraCandidate) -> None:
            merged = self._merge(candidate)
            if merged is not None and on_found is not None:
                on_found(merged)

        def run() -> None:
            try:
                summary = work(handle._cancellation, found)
                if handle._cancellation.cancelled:
                    summary.cancelled = True
                handle.summary = summary
            except Exception as exc:  # reported to on_done: the UI shows the message
                if not isinstance(exc, ws_discovery.WsDiscoveryError):
                    log.exception("camera discovery %s failed", description)
                handle.error = exc
            finally:
                handle._cancellation.close()
                with self._lock:
                    self._handles.discard(handle)
            try:
                if on_done is not None:
                    on_done(handle.summary, handle.error)
            except Exception:
                log.exception("on_done failed for camera discovery %s", description)
            finally:
                handle._done.set()

        with self._lock:
            self._handles.add(handle)
        handle._thread = threading.Thread(target=run, name=f"camera-{description}", daemon=True)
        handle._thread.start()
        return handle

    def _merge(self, candidate: CameraCandidate) -> CameraCandidate | None:
        """Keep ``candidate`` unless it is older than what is known; the kept one if it changed."""
        with self._lock:
            old = self._cameras.get(candidate.endpoint_reference)
            if old is not None:
                if candidate.metadata_version < old.metadata_version:
                    return None
                if not candidate.xaddrs and old.xaddrs:
                    if candidate.metadata_version == old.metadata_version:
                        candidate = replace(candidate, xaddrs=old.xaddrs)
                if candidate == old:
                    return None
            self._cameras[candidate.endpoint_reference] = candidate
            return candidate
