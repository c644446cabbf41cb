"""Cameras in the inventory, one row per record, keyed by record id."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt

from console_app.core.persistence import CameraRecord
from console_app.ui.models.table_model import AnyIndex, ItemTableModel
from device_runtime.media.redact import split_credentials

COLUMNS = ("Name", "Host", "Make / model", "Resolution", "Auth", "Stream")
NAME, HOST, MAKE_MODEL, RESOLUTION, AUTH, STREAM = range(len(COLUMNS))
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1


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


class RegisteredCamerasModel(ItemTableModel):
    """:meth:`set_cameras` replaces all rows; :meth:`replace_camera` updates one row in place."""

    columns = COLUMNS

    def __init__(self, parent=None):
        super().__init__(parent=parent)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole):
        camera = self.item_for(index)
        if camera is None:
            return None
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
        return self.items()

    def camera_at(self, row: int) -> CameraRecord | None:
        return self.item_at(row)

    def set_cameras(self, cameras: Sequence[CameraRecord]) -> None:
        self.reset_items(cameras)

    def replace_camera(self, camera: CameraRecord) -> None:
        """Update the row with ``camera.id`` (append it when it is new)."""
        self.upsert_item(camera, key=lambda c: c.id)
