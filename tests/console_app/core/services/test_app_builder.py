"""The application builder's state machine, without a screen; every manifest it makes is checked
with the device's own parser (device_runtime.protocol.apps.manifest.parse_manifest)."""

from __future__ import annotations

import pytest

from console_app.core.services.app_builder import AppBuilder
from console_app.core.services.app_builder_types import (
    BuilderError,
    CameraOption,
    ModelOption,
    Step,
)
from device_runtime.protocol.apps.manifest import parse_manifest

LINE3 = CameraOption("camera:1", "Line 3 overhead", "rtsp://10.0.0.5:554/stream1")
DOCK = CameraOption("camera:2", "Dock", "sim://production-line?seed=7")
DEMO = ModelOption("m-1", "Sightline demo", ("part", "defective_part", "person", "person_without_helmet"),
                   "yolov8", "ab" * 32, 1)
SQUARE = [(0.1, 0.5), (0.7, 0.5), (0.7, 0.95), (0.1, 0.95)]


def builder_at(step: Step) -> AppBuilder:
    builder = AppBuilder([LINE3, DOCK], [DEMO])
    builder.set_cameras([LINE3])
    if step > Step.CAMERAS:
        builder.next()
        builder.choose_model(DEMO)
    if step > Step.MODEL:
        builder.next()
    if step > Step.CLASSES:
        builder.next()
    if step > Step.ZONES:
        builder.next()
    if step > Step.PARAMETERS:
        builder.next()
    if step > Step.OUTPUTS:
        builder.next()
    assert builder.step == step
    return builder


def test_builder_walks_every_step_to_a_manifest_the_device_accepts():
    builder = AppBuilder([LINE3, DOCK], [DEMO])
    assert builder.step == Step.CAMERAS
    builder.set_cameras([LINE3, DOCK])
    assert builder.next() == Step.MODEL
    builder.choose_model(DEMO)
    assert builder.next() == Step.CLASSES
    builder.set_classes(["person", "part"])
    builder.set_confidence(0.4)
    assert builder.next() == Step.ZONES
    builder.add_zone("safety zone", SQUARE, camera_key=LINE3.key, classes=["person"], dwell_limit_s=20)
    builder.add_line("belt-exit", (0.8, 0.1), (0.8, 0.4), camera_key=DOCK.key, classes=["part"], count="in")
    assert builder.next() == Step.PARAMETERS
    builder.set_parameters(iou=0.5, hysteresis=0.03, min_hits=3)
    assert builder.next() == Step.OUTPUTS
    assert builder.can_advance() == (True, ""), "outputs are optional"
    assert builder.next() == Step.REVIEW
    builder.set_identity("Line 3 safety")
    assert builder.can_advance() == (False, "this is the last step; save the app")

    result = builder.result()
    manifest = parse_manifest(result.manifest)

    assert result.model_id == "m-1"
    assert manifest.id == "line-3-safety" and manifest.version == "1.0.0"
    assert manifest.camera_ids() == ["Line-3-overhead", "Dock"]
    assert manifest.model.name == "Sightline-demo-v1" and manifest.model.decoder == "yolov8"
    assert manifest.params.confidence == 0.4 and manifest.params.classes == ["person", "part"]
    line3, dock = manifest.params.for_camera("Line-3-overhead"), manifest.params.for_camera("Dock")
    assert [z.points for z in line3.zones] == [SQUARE] and line3.lines == []
    assert dock.zones == [] and [(ln.name, ln.count) for ln in dock.lines] == [("belt-exit", "in")]
    assert manifest.params.tracking.min_hits == 3 and manifest.params.hysteresis == 0.03


def test_cameras_step_needs_a_camera_and_says_so():
    builder = AppBuilder([LINE3], [DEMO])
    assert builder.can_advance() == (False, "cameras: choose at least one camera")
    with pytest.raises(BuilderError, match="cameras: choose at least one camera"):
        builder.next()
    assert builder.step == Step.CAMERAS


def test_camera_added_by_url_loses_its_password():
    builder = AppBuilder()
    option = builder.add_camera_url("rtsp://admin:s3cret@10.0.0.9/live", "Gate")
    assert "s3cret" not in option.url and builder.cameras == [option]
    with pytest.raises(BuilderError, match="expected a stream URL"):
        builder.add_camera_url("not a url")


def test_model_step_needs_a_model():
    builder = builder_at(Step.MODEL)
    builder.choose_model(None)
    assert builder.can_advance() == (False, "model: choose a model from the library")


def test_classes_step_names_a_class_the_model_does_not_have_and_a_bad_confidence():
    builder = builder_at(Step.CLASSES)
    builder.set_classes(["person", "forklift"])
    builder.set_confidence(1.5)
    problems = [str(p) for p in builder.problems()]
    assert problems[0].startswith("params.classes[1]: class 'forklift' is not a label of the model")
    assert problems[1] == "params.confidence: must be in (0, 1], got 1.5"
    ok, reason = builder.can_advance()
    assert not ok and "forklift" in reason


def test_zone_with_fewer_than_three_points_is_refused_naming_the_zone():
    builder = builder_at(Step.ZONES)
    with pytest.raises(BuilderError) as error:
        builder.add_zone("dock", [(0.1, 0.1), (0.5, 0.5)])
    assert str(error.value) == (
        "params.geometry.Line-3-overhead.zones[0].points: zone 'dock' needs at least 3 points, got 2")
    assert builder.zones == []


def test_crossed_or_flat_zone_and_duplicate_names_are_refused():
    builder = builder_at(Step.ZONES)
    with pytest.raises(BuilderError, match="zone 'bow' has edges that cross"):
        builder.add_zone("bow", [(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)])
    with pytest.raises(BuilderError, match="zone 'flat' has no area"):
        builder.add_zone("flat", [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)])
    builder.add_zone("a", SQUARE)
    with pytest.raises(BuilderError, match="line name 'a' is already used by zones\\[0\\] on this camera"):
        builder.add_line("a", (0, 0), (1, 1))
    with pytest.raises(BuilderError, match="zone name '-x' is not valid"):
        builder.add_zone("-x", SQUARE)


def test_line_needs_two_distinct_points():
    builder = builder_at(Step.ZONES)
    with pytest.raises(BuilderError, match=r"params.geometry.Line-3-overhead.lines\[0\].b: line 'exit' needs two "):
        builder.add_line("exit", (0.5, 0.5), (0.5, 0.5))
    line = builder.add_line("exit", (0.5, 0.1), (0.5, 0.9))
    assert line.a == (0.5, 0.1)


def test_zone_referring_to_a_removed_camera_blocks_the_zones_step():
    builder = AppBuilder([LINE3, DOCK], [DEMO])
    builder.set_cameras([LINE3, DOCK])
    builder.next()
    builder.choose_model(DEMO)
    builder.next()
    builder.next()
    builder.add_zone("dock", SQUARE, camera_key=DOCK.key)
    builder.back(), builder.back(), builder.back()
    builder.set_cameras([LINE3])
    builder.next(), builder.next(), builder.next()
    ok, reason = builder.can_advance()
    assert not ok and reason.startswith(
        "params.geometry.Dock.zones[0]: zone 'dock' is drawn on camera 'Dock', which is not one of the app's cameras")


def test_going_back_keeps_everything_typed():
    builder = builder_at(Step.ZONES)
    builder.set_classes(["person"])
    builder.add_zone("z", SQUARE)
    for expected in (Step.CLASSES, Step.MODEL, Step.CAMERAS, Step.CAMERAS):
        assert builder.back() == expected
    assert builder.cameras == [LINE3] and builder.model == DEMO
    assert builder.classes == ["person"] and [z.name for z in builder.zones] == ["z"]
    for _ in range(3):
        builder.next()
    assert builder.step == Step.ZONES and builder.zones[0].points == SQUARE


def test_parameters_step_names_each_out_of_range_setting():
    builder = builder_at(Step.PARAMETERS)
    builder.set_parameters(iou=0, hysteresis=0.5, max_missed_frames=-1)
    fields = [p.field for p in builder.problems()]
    assert fields == ["params.iou", "params.hysteresis", "params.tracking.max_missed_frames"]
    with pytest.raises(BuilderError, match="params.tracking.speed: no such tracking setting"):
        builder.set_parameters(speed=3)


def test_review_needs_a_name_and_a_valid_id():
    builder = builder_at(Step.REVIEW)
    assert [str(p) for p in builder.problems()][0] == "name: give the app a name"
    builder.set_identity("Gate", app_id="Gate!")
    assert str(builder.problems()[0]).startswith("id: app id 'Gate!' is not valid")
    with pytest.raises(BuilderError, match="id: app id"):
        builder.result()
    builder.set_identity("Gate", app_id="gate")
    assert parse_manifest(builder.result().manifest).id == "gate"


def test_editing_a_version_keeps_the_id_and_produces_an_equal_manifest():
    first = builder_at(Step.ZONES)
    first.add_zone("z", SQUARE, dwell_limit_s=5)
    first.add_line("l", (0.2, 0.2), (0.8, 0.2))
    first.set_identity("Gate keeper")
    original = first.result()

    edit = AppBuilder.from_version({**original.manifest, "version": "1.2.0"}, original.model_id, [LINE3], [DEMO])
    assert edit.app_id == "gate-keeper" and edit.base_version == "1.2.0"
    edit.set_identity("Renamed", app_id="other-id")
    assert edit.app_id == "gate-keeper"
    edit.update_zone(0, points=[(0.2, 0.2), (0.6, 0.2), (0.4, 0.6)])
    with pytest.raises(BuilderError, match="zone 'z' needs at least 3 points"):
        edit.update_zone(0, points=[(0.2, 0.2)])
    manifest = parse_manifest(edit.result().manifest)
    assert manifest.name == "Renamed" and manifest.version == "1.2.0"
    geometry = manifest.params.for_camera("Line-3-overhead")
    assert geometry.zones[0].points == [(0.2, 0.2), (0.6, 0.2), (0.4, 0.6)]
    assert geometry.lines[0].name == "l" and manifest.cameras[0].url == LINE3.url


def two_camera_builder() -> AppBuilder:
    builder = AppBuilder([LINE3, DOCK], [DEMO])
    builder.set_cameras([LINE3, DOCK])
    builder.next()
    builder.choose_model(DEMO)
    builder.next()
    builder.next()
    return builder


def test_two_cameras_get_different_zones_under_the_same_name():
    builder = two_camera_builder()
    builder.add_zone("floor", SQUARE, camera_key=LINE3.key)
    builder.add_zone("floor", [(0.5, 0.1), (0.9, 0.1), (0.9, 0.4)], camera_key=DOCK.key)
    builder.set_identity("Two cameras")
    for _ in range(2):
        builder.next()

    manifest = parse_manifest(builder.result().manifest)

    assert manifest.params.for_camera("Line-3-overhead").zones[0].points == SQUARE
    assert manifest.params.for_camera("Dock").zones[0].points == [(0.5, 0.1), (0.9, 0.1), (0.9, 0.4)]


def test_a_shape_on_an_app_with_several_cameras_must_say_which_camera_it_is_drawn_on():
    builder = two_camera_builder()

    with pytest.raises(BuilderError, match="choose the camera the shape is drawn on"):
        builder.add_zone("floor", SQUARE)
    assert builder.zones == []


def test_copying_a_cameras_shapes_to_another_keeps_the_targets_own_drawing():
    builder = two_camera_builder()
    builder.add_zone("floor", SQUARE, camera_key=LINE3.key, dwell_limit_s=5)
    builder.add_line("exit", (0.8, 0.1), (0.8, 0.4), camera_key=LINE3.key, count="in")
    builder.add_line("exit", (0.2, 0.1), (0.2, 0.4), camera_key=DOCK.key)

    assert builder.copy_geometry(LINE3.key, DOCK.key) == 1

    assert [(z.name, z.dwell_limit_s) for _, z in builder.zones_on("Dock")] == [("floor", 5)]
    assert [ln.a for _, ln in builder.lines_on("Dock")] == [(0.2, 0.1)]
    builder.update_zone(builder.zones_on("Dock")[0][0], points=[(0.5, 0.1), (0.9, 0.1), (0.9, 0.4)])
    assert builder.zones_on("Line-3-overhead")[0][1].points == SQUARE  # the copy is independent


def test_editing_a_v1_version_puts_its_zones_on_the_cameras_they_applied_to():
    v1 = {
        "schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
        "cameras": [{"id": "a", "url": LINE3.url}, {"id": "b", "url": DOCK.url}],
        "model": {"name": "Sightline-demo-v1", "labels": list(DEMO.labels)},
        "params": {"zones": [{"name": "z", "points": [list(p) for p in SQUARE], "cameras": ["b"]}],
                   "lines": [{"name": "l", "a": [0.2, 0.2], "b": [0.8, 0.2], "cameras": []}]},
    }

    builder = AppBuilder.from_version(v1, "m-1", [LINE3, DOCK], [DEMO])

    assert [(z.name, z.camera) for z in builder.zones] == [("z", "b")]
    assert sorted((ln.name, ln.camera) for ln in builder.lines) == [("l", "a"), ("l", "b")]
    assert parse_manifest(builder.manifest()).params.for_camera("b").zones[0].name == "z"
