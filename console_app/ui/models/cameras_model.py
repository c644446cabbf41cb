"""Cameras found by WS-Discovery, one row per endpoint reference, updated as replies arrive.

Rows say which cameras are already in the inventory (:meth:`set_registered`),
and cameras that announce the same name (one model's factory default) are
told apart by their address, so no two rows read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont

from console_app.core.services.camera_discovery import CameraCandidate
from console_app.core.services.camera_identity import find_registered
from console_app.ui.models.table_model import AnyIndex, ItemTableModel

COLUMNS = ("Name", "Address", "Hardware", "In inventory", "Kind", "Service", "Found via")
NAME, ADDRESS, HARDWARE, REGISTERED, KIND, SERVICE, FOUND_VIA = range(len(COLUMNS))
CANDIDATE_ROLE = Qt.ItemDataRole.UserRole + 1
#: The registered camera (a ``CameraRecord``) this discovered camera is, or None.
REGISTERED_ROLE = Qt.ItemDataRole.UserRole + 2


def kind_of(candidate: CameraCandidate) -> str:
    names = {t.rsplit(":", 1)[-1].rsplit("}", 1)[-1] for t in candidate.types}
    if "NetworkVideoTransmitter" in names:
        return "Video transmitter"
    if "Device" in names:
        return "ONVIF device"
    return ", ".join(sorted(names)) or "—"


def service_address(candidate: CameraCandidate) -> tuple[str, int | None]:
    """Host and port of the camera's first device service address (its host alone without one)."""
    if candidate.xaddrs:
        parts = urlsplit(candidate.xaddrs[0])
        try:
            return parts.hostname or candidate.host, parts.port or 80
        except ValueError:
            return parts.hostname or candidate.host, None
    return candidate.host, None


class DiscoveredCamerasModel(ItemTableModel):
    """Keyed by endpoint reference: :meth:`upsert` updates a row in place or appends one."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        self._registered: tuple = ()

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        camera = self.item_for(index)
        if camera is None:
            return None
        if role == CANDIDATE_ROLE:
            return camera
        registered = self.registered_as(camera)
        if role == REGISTERED_ROLE:
            return registered
        if role == Qt.ItemDataRole.ForegroundRole and registered is not None:
            return QBrush(QColor("#757575"))
        if role == Qt.ItemDataRole.FontRole and registered is not None and index.column() == REGISTERED:
            font = QFont()
            font.setBold(True)
            return font
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        text = {
            NAME: self.display_name(camera),
            ADDRESS: self._address_text(camera),
            HARDWARE: camera.hardware or "—",
            REGISTERED: f"Yes, as '{registered.name}'" if registered is not None else "",
            KIND: kind_of(camera),
            SERVICE: camera.xaddrs[0] if camera.xaddrs else "(no address given; resolving)",
            FOUND_VIA: camera.found_via or camera.source_address,
        }.get(index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            # Columns may be elided at small window sizes: the tooltip has it all.
            lines = [text or "", f"Endpoint: {camera.endpoint_reference}"]
            if registered is not None:
                lines.append(f"Already registered as '{registered.name}'")
            return "\n".join(line for line in lines if line)
        return text

    def display_name(self, camera: CameraCandidate) -> str:
        """The camera's own name; with its address when another row announces the same name."""
        name = camera.name or camera.endpoint_reference.rsplit(":", 1)[-1][:12] or "(unnamed)"
        if camera.name and any(other is not camera and other.name == camera.name
                               and other.endpoint_reference != camera.endpoint_reference
                               for other in self._items):
            return f"{name} ({self._address_text(camera)})"
        return name

    @staticmethod
    def _address_text(camera: CameraCandidate) -> str:
        host, port = service_address(camera)
        if not host:
            return "—"
        return f"{host}:{port}" if port and port != 80 else host

    def registered_as(self, camera: CameraCandidate):
        """The inventory's record of ``camera`` (by endpoint reference or service address), or None."""
        host, port = service_address(camera)
        return find_registered(self._registered, endpoint_reference=camera.endpoint_reference,
                               host=host, port=port)

    def set_registered(self, cameras: Sequence) -> None:
        """The inventory's cameras: rows that are one of them say so."""
        self._registered = tuple(cameras)
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, len(self.columns) - 1))

    def cameras(self) -> list[CameraCandidate]:
        return self.items()

    def upsert(self, camera: CameraCandidate) -> None:
        self.upsert_item(camera, key=lambda c: c.endpoint_reference)
        if camera.name and sum(1 for c in self._items if c.name == camera.name) > 1:
            # A twin arrived: every row with this name now shows its address.
            self.dataChanged.emit(self.index(0, NAME), self.index(len(self._items) - 1, NAME))

    def clear(self) -> None:
        self.reset_items([])
