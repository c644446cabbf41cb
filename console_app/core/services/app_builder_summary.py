"""The builder's review step in words: what the app will do, for the engineer who made it.

:func:`summary_rows` turns an :class:`~console_app.core.services.app_builder.AppBuilder`
into ``(heading, sentence)`` rows; the wizard shows them and keeps the raw
manifest JSON behind a *Details* toggle. Plain data, no Qt.
"""

from __future__ import annotations

from console_app.core.services.app_builder import AppBuilder

DIRECTION_WORDS = {
    "both": "counts crossings both ways",
    "in": "counts crossings in the arrow's direction only (in)",
    "out": "counts crossings against the arrow only (out)",
}


def _quoted(names: list[str]) -> str:
    return ", ".join(f"“{n}”" for n in names)


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def summary_rows(builder: AppBuilder) -> list[tuple[str, str]]:
    """What the app does, one ``(heading, sentence)`` per line of the review page."""
    rows: list[tuple[str, str]] = []
    version = builder.base_version or "1.0.0"
    edit = " (saved as the next version)" if builder.base_version else ""
    rows.append(("App", f"{builder.name or 'not named yet'} — id {builder.app_id or '?'}, version {version}{edit}"))
    cameras = [c.name for c in builder.cameras]
    rows.append(("Cameras", _quoted(cameras) if cameras else "none chosen"))
    model = builder.model
    rows.append(("Model", f"{model.name} ({len(model.labels)} classes)" if model else "none chosen"))
    reported = _quoted(builder.classes) if builder.classes else "every class the model knows"
    rows.append(("Reports", f"{reported}, when the model is at least {_percent(builder.confidence)} sure"))
    for camera, camera_id in zip(builder.cameras, builder.camera_ids, strict=True):
        parts = []
        for _, zone in builder.zones_on(camera_id):
            text = f"zone “{zone.name}” ({len(zone.points)} corners"
            if zone.dwell_limit_s:
                text += f"; alarm when something stays longer than {zone.dwell_limit_s:g} s"
            if zone.classes:
                text += f"; watches {_quoted(zone.classes)}"
            parts.append(text + ")")
        for _, line in builder.lines_on(camera_id):
            text = f"line “{line.name}” ({DIRECTION_WORDS.get(line.count, line.count)}"
            if line.classes:
                text += f"; counts {_quoted(line.classes)}"
            parts.append(text + ")")
        rows.append((f"On {camera.name}", "; ".join(parts) if parts else "no zones or counting lines"))
    t = builder.tracking
    rows.append(("Fine tuning",
                 f"boxes overlapping more than {_percent(builder.iou)} are merged (NMS IoU); "
                 f"an object must move {_percent(builder.hysteresis)} of the picture past a line to count "
                 f"(dead band); it is the same object from frame to frame above {_percent(t['iou_threshold'])} "
                 f"overlap (track IoU), is confirmed after {int(t['min_hits'])} frames and kept while unseen for "
                 f"{int(t['max_missed_frames'])} frames or {float(t['max_age_s']):g} s"))
    return rows
