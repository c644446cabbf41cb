"""Redrawing a running app's zones and counting lines on one camera's picture, as plain data.

The live tuning panel opens the zone editor on an enlarged tile's frame. The
editor speaks in shapes — ``(name, [(x, y), …])`` zones and ``(name, a, b)``
lines, normalised to [0, 1]; the device speaks in the ``params_json`` schema
of a detector app (``device_runtime/protocol/apps/params.py``): every camera
has its own zones and lines under ``geometry.<camera id>`` (``zones`` with
``name``, ``points``, ``classes``, ``dwell_limit_s``, ``anchor``; ``lines``
with ``name``, ``a``, ``b``, ``classes``, ``count``, ``anchor``).
:class:`GeometryEdit` converts between the two for the camera on screen and
applies the engineer's edits with the schema's rules, so what the panel
sends is what the device accepts; other cameras are never touched.

Drawing a shape with the name of an existing one on this camera redraws it:
its outline (or end points) change and everything else about it (classes,
dwell limit, anchor, counted directions) is kept. Any other name adds a new
shape on this camera.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console_app.core.services.app_builder_types import (
    MIN_ZONE_AREA,
    NAME_PATTERN,
    NAME_RULE,
    clamp_point,
    polygon_area,
    polygon_self_intersects,
)
from console_app.core.services.live_frame import camera_geometry

ZONE, LINE = "zone", "line"
Point = tuple[float, float]
EditorZone = tuple[str, list[Point]]
EditorLine = tuple[str, Point, Point]


class GeometryError(ValueError):
    """An edit refused: the message names the zone or line and what is wrong with it."""


def _point(value: Sequence[float]) -> Point:
    return clamp_point(value)


def _distinct(points: Iterable[Sequence[float]]) -> list[Point]:
    # A double-click lands twice on one spot; the closing point may repeat the first.
    result: list[Point] = []
    for point in (_point(p) for p in points):
        if not result or result[-1] != point:
            result.append(point)
    if len(result) > 1 and result[0] == result[-1]:
        result.pop()
    return result


@dataclass
class GeometryEdit:
    """The zones and lines of one camera (``camera_id``) of an app while the engineer redraws them.

    ``zones`` and ``lines`` are params-JSON dicts, deep copies of what the edit
    started from; :meth:`params` gives them back as a ``SetParams`` patch that
    changes this camera only.
    """

    camera_id: str
    zones: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    camera_ids: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], camera_id: str,
                    camera_ids: Iterable[str] = ()) -> GeometryEdit:
        """An edit of ``camera_id``'s zones and lines in ``params`` (an app's live parameters)."""
        drawn = camera_geometry(dict(params), camera_id, tuple(camera_ids))
        return cls(camera_id, drawn["zones"], drawn["lines"], tuple(camera_ids))

    # ------------------------------------------------------------ what the editor shows

    def shown_zones(self) -> list[int]:
        """Indexes (into :attr:`zones`) of the zones the editor shows, in its order."""
        return list(range(len(self.zones)))

    def shown_lines(self) -> list[int]:
        """Indexes (into :attr:`lines`) of the lines the editor shows, in its order."""
        return list(range(len(self.lines)))

    def editor_shapes(self) -> tuple[list[EditorZone], list[EditorLine]]:
        """This camera's zones and lines as the zone editor draws them (malformed entries skipped)."""
        zones: list[EditorZone] = []
        for i in self.shown_zones():
            zone = self.zones[i]
            try:
                zones.append((str(zone.get("name", "")), [_point(p) for p in zone.get("points") or []]))
            except (TypeError, ValueError, IndexError):
                continue
        lines: list[EditorLine] = []
        for i in self.shown_lines():
            line = self.lines[i]
            try:
                lines.append((str(line.get("name", "")), _point(line["a"]), _point(line["b"])))
            except (KeyError, TypeError, ValueError, IndexError):
                continue
        return zones, lines

    def shape_names(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of this camera's shapes: zones first, then lines (the shape list's rows)."""
        return ([(ZONE, str(self.zones[i].get("name", ""))) for i in self.shown_zones()]
                + [(LINE, str(self.lines[i].get("name", ""))) for i in self.shown_lines()])

    def next_free_name(self, prefix: str) -> str:
        """``prefix-1``, ``prefix-2``, … whichever no zone or line of this camera uses yet."""
        taken = self._names()
        n = 1
        while f"{prefix}-{n}" in taken:
            n += 1
        return f"{prefix}-{n}"

    # ------------------------------------------------------------ edits

    def draw_zone(self, points: Sequence[Sequence[float]], name: str = "") -> str:
        """Add a zone, or redraw this camera's zone called ``name``; what happened, in words.

        Refused (:class:`GeometryError`, nothing changed) under three distinct
        points, with crossing edges, without area, or with a name that is not
        valid or belongs to a line of this camera.
        """
        name = name.strip() or self.next_free_name(ZONE)
        outline = _distinct(points)
        label = f"zone {name!r}"
        if len(outline) < 3:
            raise GeometryError(f"{label} needs at least 3 points, got {len(outline)}")
        if polygon_self_intersects(outline):
            raise GeometryError(f"{label} has edges that cross each other; click the points in order "
                                "around the outline")
        if polygon_area(outline) < MIN_ZONE_AREA:
            raise GeometryError(f"{label} has no area: its points lie on one line")
        index = self._existing(ZONE, name)
        as_json = [[x, y] for x, y in outline]
        if index is not None:
            self.zones[index]["points"] = as_json
            return f"{label} redrawn"
        self.zones.append({"name": name, "points": as_json})
        return f"{label} added"

    def draw_line(self, a: Sequence[float], b: Sequence[float], name: str = "") -> str:
        """Add a counting line a→b, or redraw this camera's line called ``name``; what happened, in words."""
        name = name.strip() or self.next_free_name(LINE)
        start, end = _point(a), _point(b)
        label = f"line {name!r}"
        if start == end:
            raise GeometryError(f"{label} needs two distinct end points, got a = b = {list(start)}")
        index = self._existing(LINE, name)
        if index is not None:
            self.lines[index]["a"], self.lines[index]["b"] = list(start), list(end)
            return f"{label} redrawn"
        self.lines.append({"name": name, "a": list(start), "b": list(end)})
        return f"{label} added"

    def remove(self, kind: str, shown_index: int) -> str:
        """Remove the ``shown_index``-th zone or line of this camera (the editor's numbering); what happened."""
        if kind not in (ZONE, LINE):
            raise ValueError(f"kind must be 'zone' or 'line', got {kind!r}")
        shown = self.shown_zones() if kind == ZONE else self.shown_lines()
        if not 0 <= shown_index < len(shown):
            raise GeometryError(f"there is no {kind} number {shown_index + 1} on camera {self.camera_id!r}")
        items = self.zones if kind == ZONE else self.lines
        removed = items.pop(shown[shown_index])
        return f"{kind} {removed.get('name', '?')!r} removed"

    def camera_params(self) -> dict[str, list[dict[str, Any]]]:
        """This camera's ``{"zones": […], "lines": […]}`` as they stand."""
        return {"zones": copy.deepcopy(self.zones), "lines": copy.deepcopy(self.lines)}

    def params(self) -> dict[str, Any]:
        """``{"geometry": {camera_id: {"zones": […], "lines": […]}}}``: a ``SetParams`` patch for this camera only."""
        return {"geometry": {self.camera_id: self.camera_params()}}

    # ------------------------------------------------------------ names

    def _names(self) -> set[str]:
        return {str(z.get("name", "")) for z in self.zones} | {str(ln.get("name", "")) for ln in self.lines}

    def _existing(self, kind: str, name: str) -> int | None:
        """Index of this camera's ``kind`` called ``name``; None when the name is free; refused otherwise."""
        if not NAME_PATTERN.match(name):
            raise GeometryError(f"{kind} name {name!r} is not valid: use {NAME_RULE}")
        same, other = (self.zones, self.lines) if kind == ZONE else (self.lines, self.zones)
        other_kind = LINE if kind == ZONE else ZONE
        if any(item.get("name") == name for item in other):
            raise GeometryError(f"{kind} name {name!r} is already used by a {other_kind} on this camera; "
                                "a camera's zone and line names must be unique")
        for index, item in enumerate(same):
            if item.get("name") == name:
                return index
        return None
