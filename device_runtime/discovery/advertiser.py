"""The device's mDNS/DNS-SD advert: ``_sightline._tcp`` with id, name, API version and fingerprint.

Consoles on the LAN browse for :data:`SERVICE_TYPE` and read the TXT record:

====== ===========================================================
key    value
====== ===========================================================
id     the device id (``sl-`` + 12 hex), stable for the device's life
name   the device's display name
api    the API version the device serves (``v1``)
port   the gRPC port (also in the SRV record)
fp     SHA-256 fingerprint of the device certificate, lower-case hex
ver    the runtime version
====== ===========================================================

The instance name is the device name; zeroconf appends ``-2``, ``-3`` ... when
another device on the LAN already uses it (:attr:`Advertiser.registered_name`
tells which name was taken). The host name is ``<device id>.local.``.

Registration probes the network for about a second and a half; it runs on
zeroconf's own event-loop thread so :meth:`Advertiser.start` returns at once
(pass ``wait=True`` to block until the advert is announced).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import threading
from collections.abc import Coroutine
from typing import Any

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, Zeroconf

from device_runtime.errors import InvalidArgument, Unavailable

log = logging.getLogger(__name__)

SERVICE_TYPE = "_sightline._tcp.local."
# DNS labels are at most 63 bytes; keep room for zeroconf's "-NN" rename.
_MAX_INSTANCE_BYTES = 59
_STOP_TIMEOUT_S = 5.0


class DiscoveryConfigError(InvalidArgument):
    """An interface in the discovery configuration is neither an IPv4 address nor a known adapter."""


def advertised_addresses(interfaces: list[str] | None) -> list[str]:
    """IPv4 addresses to advertise for the configured ``interfaces``.

    ``None`` means every interface: all non-loopback IPv4 addresses of this
    machine (falling back to 127.0.0.1 on a machine that has none). Otherwise
    each entry is an IPv4 address (used as is) or an adapter name such as
    ``eth0`` (its IPv4 addresses). Raises :class:`DiscoveryConfigError` for an
    entry that is neither.
    """
    adapters = ifaddr.get_adapters()
    if interfaces is None:
        found = [
            ip.ip
            for adapter in adapters
            for ip in adapter.ips
            if ip.is_IPv4 and not ipaddress.IPv4Address(ip.ip).is_loopback
        ]
        return _unique(found) or ["127.0.0.1"]
    result: list[str] = []
    for entry in interfaces:
        try:
            result.append(str(ipaddress.IPv4Address(entry)))
            continue
        except ValueError:
            pass
        matching = [a for a in adapters if entry in (a.name, a.nice_name)]
        if not matching:
            known = sorted({a.nice_name for a in adapters})
            raise DiscoveryConfigError(
                f"discovery interface {entry!r} is neither an IPv4 address nor a network "
                f"adapter of this machine (adapters: {', '.join(known)})"
            )
        result.extend(ip.ip for a in matching for ip in a.ips if ip.is_IPv4)
    return _unique(result)


def instance_name(device_name: str, device_id: str) -> str:
    """The DNS-SD instance label for a device name: printable, at most 59 bytes."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in device_name).split())
    encoded = cleaned.encode("utf-8")[:_MAX_INSTANCE_BYTES]
    return encoded.decode("utf-8", "ignore").strip() or device_id


class Advertiser:
    """Announces this device on the LAN until :meth:`stop`.

    ``interfaces`` lists IPv4 addresses or adapter names to advertise on;
    ``None`` means all of them. Tests pass ``["127.0.0.1"]``. May be started
    again after :meth:`stop`.
    """

    def __init__(
        self,
        device_id: str,
        name: str,
        port: int,
        fingerprint: str,
        api_version: str = "v1",
        runtime_version: str = "",
        interfaces: list[str] | None = None,
    ) -> None:
        self.device_id = device_id
        self.name = name
        self.port = port
        self.fingerprint = fingerprint
        self.api_version = api_version
        self.runtime_version = runtime_version
        self.interfaces = list(interfaces) if interfaces is not None else None
        self._addresses = advertised_addresses(self.interfaces)
        if not self._addresses:
            raise DiscoveryConfigError(
                f"discovery interfaces {self.interfaces} have no IPv4 address to advertise"
            )
        self._zc: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._lock = threading.Lock()
        # Every change runs on zeroconf's loop in submission order; this is
        # the last one submitted, so stop() and wait_announced() can wait.
        self._pending: concurrent.futures.Future[None] | None = None
        self._op_lock: asyncio.Lock | None = None

    @property
    def addresses(self) -> list[str]:
        """The IPv4 addresses in the advert's A records."""
        return list(self._addresses)

    @property
    def registered_name(self) -> str | None:
        """The full service name taken (``<instance>._sightline._tcp.local.``), once started."""
        with self._lock:
            return self._info.name if self._info is not None else None

    def properties(self) -> dict[str, str]:
        """The TXT record as it is (or would be) advertised."""
        return {
            "id": self.device_id,
            "name": self.name,
            "api": self.api_version,
            "port": str(self.port),
            "fp": self.fingerprint,
            "ver": self.runtime_version,
        }

    def start(self, wait: bool = False, timeout: float = 10.0) -> None:
        """Begin advertising. Returns at once unless ``wait`` (then up to ``timeout`` s)."""
        with self._lock:
            if self._zc is not None:
                raise RuntimeError("Advertiser.start() called while already advertising")
            self._op_lock = None  # an asyncio.Lock belongs to one loop; each start has its own
            if self.interfaces is None:
                self._zc = Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
            else:
                self._zc = Zeroconf(interfaces=self._addresses, ip_version=IPVersion.V4Only)
            self._info = self._build_info()
            self._submit(self._register(self._zc, self._info))
        log.info(
            "advertising %s as %r on %s port %d",
            SERVICE_TYPE,
            self.name,
            ", ".join(self._addresses),
            self.port,
        )
        if wait:
            self.wait_announced(timeout)

    def update(
        self,
        name: str | None = None,
        port: int | None = None,
        fingerprint: str | None = None,
        runtime_version: str | None = None,
    ) -> None:
        """Change what is advertised; returns at once.

        A new name re-registers the service under the new instance name
        (browsers see the old one removed and the new one added); other
        changes update the TXT record in place.
        """
        with self._lock:
            renamed = name is not None and name != self.name
            self.name = name if name is not None else self.name
            self.port = port if port is not None else self.port
            self.fingerprint = fingerprint if fingerprint is not None else self.fingerprint
            if runtime_version is not None:
                self.runtime_version = runtime_version
            zc, old = self._zc, self._info
            if zc is None or old is None:
                return
            new = self._build_info()
            self._info = new
            if renamed or old.port != new.port:
                self._submit(self._reregister(zc, old, new))
            else:
                self._submit(self._update(zc, old, new))

    def wait_announced(self, timeout: float = 10.0) -> None:
        """Block until every change so far is on the network; raises Unavailable on failure."""
        with self._lock:
            pending = self._pending
        if pending is None:
            raise RuntimeError("the advertiser has not been started")
        try:
            pending.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            raise Unavailable(
                f"mDNS advert of {self.name!r} was not announced within {timeout:.1f} s"
            ) from exc
        except Exception as exc:
            raise Unavailable(f"mDNS advert of {self.name!r} failed: {exc}") from exc

    def stop(self) -> None:
        """Withdraw the advert (goodbye packets) and release the sockets. Idempotent."""
        with self._lock:
            zc, pending = self._zc, self._pending
            self._zc = None
            self._info = None
        if zc is None:
            return
        if pending is not None and not pending.done():
            # Still probing or announcing: abandon it; close() below withdraws
            # whatever part of it reached the network.
            pending.cancel()
            concurrent.futures.wait([pending], timeout=_STOP_TIMEOUT_S)
        # close() unregisters every service (sending goodbyes) and joins the loop.
        zc.close()
        log.info("stopped advertising %r", self.name)

    # ----------------------------------------------------------- internals

    def _build_info(self) -> ServiceInfo:
        label = instance_name(self.name, self.device_id)
        return ServiceInfo(
            SERVICE_TYPE,
            f"{label}.{SERVICE_TYPE}",
            port=self.port,
            properties=self.properties(),
            server=f"{self.device_id}.local.",
            parsed_addresses=self._addresses,
        )

    def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._zc is not None and self._zc.loop is not None
        future = asyncio.run_coroutine_threadsafe(self._in_order(coro), self._zc.loop)
        future.add_done_callback(self._log_failure)
        self._pending = future

    async def _in_order(self, coro: Coroutine[Any, Any, None]) -> None:
        # Created on the loop thread, so it binds to zeroconf's loop.
        if self._op_lock is None:
            self._op_lock = asyncio.Lock()
        async with self._op_lock:
            await coro

    @staticmethod
    async def _register(zc: Zeroconf, info: ServiceInfo) -> None:
        announced = await zc.async_register_service(info, allow_name_change=True)
        await announced
        log.info("mDNS advert announced as %r", info.name)

    @staticmethod
    async def _update(zc: Zeroconf, old: ServiceInfo, new: ServiceInfo) -> None:
        # Keep the name zeroconf settled on (it may have added "-2").
        new.name = old.name
        await (await zc.async_update_service(new))

    @classmethod
    async def _reregister(cls, zc: Zeroconf, old: ServiceInfo, new: ServiceInfo) -> None:
        await (await zc.async_unregister_service(old))
        await cls._register(zc, new)

    def _log_failure(self, future: concurrent.futures.Future[None]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("mDNS advert of %r failed: %s", self.name, exc)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
