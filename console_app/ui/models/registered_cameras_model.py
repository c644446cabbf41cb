"""Cameras in the inventory, one row per record, keyed by record id."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from console_app.core.gateways.rtsp_paths import split_credentials
from console_app.core.persistence import CameraRecord

COLUMNS = ("Name", "Host", "Make / model", "Resolution", "Auth", "Stream")
NAME, HOST, MAKE_MODEL, RESOLUTION, AUTH, STREAM = range(len(COLUMNS))
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the invalid index: the parent of every row in a table


def resolution_of(record: CameraRecord) -> str:
    """``1920×1080 @ 25 fps`` for the chosen profile, ``—`` when unknown."""
    for profile in record.profiles:
        if profile.token == record.profile_token and profile.width and profile.height:
            fps = f" @ {profile.fps:g} fps" if profile.fps else ""
            return f"{profile.width}×{profile.height}{fps}"
    return "—"


def stream_without_credentials(url: str) -> str:
    """What the table shows: the stream URI with any user info removed (stored URIs have none anyway)."""
    try:
        return split_credentials(url)[0]
    except ValueError:
        return url


class RegisteredCamerasModel(QAbstractTableModel):
    """:meth:`set_cameras` replaces all rows; :meth:`replace_camera` updates one row in place."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[CameraRecord] = []

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
        if role == RECORD_ROLE:
            return camera
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        make_model = " ".join(x for x in (camera.manufacturer, camera.model) if x) or "—"
        return {
            NAME: camera.name,
            HOST: camera.host,
            MAKE_MODEL: make_model,
            RESOLUTION: resolution_of(camera),
            AUTH: camera.auth_method or "—",
            STREAM: stream_without_credentials(camera.stream_uri),
        }.get(index.column())

    def cameras(self) -> list[CameraRecord]:
        return list(self._rows)

    def camera_at(self, row: int) -> CameraRecord | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def set_cameras(self, cameras: Sequence[CameraRecord]) -> None:
        self.beginResetModel()
        self._rows = list(cameras)
        self.endResetModel()

    def replace_camera(self, camera: CameraRecord) -> None:
        """Update the row with ``camera.id`` (append it when it is new)."""
        for row, old in enumerate(self._rows):
            if old.id == camera.id:
                self._rows[row] = camera
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(camera)
        self.endInsertRows()
