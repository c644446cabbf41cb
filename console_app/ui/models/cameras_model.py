"""Cameras found by WS-Discovery, one row per endpoint reference, updated as replies arrive."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from console_app.core.gateways.ws_discovery import CameraCandidate

COLUMNS = ("Name", "Address", "Hardware", "Kind", "Service", "Found via")
NAME, ADDRESS, HARDWARE, KIND, SERVICE, FOUND_VIA = range(len(COLUMNS))
CANDIDATE_ROLE = Qt.ItemDataRole.UserRole + 1

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invalid index: the parent of every row in a table


def kind_of(candidate: CameraCandidate) -> str:
    names = {t.rsplit(":", 1)[-1].rsplit("}", 1)[-1] for t in candidate.types}
    if "NetworkVideoTransmitter" in names:
        return "Video transmitter"
    if "Device" in names:
        return "ONVIF device"
    return ", ".join(sorted(names)) or "—"


class DiscoveredCamerasModel(QAbstractTableModel):
    """Keyed by endpoint reference: :meth:`upsert` updates a row in place or appends one."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[CameraCandidate] = []

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        camera = self._rows[index.row()]
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
        return list(self._rows)

    def upsert(self, camera: CameraCandidate) -> None:
        for row, old in enumerate(self._rows):
            if old.endpoint_reference == camera.endpoint_reference:
                self._rows[row] = camera
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(camera)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self.endResetModel()
