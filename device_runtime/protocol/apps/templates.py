"""Templates of app outputs: the documented event fields, and filling topics, keys and payloads.

Templates are Python format strings over :data:`PAYLOAD_FIELDS`, e.g.
``"plant/{app}/{camera}/{event}"``. In a JSON payload template a string that
is exactly one field (``"{count}"``) keeps the field's type (a number stays a
number); any other string is formatted as text. With no payload template the
payload is every field (:func:`default_payload`).
"""

from __future__ import annotations

import datetime as _dt
import re
import string
from collections.abc import Mapping
from typing import Any

from device_runtime.protocol.apps.validation import show_value

# Field name -> what it holds. The only names templates may use.
PAYLOAD_FIELDS: dict[str, str] = {
    "event_id": "Unique id of this delivery's event (the same on every retry): use it to drop duplicates.",
    "device": "Name of the device that saw the event.",
    "app": "App id.",
    "app_version": "Version of the app that emitted the event.",
    "output": "Name of this output.",
    "camera": "Camera id.",
    "event": "Event kind: zone_entered, zone_left, line_crossed, count_changed or dwell_exceeded.",
    "class": "Class name of the object ('' for counts).",
    "confidence": "Detection score of the object in the last frame it was seen, 0..1 (0 for counts and when the app reports none).",
    "track_id": "Tracker id of the object (0 for counts).",
    "zone": "Zone name ('' when the event is about a line).",
    "line": "Line name ('' when the event is about a zone).",
    "direction": "For line_crossed: 'in' or 'out'.",
    "count": "Objects in the zone afterwards, or the line's count afterwards.",
    "time": "Capture time of the frame, Unix seconds (float).",
    "time_iso": "Capture time as ISO 8601 UTC with milliseconds, e.g. 2026-01-31T08:15:02.125Z.",
    "date": "Capture date (UTC), YYYY-MM-DD: handy in S3 keys.",
    "snapshot": "Id of the event's JPEG snapshot on the device (GetSnapshot), '' if none.",
    "detail": "One human-readable sentence.",
}

def template_fields(template: str) -> list[str]:
    """The field names a format template uses; ValueError naming the problem if it is not one."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {show_value(template)} is not valid: {exc}") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if conversion or (spec and "{" in spec):
            raise ValueError(f"template {show_value(template)}: use plain {{field}} or {{field:spec}}")
        if name not in PAYLOAD_FIELDS:
            raise ValueError(
                f"template {show_value(template)} uses unknown field {show_value(name)}; "
                f"fields: {', '.join(PAYLOAD_FIELDS)}"
            )
        names.append(name)
    return names


def check_template(value: str) -> str:
    template_fields(value)
    return value


def payload_problems(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    problems: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(value, str):
        try:
            template_fields(value)
        except ValueError as exc:
            problems.append((loc, str(exc)))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            problems += payload_problems(item, loc + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += payload_problems(item, loc + (index,))
    return problems


def event_fields(
    event: Mapping[str, Any], *, device: str = "", app_version: str = "", output: str = "", event_id: str = ""
) -> dict[str, Any]:
    """The template fields of one event (an ``AppEvent.to_dict()`` or ``pb.Event``-like mapping)."""
    when = float(event.get("time") or 0.0)
    stamp = _dt.datetime.fromtimestamp(when, tz=_dt.timezone.utc)
    return {
        "event_id": event_id or str(event.get("id") or ""),
        "device": device,
        "app": str(event.get("app_id", "")),
        "app_version": app_version,
        "output": output,
        "camera": str(event.get("camera_id", "")),
        "event": str(event.get("type", "")),
        "class": str(event.get("label", "")),
        "confidence": float(event.get("confidence") or 0.0),
        "track_id": int(event.get("track_id") or 0),
        "zone": str(event.get("zone", "")),
        "line": str(event.get("line", "")),
        "direction": str(event.get("direction", "")),
        "count": int(event.get("count") or 0),
        "time": when,
        "time_iso": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "date": stamp.strftime("%Y-%m-%d"),
        "snapshot": str(event.get("snapshot_id", "")),
        "detail": str(event.get("detail", "")),
    }


def render_text(template: str, fields: Mapping[str, Any]) -> str:
    """``template`` formatted with ``fields``."""
    return template.format_map(dict(fields))


def render_payload(template: Any, fields: Mapping[str, Any]) -> Any:
    """A JSON payload template filled in; a string that is exactly ``{field}`` keeps the field's type."""
    if isinstance(template, str):
        match = re.fullmatch(r"\{([a-z_]+)\}", template)
        if match and match.group(1) in fields:
            return fields[match.group(1)]
        return render_text(template, fields)
    if isinstance(template, Mapping):
        return {key: render_payload(value, fields) for key, value in template.items()}
    if isinstance(template, list):
        return [render_payload(value, fields) for value in template]
    return template


def default_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The payload sent when an output has no template: every documented field."""
    return {name: fields[name] for name in PAYLOAD_FIELDS}
