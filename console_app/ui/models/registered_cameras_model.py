"""Cameras in the inventory, one row per record, keyed by record id, with each camera's state.

:meth:`RegisteredCamerasModel.set_check` takes the background monitor's
verdict (online, offline, wrong password) and a thumbnail already decoded and
scaled off the GUI thread; the Name column shows the thumbnail, the State
column the verdict in words and colour, its tooltip the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap

from console_app.core.persistence import CameraRecord
from console_app.core.services.camera_status import Availability, CameraCheck
from console_app.ui.models.table_model import AnyIndex, ItemTableModel
from device_runtime.media.redact import split_credentials

COLUMNS = ("Name", "State", "Host", "Make / model", "Resolution", "Auth", "Stream")
NAME, STATE, HOST, MAKE_MODEL, RESOLUTION, AUTH, STREAM = range(len(COLUMNS))
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
#: The camera's latest :class:`CameraCheck` (None before the first).
CHECK_ROLE = Qt.ItemDataRole.UserRole + 2
THUMBNAIL_SIZE = (96, 54)

STATE_COLORS = {
    Availability.ONLINE: "#2e7d32",
    Availability.OFFLINE: "#757575",
    Availability.AUTH_FAILED: "#c62828",
    Availability.CHECKING: "#ef6c00",
}


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


def thumbnail_image(data: bytes) -> QImage | None:
    """Decode and scale a snapshot to the thumbnail size (call it off the GUI thread)."""
    if not data:
        return None
    image = QImage.fromData(data)
    if image.isNull():
        return None
    return image.scaled(*THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


class RegisteredCamerasModel(ItemTableModel):
    """:meth:`set_cameras` replaces all rows; :meth:`replace_camera` updates one row in place."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent=parent)
        self._checks: dict[int, CameraCheck] = {}
        self._thumbnails: dict[int, QPixmap] = {}

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        camera = self.item_for(index)
        if camera is None:
            return None
        if role == RECORD_ROLE:
            return camera
        check = self._checks.get(camera.id)
        if role == CHECK_ROLE:
            return check
        column = index.column()
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return self._thumbnails.get(camera.id)
        if role == Qt.ItemDataRole.ForegroundRole and column == STATE:
            availability = check.availability if check else Availability.CHECKING
            return QBrush(QColor(STATE_COLORS[availability]))
        if role == Qt.ItemDataRole.ToolTipRole and column == STATE:
            return check.detail if check else "Not checked yet"
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        make_model = " ".join(x for x in (camera.manufacturer, camera.model) if x) or "—"
        return {
            NAME: camera.name,
            STATE: (check.availability if check else Availability.CHECKING).label,
            HOST: camera.host,
            MAKE_MODEL: make_model,
            RESOLUTION: resolution_of(camera),
            AUTH: camera.auth_method or "—",
            STREAM: stream_without_credentials(camera.stream_uri),
        }.get(column)

    def cameras(self) -> list[CameraRecord]:
        return self.items()

    def camera_at(self, row: int) -> CameraRecord | None:
        return self.item_at(row)

    def check_of(self, camera_id: int) -> CameraCheck | None:
        """The latest check of the camera with ``camera_id``."""
        return self._checks.get(camera_id)

    def thumbnail_of(self, camera_id: int) -> QPixmap | None:
        return self._thumbnails.get(camera_id)

    def set_cameras(self, cameras: Sequence[CameraRecord]) -> None:
        self.reset_items(cameras)

    def replace_camera(self, camera: CameraRecord) -> None:
        """Update the row with ``camera.id`` (append it when it is new)."""
        self.upsert_item(camera, key=lambda c: c.id)

    def set_check(self, check: CameraCheck, thumbnail: QImage | None) -> None:
        """Show a camera's new state; a new thumbnail replaces the old, none keeps it (GUI thread)."""
        self._checks[check.camera_id] = check
        if thumbnail is not None and not thumbnail.isNull():
            self._thumbnails[check.camera_id] = QPixmap.fromImage(thumbnail)
        row = self.row_where(lambda c: c.id == check.camera_id)
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))
