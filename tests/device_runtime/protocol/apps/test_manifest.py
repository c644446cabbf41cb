"""Specifications of the app manifest: parsing, precise rejection, redaction, live parameters."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from device_runtime.apps import (
    DetectorManifest,
    DetectorParams,
    ManifestError,
    manifest_json_schema,
    merge_params,
    parse_manifest,
    redact_url,
)
from device_runtime.errors import InvalidArgument
from device_runtime.protocol.apps import manifest as manifest_module
from device_runtime.protocol.apps import params as params_module
from device_runtime.protocol.apps import specs as specs_module


def _zone(data: dict) -> dict:
    return data["params"]["geometry"]["cam-1"]["zones"][0]


def _line(data: dict) -> dict:
    return data["params"]["geometry"]["cam-1"]["lines"][0]


def test_reference_manifest_round_trips_through_json(manifest_data):
    manifest = parse_manifest(json.dumps(manifest_data).encode())

    again = parse_manifest(manifest.to_json())

    assert again == manifest
    assert isinstance(manifest, DetectorManifest)
    assert manifest.camera_ids() == ["cam-1"]
    assert manifest.params.for_camera("cam-1").zones[0].points[2] == (0.5, 0.6)
    assert manifest.params.for_camera("cam-1").zones[0].dwell_limit_s == 10.0
    assert manifest.model_names() == ["sightline-demo"]
    assert again.to_dict()["schema"] == "sightline.app/v2"


def test_manifest_is_accepted_as_bytes_text_or_parsed_data(manifest_data):
    text = json.dumps(manifest_data)
    from_bytes = parse_manifest(("\ufeff" + text).encode("utf-8"))  # editors on Windows add a BOM
    assert from_bytes == parse_manifest(text) == parse_manifest(manifest_data)


def test_defaults_fill_in_for_a_minimal_manifest():
    manifest = parse_manifest(
        {
            "schema": "sightline.app/v2",
            "id": "minimal",
            "name": "Minimal",
            "version": "0.1",
            "kind": "detector",
            "cameras": [{"id": "cam", "url": "rtsp://10.0.0.9/live"}],
            "model": {"file": "model.onnx"},
        }
    )
    assert manifest.params == DetectorParams()
    assert manifest.model.ref == "model"  # a bundled model without a name is known by its stem
    assert manifest.params.tracking.min_hits == 2


def test_a_model_already_on_the_device_is_referred_to_by_name(manifest_data):
    del manifest_data["model"]["file"]

    model = parse_manifest(manifest_data).model

    assert model.file is None and model.ref == "sightline-demo"


BAD_MANIFESTS = [
    # (what is changed, expected substring of the message)
    (lambda d: d.pop("id"), "app.json: id: required field is missing"),
    (lambda d: d.update(id="Line3!"), "app.json: id: app id 'Line3!' is not valid"),
    (lambda d: d.update(version="v1"), "app.json: version: version 'v1' is not valid"),
    (lambda d: d.update(version="1.0.0.0"), "version '1.0.0.0' is not valid"),
    (
        lambda d: d.update(schema="sightline.app/v3"),
        "schema: this runtime reads manifests of schema 'sightline.app/v1' or 'sightline.app/v2', "
        "got 'sightline.app/v3'",
    ),
    (
        lambda d: d.pop("schema"),
        "schema: this runtime reads manifests of schema 'sightline.app/v1' or 'sightline.app/v2', "
        "it is missing",
    ),
    (
        lambda d: d.update(kind="lua"),
        "kind: must be one of the app kinds this runtime knows (detector, panorama), got 'lua'",
    ),
    (lambda d: d.update(cameras=[]), "app.json: cameras: needs at least 1 item(s), got 0"),
    (
        lambda d: d["cameras"].append(dict(d["cameras"][0])),
        "cameras[1].id: camera id 'cam-1' is already used by cameras[0]",
    ),
    (
        lambda d: d["cameras"][0].update(url="10.0.0.5/stream"),
        "cameras[0].url: expected a stream URL such as rtsp://host:554/stream1, got '10.0.0.5/stream'",
    ),
    (
        lambda d: d["cameras"][0].update(url="user:secret@10.0.0.5"),
        "cameras[0].url: expected a stream URL",
    ),
    (lambda d: d["cameras"][0].update(id="cam 1"), "cameras[0].id: camera id 'cam 1' is not valid"),
    (lambda d: d["cameras"][0].update(password="x"), "cameras[0]: unknown field 'password'"),
    (
        lambda d: d.update(colour="red"),
        "app.json: unknown field 'colour'; allowed fields: schema, id, name, version, kind, description, cameras, model, params",
    ),
    (
        lambda d: d["params"]["geometry"]["cam-1"].update(zone=[]),
        "params.geometry.cam-1: unknown field 'zone' (did you mean 'zones'?)",
    ),
    (
        lambda d: d["params"].update(zones=[]),
        "params: 'zones' is per camera since schema v2: give each camera's zones under "
        "'geometry', keyed by camera id",
    ),
    (
        lambda d: d["model"].update(file="../models/demo.onnx"),
        "model.file: must stay inside the package (no '..'), got '../models/demo.onnx'",
    ),
    (
        lambda d: d["model"].update(file="/opt/models/demo.onnx"),
        "model.file: must be a path relative to app.json",
    ),
    (
        lambda d: d["model"].update(file="models\\demo.onnx"),
        "model.file: use '/' as the path separator",
    ),
    (
        lambda d: d["model"].update(file="models/demo.pt"),
        "model.file: expected an .onnx file, got 'models/demo.pt'",
    ),
    (
        lambda d: (d["model"].pop("file"), d["model"].update(name="")),
        "model: give 'file' (a model bundled in the package) or 'name'",
    ),
    (
        lambda d: d["model"].update(file=""),
        "model.file: must not be empty; leave 'file' out to use a model already on the device",
    ),
    (lambda d: d["model"].update(sha256="abc"), "model.sha256: expected 64 hex digits, got 'abc'"),
    (
        lambda d: d["model"].update(decoder="yolo"),
        "model.decoder: must be 'yolov5', 'yolov8', 'end2end', 'ssd', 'classification' or 'raw', got 'yolo'",
    ),
    (lambda d: d["model"].update(input_size=[320]), "model.input_size: expected [width, height]"),
    (
        lambda d: d["model"]["labels"].append("part"),
        "model.labels[4]: label 'part' repeats labels[0]",
    ),
    (
        lambda d: d["params"].update(confidence=0),
        "params.confidence: must be greater than 0, got 0",
    ),
    (
        lambda d: d["params"].update(confidence=1.5),
        "params.confidence: must be less than or equal to 1, got 1.5",
    ),
    (
        lambda d: d["params"].update(confidence="0.4"),
        "params.confidence: expected a number, got the string '0.4'",
    ),
    (
        lambda d: d["params"].update(classes=["person", "persn"]),
        "params.classes[1]: class 'persn' is not a label of the model (labels: part, defective_part, person, person_without_helmet)",
    ),
    (
        lambda d: d["params"].update(classes=["person", "person"]),
        "params.classes[1]: class 'person' is listed twice",
    ),
    (
        lambda d: _zone(d).update(points=[[0.1, 0.1], [0.5, 0.1]]),
        "app.json: params.geometry.cam-1.zones[0].points: zone 'safety-zone' needs at least 3 points, got 2",
    ),
    (
        lambda d: _zone(d).update(points=[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]),
        "params.geometry.cam-1.zones[0].points: zone 'safety-zone' has no area",
    ),
    (
        lambda d: _zone(d).update(points=[[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]),
        "params.geometry.cam-1.zones[0].points: zone 'safety-zone' has edges that cross each other",
    ),
    (
        lambda d: _zone(d)["points"].__setitem__(1, [1.2, 0.1]),
        "params.geometry.cam-1.zones[0].points[1]: x = 1.2 is outside [0, 1]",
    ),
    (
        lambda d: _zone(d)["points"].__setitem__(2, [0.5, -0.1]),
        "params.geometry.cam-1.zones[0].points[2]: y = -0.1 is outside [0, 1]",
    ),
    (
        lambda d: _zone(d)["points"].__setitem__(0, [0.1]),
        "params.geometry.cam-1.zones[0].points[0]: expected a point [x, y], got [0.1]",
    ),
    (
        lambda d: d["params"]["geometry"].update({"cam-9": {"zones": []}}),
        "params.geometry.cam-9: camera 'cam-9' is not one of the app's cameras (cam-1)",
    ),
    (
        lambda d: _zone(d).update(cameras=["cam-1"]),
        "params.geometry.cam-1.zones[0]: unknown field 'cameras'",
    ),
    (
        lambda d: _zone(d).update(dwell_limit_s=0),
        "params.geometry.cam-1.zones[0].dwell_limit_s: must be greater than 0, got 0",
    ),
    (
        lambda d: _zone(d).update(name="safety.zone"),
        "params.geometry.cam-1.zones[0].name: zone name 'safety.zone' is not valid",
    ),
    (
        lambda d: _zone(d).update(classes=["helmet"]),
        "params.geometry.cam-1.zones[0].classes[0]: class 'helmet' is not a label of the model",
    ),
    (
        lambda d: d["params"]["geometry"]["cam-1"]["zones"].append(dict(_zone(d))),
        "params.geometry.cam-1.zones[1].name: zone name 'safety-zone' is already used by zones[0]",
    ),
    (
        lambda d: _line(d).update(name="safety-zone"),
        "params.geometry.cam-1.lines[0].name: line name 'safety-zone' is already used by zones[0]",
    ),
    (
        lambda d: _line(d).update(b=[0.5, 0.0]),
        "params.geometry.cam-1.lines[0].b: line 'belt-count' needs two distinct endpoints, got a = b = [0.5, 0.0]",
    ),
    (
        lambda d: _line(d).update(count="up"),
        "params.geometry.cam-1.lines[0].count: must be 'in', 'out' or 'both', got 'up'",
    ),
    (
        lambda d: _line(d).update(a="0.5,0"),
        "params.geometry.cam-1.lines[0].a: expected a point [x, y], got '0.5,0'",
    ),
    (
        lambda d: d["params"].update(tracking={"min_hits": 0}),
        "params.tracking.min_hits: must be greater than or equal to 1, got 0",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_MANIFESTS)
def test_malformed_manifest_is_rejected_with_a_message_naming_the_field(
    manifest_data, mutate, expected
):
    mutate(manifest_data)

    with pytest.raises(ManifestError) as caught:
        parse_manifest(manifest_data)

    assert expected in str(caught.value)
    assert all(problem.startswith("app.json: ") for problem in caught.value.problems)


def test_every_problem_is_reported_on_its_own_line(manifest_data):
    manifest_data["id"] = "BAD ID"
    manifest_data["params"]["confidence"] = 0
    _zone(manifest_data)["points"] = [[0.1, 0.1]]

    with pytest.raises(ManifestError) as caught:
        parse_manifest(manifest_data, source="packages/line3/app.json")

    assert [p.split(": ")[1] for p in caught.value.problems] == [
        "id",
        "params.confidence",
        "params.geometry.cam-1.zones[0].points",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)
    assert str(caught.value).startswith("packages/line3/app.json: id: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            b'{"schema": "sightline.app/v2",\n "id": }',
            "app.json: not valid JSON: Expecting value at line 2 column 8",
        ),
        (
            b'{"id": "a", "id": "b"}',
            "app.json: not valid JSON: key 'id' appears twice in one object",
        ),
        (b"[1, 2]", "app.json: expected an app manifest (a JSON object), got a list"),
        (b"\xff\xfe{}", "app.json: not UTF-8 text"),
    ],
)
def test_unreadable_manifest_file_is_rejected_with_where_it_broke(text, expected):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert expected in str(caught.value)


def test_manifest_error_is_an_invalid_argument_for_the_api():
    with pytest.raises(InvalidArgument) as caught:
        parse_manifest("{}")
    assert caught.value.code == "INVALID_ARGUMENT"


def test_redacted_manifest_hides_camera_passwords_and_keeps_the_rest(manifest_data):
    manifest_data["cameras"].append(
        {"id": "cam-2", "url": "rtsp://10.0.0.6/live?user=admin&password=hunter2"}
    )
    manifest = parse_manifest(manifest_data)

    redacted = manifest.redacted()
    text = manifest.redacted_json()

    assert redacted["cameras"][0]["url"] == "rtsp://user:***@10.0.0.5/stream1"
    assert redacted["cameras"][1]["url"] == "rtsp://10.0.0.6/live?user=admin&password=***"
    assert "pw@" not in text and "hunter2" not in text
    assert (
        manifest.cameras[0].url == "rtsp://user:pw@10.0.0.5/stream1"
    )  # the manifest itself keeps it
    assert {k: v for k, v in redacted.items() if k != "cameras"} == {
        k: v for k, v in manifest.to_dict().items() if k != "cameras"
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:p%40ss:word@cam.local:554/s1", "rtsp://admin:***@cam.local:554/s1"),
        ("rtsp://admin@cam.local/s1", "rtsp://admin@cam.local/s1"),
        ("rtsp://cam.local/s1", "rtsp://cam.local/s1"),
        ("http://cam/snap.cgi?pwd=x&chn=1", "http://cam/snap.cgi?pwd=***&chn=1"),
        ("admin:secret@10.0.0.5/live", "admin:***@10.0.0.5/live"),
    ],
)
def test_redact_url_replaces_only_the_secret(url, expected):
    assert redact_url(url) == expected


def test_invalid_camera_url_is_reported_without_its_password(manifest_data):
    manifest_data["cameras"][0]["url"] = "rtsp//admin:topsecret@10.0.0.5"
    with pytest.raises(ManifestError) as caught:
        parse_manifest(manifest_data)
    assert "topsecret" not in str(caught.value)


def _all_models() -> list[type[BaseModel]]:
    found = []
    for module in (manifest_module, params_module, specs_module):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: m.__name__)
def test_every_manifest_field_has_a_title_and_a_description(model):
    undocumented = [
        name
        for name, field in model.model_fields.items()
        if not field.title or not field.description
    ]
    assert undocumented == []
    assert model.model_config.get("extra") == "forbid"


def test_merge_params_replaces_the_given_keys_and_keeps_the_rest(manifest_data):
    current = parse_manifest(manifest_data).params

    merged = merge_params(current, {"confidence": 0.7, "geometry": {"cam-1": {"zones": []}}})

    assert merged.confidence == 0.7
    assert merged.for_camera("cam-1").zones == []
    assert merged.for_camera("cam-1").lines == current.for_camera("cam-1").lines
    assert merged.classes == current.classes
    assert current.confidence == 0.4  # the current parameters are untouched


def test_merge_params_merges_nested_objects_key_by_key_and_accepts_json_text():
    current = DetectorParams.model_validate({"tracking": {"min_hits": 3, "max_age_s": 2.0}})

    merged = merge_params(current, '{"tracking": {"max_age_s": 0.5}}')

    assert (merged.tracking.min_hits, merged.tracking.max_age_s) == (3, 0.5)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"confidense": 0.5},
            "params_json: params: unknown field 'confidense' (did you mean 'confidence'?)",
        ),
        ({"tracking": {"hits": 1}}, "params_json: params.tracking: unknown field 'hits'"),
        ({"confidence": -1}, "params_json: params.confidence: must be greater than 0, got -1"),
        (
            {"geometry": {"cam-1": {"zones": [{"name": "z", "points": [[0, 0], [1, 1]]}]}}},
            "params_json: params.geometry.cam-1.zones[0].points: zone 'z' needs at least 3 points, got 2",
        ),
        (
            {"zones": [{"name": "z", "points": [[0, 0], [1, 1]]}]},  # v1 shape, migrated
            "params_json: params.geometry.cam-1.zones[0].points: zone 'z' needs at least 3 points, got 2",
        ),
        (
            {"classes": ["forklift"]},
            "params_json: params.classes[0]: class 'forklift' is not a label of the model",
        ),
        (
            {"geometry": {"cam-7": {"lines": [{"name": "l", "a": [0, 0], "b": [1, 1]}]}}},
            "params_json: params.geometry.cam-7: camera 'cam-7' is not one of the app's cameras",
        ),
        ("[]", "params_json: expected a parameter object (a JSON object), got a list"),
        ("{", "params_json: not valid JSON"),
    ],
)
def test_merge_params_rejects_bad_patches_naming_the_field(manifest_data, labels, patch, expected):
    current = parse_manifest(manifest_data).params

    with pytest.raises(ManifestError) as caught:
        merge_params(current, patch, camera_ids=["cam-1"], labels=labels)

    assert expected in str(caught.value)


def test_with_params_returns_an_updated_copy_and_checks_against_the_manifest(manifest_data):
    manifest = parse_manifest(manifest_data)

    updated = manifest.with_params({"confidence": 0.9}, source="SetParams(line3-safety)")

    assert updated.params.confidence == 0.9 and manifest.params.confidence == 0.4
    assert updated.live_params is updated.params
    assert updated.params_dict()["confidence"] == 0.9
    with pytest.raises(ManifestError, match=r"SetParams\(line3-safety\): params.geometry.cam-3: "):
        manifest.with_params(
            {"geometry": {"cam-3": {"zones": [{"name": "z", "points": [[0, 0], [1, 0], [1, 1]]}]}}},
            source="SetParams(line3-safety)",
        )


def test_the_json_schema_carries_the_field_documentation_for_editors_and_docs():
    schema = manifest_json_schema("detector")

    assert schema["properties"]["schema"]["title"] == "Manifest schema"
    zone = schema["$defs"]["Zone"]["properties"]["dwell_limit_s"]
    assert zone["title"] == "Dwell limit (s)" and "once per visit" in zone["description"]
    assert schema["additionalProperties"] is False
    with pytest.raises(ManifestError, match="unknown app kind 'opencv'"):
        manifest_json_schema("opencv")


def test_a_v1_manifest_is_read_with_its_zones_and_lines_moved_to_each_camera(manifest_data_v1):
    manifest_data_v1["cameras"].append({"id": "cam-2", "url": "rtsp://10.0.0.6/stream1"})

    manifest = parse_manifest(json.dumps(manifest_data_v1).encode())

    # The zone named cam-1 only; the line had no filter, so it applied to both.
    assert [z.name for z in manifest.params.for_camera("cam-1").zones] == ["safety-zone"]
    assert manifest.params.for_camera("cam-2").zones == []
    assert [ln.name for ln in manifest.params.for_camera("cam-2").lines] == ["belt-count"]
    assert manifest.params.for_camera("cam-1").lines == manifest.params.for_camera("cam-2").lines
    assert manifest.params.for_camera("cam-1").zones[0].dwell_limit_s == 10.0
    # What it writes back is v2, and reads back the same.
    assert manifest.to_dict()["schema"] == "sightline.app/v2"
    assert parse_manifest(manifest.to_json()) == manifest


def test_a_v1_manifest_equals_the_same_app_written_in_v2(manifest_data_v1, manifest_data):
    assert parse_manifest(manifest_data_v1) == parse_manifest(manifest_data)


def test_a_v1_zone_naming_an_unknown_camera_is_reported_under_that_camera(manifest_data_v1):
    manifest_data_v1["params"]["zones"][0]["cameras"] = ["cam-9"]

    with pytest.raises(ManifestError, match=r"params.geometry.cam-9: camera 'cam-9' is not one"):
        parse_manifest(manifest_data_v1)


def test_a_v1_live_patch_replaces_the_zones_of_every_camera():
    current = DetectorParams.model_validate(
        {
            "geometry": {
                "a": {"zones": [{"name": "z", "points": [[0, 0], [1, 0], [1, 1]]}]},
                "b": {"zones": [{"name": "y", "points": [[0, 0], [1, 0], [0, 1]]}]},
            }
        }
    )

    merged = merge_params(current, {"zones": []}, camera_ids=["a", "b"])

    assert merged.for_camera("a").zones == [] and merged.for_camera("b").zones == []


def test_a_patch_for_one_camera_leaves_the_other_cameras_geometry_alone():
    zone = {"name": "z", "points": [[0, 0], [1, 0], [1, 1]]}
    current = DetectorParams.model_validate(
        {"geometry": {"a": {"zones": [zone]}, "b": {"zones": [zone]}}}
    )

    merged = merge_params(current, {"geometry": {"a": {"zones": []}}}, camera_ids=["a", "b"])

    assert merged.for_camera("a").zones == []
    assert [z.name for z in merged.for_camera("b").zones] == ["z"]


def test_the_same_zone_name_may_be_used_on_two_cameras(manifest_data):
    manifest_data["cameras"].append({"id": "cam-2", "url": "rtsp://10.0.0.6/stream1"})
    manifest_data["params"]["geometry"]["cam-2"] = {"zones": [dict(_zone(manifest_data))]}

    manifest = parse_manifest(manifest_data)

    assert manifest.params.for_camera("cam-2").zones[0].name == "safety-zone"
