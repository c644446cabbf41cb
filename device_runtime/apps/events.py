"""Events detector apps emit.

Field names and meanings match ``sightline.device.v1.Event`` in the API
contract (all but ``id``, which the runner assigns), so the API maps one to
the other with ``Event(id=..., **event.to_dict())``. Strings default to ``""``
and numbers to ``0`` for "not applicable", as in protobuf.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

ZONE_ENTERED = "zone_entered"
ZONE_LEFT = "zone_left"
LINE_CROSSED = "line_crossed"
COUNT_CHANGED = "count_changed"
DWELL_EXCEEDED = "dwell_exceeded"

EventType = Literal["zone_entered", "zone_left", "line_crossed", "count_changed", "dwell_exceeded"]
EVENT_TYPES: tuple[str, ...] = (
    ZONE_ENTERED,
    ZONE_LEFT,
    LINE_CROSSED,
    COUNT_CHANGED,
    DWELL_EXCEEDED,
)


@dataclass
class AppEvent:
    """Something an app noticed in one frame of one camera.

    ``time`` is the capture time of the frame that caused it (the time the
    runner passed as ``frame_time``). ``track_id`` is 0 for events about no
    single object (``count_changed``). ``count`` is, for ``zone_entered`` /
    ``zone_left`` / ``count_changed`` on a zone, the number of objects in the
    zone afterwards; for ``line_crossed``, the line's count in that direction
    afterwards; for ``count_changed`` on a line, the line's new total.
    ``snapshot_id`` is filled by the runner with a reference to the frame.
    ``confidence`` is the detection score of the event's object in the last
    frame it was matched (0 for ``count_changed``); outputs send it, the
    protobuf ``Event`` does not carry it.
    """

    type: EventType
    time: float
    app_id: str
    camera_id: str
    label: str = ""
    track_id: int = 0
    zone: str = ""
    line: str = ""
    direction: str = ""  # line_crossed: "in" | "out"
    count: int = 0
    detail: str = ""  # one human-readable sentence
    snapshot_id: str = ""
    confidence: float = 0.0  # detection score of the object when last seen, 0..1; 0 for counts

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data, keyed like the protobuf ``Event`` (``confidence`` is not in it)."""
        data = asdict(self)
        del data["confidence"]
        return data

    def fields(self) -> dict[str, Any]:
        """Everything the event holds, ``confidence`` included (what outputs template over).

        A shallow copy (every field is a plain value): this runs on the camera's thread.
        """
        return dict(vars(self))

