"""Telling cameras apart: is this camera already registered, and what unique name to propose.

No Qt, no I/O: these work on what the caller already holds (the registered
cameras the Cameras page loaded, the names discovery found), so the add-camera
wizard can refuse a duplicate on its first page without a database round trip.
The inventory's own check (:class:`~console_app.core.persistence.DuplicateCamera`)
stays the last word at save time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol


class RegisteredCamera(Protocol):
    """What the checks read from a registered camera (a ``CameraRecord`` has it all)."""

    name: str
    host: str
    onvif_port: int | None
    endpoint_reference: str | None
    serial: str | None
    manufacturer: str | None


def find_registered(registered: Iterable[Any], *, endpoint_reference: str = "", host: str = "",
                    port: int | None = None, serial: str = "", manufacturer: str = "") -> Any | None:
    """The registered camera that is this one, or ``None``.

    The same camera is: the same WS-Discovery endpoint reference (burnt into its
    firmware), the same manufacturer and serial number, or the same ONVIF
    service address (host and port).
    """
    for camera in registered:
        if endpoint_reference and camera.endpoint_reference == endpoint_reference:
            return camera
        if serial and camera.serial == serial and (camera.manufacturer or "") == (manufacturer or ""):
            return camera
        if host and port and camera.onvif_port and camera.host == host and camera.onvif_port == port:
            return camera
    return None


def already_registered_message(label: str, existing_name: str) -> str:
    """The sentence the engineer reads: ``Line 3 camera 1 is already registered as 'Dock'.``"""
    if label and label != existing_name:
        return f"{label} is already registered as '{existing_name}'; there is nothing to add."
    return f"{existing_name or 'This camera'} is already registered; there is nothing to add."


def unique_name(base: str, taken: Collection[str], *, serial: str = "", host: str = "") -> str:
    """``base`` when no other camera uses it, else ``base (serial)`` or ``base (host)``.

    Cameras of one model often announce the same ONVIF name; the serial number
    tells them apart for good, the address while there is no serial.
    """
    folded = {name.casefold() for name in taken}
    if base.casefold() not in folded:
        return base
    for extra in (serial, host):
        candidate = f"{base} ({extra})" if extra else ""
        if candidate and candidate.casefold() not in folded:
            return candidate
    number = 2
    while f"{base} {number}".casefold() in folded:
        number += 1
    return f"{base} {number}"

