"""The application builder's value types and the rules an engineer's drawing must keep.

Everything here is plain data or a pure function: :class:`Step`, the
options the builder offers (:class:`CameraOption`, :class:`ModelOption`),
what is being drawn (:class:`ZoneDraft`, :class:`LineDraft`), what it
reports (:class:`Problem`, :class:`BuilderError`, :class:`BuilderResult`),
and, re-exported from the device's own contract
(:mod:`device_runtime.protocol.apps`), the id and name patterns of the
``sightline.app/v2`` manifest and the polygon checks, so the builder refuses
exactly what the device would. The state machine that uses them is
:mod:`console_app.core.services.app_builder`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from device_runtime.protocol.apps.geometry import polygon_area, polygon_self_intersects
from device_runtime.protocol.apps.manifest import APP_ID_PATTERN, SCHEMA_V2
from device_runtime.protocol.apps.params import (
    MIN_ZONE_AREA,
    NAME_PATTERN,
    NAME_RULE,
    TrackingParams,
)
from device_runtime.protocol.apps.specs import CAMERA_ID_PATTERN, MODEL_NAME_PATTERN, URL_PATTERN

__all__ = [
    "APP_ID_PATTERN", "CAMERA_ID_PATTERN", "DEFAULT_TRACKING", "MIN_ZONE_AREA", "MODEL_NAME_PATTERN", "NAME_PATTERN",
    "NAME_RULE", "SCHEMA_V2", "URL_PATTERN", "BuilderError", "BuilderResult", "CameraOption", "LineDraft",
    "ModelOption", "Problem", "Step", "ZoneDraft", "clamp_point", "polygon_area", "polygon_self_intersects", "slug",
]

#: The device's tracking defaults, the builder's starting values.
DEFAULT_TRACKING: dict[str, Any] = TrackingParams().model_dump()


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
    """A zone being drawn on camera ``camera`` (its manifest id); ``points`` are normalised [0, 1]."""

    name: str
    points: list[tuple[float, float]] = field(default_factory=list)
    camera: str = ""
    classes: list[str] = field(default_factory=list)
    dwell_limit_s: float | None = None


@dataclass
class LineDraft:
    """A counting line drawn on camera ``camera`` from ``a`` to ``b`` (normalised coordinates)."""

    name: str
    a: tuple[float, float] = (0.0, 0.0)
    b: tuple[float, float] = (0.0, 0.0)
    camera: str = ""
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
