"""The declarative detector app's per-camera logic: filter, track, zones, lines, events.

One :class:`DetectorLogic` per (app, camera). The runner calls
:meth:`DetectorLogic.process` with each frame's detections, in frame order,
from one thread; the API may call :meth:`DetectorLogic.update_params` from
another at any time, and the change takes effect on the next frame.

Rules worth knowing (they decide what users see):

- **Classes.** A detection is kept when it scores at least ``confidence``
  and its class is one of ``params.classes`` or is named by a zone or line
  (empty ``params.classes``: every class). A zone or line with its own
  ``classes`` reacts only to those; otherwise to ``params.classes``.
- **Anchor point.** Zones and lines test one point per box, by default its
  bottom centre: where a person stands or a part rests. With an oblique
  camera the box centre of a person standing just outside a floor zone can
  be inside it; the feet cannot. ``anchor: center`` suits cameras looking
  straight down.
- **Zones** (asymmetric dead band). An object enters as soon as its anchor
  is inside the polygon, and leaves only once the anchor is outside *and*
  more than ``hysteresis`` × (shorter image side) away from the outline,
  so a person standing on the boundary does not flicker in and out.
  ``zone_entered`` / ``zone_left`` carry the zone's new occupancy; a track
  that ends while inside leaves with "lost from view". ``dwell_exceeded``
  fires once per visit, in the first frame whose ``frame_time`` is at least
  ``dwell_limit_s`` after the frame the object entered.
- **Lines** (symmetric dead band, once per direction). A track's side of a
  line changes only when its anchor is more than the dead band away on the
  other side; jitter on the line therefore changes nothing. A side change
  counts as a crossing when the movement from the last point on the old
  side to the new point passes through the segment a–b (not around an end).
  Each track is counted at most once per line and direction: a person who
  steps in, back out and in again counts one "in" and one "out".
- **Confirmation.** Events wait until a track is confirmed (see
  ``apps.tracker``); what happened while it was tentative is reported then.
- **count_changed** is emitted at most once per zone or line per frame,
  when a zone's occupancy or a line's total differs from the last frame.
- **Live changes** (:meth:`DetectorLogic.update_params`) apply from the next
  frame. Zones and lines are matched by name: one that still exists keeps
  its occupants and counts (a moved line forgets which side each track was
  on, so nobody is counted for the move itself); a removed one stops
  emitting and its counts are dropped. Objects of classes the app or a zone
  no longer watches are forgotten without ``zone_left``; the zone's
  ``count_changed`` reports the new occupancy.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from device_runtime.apps import events as ev
from device_runtime.apps.events import AppEvent
from device_runtime.apps.tracker import Track, Tracker
from device_runtime.protocol.apps.errors import ManifestError
from device_runtime.protocol.apps.geometry import (
    crossing_direction,
    distance_to_boundary,
    points_in_polygon,
    signed_distance_to_line,
)
from device_runtime.protocol.apps.params import (
    CountingLine,
    DetectorParams,
    Zone,
    reference_problems,
)
from device_runtime.protocol.apps.validation import format_loc
from device_runtime.types import Detection

DIRECTIONS = ("in", "out")


@dataclass
class LogicResult:
    """What one frame produced: kept detections (with ``track_id``), events, and current counts.

    ``counts`` holds, per zone of this camera, ``"<zone>"``: objects inside;
    per line, ``"<line>.in"`` / ``"<line>.out"`` for each counted direction
    and ``"<line>"``: their sum.
    """

    detections: list[Detection]
    events: list[AppEvent]
    counts: dict[str, int]


@dataclass
class _LineSide:
    side: int  # +1 right of a→b, -1 left
    point: tuple[float, float]  # last anchor seen beyond the dead band on that side


@dataclass
class _TrackState:
    inside: dict[str, float] = field(default_factory=dict)  # zone → frame time it entered
    # Zones whose zone_entered was emitted (and zone_left not yet) → entry time.
    announced: dict[str, float] = field(default_factory=dict)
    dwell_fired: set[str] = field(default_factory=set)
    lines: dict[str, _LineSide] = field(default_factory=dict)
    counted: set[tuple[str, str]] = field(default_factory=set)  # (line, direction)
    pending: list[tuple[str, str, float]] = field(default_factory=list)  # crossings while tentative


class DetectorLogic:
    """Per-camera logic of a detector app (see the module docstring for its rules)."""

    def __init__(self, app_id: str, camera_id: str, params: DetectorParams, labels: Sequence[str]):
        self.app_id = app_id
        self.camera_id = camera_id
        self.labels = list(labels)
        self._check_classes(params)
        self._pending_lock = threading.Lock()
        self._pending: DetectorParams | None = None
        self._latest = params
        self._process_lock = threading.Lock()
        self._tracker = Tracker(params.tracking)
        self._states: dict[int, _TrackState] = {}
        self._line_counts: dict[str, dict[str, int]] = {}
        self._reported: dict[str, int] = {}  # count last reported by count_changed, by zone/line
        self._params = params
        self._zones: list[Zone] = []
        self._lines: list[CountingLine] = []
        self._apply(params)

    @property
    def params(self) -> DetectorParams:
        """The newest parameters (possibly not yet applied to a frame)."""
        with self._pending_lock:
            return self._latest

    def update_params(self, params: DetectorParams) -> None:
        """Use ``params`` from the next frame on. Safe to call from any thread.

        Raises :class:`ManifestError` (and changes nothing) when a class name
        is not one of the model's labels.
        """
        self._check_classes(params)
        with self._pending_lock:
            self._pending = params
            self._latest = params

    def process(
        self, detections: Sequence[Detection], frame_time: float, width: int, height: int
    ) -> LogicResult:
        """Run one frame's detections (pixel boxes of a ``width``×``height`` frame) through the app."""
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        with self._process_lock:
            with self._pending_lock:
                pending, self._pending = self._pending, None
            if pending is not None:
                self._apply(pending)
            return self._process(detections, frame_time, width, height)

    def counts(self) -> dict[str, int]:
        """Current counts, as in :attr:`LogicResult.counts`."""
        with self._process_lock:
            return self._counts()

    # ------------------------------------------------------------------ frame

    def _process(
        self, detections: Sequence[Detection], time: float, width: int, height: int
    ) -> LogicResult:
        kept = self._filter(detections)
        update = self._tracker.update(kept, time)
        out = [
            replace(det, track_id=track.track_id)
            for det, track in zip(kept, update.tracks, strict=True)
        ]
        band = self._params.hysteresis * min(width, height)
        observed = list(zip(kept, update.tracks, strict=True))
        for zone in self._zones:
            self._observe_zone(zone, observed, time, width, height, band)
        for line in self._lines:
            self._observe_line(line, observed, time, width, height, band)

        events: list[AppEvent] = []
        live = sorted((t for t in self._tracker.tracks if t.confirmed), key=lambda t: t.track_id)
        for track in live:
            self._report_track(
                track, self._states.setdefault(track.key, _TrackState()), time, events
            )
        for track in update.removed:
            state = self._states.pop(track.key, None)
            if state is not None and track.confirmed:
                state.inside.clear()  # gone: it leaves every zone it was in
                self._report_zones(track, state, time, events, lost=True)
        self._report_counts(time, events)
        return LogicResult(detections=out, events=events, counts=self._counts())

    def _filter(self, detections: Sequence[Detection]) -> list[Detection]:
        watched = self._params.watched_classes(self.camera_id)
        kept = []
        for det in detections:
            label = det.label or self._label_of(det.class_id)
            if det.score < self._params.confidence:
                continue
            if watched is not None and label not in watched:
                continue
            kept.append(replace(det, label=label, track_id=None))
        return kept

    def _label_of(self, class_id: int) -> str:
        if 0 <= class_id < len(self.labels):
            return self.labels[class_id]
        return f"class_{class_id}"

    def _watches(self, item: Zone | CountingLine, label: str) -> bool:
        classes = item.classes or self._params.classes
        return not classes or label in classes

    def _observe_zone(
        self, zone: Zone, observed, time: float, width: int, height: int, band: float
    ):
        relevant = [(det, track) for det, track in observed if self._watches(zone, track.label)]
        if not relevant:
            return
        polygon = np.asarray(zone.points, dtype=float) * (width, height)
        anchors = [_anchor(det, zone.anchor) for det, _ in relevant]
        inside_now = points_in_polygon(anchors, polygon)
        for (_, track), point, inside in zip(relevant, anchors, inside_now, strict=True):
            state = self._states.setdefault(track.key, _TrackState())
            if zone.name not in state.inside:
                if inside:
                    state.inside[zone.name] = time
            elif not inside and distance_to_boundary(point, polygon) > band:
                del state.inside[zone.name]
                state.dwell_fired.discard(zone.name)

    def _observe_line(
        self, line: CountingLine, observed, time: float, width: int, height: int, band: float
    ):
        a = (line.a[0] * width, line.a[1] * height)
        b = (line.b[0] * width, line.b[1] * height)
        for det, track in observed:
            if not self._watches(line, track.label):
                continue
            state = self._states.setdefault(track.key, _TrackState())
            point = _anchor(det, line.anchor)
            distance = signed_distance_to_line(point, a, b)
            if abs(distance) <= band:
                continue  # in the dead band: the side stays what it was
            side = 1 if distance > 0 else -1
            last = state.lines.get(line.name)
            state.lines[line.name] = _LineSide(side, point)
            if last is None or last.side == side:
                continue
            direction = crossing_direction(last.point, point, a, b)
            if direction is None or direction not in _counted_directions(line):
                continue
            if (line.name, direction) in state.counted:
                continue  # once per track, line and direction
            state.counted.add((line.name, direction))
            state.pending.append((line.name, direction, time))

    # ------------------------------------------------------------------ events

    def _report_track(self, track: Track, state: _TrackState, time: float, events: list[AppEvent]):
        self._report_zones(track, state, time, events, lost=False)
        for line_name, direction, crossed_at in state.pending:
            if line_name not in self._line_counts:
                continue  # the line was removed meanwhile
            counts = self._line_counts[line_name]
            counts[direction] += 1
            events.append(
                self._event(
                    ev.LINE_CROSSED,
                    crossed_at,
                    track,
                    line=line_name,
                    direction=direction,
                    count=counts[direction],
                    detail=f"{_who(track)} crossed line '{line_name}' going {direction} "
                    f"({direction}: {counts[direction]})",
                )
            )
        state.pending.clear()
        for zone in self._zones:
            if zone.dwell_limit_s is None or zone.name not in state.announced:
                continue
            stayed = time - state.announced[zone.name]
            if stayed >= zone.dwell_limit_s and zone.name not in state.dwell_fired:
                state.dwell_fired.add(zone.name)
                events.append(
                    self._event(
                        ev.DWELL_EXCEEDED,
                        time,
                        track,
                        zone=zone.name,
                        count=self._occupancy(zone.name),
                        detail=f"{_who(track)} has been in zone '{zone.name}' for {stayed:.1f} s "
                        f"(limit {zone.dwell_limit_s:g} s)",
                    )
                )

    def _report_zones(self, track: Track, state: _TrackState, time: float, events, *, lost: bool):
        """Emit enter/leave for the difference between where a track is and what was announced."""
        for zone in self._zones:
            name = zone.name
            if name in state.inside and name not in state.announced:
                state.announced[name] = state.inside[name]
                occupancy = self._occupancy(name)
                events.append(
                    self._event(
                        ev.ZONE_ENTERED,
                        time,
                        track,
                        zone=name,
                        count=occupancy,
                        detail=f"{_who(track)} entered zone '{name}' ({occupancy} inside)",
                    )
                )
            elif name in state.announced and name not in state.inside:
                entered = state.announced.pop(name)
                state.dwell_fired.discard(name)
                occupancy = self._occupancy(name)
                how = " (lost from view)" if lost else ""
                events.append(
                    self._event(
                        ev.ZONE_LEFT,
                        time,
                        track,
                        zone=name,
                        count=occupancy,
                        detail=f"{_who(track)} left zone '{name}'{how} after "
                        f"{time - entered:.1f} s ({occupancy} inside)",
                    )
                )
        if lost:
            state.announced.clear()

    def _report_counts(self, time: float, events: list[AppEvent]) -> None:
        for zone in self._zones:
            now, before = self._occupancy(zone.name), self._reported.get(zone.name, 0)
            if now != before:
                self._reported[zone.name] = now
                events.append(
                    self._count_event(
                        time,
                        zone=zone.name,
                        count=now,
                        detail=f"zone '{zone.name}' now holds {now} (was {before})",
                    )
                )
        for line in self._lines:
            counts = self._line_counts[line.name]
            now, before = sum(counts.values()), self._reported.get(line.name, 0)
            if now != before:
                self._reported[line.name] = now
                split = ", ".join(f"{d} {n}" for d, n in counts.items())
                events.append(
                    self._count_event(
                        time,
                        line=line.name,
                        count=now,
                        detail=f"line '{line.name}' total is now {now} ({split})",
                    )
                )

    def _event(self, type_: str, time: float, track: Track, **fields) -> AppEvent:
        return AppEvent(
            type=type_,
            time=time,
            app_id=self.app_id,
            camera_id=self.camera_id,
            label=track.label,
            track_id=track.track_id or 0,
            confidence=round(float(track.score), 4),
            **fields,
        )

    def _count_event(self, time: float, **fields) -> AppEvent:
        return AppEvent(
            type=ev.COUNT_CHANGED, time=time, app_id=self.app_id, camera_id=self.camera_id, **fields
        )

    def _occupancy(self, zone_name: str) -> int:
        return sum(1 for state in self._states.values() if zone_name in state.announced)

    def _counts(self) -> dict[str, int]:
        counts = {zone.name: self._occupancy(zone.name) for zone in self._zones}
        for line in self._lines:
            per_direction = self._line_counts[line.name]
            counts[line.name] = sum(per_direction.values())
            for direction, n in per_direction.items():
                counts[f"{line.name}.{direction}"] = n
        return counts

    # ------------------------------------------------------------------ params

    def _check_classes(self, params: DetectorParams) -> None:
        problems = reference_problems(params, None, self.labels)
        if problems:
            raise ManifestError(
                [
                    f"app '{self.app_id}': {format_loc(('params',) + loc)}: {msg}"
                    for loc, msg in problems
                ]
            )

    def _apply(self, params: DetectorParams) -> None:
        """Switch to ``params``: keep state of zones and lines that still exist, drop the rest."""
        old_lines = {line.name: line for line in self._lines}
        self._params = params
        self._tracker.config = params.tracking
        geometry = params.for_camera(self.camera_id)
        self._zones = list(geometry.zones)
        self._lines = list(geometry.lines)
        zone_names = {zone.name for zone in self._zones}
        line_names = {line.name for line in self._lines}
        self._line_counts = {
            line.name: {
                d: self._line_counts.get(line.name, {}).get(d, 0) for d in _counted_directions(line)
            }
            for line in self._lines
        }
        self._reported = {k: v for k, v in self._reported.items() if k in zone_names | line_names}
        moved = {
            line.name
            for line in self._lines
            if line.name in old_lines
            and (line.a, line.b, line.anchor)
            != (old_lines[line.name].a, old_lines[line.name].b, old_lines[line.name].anchor)
        }
        watched = params.watched_classes(self.camera_id)
        for track in self._tracker.drop(lambda t: watched is not None and t.label not in watched):
            self._states.pop(track.key, None)
        labels = {t.key: t.label for t in self._tracker.tracks}
        zones = {zone.name: zone for zone in self._zones}
        for key, state in self._states.items():
            # A zone that is gone, or no longer watches this class, forgets
            # the track silently; count_changed reports the new occupancy.
            for name in list(state.inside):
                if name not in zones or not self._watches(zones[name], labels.get(key, "")):
                    state.inside.pop(name)
                    state.announced.pop(name, None)
                    state.dwell_fired.discard(name)
            state.lines = {
                n: s for n, s in state.lines.items() if n in line_names and n not in moved
            }
            state.pending = [p for p in state.pending if p[0] in line_names]


def _counted_directions(line: CountingLine) -> tuple[str, ...]:
    return DIRECTIONS if line.count == "both" else (line.count,)


def _anchor(det: Detection, anchor: str) -> tuple[float, float]:
    return det.center if anchor == "center" else det.bottom_center


def _who(track: Track) -> str:
    return f"{track.label} #{track.track_id}"
