"""Specifications of the detector app logic, driven by scripted detections with known answers.

The frame is 640×480, so the default dead band (hysteresis 0.02) is 9.6 px.
DOOR is a horizontal line at y = 240 drawn left to right: "in" means moving down.
ZONE is the square x 160..480, y 120..360.
"""

from __future__ import annotations

import threading

import pytest

from device_runtime.apps import DetectorLogic, DetectorParams, LogicResult, ManifestError
from device_runtime.types import Detection

W, H = 640, 480
LABELS = ["part", "defective_part", "person", "person_without_helmet"]
PART, PERSON, NO_HELMET = 0, 2, 3
DOOR = {"name": "door", "a": [0.1, 0.5], "b": [0.9, 0.5]}
ZONE = {"name": "floor", "points": [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]}


def obj(
    cx: float,
    bottom: float,
    *,
    class_id: int = PERSON,
    score: float = 0.9,
    w: float = 60,
    h: float = 120,
) -> Detection:
    """A box whose bottom centre (the point zones and lines test) is (cx, bottom)."""
    return Detection(cx - w / 2, bottom - h, cx + w / 2, bottom, score, class_id)


def p(zones: list | None = None, lines: list | None = None, **params) -> DetectorParams:
    """Parameters with ``zones`` / ``lines`` drawn on camera cam-1."""
    geometry = {}
    if zones is not None:
        geometry["zones"] = zones
    if lines is not None:
        geometry["lines"] = lines
    return DetectorParams.model_validate({**params, "geometry": {"cam-1": geometry}})


def make_logic(camera_id: str = "cam-1", **params) -> DetectorLogic:
    return DetectorLogic("app-1", camera_id, p(**params), LABELS)


def run(
    logic: DetectorLogic, frames: list[list[Detection]], dt: float = 0.25, start: float = 0.0
) -> list[LogicResult]:
    return [logic.process(dets, start + i * dt, W, H) for i, dets in enumerate(frames)]


def events(results: list[LogicResult]) -> list[tuple]:
    """(frame, type, track_id, zone or line, direction, count) for every event, in order."""
    return [
        (i, e.type, e.track_id, e.zone or e.line, e.direction, e.count)
        for i, result in enumerate(results)
        for e in result.events
    ]


def walk(cx: float, bottoms: list[float | None], **kwargs) -> list[list[Detection]]:
    """One object per frame at the given bottom y; None: not detected in that frame."""
    return [[] if b is None else [obj(cx, b, **kwargs)] for b in bottoms]


# ---------------------------------------------------------------- counting lines


def test_an_object_walking_across_a_line_is_counted_once_in_the_frame_it_crosses():
    logic = make_logic(lines=[DOOR])

    results = run(logic, walk(320, [180, 195, 210, 225, 240, 255, 270, 285, 300]))

    assert events(results) == [
        (5, "line_crossed", 1, "door", "in", 1),
        (5, "count_changed", 0, "door", "", 1),
    ]
    assert results[-1].counts == {"door": 1, "door.in": 1, "door.out": 0}
    assert [d.track_id for r in results for d in r.detections] == [None] + [1] * 8


def test_jitter_on_a_line_within_the_dead_band_counts_nothing_extra():
    logic = make_logic(lines=[DOOR])
    bottoms = [195, 210, 225, 236, 244, 237, 243, 238, 242, 255, 270, 245, 249, 246, 250]

    results = run(logic, walk(320, bottoms))

    assert events(results) == [
        (9, "line_crossed", 1, "door", "in", 1),
        (9, "count_changed", 0, "door", "", 1),
    ]


def test_going_back_and_forth_across_a_line_counts_once_per_direction():
    logic = make_logic(lines=[DOOR])
    bottoms = [210, 225, 255, 270, 255, 225, 210, 225, 255, 270, 255, 225]

    results = run(logic, walk(320, bottoms))

    assert [e for e in events(results) if e[1] == "line_crossed"] == [
        (2, "line_crossed", 1, "door", "in", 1),
        (5, "line_crossed", 1, "door", "out", 1),
    ]
    assert results[-1].counts == {"door": 2, "door.in": 1, "door.out": 1}


def test_two_objects_crossing_opposite_ways_count_one_in_and_one_out_with_stable_ids():
    logic = make_logic(lines=[DOOR])
    down = [195, 210, 225, 240, 255, 270, 285]
    frames = [[obj(200, d), obj(440, 480 - d)] for d in down]  # the second walks up

    results = run(logic, frames)

    assert events(results) == [
        (4, "line_crossed", 1, "door", "in", 1),
        (4, "line_crossed", 2, "door", "out", 1),
        (4, "count_changed", 0, "door", "", 2),  # one count_changed per line per frame
    ]
    assert [[d.track_id for d in r.detections] for r in results[1:]] == [[1, 2]] * 6


def test_an_object_missed_for_one_frame_keeps_its_id_and_is_counted_once():
    logic = make_logic(lines=[DOOR])

    results = run(logic, walk(320, [195, 210, 225, None, 255, 270, 285]))

    assert events(results) == [
        (4, "line_crossed", 1, "door", "in", 1),
        (4, "count_changed", 0, "door", "", 1),
    ]
    assert [d.track_id for r in results[1:] for d in r.detections] == [1, 1, 1, 1, 1]


def test_a_line_counting_only_in_ignores_objects_going_out():
    logic = make_logic(lines=[{**DOOR, "count": "in"}])

    results = run(logic, walk(320, [210, 225, 255, 270, 255, 225, 210]))

    assert [e[1:5] for e in events(results) if e[1] == "line_crossed"] == [
        ("line_crossed", 1, "door", "in")
    ]
    assert results[-1].counts == {"door": 1, "door.in": 1}


def test_passing_beyond_the_end_of_a_line_is_not_counted():
    logic = make_logic(lines=[DOOR])  # the line ends at x = 576

    results = run(logic, walk(600, [195, 210, 225, 240, 255, 270]))

    assert events(results) == []


def test_a_crossing_made_while_a_track_is_tentative_is_reported_when_it_is_confirmed():
    logic = make_logic(lines=[DOOR], tracking={"min_hits": 3})

    results = run(logic, walk(320, [225, 255, 270, 285]))

    crossed = [e for r in results for e in r.events if e.type == "line_crossed"]
    assert events(results)[0] == (2, "line_crossed", 1, "door", "in", 1)
    assert [e.time for e in crossed] == [0.25]  # the frame where it crossed


def test_a_line_drawn_top_to_bottom_counts_right_to_left_as_in():
    belt = {"name": "belt", "a": [0.5, 0.0], "b": [0.5, 1.0], "count": "in"}
    logic = make_logic(lines=[belt])

    results = run(logic, [[obj(x, 300, class_id=PART)] for x in range(380, 250, -15)])

    assert [(e.type, e.label, e.direction) for r in results for e in r.events][0] == (
        "line_crossed",
        "part",
        "in",
    )
    assert results[-1].counts["belt.in"] == 1


# ---------------------------------------------------------------- zones


def test_zone_enter_and_leave_events_carry_the_occupancy():
    logic = make_logic(zones=[ZONE])
    frames = [[obj(105 + 30 * k, 300), obj(320, 200)] for k in range(14)]  # walker + stander

    results = run(logic, frames)

    assert events(results) == [
        (1, "zone_entered", 2, "floor", "", 1),  # the stander, confirmed in frame 1
        (1, "count_changed", 0, "floor", "", 1),
        (2, "zone_entered", 1, "floor", "", 2),  # the walker reaches x = 165
        (2, "count_changed", 0, "floor", "", 2),
        (13, "zone_left", 1, "floor", "", 1),  # x = 495: outside by more than the band
        (13, "count_changed", 0, "floor", "", 1),
    ]
    assert results[12].counts == {"floor": 2}
    assert results[13].counts == {"floor": 1}


def test_object_events_carry_the_score_of_the_objects_last_detection_and_counts_carry_none():
    logic = make_logic(zones=[ZONE])
    scores = [0.61, 0.72, 0.83, 0.55]
    frames = [[obj(320, 300, score=s)] for s in scores] + [[]] * 12  # stands in the zone, then is gone

    results = run(logic, frames)

    by_type = {}
    for result in results:
        for e in result.events:
            by_type.setdefault(e.type, []).append(e.confidence)
    assert by_type["zone_entered"] == [0.72]  # confirmed in frame 1, where it scored 0.72
    assert by_type["zone_left"] == [0.55]  # lost: the score of the last frame it was seen in
    assert set(by_type["count_changed"]) == {0.0}


def test_standing_on_a_zone_boundary_does_not_flicker_in_and_out():
    logic = make_logic(zones=[ZONE])

    results = run(logic, [[obj(163 if i % 2 == 0 else 157, 300)] for i in range(10)])

    assert [e[1] for e in events(results)] == ["zone_entered", "count_changed"]
    assert results[-1].counts == {"floor": 1}


def test_dwell_exceeded_fires_once_when_frame_time_reaches_the_limit():
    logic = make_logic(zones=[{**ZONE, "dwell_limit_s": 1.0}])

    results = run(logic, walk(320, [300] * 12))

    dwell = [(i, e) for i, r in enumerate(results) for e in r.events if e.type == "dwell_exceeded"]
    assert [(i, e.track_id, e.zone, e.time) for i, e in dwell] == [(4, 1, "floor", 1.0)]
    assert dwell[0][1].detail == "person #1 has been in zone 'floor' for 1.0 s (limit 1 s)"


def test_dwell_exceeded_fires_again_on_a_new_visit():
    logic = make_logic(zones=[{**ZONE, "dwell_limit_s": 1.0}])
    xs = [200] * 5 + [185, 170, 155, 140, 155] + [170] * 5

    results = run(logic, [[obj(x, 300)] for x in xs])

    assert [
        (i, t)
        for i, t, *_ in events(results)
        if t in ("dwell_exceeded", "zone_left", "zone_entered")
    ] == [
        (1, "zone_entered"),
        (4, "dwell_exceeded"),
        (8, "zone_left"),
        (10, "zone_entered"),
        (14, "dwell_exceeded"),
    ]


def test_an_object_lost_inside_a_zone_leaves_it_when_its_track_ends():
    logic = make_logic(zones=[ZONE])  # a track ends after > 5 missed frames and > 1 s unseen

    results = run(logic, walk(320, [300, 300] + [None] * 7))

    assert events(results)[2:] == [
        (7, "zone_left", 1, "floor", "", 0),  # last seen at 0.25 s; at 1.75 s: 6 frames, 1.5 s
        (7, "count_changed", 0, "floor", "", 0),
    ]
    assert "(lost from view)" in results[7].events[0].detail


def test_zones_test_where_an_object_stands_not_the_middle_of_its_box():
    feet_outside = walk(320, [400] * 3)  # box centre y = 340 is inside, the feet (y = 400) are not

    assert events(run(make_logic(zones=[ZONE]), feet_outside)) == []
    assert (
        events(run(make_logic(zones=[{**ZONE, "anchor": "center"}]), feet_outside))[0][1]
        == "zone_entered"
    )


def test_a_one_frame_false_positive_inside_a_zone_emits_nothing():
    logic = make_logic(zones=[ZONE])

    assert events(run(logic, [[obj(320, 300)], [], [], []])) == []


# ---------------------------------------------------------------- filtering


def test_detections_are_filtered_by_confidence_and_by_class_name():
    logic = make_logic(confidence=0.4, classes=["person"])
    frame = [
        obj(100, 200),
        obj(300, 200, score=0.3),
        obj(500, 200, class_id=PART),
        obj(100, 400, class_id=NO_HELMET),
        obj(300, 400, score=0.4),
    ]

    result = logic.process(frame, 0.0, W, H)

    assert [(d.label, d.score, d.x1) for d in result.detections] == [
        ("person", 0.9, 70),
        ("person", 0.4, 270),
    ]
    assert all(
        d.label == "" and d.track_id is None for d in frame
    )  # the caller's objects are untouched


def test_classes_named_by_a_zone_or_line_are_reported_too():
    logic = make_logic(classes=["person"], lines=[{**DOOR, "classes": ["part"]}])
    frames = [
        [obj(320, b, class_id=PART), obj(100, b, class_id=PERSON)] for b in (210, 225, 255, 270)
    ]

    results = run(logic, frames)

    assert {d.label for d in results[0].detections} == {"part", "person"}
    assert [(e.type, e.label) for r in results for e in r.events if e.type == "line_crossed"] == [
        ("line_crossed", "part")
    ]


def test_a_class_id_without_a_label_gets_a_generated_name():
    logic = make_logic()

    assert logic.process([obj(100, 100, class_id=9)], 0.0, W, H).detections[0].label == "class_9"


def test_each_camera_runs_only_the_zones_and_lines_drawn_on_it():
    params = DetectorParams.model_validate(
        {"geometry": {"cam-1": {"lines": [DOOR]}, "cam-2": {"zones": [ZONE], "lines": [DOOR]}}}
    )
    on = {camera: DetectorLogic("app-1", camera, params, LABELS) for camera in ("cam-1", "cam-2")}

    assert on["cam-1"].counts() == {"door": 0, "door.in": 0, "door.out": 0}
    assert set(on["cam-2"].counts()) == {"floor", "door", "door.in", "door.out"}
    assert DetectorLogic("app-1", "cam-3", params, LABELS).counts() == {}


def test_the_same_zone_drawn_differently_on_two_cameras_reports_what_each_camera_sees():
    left = {"name": "floor", "points": [[0.0, 0.5], [0.4, 0.5], [0.4, 1.0], [0.0, 1.0]]}
    right = {"name": "floor", "points": [[0.6, 0.5], [1.0, 0.5], [1.0, 1.0], [0.6, 1.0]]}
    params = DetectorParams.model_validate(
        {"geometry": {"cam-1": {"zones": [left]}, "cam-2": {"zones": [right]}}}
    )
    person_at_right = walk(520, [400] * 3)  # same picture position on both cameras

    cam1 = run(DetectorLogic("app-1", "cam-1", params, LABELS), person_at_right)
    cam2 = run(DetectorLogic("app-1", "cam-2", params, LABELS), person_at_right)

    assert [e[1] for e in events(cam1)] == []
    assert [e[1] for e in events(cam2)] == ["zone_entered", "count_changed"]
    assert cam2[-1].counts == {"floor": 1}


# ---------------------------------------------------------------- live parameters


def test_a_live_confidence_change_applies_from_the_next_frame():
    logic = make_logic(confidence=0.5)
    assert logic.process([obj(100, 100, score=0.45)], 0.0, W, H).detections == []

    logic.update_params(DetectorParams(confidence=0.4))

    assert len(logic.process([obj(100, 100, score=0.45)], 0.25, W, H).detections) == 1


def test_a_live_class_change_applies_from_the_next_frame():
    logic = make_logic(classes=["person"])
    frame = [obj(100, 100, class_id=PERSON), obj(300, 100, class_id=PART)]
    assert [d.label for d in logic.process(frame, 0.0, W, H).detections] == ["person"]

    logic.update_params(DetectorParams(classes=["part"]))

    assert [d.label for d in logic.process(frame, 0.25, W, H).detections] == ["part"]


def test_removing_a_zone_live_stops_its_events_and_keeps_line_counts():
    logic = make_logic(zones=[ZONE], lines=[DOOR])
    results = run(logic, walk(320, [210, 225, 255, 270]))
    assert results[-1].counts == {"floor": 1, "door": 1, "door.in": 1, "door.out": 0}

    logic.update_params(p(lines=[DOOR]))
    later = run(logic, walk(320, [285, 300, 420, 440]), start=1.0)

    assert events(later) == []
    assert later[-1].counts == {"door": 1, "door.in": 1, "door.out": 0}


def test_a_zone_added_live_reports_an_object_already_standing_in_it():
    logic = make_logic()
    run(logic, walk(320, [300] * 3))

    logic.update_params(p(zones=[ZONE]))
    result = logic.process([obj(320, 300)], 1.0, W, H)

    assert [(e.type, e.track_id, e.count) for e in result.events] == [
        ("zone_entered", 1, 1),
        ("count_changed", 0, 1),
    ]


def test_moving_a_line_live_keeps_its_count_and_counts_at_the_new_place():
    logic = make_logic(lines=[DOOR])
    run(logic, walk(320, [225, 255, 270, 285]))

    moved = {**DOOR, "a": [0.1, 0.75], "b": [0.9, 0.75]}  # now at y = 360
    logic.update_params(p(lines=[moved]))
    later = run(logic, walk(100, [330, 345, 375, 390]), start=1.0)  # a second object

    assert events(later) == [
        (2, "line_crossed", 2, "door", "in", 2),
        (2, "count_changed", 0, "door", "", 2),
    ]


def test_an_update_naming_an_unknown_class_is_refused_and_changes_nothing():
    logic = make_logic(classes=["person"])

    with pytest.raises(
        ManifestError, match=r"app 'app-1': params.classes\[0\]: class 'forklift' is not a label"
    ):
        logic.update_params(DetectorParams(classes=["forklift"]))

    assert logic.params.classes == ["person"]


def test_updates_from_another_thread_while_frames_are_processed_are_applied_safely():
    logic = make_logic(zones=[ZONE], lines=[DOOR])
    variants = [
        p(zones=[ZONE], lines=[DOOR], confidence=0.3),
        p(lines=[DOOR], classes=["person"]),
    ]
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_updating() -> None:
        try:
            i = 0
            while not stop.is_set():
                logic.update_params(variants[i % 2])
                i += 1
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    worker = threading.Thread(target=keep_updating)
    worker.start()
    try:
        for i in range(300):
            logic.process([obj(320, 180 + (i % 20) * 10)], i * 0.1, W, H)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive() and errors == []

    logic.update_params(variants[0])
    assert set(logic.process([], 100.0, W, H).counts) == {"floor", "door", "door.in", "door.out"}


def test_a_non_positive_frame_size_is_refused():
    with pytest.raises(ValueError, match="frame size must be positive, got 0x480"):
        make_logic().process([], 0.0, 0, 480)
