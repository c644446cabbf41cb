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
)

REPO = Path(__file__).resolve().parents[4]
LINE_SAFETY = json.loads((REPO / "resources/apps/line-safety/app.json").read_text())["params"]
CAM1, CAM2 = "line3-cam1", "line3-cam2"
SQUARE = [(0.05, 0.05), (0.45, 0.05), (0.45, 0.45), (0.05, 0.45)]


def two_camera_params() -> dict:
    return {
        "confidence": 0.5,
        "geometry": {
            "north": {"zones": [{"name": "dock", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}]},
            "south": {
                "zones": [{"name": "everywhere", "points": [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]]}],
                "lines": [{"name": "gate", "a": [0.2, 0.0], "b": [0.2, 1.0], "count": "in"}],
            },
        },
    }


def v1_params() -> dict:
    """The same app as a schema-v1 device reports it (app-wide lists with camera filters)."""
    return {
        "confidence": 0.5,
        "zones": [
            {"name": "dock", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]], "cameras": ["north"]},
            {"name": "everywhere", "points": [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]]},
        ],
        "lines": [{"name": "gate", "a": [0.2, 0.0], "b": [0.2, 1.0], "cameras": ["south"], "count": "in"}],
    }


def test_editor_shapes_are_the_zones_and_lines_of_the_camera_as_tuples():
    edit = GeometryEdit.from_params(LINE_SAFETY, CAM1, [CAM1, CAM2])

    zones, lines = edit.editor_shapes()

    assert zones == [("safety-zone", [(0.125, 0.54), (0.72, 0.54), (0.72, 0.97), (0.125, 0.97)])]
    assert lines == [("belt-exit", (0.8, 0.08), (0.8, 0.42))]
    assert edit.shape_names() == [(ZONE, "safety-zone"), (LINE, "belt-exit")]


def test_each_camera_shows_its_own_shapes_and_an_edit_patches_only_that_camera():
    edit = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])

    zones, lines = edit.editor_shapes()
    assert [name for name, _ in zones] == ["everywhere"] and [name for name, *_ in lines] == ["gate"]

    edit.remove(ZONE, 0)
    assert edit.params() == {"geometry": {"south": {"zones": [], "lines": [
        {"name": "gate", "a": [0.2, 0.0], "b": [0.2, 1.0], "count": "in"}]}}}
    other = GeometryEdit.from_params(two_camera_params(), CAM2, [CAM1, CAM2])
    assert other.editor_shapes() == ([], [])  # a camera without geometry has none


def test_the_demo_cameras_have_different_zones():
    one = GeometryEdit.from_params(LINE_SAFETY, CAM1).editor_shapes()[0]
    two = GeometryEdit.from_params(LINE_SAFETY, CAM2).editor_shapes()[0]
    assert [n for n, _ in one] == [n for n, _ in two] == ["safety-zone"] and one != two


def test_a_v1_device_s_params_are_shown_per_camera_as_the_device_applied_them():
    south = GeometryEdit.from_params(v1_params(), "south", ["north", "south"])
    north = GeometryEdit.from_params(v1_params(), "north", ["north", "south"])

    assert [n for n, _ in south.editor_shapes()[0]] == ["everywhere"]
    assert [n for n, _ in north.editor_shapes()[0]] == ["dock", "everywhere"]
    assert [n for n, *_ in north.editor_shapes()[1]] == []


def test_drawing_with_an_existing_name_redraws_the_outline_and_keeps_classes_and_dwell_limit():
    edit = GeometryEdit.from_params(LINE_SAFETY, CAM1, [CAM1, CAM2])

    assert edit.draw_zone(SQUARE, "safety-zone") == "zone 'safety-zone' redrawn"

    [zone] = edit.camera_params()["zones"]
    assert zone["points"] == [[0.05, 0.05], [0.45, 0.05], [0.45, 0.45], [0.05, 0.45]]
    assert zone["classes"] == ["person", "person_without_helmet"] and zone["dwell_limit_s"] == 20
    assert edit.draw_line((0.9, 0.1), (0.9, 0.5), "belt-exit") == "line 'belt-exit' redrawn"
    [line] = edit.camera_params()["lines"]
    assert (line["a"], line["b"], line["count"]) == ([0.9, 0.1], [0.9, 0.5], "both")
    json.dumps(edit.params())  # JSON as it stands: lists, not tuples


def test_a_new_shape_gets_the_next_free_name_of_this_camera():
    single = GeometryEdit.from_params(LINE_SAFETY, CAM1, [CAM1, CAM2])
    assert single.draw_zone(SQUARE) == "zone 'zone-1' added"
    assert single.camera_params()["zones"][1] == {"name": "zone-1", "points": [list(p) for p in SQUARE]}

    several = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])
    several.draw_line((0.1, 0.5), (0.9, 0.5))
    assert several.camera_params()["lines"][1] == {"name": "line-1", "a": [0.1, 0.5], "b": [0.9, 0.5]}
    assert several.next_free_name("line") == "line-2"


def test_a_zone_with_fewer_than_three_points_is_refused_and_nothing_changes():
    edit = GeometryEdit.from_params(LINE_SAFETY, CAM1)
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
    edit = GeometryEdit.from_params(LINE_SAFETY, CAM1)
    with pytest.raises(GeometryError, match=message):
        edit.draw_zone(points, name)
    assert edit.params() == GeometryEdit.from_params(LINE_SAFETY, CAM1).params()


def test_a_name_used_on_another_camera_is_free_on_this_one():
    edit = GeometryEdit.from_params(two_camera_params(), "south", ["north", "south"])
    assert edit.draw_zone(SQUARE, "dock") == "zone 'dock' added"


def test_a_line_with_one_point_twice_is_refused():
    edit = GeometryEdit.from_params({}, "c")
    with pytest.raises(GeometryError, match="needs two distinct end points"):
        edit.draw_line((0.3, 0.3), (0.3, 0.3))
    assert edit.params() == {"geometry": {"c": {"zones": [], "lines": []}}}


def test_the_edit_works_on_a_copy_of_the_params_it_started_from():
    params = two_camera_params()
    edit = GeometryEdit.from_params(params, "north", ["north", "south"])
    edit.draw_zone(SQUARE, "dock")
    edit.remove(ZONE, 0)
    assert params == two_camera_params()
    with pytest.raises(GeometryError, match="there is no line number 1 on camera 'north'"):
        edit.remove(LINE, 0)  # "gate" is on "south" only
