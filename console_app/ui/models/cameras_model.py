"""Cameras found by WS-Discovery, one row per endpoint reference, updated as replies arrive."""

from __future__ import annotations

from PySide6.QtCore import Qt

from console_app.core.services.camera_discovery import CameraCandidate
from console_app.ui.models.table_model import AnyIndex, ItemTableModel

COLUMNS = ("Name", "Address", "Hardware", "Kind", "Service", "Found via")
NAME, ADDRESS, HARDWARE, KIND, SERVICE, FOUND_VIA = range(len(COLUMNS))
CANDIDATE_ROLE = Qt.ItemDataRole.UserRole + 1


def kind_of(candidate: CameraCandidate) -> str:
    names = {t.rsplit(":", 1)[-1].rsplit("}", 1)[-1] for t in candidate.types}
    if "NetworkVideoTransmitter" in names:
        return "Video transmitter"
    if "Device" in names:
        return "ONVIF device"
    return ", ".join(sorted(names)) or "—"


class DiscoveredCamerasModel(ItemTableModel):
    """Keyed by endpoint reference: :meth:`upsert` updates a row in place or appends one."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent=parent)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        camera = self.item_for(index)
        if camera is None:
            return None
        if role == CANDIDATE_ROLE:
            return camera
        if role == Qt.ItemDataRole.ToolTipRole:
            return camera.endpoint_reference
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return {
            NAME: camera.name or camera.endpoint_reference.rsplit(":", 1)[-1][:12] or "(unnamed)",
            ADDRESS: camera.host or "—",
            HARDWARE: camera.hardware or "—",
            KIND: kind_of(camera),
            SERVICE: camera.xaddrs[0] if camera.xaddrs else "(no address given; resolving)",
            FOUND_VIA: camera.found_via or camera.source_address,
        }.get(index.column())

    def cameras(self) -> list[CameraCandidate]:
        return self.items()

    def upsert(self, camera: CameraCandidate) -> None:
        self.upsert_item(camera, key=lambda c: c.endpoint_reference)

    def clear(self) -> None:
        self.reset_items([])
