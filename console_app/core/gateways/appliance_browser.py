"""Finds Sightline appliances on the LAN by browsing mDNS for ``_sightline._tcp``.

No Qt: ``on_change(event, appliance)`` is called on zeroconf's browser thread
with ``event`` one of ``"added"``, ``"updated"``, ``"removed"``; the UI bridge
re-emits it on the GUI thread. The TXT keys read here are the ones
``device_runtime/discovery/advertiser.py`` publishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

log = logging.getLogger(__name__)

SERVICE_TYPE = "_sightline._tcp.local."
RESOLVE_TIMEOUT_MS = 3000

ADDED, UPDATED, REMOVED = "added", "updated", "removed"


@dataclass(frozen=True)
class Appliance:
    """One advertised device, as its mDNS record describes it.

    ``fingerprint`` is the SHA-256 of the device certificate to pin on first
    contact; ``service_name`` is the full DNS-SD name, unique on the LAN.
    """

    device_id: str
    name: str
    address: str
    port: int
    api: str
    fingerprint: str
    version: str
    service_name: str


ChangeCallback = Callable[[str, Appliance], None]


class ApplianceBrowser:
    """Keeps a live list of appliances and reports each change to ``on_change``.

    ``interfaces`` is a list of local IPv4 addresses to browse on (tests pass
    ``["127.0.0.1"]``) or ``None`` for every interface.
    """

    def __init__(
        self,
        interfaces: list[str] | None = None,
        on_change: ChangeCallback | None = None,
    ) -> None:
        self._interfaces = list(interfaces) if interfaces is not None else None
        self._on_change = on_change
        self._lock = threading.Lock()
        self._by_service: dict[str, Appliance] = {}
        self._zc: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None

    def start(self) -> None:
        """Begin browsing; returns at once."""
        with self._lock:
            if self._zc is not None:
                raise RuntimeError("ApplianceBrowser.start() called twice")
            self._zc = Zeroconf(
                interfaces=self._interfaces
                if self._interfaces is not None
                else InterfaceChoice.All,
                ip_version=IPVersion.V4Only,
            )
            self._browser = ServiceBrowser(
                self._zc, SERVICE_TYPE, handlers=[self._on_service_state_change]
            )

    def stop(self) -> None:
        """Stop browsing and release the sockets. Idempotent."""
        with self._lock:
            zc, browser = self._zc, self._browser
            self._zc = self._browser = None
        if browser is not None:
            browser.cancel()
        if zc is not None:
            zc.close()

    def appliances(self) -> list[Appliance]:
        """Every appliance currently advertised, by name."""
        with self._lock:
            return sorted(self._by_service.values(), key=lambda a: (a.name, a.service_name))

    def __enter__(self) -> ApplianceBrowser:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------- internals

    def _on_service_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                gone = self._by_service.pop(name, None)
            if gone is not None:
                self._emit(REMOVED, gone)
            return
        info = ServiceInfo(service_type, name)
        # Runs on the browser's own thread, so waiting here blocks no one else.
        if not info.request(zeroconf, RESOLVE_TIMEOUT_MS):
            log.debug("could not resolve mDNS service %s within %d ms", name, RESOLVE_TIMEOUT_MS)
            return
        appliance = appliance_from_service_info(info)
        if appliance is None:
            log.debug("ignoring %s: its TXT record has no device id", name)
            return
        with self._lock:
            previous = self._by_service.get(name)
            self._by_service[name] = appliance
        if previous is None:
            self._emit(ADDED, appliance)
        elif previous != appliance:
            self._emit(UPDATED, appliance)

    def _emit(self, event: str, appliance: Appliance) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(event, appliance)
        except Exception:
            # A failing listener must not kill the browser thread.
            log.exception("appliance %s listener failed for %s", event, appliance.name)


def appliance_from_service_info(info: ServiceInfo) -> Appliance | None:
    """Read an :class:`Appliance` from a resolved record; ``None`` without a device id."""
    props = {k: (v or "") for k, v in info.decoded_properties.items()}
    device_id = props.get("id", "")
    if not device_id:
        return None
    addresses = info.parsed_addresses(IPVersion.V4Only)
    port = info.port
    if port is None:
        try:
            port = int(props.get("port", ""))
        except ValueError:
            port = 0
    instance = info.name[: -len(info.type) - 1] if info.name.endswith(info.type) else info.name
    return Appliance(
        device_id=device_id,
        name=props.get("name") or instance,
        address=addresses[0] if addresses else "",
        port=port,
        api=props.get("api", ""),
        fingerprint=props.get("fp", ""),
        version=props.get("ver", ""),
        service_name=info.name,
    )
