"""The application builder's value types and the rules an engineer's drawing must keep.

Everything here is plain data or a pure function: :class:`Step`, the
options the builder offers (:class:`CameraOption`, :class:`ModelOption`),
what is being drawn (:class:`ZoneDraft`, :class:`LineDraft`), what it
reports (:class:`Problem`, :class:`BuilderError`, :class:`BuilderResult`),
the id and name patterns of the ``sightline.app/v1`` manifest and the
polygon checks. The state machine that uses them is
:mod:`console_app.core.services.app_builder`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SCHEMA_V1 = "sightline.app/v1"
APP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CAMERA_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
NAME_RULE = "1-64 letters, digits, spaces, '_' or '-', starting with a letter or digit"
MIN_ZONE_AREA = 1e-6
DEFAULT_TRACKING = {"iou_threshold": 0.3, "min_hits": 2, "max_missed_frames": 5, "max_age_s": 1.0}


class Step(enum.IntEnum):
    """The builder's steps, in order."""

    CAMERAS = 0
    MODEL = 1
    CLASSES = 2
    ZONES = 3
    PARAMETERS = 4
    OUTPUTS = 5
    REVIEW = 6

    @property
    def title(self) -> str:
        return STEP_TITLES[self]


STEP_TITLES = {
    Step.CAMERAS: "Cameras",
    Step.MODEL: "Model",
    Step.CLASSES: "Classes and confidence",
    Step.ZONES: "Zones and counting lines",
    Step.PARAMETERS: "Parameters",
    Step.OUTPUTS: "Outputs (MQTT, PLC, webhook, cloud)",
    Step.REVIEW: "Review",
}


class BuilderError(Exception):
    """An edit or a step change the builder refuses; ``problems`` name the fields."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Problem:
    """Why a step is not complete: ``field`` is a manifest-style path (``params.zones[0].points``)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class CameraOption:
    """A camera the engineer can pick: ``key`` identifies it in the inventory (or is the URL)."""

    key: str
    name: str
    url: str


@dataclass(frozen=True)
class ModelOption:
    """A model the engineer can pick (from the model library)."""

    model_id: str
    name: str
    labels: tuple[str, ...] = ()
    decoder: str | None = None
    sha256: str = ""
    version: int | None = None

    @classmethod
    def from_library(cls, model: Any) -> ModelOption:
        """From a ``LibraryModel`` (or anything with its attribute names)."""
        return cls(str(getattr(model, "id", getattr(model, "model_id", ""))), model.name,
                   tuple(getattr(model, "labels", ()) or ()), getattr(model, "decoder", None) or None,
                   getattr(model, "sha256", "") or "", getattr(model, "version", None))

    @property
    def device_name(self) -> str:
        """The name the device installs the model under (a valid model name)."""
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-._") or "model"
        if self.version is not None:
            base = f"{base}-v{self.version}"
        return base[:128]


@dataclass
class ZoneDraft:
    """A zone being drawn; ``points`` are normalised [0, 1] image coordinates."""

    name: str
    points: list[tuple[float, float]] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    dwell_limit_s: float | None = None


@dataclass
class LineDraft:
    """A counting line being drawn from ``a`` to ``b`` (normalised coordinates)."""

    name: str
    a: tuple[float, float] = (0.0, 0.0)
    b: tuple[float, float] = (0.0, 0.0)
    cameras: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    count: str = "both"


@dataclass(frozen=True)
class BuilderResult:
    """What the builder produces: the manifest and the library id of its model."""

    manifest: dict[str, Any]
    model_id: str


def slug(text: str, pattern: re.Pattern[str] = APP_ID_PATTERN, lower: bool = True) -> str:
    """``text`` turned into an id matching ``pattern`` (letters, digits, '-'), or ``""``."""
    value = text.lower() if lower else text
    value = re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-_")[:63]
    return value if pattern.match(value) else ""


# ------------------------------------------------------------ geometry


def clamp_point(value: Sequence[float]) -> tuple[float, float]:
    """A normalised point, clamped into [0, 1] (a click on the image's edge may land a hair outside)."""
    x, y = float(value[0]), float(value[1])
    return (min(1.0, max(0.0, x)), min(1.0, max(0.0, y)))


def polygon_area(points: Sequence[tuple[float, float]]) -> float:
    """The area enclosed by a closed polygon (shoelace formula)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


def polygon_self_intersects(points: Sequence[tuple[float, float]]) -> bool:
    """Whether two non-adjacent edges of the closed polygon cross (proper crossings only)."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False
