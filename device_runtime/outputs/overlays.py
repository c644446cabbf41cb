"""Overlays on an event's snapshot for outputs that upload it (``s3`` with ``overlays: true``).

The camera's thread only attaches what to draw (:func:`overlay_data`: the
frame's boxes, already normalised for the snapshot store, and the outline of
the event's zone or line); the JPEG is decoded, drawn on and re-encoded by
the output's delivery thread (:func:`draw_overlays`), so drawing never slows
a camera.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

BOX_COLOUR = (0, 200, 0)  # BGR: the frame's detections
EVENT_COLOUR = (0, 0, 255)  # BGR: the zone or line the event is about
JPEG_QUALITY = 85


def overlay_data(meta: Mapping[str, Any] | None, params: Any, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """What to draw for one event: the frame's boxes (``meta`` from ``snapshot_meta``) and the event's zone/line.

    ``params`` is the app's DetectorParams (or None for apps without geometry).
    Cheap: no copy of the boxes, only look-ups; encoding happens on the outbox's writer thread.
    """
    if meta is None:
        return None
    data: dict[str, Any] = {"detections": meta.get("detections", []), "counts": meta.get("counts", {})}
    for_camera = getattr(params, "for_camera", None)
    if for_camera is not None:
        geometry = for_camera(str(event.get("camera_id", "")))
        zone_name, line_name = event.get("zone"), event.get("line")
        for zone in geometry.zones if zone_name else ():
            if zone.name == zone_name:
                data["zone"] = {"name": zone.name, "points": [list(p) for p in zone.points]}
        for line in geometry.lines if line_name else ():
            if line.name == line_name:
                data["line"] = {"name": line.name, "a": list(line.a), "b": list(line.b)}
    return data


def draw_overlays(jpeg: bytes, overlay: Mapping[str, Any]) -> bytes:
    """``jpeg`` with the boxes (class and score) and the event's zone or line drawn on it.

    Raises ValueError when ``jpeg`` cannot be decoded.
    """
    import cv2  # here, not at the top: the outputs process loads OpenCV only when an output draws
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the snapshot is not a JPEG that can be decoded")
    height, width = image.shape[:2]
    thickness = max(2, round(min(width, height) / 240))
    font_scale = max(0.4, min(width, height) / 800)

    def px(point: Any) -> tuple[int, int]:
        return int(round(float(point[0]) * width)), int(round(float(point[1]) * height))

    zone = overlay.get("zone")
    if zone and zone.get("points"):
        outline = np.array([px(p) for p in zone["points"]], dtype=np.int32)
        cv2.polylines(image, [outline], True, EVENT_COLOUR, thickness, cv2.LINE_AA)
        _label(image, zone["name"], px(zone["points"][0]), EVENT_COLOUR, font_scale)
    line = overlay.get("line")
    if line:
        cv2.line(image, px(line["a"]), px(line["b"]), EVENT_COLOUR, thickness, cv2.LINE_AA)
        _label(image, line["name"], px(line["a"]), EVENT_COLOUR, font_scale)
    for det in overlay.get("detections", []):
        top_left, bottom_right = px((det["x1"], det["y1"])), px((det["x2"], det["y2"]))
        cv2.rectangle(image, top_left, bottom_right, BOX_COLOUR, thickness)
        track = f" #{det['track_id']}" if det.get("track_id") else ""
        _label(image, f"{det.get('label', '')}{track} {float(det.get('score', 0)):.2f}", top_left, BOX_COLOUR, font_scale)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int], scale: float) -> None:
    """``text`` on a filled band just above ``at`` (inside the picture)."""
    import cv2

    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = min(max(0, at[0]), max(0, image.shape[1] - w))
    y = max(h + base, at[1])
    cv2.rectangle(image, (x, y - h - base), (x + w, y), colour, -1)
    cv2.putText(image, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
