"""Live parameters of a detector app: confidence, classes, zones and lines per camera, tracking.

These are the part of a manifest that can change while the app runs
(``SetParams``). Zones and counting lines belong to a camera: each camera
looks at a different scene, so ``geometry`` maps a camera id to that
camera's own zones and lines (:class:`CameraGeometry`). Points are
normalised image coordinates: ``[x, y]`` with both in [0, 1], x from the
left edge, y from the top edge, so one manifest fits any camera resolution
and the console can draw it on any snapshot of that camera.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from device_runtime.protocol.apps.geometry import polygon_area, polygon_self_intersects
from device_runtime.protocol.apps.validation import FieldProblems, StrictModel, show_value

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")
NAME_RULE = "1-64 letters, digits, spaces, '_' or '-', starting with a letter or digit"

# Below this (in squared normalised units) a polygon is treated as flat: its
# points lie on one line, or so close to it that nothing can stand inside.
MIN_ZONE_AREA = 1e-6


def _normalised_point(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"expected a point [x, y], got {show_value(value)}")
    for axis, coordinate in zip("xy", value, strict=True):
        if isinstance(coordinate, bool) or not isinstance(coordinate, (int, float)):
            raise ValueError(f"{axis} must be a number, got {show_value(coordinate)}")
        if not 0.0 <= coordinate <= 1.0:
            raise ValueError(
                f"{axis} = {show_value(coordinate)} is outside [0, 1]; points are fractions "
                "of the image width and height"
            )
    return (float(value[0]), float(value[1]))


NormalisedPoint = Annotated[tuple[float, float], BeforeValidator(_normalised_point)]

Anchor = Literal["bottom_center", "center"]


def _check_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{kind} name {show_value(name)} is not valid: use {NAME_RULE}")
    return name


def _check_unique(items: Sequence[str], what: str) -> None:
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        if item in seen:
            problems.append(((index,), f"{what} {show_value(item)} is listed twice"))
        seen.setdefault(item, index)
    if problems:
        raise FieldProblems(problems)


def _check_classes(classes: list[str]) -> list[str]:
    """Shared validator for the ``classes`` lists: non-empty, unique names."""
    problems = [((i,), "class name must not be empty") for i, c in enumerate(classes) if not c]
    if problems:
        raise FieldProblems(problems)
    _check_unique(classes, "class")
    return classes


class _ScopedRule(StrictModel):
    """Shared check of a zone's or a line's ``classes`` filter."""

    @field_validator("classes", check_fields=False)
    @classmethod
    def _valid_classes(cls, classes: list[str]) -> list[str]:
        return _check_classes(classes)


class Zone(_ScopedRule):
    """A polygon on one camera's picture; objects whose anchor point is inside are "in" the zone."""

    name: str = Field(
        title="Zone name",
        description=f"Unique among this camera's zones and lines ({NAME_RULE}); keys the zone's "
        "count.",
    )
    points: list[NormalisedPoint] = Field(
        max_length=256,
        title="Outline",
        description="At least 3 points [x, y] in normalised image coordinates, in order around "
        "the outline; the polygon closes itself. Edges may not cross.",
    )
    classes: list[str] = Field(
        default_factory=list,
        title="Watched classes",
        description="Class names this zone reacts to; empty: the app's classes.",
    )
    dwell_limit_s: float | None = Field(
        default=None,
        gt=0,
        strict=True,
        title="Dwell limit (s)",
        description="Emit dwell_exceeded once per visit when an object has stayed inside this "
        "long (frame time); null: no limit.",
    )
    anchor: Anchor = Field(
        default="bottom_center",
        title="Anchor point",
        description="Which point of a box must be inside: bottom_center (where a person stands "
        "or a part rests; right for oblique cameras) or center (for cameras looking straight down).",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return _check_name("zone", name)

    @field_validator("points")
    @classmethod
    def _valid_polygon(cls, points: list[tuple[float, float]], info: ValidationInfo) -> list:
        label = f"zone {show_value(info.data.get('name', '?'))}"
        if len(points) < 3:
            raise ValueError(f"{label} needs at least 3 points, got {len(points)}")
        if polygon_self_intersects(points):
            raise ValueError(
                f"{label} has edges that cross each other; list the points in order around "
                "the outline"
            )
        if polygon_area(points) < MIN_ZONE_AREA:
            raise ValueError(f"{label} has no area: its points lie on one line or on one spot")
        return points


class CountingLine(_ScopedRule):
    """A segment a→b; objects whose anchor point crosses it are counted, per direction."""

    name: str = Field(
        title="Line name",
        description=f"Unique among this camera's zones and lines ({NAME_RULE}); keys the counts "
        "'<name>' (total), '<name>.in' and '<name>.out'.",
    )
    a: NormalisedPoint = Field(
        title="Start point",
        description="[x, y] in normalised image coordinates. Crossing from the left of a→b to "
        "its right is 'in' (a→b turned 90° clockwise on screen).",
    )
    b: NormalisedPoint = Field(
        title="End point",
        description="[x, y] in normalised image coordinates; must differ from a.",
    )
    classes: list[str] = Field(
        default_factory=list,
        title="Counted classes",
        description="Class names this line counts; empty: the app's classes.",
    )
    count: Literal["in", "out", "both"] = Field(
        default="both",
        title="Counted directions",
        description="Which crossings count: 'in', 'out' or 'both'.",
    )
    anchor: Anchor = Field(
        default="bottom_center",
        title="Anchor point",
        description="Which point of a box is tracked across the line: bottom_center or center.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return _check_name("line", name)

    @field_validator("b")
    @classmethod
    def _distinct_endpoints(cls, b: tuple[float, float], info: ValidationInfo) -> tuple:
        a = info.data.get("a")
        if a is not None and tuple(a) == tuple(b):
            raise ValueError(
                f"line {show_value(info.data.get('name', '?'))} needs two distinct endpoints, "
                f"got a = b = {show_value(list(b))}"
            )
        return b


class CameraGeometry(StrictModel):
    """The zones and counting lines drawn on one camera's picture."""

    zones: list[Zone] = Field(
        default_factory=list,
        max_length=64,
        title="Zones",
        description="Polygons with enter/leave events, occupancy counts and dwell limits.",
    )
    lines: list[CountingLine] = Field(
        default_factory=list,
        max_length=64,
        title="Counting lines",
        description="Segments that count crossings per direction.",
    )

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        _check_unique_names(zones, "zone", {})
        return zones

    @field_validator("lines")
    @classmethod
    def _unique_line_names(cls, lines: list[CountingLine], info: ValidationInfo) -> list:
        zone_names = {zone.name: f"zones[{i}]" for i, zone in enumerate(info.data.get("zones", []))}
        _check_unique_names(lines, "line", zone_names)
        return lines

    def is_empty(self) -> bool:
        """Whether this camera has neither zones nor lines."""
        return not self.zones and not self.lines


class TrackingParams(StrictModel):
    """How detections are linked into tracks across frames (see ``apps.tracker``)."""

    iou_threshold: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        strict=True,
        title="Match overlap",
        description="Minimum IoU between a track's predicted box and a detection of the same "
        "class for them to be the same object.",
    )
    min_hits: int = Field(
        default=2,
        ge=1,
        le=30,
        strict=True,
        title="Frames to confirm",
        description="Detections in consecutive frames before a track gets an id and may emit "
        "events; filters one-frame false positives.",
    )
    max_missed_frames: int = Field(
        default=5,
        ge=0,
        le=1000,
        strict=True,
        title="Frames a track may be missed",
        description="A confirmed track survives while missed in at most this many consecutive "
        "frames, or while unseen for at most max_age_s (whichever lasts longer).",
    )
    max_age_s: float = Field(
        default=1.0,
        ge=0,
        le=600,
        strict=True,
        title="Seconds a track may be missed",
        description="A confirmed track survives while unseen for at most this long (frame "
        "time), or while missed in at most max_missed_frames frames.",
    )


class DetectorParams(StrictModel):
    """Everything a detector app lets the engineer tune while it runs."""

    moved_fields: ClassVar[dict[str, str]] = {
        group: f"is per camera since schema v2: give each camera's {group} under "
        "'geometry', keyed by camera id"
        for group in ("zones", "lines")
    }

    confidence: float = Field(
        default=0.5,
        gt=0,
        le=1,
        strict=True,
        title="Minimum confidence",
        description="Detections scoring below this are ignored, in (0, 1].",
    )
    iou: float = Field(
        default=0.45,
        gt=0,
        le=1,
        strict=True,
        title="NMS overlap",
        description="IoU above which the model's decoder merges overlapping boxes "
        "(non-maximum suppression), in (0, 1].",
    )
    classes: list[str] = Field(
        default_factory=list,
        title="Classes",
        description="Class names the app reports; empty: every class of the model. Classes a "
        "zone or line names itself are reported too.",
    )
    geometry: dict[str, CameraGeometry] = Field(
        default_factory=dict,
        max_length=64,
        title="Zones and lines per camera",
        description="Keyed by camera id (one of the app's cameras): the zones and counting "
        "lines drawn on that camera's picture. A camera without an entry has none.",
    )
    hysteresis: float = Field(
        default=0.02,
        ge=0,
        le=0.25,
        strict=True,
        title="Dead band",
        description="Fraction of the image's shorter side an object must move past a line (or "
        "out of a zone) before its side changes; stops jitter from counting twice.",
    )
    tracking: TrackingParams = Field(
        default_factory=TrackingParams,
        title="Tracking",
        description="How objects are followed from frame to frame.",
    )

    @field_validator("classes")
    @classmethod
    def _valid_classes(cls, classes: list[str]) -> list[str]:
        return _check_classes(classes)

    def for_camera(self, camera_id: str) -> CameraGeometry:
        """The zones and lines of one camera (empty when it has none)."""
        return self.geometry.get(camera_id) or CameraGeometry()

    def with_geometry(self, camera_id: str, geometry: CameraGeometry) -> DetectorParams:
        """A copy with ``camera_id``'s zones and lines replaced (other cameras unchanged)."""
        return self.model_copy(update={"geometry": {**self.geometry, camera_id: geometry}})

    def watched_classes(self, camera_id: str | None = None) -> set[str] | None:
        """Class names anything in this app (or on one camera) looks at; ``None``: every class."""
        if not self.classes:
            return None
        watched = set(self.classes)
        cameras = self.geometry.values() if camera_id is None else [self.for_camera(camera_id)]
        for geometry in cameras:
            for item in [*geometry.zones, *geometry.lines]:
                watched.update(item.classes)
        return watched


def _check_unique_names(items: Sequence[Zone | CountingLine], kind: str, taken: dict) -> None:
    # A camera's zones and lines share one namespace: its counts map is keyed by name.
    seen = dict(taken)
    problems = []
    for index, item in enumerate(items):
        if item.name in seen:
            problems.append(
                (
                    (index, "name"),
                    f"{kind} name {show_value(item.name)} is already used by "
                    f"{seen[item.name]}; zone and line names must be unique",
                )
            )
        else:
            seen[item.name] = f"{kind}s[{index}]"
    if problems:
        raise FieldProblems(problems)


def reference_problems(
    params: DetectorParams,
    camera_ids: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> list[tuple[tuple, str]]:
    """Problems with names in ``params`` that point outside it: unknown cameras or classes.

    ``camera_ids`` are the app's cameras, ``labels`` the model's class names;
    ``None`` or empty skips that check (a model referred to by name may carry
    its labels only on the device). Locs are relative to the params object.
    """
    problems: list[tuple[tuple, str]] = []
    if labels:
        known = set(labels)
        hint = ", ".join(labels) if len(labels) <= 20 else ", ".join(labels[:20]) + ", …"

        def check_classes(loc: tuple, classes: Sequence[str]) -> None:
            for index, name in enumerate(classes):
                if name not in known:
                    problems.append(
                        (
                            loc + (index,),
                            f"class {show_value(name)} is not a label of the "
                            f"model (labels: {hint})",
                        )
                    )

        check_classes(("classes",), params.classes)
        for camera, geometry in params.geometry.items():
            for i, zone in enumerate(geometry.zones):
                check_classes(("geometry", camera, "zones", i, "classes"), zone.classes)
            for i, line in enumerate(geometry.lines):
                check_classes(("geometry", camera, "lines", i, "classes"), line.classes)
    if camera_ids:
        for camera in params.geometry:
            if camera not in camera_ids:
                problems.append(
                    (
                        ("geometry", camera),
                        f"camera {show_value(camera)} is not one of the app's cameras "
                        f"({', '.join(camera_ids)})",
                    )
                )
    return problems


def v1_geometry(params: Mapping[str, Any], camera_ids: Sequence[str]) -> dict[str, Any]:
    """Schema v1's app-wide ``zones`` / ``lines`` (each with a ``cameras`` filter) as v2 params.

    A v1 zone or line with an empty ``cameras`` list applied to every camera:
    it is copied onto each of ``camera_ids``; one naming cameras goes to those
    (an unknown name becomes a ``geometry`` key the reference check reports).
    Every camera gets the keys the v1 data had (so a v1 live patch that
    replaced all zones still replaces them on every camera). Malformed
    entries are carried over unchanged for validation to report.
    """
    result = {k: v for k, v in params.items() if k not in ("zones", "lines")}
    geometry: dict[str, Any] = {camera: {} for camera in camera_ids}
    for group in ("zones", "lines"):
        if group not in params:
            continue
        for camera in camera_ids:
            geometry[camera][group] = []
        items = params[group]
        if not isinstance(items, list):
            for camera in camera_ids:
                geometry[camera][group] = items
            continue
        for item in items:
            targets: Sequence[Any] = camera_ids
            if isinstance(item, Mapping):
                item = dict(item)
                listed = item.pop("cameras", [])
                if isinstance(listed, list) and listed:
                    targets = [str(c) for c in dict.fromkeys(listed)]
            for camera in targets:
                geometry.setdefault(camera, {}).setdefault(group, []).append(item)
    geometry = {camera: data for camera, data in geometry.items() if data}
    if geometry:
        existing = result.get("geometry")
        result["geometry"] = {**(existing if isinstance(existing, Mapping) else {}), **geometry}
    return result
