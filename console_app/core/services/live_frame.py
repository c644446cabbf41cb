"""What a live feed delivers: its states, the decoded frames with their detections, and the apps to draw.

Plain values, no threads and no Qt: :class:`~console_app.core.services.live_feed.LiveFeed`
makes them in its thread; the live wall paints them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from device_runtime.protocol.apps.params import v1_geometry


class FeedState:
    """What a feed is doing, in the words the tile shows."""

    CONNECTING = "connecting"
    #: Connected, but the device sends no frames (no app is running a camera yet).
    WAITING = "waiting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Box:
    """One detection, corners normalised to [0, 1] of the frame."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    label: str
    track_id: int = 0


@dataclass(frozen=True)
class LiveFrame:
    """One decoded preview frame and everything drawn over it.

    ``image`` is whatever the feed's ``decode`` returned (a QImage in the
    console). Times are unix seconds; ``received_time`` is this machine's
    clock, ``capture_time`` and ``sent_time`` the device's.
    """

    device_id: str
    camera_id: str
    seq: int
    image: Any
    width: int
    height: int
    capture_time: float
    sent_time: float
    received_time: float
    clock_offset_s: float
    detections: tuple[Box, ...]
    counts: dict[str, int]
    timings_ms: dict[str, float]
    app_id: str
    provider: str
    stream_state: str
    fps: float
    labels: tuple[tuple[str, float, float], ...] = ()  # a code app's texts (add_label): text, x, y in [0, 1]

    @property
    def latency_ms(self) -> float:
        """Capture to receipt here, with any estimated clock skew removed."""
        return (self.received_time - self.capture_time - self.clock_offset_s) * 1000.0

    def age_ms(self, now: float) -> float:
        """Capture to ``now`` (this machine's unix time), skew removed: the latency when painted at ``now``."""
        return (now - self.capture_time - self.clock_offset_s) * 1000.0


@dataclass(frozen=True)
class AppInfo:
    """What the console needs about one app on the device to draw and tune it.

    ``params`` is the app's live parameter object (confidence, classes, zones,
    lines: the device's ``params_json``); ``labels`` the model's class names.
    """

    app_id: str
    name: str
    version: str
    state: str
    camera_ids: tuple[str, ...]
    model: str
    labels: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def geometry_for(self, camera_id: str) -> dict[str, list[dict]]:
        """``{"zones": […], "lines": […]}`` drawn on ``camera_id``, as copies to edit (see :func:`camera_geometry`)."""
        return camera_geometry(self.params, camera_id, self.camera_ids)

    def zones_for(self, camera_id: str) -> list[dict]:
        """The zones drawn on ``camera_id`` (read only: the tile paints them every frame)."""
        return camera_geometry(self.params, camera_id, self.camera_ids, copy_items=False)["zones"]

    def lines_for(self, camera_id: str) -> list[dict]:
        """The counting lines drawn on ``camera_id`` (read only)."""
        return camera_geometry(self.params, camera_id, self.camera_ids, copy_items=False)["lines"]


def camera_geometry(params: dict[str, Any], camera_id: str, camera_ids: tuple[str, ...] | list[str] = (),
                    copy_items: bool = True) -> dict[str, list[dict]]:
    """One camera's zones and lines from an app's live parameters (deep copies unless ``copy_items`` is off).

    Reads ``params["geometry"][camera_id]`` (manifest schema v2); the
    app-wide ``zones`` / ``lines`` of a device still on schema v1 are read as
    the device applied them (no camera list: every camera).
    """
    if "zones" in params or "lines" in params:
        params = v1_geometry(params, list(camera_ids) or [camera_id])
    drawn = (params.get("geometry") or {}).get(camera_id) or {}
    if not isinstance(drawn, dict):
        drawn = {}
    return {kind: [copy.deepcopy(item) if copy_items else item for item in drawn.get(kind) or []
                   if isinstance(item, dict)]
            for kind in ("zones", "lines")}


def app_info_from_status(status: Any, model_labels: dict[str, tuple[str, ...]] | None = None) -> AppInfo:
    """An :class:`AppInfo` from a device's ``AppStatus`` (labels from the model list, else the manifest)."""
    try:
        params = json.loads(status.params_json) if status.params_json else {}
    except ValueError:
        params = {}
    labels = (model_labels or {}).get(status.model, ())
    if not labels and status.manifest_json:
        try:
            labels = tuple(json.loads(status.manifest_json).get("model", {}).get("labels") or ())
        except (ValueError, AttributeError):
            labels = ()
    return AppInfo(status.app_id, status.name, status.version, status.state, tuple(status.camera_ids),
                   status.model, tuple(labels), params if isinstance(params, dict) else {})
