"""Specifications of the app-kind registry: the runner builds logic without knowing kinds."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from device_runtime.apps import (
    AppKind,
    DetectorLogic,
    UnknownCamera,
    UnsupportedAppKind,
    app_kinds,
    make_app_logic,
    make_logic,
    make_runner,
    parse_manifest,
    register_app_kind,
)
from device_runtime.errors import FailedPrecondition, NotFound
from device_runtime.protocol.apps import manifest as manifest_module
from device_runtime.protocol.apps.manifest import AppManifestBase
from device_runtime.types import Detection


def test_the_detector_and_panorama_kinds_are_registered():
    assert app_kinds() == ["detector", "panorama"]


def test_make_app_logic_builds_one_detector_logic_per_camera(manifest_data):
    manifest_data["cameras"].append({"id": "cam-2", "url": "rtsp://10.0.0.6/s"})
    manifest = parse_manifest(manifest_data)

    logics = make_app_logic(manifest)

    assert list(logics) == ["cam-1", "cam-2"]
    assert all(isinstance(logic, DetectorLogic) for logic in logics.values())
    assert logics["cam-1"].counts() == {
        "safety-zone": 0,
        "belt-count": 0,
        "belt-count.in": 0,
        "belt-count.out": 0,
    }
    assert "safety-zone" not in logics["cam-2"].counts()  # that zone is for cam-1 only


def test_logic_uses_the_manifest_labels_unless_the_device_model_gives_its_own(manifest_data):
    manifest = parse_manifest(manifest_data)
    detection = Detection(0, 0, 10, 10, 0.9, 3)

    from_manifest = make_logic(manifest, "cam-1").process([detection], 0.0, 640, 480)
    from_device = make_logic(
        manifest, "cam-1", labels=["part", "defective_part", "person_without_helmet", "person"]
    ).process([detection], 0.0, 640, 480)

    assert [d.label for d in from_manifest.detections] == ["person_without_helmet"]
    assert [d.label for d in from_device.detections] == ["person"]


def test_a_camera_the_manifest_does_not_declare_is_not_found(manifest_data):
    manifest = parse_manifest(manifest_data)

    with pytest.raises(
        UnknownCamera, match="app 'line3-safety' has no camera 'cam-9' \\(cameras: cam-1\\)"
    ) as caught:
        make_logic(manifest, "cam-9")
    assert isinstance(caught.value, NotFound)


def test_set_params_flow_reaches_the_running_logic(manifest_data):
    manifest = parse_manifest(manifest_data)
    logics = make_app_logic(manifest)

    manifest = manifest.with_params('{"zones": [], "confidence": 0.9}')
    for logic in logics.values():
        logic.update_params(manifest.live_params)

    result = logics["cam-1"].process([Detection(0, 0, 10, 10, 0.8, 2)], 0.0, 640, 480)
    assert result.detections == [] and "safety-zone" not in result.counts


class _CodeAppManifest(AppManifestBase):
    """A stand-in for another code-app kind: its own fields, no per-frame logic, no runner."""

    kind: Literal["script"] = Field(title="App kind", description="A code app.")
    graph: str = Field(title="Graph", description="Path of graph.json inside the package.")


def test_a_new_kind_plugs_in_without_touching_the_detector(monkeypatch, manifest_data):
    # Registries are module-level; give this test private copies.
    monkeypatch.setattr(manifest_module, "_RUNTIMES", dict(manifest_module._RUNTIMES))
    monkeypatch.setattr(manifest_module, "_MANIFEST_KINDS", dict(manifest_module._MANIFEST_KINDS))
    register_app_kind(AppKind("script", _CodeAppManifest, make_runner=None))
    data = {k: manifest_data[k] for k in ("schema", "id", "name", "version", "cameras")}

    code_app = parse_manifest({**data, "kind": "script", "graph": "graphs/app/graph.json"})

    assert app_kinds() == ["detector", "panorama", "script"]
    assert isinstance(code_app, _CodeAppManifest) and code_app.model_names() == []
    assert code_app.redacted()["cameras"][0]["url"] == "rtsp://user:***@10.0.0.5/stream1"
    with pytest.raises(UnsupportedAppKind, match="does not run in the frame pipeline") as caught:
        make_app_logic(code_app)
    assert isinstance(caught.value, FailedPrecondition)
    with pytest.raises(UnsupportedAppKind, match="which this device cannot run"):
        make_runner(code_app, None)
    with pytest.raises(Exception, match="have no live parameters"):
        code_app.with_params({"confidence": 0.5})
    assert isinstance(
        parse_manifest(manifest_data), type(parse_manifest(manifest_data))
    )  # detector unchanged


def test_the_demo_app_s_two_cameras_report_events_in_their_own_zone_only():
    """resources/apps/line-safety: camera 2's floor zone reaches further right than camera 1's."""
    from pathlib import Path

    app = Path(__file__).resolve().parents[3] / "resources" / "apps" / "line-safety" / "app.json"
    manifest = parse_manifest(app.read_bytes())
    labels = ["part", "defective_part", "person", "person_without_helmet"]
    logic = make_app_logic(manifest, labels)
    # A person whose feet are at (0.78, 0.70) of a 640x480 picture, for three frames.
    feet_x, feet_y = 0.78 * 640, 0.70 * 480
    person = Detection(feet_x - 30, feet_y - 120, feet_x + 30, feet_y, 0.9, 2)

    seen = {}
    for camera_id, camera_logic in logic.items():
        results = [camera_logic.process([person], t * 0.25, 640, 480) for t in range(3)]
        seen[camera_id] = [(e.type, e.zone) for r in results for e in r.events if e.zone]

    assert seen["line3-cam1"] == []
    assert ("zone_entered", "safety-zone") in seen["line3-cam2"]
