"""A small multi-object tracker: stable integer ids for detections across frames.

Rules (chosen to be simple to reason about and robust on a factory floor):

- Detections are matched only to tracks of the same class label.
- Matching is greedy on overlap: every (track, detection) pair is scored by
  the IoU of the detection with the track's box, taking the better of its
  last observed box and that box moved by the track's estimated velocity
  (so a fast object missed for a frame still matches). Pairs are taken best
  first; a pair below ``iou_threshold`` never matches. No Hungarian solver:
  with per-class matching and a threshold, greedy gives the same answer in
  practice, and it is easy to follow in a debugger.
- A new track is *tentative* until it has been matched in ``min_hits``
  consecutive frames; only then does it get a ``track_id`` (1, 2, 3, … in
  order of confirmation, never reused). A tentative track that misses a
  single frame is dropped: it was most likely a false positive.
- A confirmed track survives misses while it has missed at most
  ``max_missed_frames`` consecutive frames *or* has been unseen for at most
  ``max_age_s`` seconds of frame time, whichever lasts longer. So an object
  missed for one or two frames keeps its id at any frame rate.

All times are the caller's frame times (seconds), never the wall clock, so
the tracker is deterministic under test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from device_runtime.protocol.apps.params import TrackingParams
from device_runtime.types import Detection


@dataclass(eq=False)
class Track:
    """One object followed across frames. Mutable; owned by the :class:`Tracker`."""

    key: int  # unique per tracker, also for tentative tracks; never reused
    label: str
    class_id: int
    box: np.ndarray  # x1, y1, x2, y2 of the last matched detection, pixels
    first_time: float
    last_time: float
    track_id: int | None = None  # assigned on confirmation
    hits: int = 1  # frames matched
    misses: int = 0  # consecutive frames missed
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, px/s
    score: float = 0.0  # detection score of the last matched detection

    @property
    def confirmed(self) -> bool:
        """Whether the track has an id and may emit events."""
        return self.track_id is not None

    def predicted_box(self, time: float) -> np.ndarray:
        """The last box moved by the estimated velocity to ``time``."""
        dt = max(0.0, time - self.last_time)
        shift = np.tile(self.velocity * dt, 2)
        return self.box + shift


@dataclass
class TrackerUpdate:
    """What one :meth:`Tracker.update` did.

    ``tracks[i]`` is the track detection ``i`` was assigned to (tentative or
    confirmed); ``confirmed`` lists tracks that got their id in this frame,
    in id order; ``removed`` lists tracks that ended in this frame.
    """

    tracks: list[Track]
    confirmed: list[Track]
    removed: list[Track]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N×4) with every box in ``b`` (M×4)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


class Tracker:
    """Per-class greedy IoU tracker; see the module docstring for the rules. Not thread-safe."""

    def __init__(self, config: TrackingParams | None = None):
        self.config = config or TrackingParams()
        self._tracks: list[Track] = []
        self._next_key = 1
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """Live tracks (tentative and confirmed), oldest first."""
        return list(self._tracks)

    def update(self, detections: Sequence[Detection], time: float) -> TrackerUpdate:
        """Assign ``detections`` of the frame at ``time`` to tracks; age and end the rest."""
        assigned: list[Track | None] = [None] * len(detections)
        matched_keys: set[int] = set()
        for label, indices in _group_by_label(detections).items():
            candidates = [t for t in self._tracks if t.label == label]
            for track, index in self._match(candidates, detections, indices, time):
                self._observe(track, detections[index], time)
                assigned[index] = track
                matched_keys.add(track.key)

        confirmed: list[Track] = []
        for index, detection in enumerate(detections):
            track = assigned[index]
            if track is None:
                track = self._start(detection, time)
                assigned[index] = track
            if not track.confirmed and track.hits >= self.config.min_hits:
                track.track_id = self._next_id
                self._next_id += 1
                confirmed.append(track)

        removed: list[Track] = []
        new_keys = {t.key for t in assigned if t is not None}
        for track in list(self._tracks):
            if track.key in matched_keys or track.key in new_keys:
                continue
            track.misses += 1
            if self._expired(track, time):
                self._tracks.remove(track)
                removed.append(track)
        return TrackerUpdate(
            tracks=[t for t in assigned if t is not None], confirmed=confirmed, removed=removed
        )

    def drop(self, predicate: Callable[[Track], bool]) -> list[Track]:
        """Remove, without aging, every track for which ``predicate`` is true; return them."""
        dropped = [t for t in self._tracks if predicate(t)]
        self._tracks = [t for t in self._tracks if not predicate(t)]
        return dropped

    def _match(
        self, tracks: list[Track], detections: Sequence[Detection], indices: list[int], time: float
    ) -> list[tuple[Track, int]]:
        if not tracks or not indices:
            return []
        det_boxes = np.array([_box(detections[i]) for i in indices], dtype=float)
        last = iou_matrix(np.array([t.box for t in tracks]), det_boxes)
        predicted = iou_matrix(np.array([t.predicted_box(time) for t in tracks]), det_boxes)
        scores = np.maximum(last, predicted)
        # Best pairs first; ties go to the older track and the earlier detection,
        # so results do not depend on hash or sort stability.
        rows, cols = np.nonzero(scores >= self.config.iou_threshold)
        pairs = sorted(
            (-scores[ti, di], tracks[ti].key, indices[di], ti, di)
            for ti, di in zip(rows.tolist(), cols.tolist(), strict=True)
        )
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        matches = []
        for _, _, _, ti, di in pairs:
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            matches.append((tracks[ti], indices[di]))
        return matches

    def _observe(self, track: Track, detection: Detection, time: float) -> None:
        box = _box(detection)
        dt = time - track.last_time
        if dt > 0:
            instant = (_centre(box) - _centre(track.box)) / dt
            # The first estimate is taken as is; later ones are smoothed so a
            # jittery box does not throw the prediction around.
            track.velocity = instant if track.hits == 1 else 0.5 * track.velocity + 0.5 * instant
        track.box = box
        track.last_time = max(track.last_time, time)
        track.class_id = detection.class_id
        track.score = float(detection.score)
        track.hits += 1
        track.misses = 0

    def _start(self, detection: Detection, time: float) -> Track:
        track = Track(
            key=self._next_key,
            label=_label(detection),
            class_id=detection.class_id,
            box=_box(detection),
            first_time=time,
            last_time=time,
            score=float(detection.score),
        )
        self._next_key += 1
        self._tracks.append(track)
        return track

    def _expired(self, track: Track, time: float) -> bool:
        if not track.confirmed:
            return True
        return (
            track.misses > self.config.max_missed_frames
            and time - track.last_time > self.config.max_age_s
        )


def _label(detection: Detection) -> str:
    return detection.label or f"class_{detection.class_id}"


def _box(detection: Detection) -> np.ndarray:
    return np.array([detection.x1, detection.y1, detection.x2, detection.y2], dtype=float)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])


def _group_by_label(detections: Sequence[Detection]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, detection in enumerate(detections):
        groups.setdefault(_label(detection), []).append(index)
    return groups
