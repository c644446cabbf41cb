"""GeometryEdit: an app's zones and lines to the zone editor's shapes, edits by its rules, and back to params JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console_app.core.services.live_geometry import (
    LINE,
    ZONE,
    GeometryEdit,
    GeometryError,
    applies_to,
)

REPO = Path(__file__).resolve().parents[4]
LINE_SAFETY = json.loads((REPO / "resources/apps/line-safety/app.json").read_text())["params"]
SQUARE = [(0.05, 0.05), (0.45, 0.05), (0.45, 0.45), (0.05, 0.45)]


def two_camera_params() -> dict:
    return {
        "confidence": 0.5,
        "zones": [
            {"name": "dock", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "cameras": ["north"]},
            {"name": "everywhere", "points": [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]]},
        ],
        "lines": [{"name": "gate", "a": [0.2, 0.0], "b": [0.2, 1.0], "cameras": ["south"], "count": "in"}],
    }


def test_editor_shapes_are_the_zones_and_lines_of_the_camera_as_tuples():
    edit = GeometryEdit.from_params(LINE_SAFETY, "line3-overhead", ["line3-overhead"])

    zones, lines = edit.editor_shapes()

    assert zones == [("safety-zone", [(0.125, 0.54), (0.72, 0.54), (0.72, 0.97), (0.125, 0.97)])]
    assert lines == [("belt-exit", (0.8, 0.08), (0.8, 0.42))]
    assert edit.shape_names() == [(ZONE, "safety-zone"), (LINE, "belt-exit")]


def test_shapes_limited_to_other_cameras_are_not_shown_but_are_kept_in_the_params():
    edit = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])

    zones, lines = edit.editor_shapes()
    assert [name for name, _ in zones] == ["everywhere"] and [name for name, *_ in lines] == ["gate"]
    assert applies_to({"cameras": []}, "any") and not applies_to({"cameras": ["north"]}, "south")

    edit.remove(ZONE, 0)  # the editor's first zone on "south" is "everywhere", the app's second
    assert [z["name"] for z in edit.params()["zones"]] == ["dock"]


def test_drawing_with_an_existing_name_redraws_the_outline_and_keeps_classes_and_dwell_limit():
    edit = GeometryEdit.from_params(LINE_SAFETY, "line3-overhead", ["line3-overhead"])

    assert edit.draw_zone(SQUARE, "safety-zone") == "zone 'safety-zone' redrawn"

    [zone] = edit.params()["zones"]
    assert zone["points"] == [[0.05, 0.05], [0.45, 0.05], [0.45, 0.45], [0.05, 0.45]]
    assert zone["classes"] == ["person", "person_without_helmet"] and zone["dwell_limit_s"] == 20
    assert edit.draw_line((0.9, 0.1), (0.9, 0.5), "belt-exit") == "line 'belt-exit' redrawn"
    [line] = edit.params()["lines"]
    assert (line["a"], line["b"], line["count"]) == ([0.9, 0.1], [0.9, 0.5], "both")
    json.dumps(edit.params())  # JSON as it stands: lists, not tuples


def test_a_new_zone_gets_the_next_free_name_and_only_this_camera_when_the_app_has_several():
    single = GeometryEdit.from_params(LINE_SAFETY, "line3-overhead", ["line3-overhead"])
    assert single.draw_zone(SQUARE) == "zone 'zone-1' added"
    assert single.params()["zones"][1] == {"name": "zone-1", "points": [list(p) for p in SQUARE]}

    several = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])
    several.draw_line((0.1, 0.5), (0.9, 0.5))
    assert several.params()["lines"][1] == {"name": "line-1", "a": [0.1, 0.5], "b": [0.9, 0.5], "cameras": ["south"]}
    assert several.next_free_name("line") == "line-2"


def test_a_zone_with_fewer_than_three_points_is_refused_and_nothing_changes():
    edit = GeometryEdit.from_params(LINE_SAFETY, "line3-overhead")
    before = edit.params()

    with pytest.raises(GeometryError, match="zone 'safety-zone' needs at least 3 points, got 2"):
        edit.draw_zone([(0.1, 0.1), (0.5, 0.5), (0.5, 0.5)], "safety-zone")  # a double-click repeats a point
    assert edit.params() == before


@pytest.mark.parametrize(("points", "name", "message"), [
    ([(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)], "", "has edges that cross each other"),
    ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "", "has no area"),
    (SQUARE, "-bad", "zone name '-bad' is not valid"),
    (SQUARE, "belt-exit", "zone name 'belt-exit' is already used by a line"),
])
def test_zones_the_device_would_refuse_are_refused_here_with_the_reason(points, name, message):
    edit = GeometryEdit.from_params(LINE_SAFETY, "line3-overhead")
    with pytest.raises(GeometryError, match=message):
        edit.draw_zone(points, name)
    assert edit.params() == GeometryEdit.from_params(LINE_SAFETY, "x").params()


def test_a_name_used_by_another_cameras_zone_is_refused():
    edit = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])
    with pytest.raises(GeometryError, match="'dock' is already used by a zone of camera\\(s\\) north"):
        edit.draw_zone(SQUARE, "dock")


def test_a_line_with_one_point_twice_is_refused():
    edit = GeometryEdit.from_params({}, "c")
    with pytest.raises(GeometryError, match="needs two distinct end points"):
        edit.draw_line((0.3, 0.3), (0.3, 0.3))
    assert edit.params() == {"zones": [], "lines": []}


def test_the_edit_works_on_a_copy_of_the_params_it_started_from():
    params = two_camera_params()
    edit = GeometryEdit.from_params(params, "north", ["north", "south"])
    edit.draw_zone(SQUARE, "dock")
    edit.remove(ZONE, 1)  # "everywhere"
    assert params == two_camera_params()
    with pytest.raises(GeometryError, match="there is no line number 1 on camera 'north'"):
        edit.remove(LINE, 0)  # "gate" is on "south" only
