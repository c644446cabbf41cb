"""Specifications of importing a Panorama project in the console and packaging it for devices."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from console_app.core.services.panorama_import import (
    PanoramaImportError,
    build_panorama_package,
    open_panorama_project,
)
from tests.device_runtime.panorama.fixture_apps import (
    ACCOUNT,
    app_source,
    write_override,
    write_project,
)
from tests.peers.onnx_models import make_channel_mean_classifier


def zip_folder(folder: Path, archive: Path, prefix: str = "people_counter/") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def members(package: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_a_zipped_project_shows_its_graph_parameters_and_dockerfile_warnings(tmp_path):
    root = write_project(
        tmp_path / "p", app_source(),
        dockerfile="FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\nRUN apt-get install -y libgl1\n",
    )

    imported = open_panorama_project(zip_folder(root, tmp_path / "people_counter.zip"))
    try:
        summary = imported.summary()
    finally:
        imported.close()

    assert [n["name"] for n in summary["code_nodes"]] == ["counter_code"]
    assert summary["code_nodes"][0]["inputs"]["video_in"] == ["camera_node"]
    assert summary["model_nodes"] == {"model_node": [{"name": "images", "shape": [1, 3, 64, 64]}]}
    assert summary["camera_nodes"] == {"camera_node": [{"name": "camera_node", "launch": "onAppStart"}]}
    assert summary["parameters"]["zone_name"] == {
        "type": "string", "value": "dock-1", "title": "Zone", "description": "", "constraint": "dock-N", "regex": "dock-[0-9]+",
    }
    assert summary["displays"] == ["output_node"]
    assert summary["warnings"] == [
        f"packages/{ACCOUNT}-counter_code-1.0/Dockerfile line 3: 'apt-get install -y libgl1': Sightline cannot "
        "install system packages for an app; install them on the device (or check the device image already has them)"
    ]


def test_a_zip_whose_members_leave_the_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../outside.txt", "x")

    with pytest.raises(PanoramaImportError, match="member '../outside.txt' leaves the project folder"):
        open_panorama_project(archive)


def test_the_package_holds_the_unchanged_project_the_bindings_and_the_checked_model(tmp_path):
    root = write_project(tmp_path / "p", app_source())
    write_override(root, ["dock_cam", "gate_cam"])
    export = make_channel_mean_classifier(tmp_path / "exported.onnx", input_size=(64, 64))
    imported = open_panorama_project(root, overrides=["graphs/counter_app/override.json"])

    package = build_panorama_package(
        imported, app_id="counter", name="Dock counter", version="1.0.0",
        cameras={"dock-cam": "rtsp://10.0.0.5/s1", "gate-cam": "rtsp://10.0.0.6/s1"},
        bindings={"dock_cam": ["dock-cam"], "gate_cam": ["gate-cam"]}, paused=["gate-cam"],
        models={"model_node": export}, params={"min_score": "0.7"},
    )

    files = members(package)
    manifest = json.loads(files["app.json"])
    assert manifest["kind"] == "panorama" and manifest["overrides"] == ["graphs/counter_app/override.json"]
    assert manifest["models"] == {"model_node": {"name": "counter-model_node", "file": "models/model_node.onnx"}}
    assert manifest["params"] == {"min_score": 0.7}
    assert files["models/model_node.onnx"] == export.read_bytes()
    app_py = f"project/packages/{ACCOUNT}-counter_code-1.0/src/app.py"
    assert files[app_py] == (root / f"packages/{ACCOUNT}-counter_code-1.0/src/app.py").read_bytes()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"models": {"model_node": "wrong"}}, "input 'images' has shape [1, 3, 64, 64] in descriptor.json but [-1, 3, 32, 32] in wrong.onnx"),
        ({"params": {"zone_name": "yard"}}, "parameter zone_name: 'yard' does not match the constraint 'dock-[0-9]+'"),
        ({"bindings": {"camera_node": ["lobby"]}}, "bindings.camera_node[0]: camera 'lobby' is not in 'cameras'"),
    ],
)
def test_what_the_device_would_refuse_is_refused_before_packaging(tmp_path, options, message):
    imported = open_panorama_project(write_project(tmp_path / "p", app_source()))
    if options.get("models"):
        options = {"models": {"model_node": make_channel_mean_classifier(tmp_path / "wrong.onnx", input_size=(32, 32))}}

    with pytest.raises(PanoramaImportError) as caught:
        build_panorama_package(
            imported, app_id="counter", name="Counter", version="1.0.0", cameras={"cam-1": "rtsp://10.0.0.5/s1"}, **options
        )
    assert message in str(caught.value)


@pytest.mark.integration
def test_the_package_bundles_wheels_for_what_the_target_device_lacks_and_names_what_it_cannot_find(tmp_path):
    from console_app.core.services.panorama_wheels import WheelTarget
    from console_app.core.settings import PythonPackagesSettings
    from tests.device_runtime.panorama.fixture_apps import pip_wheel

    dockerfile = "FROM public.ecr.aws/panorama/panorama-application\nRUN pip3 install tinylib==1.0 numpy\n"
    imported = open_panorama_project(write_project(tmp_path / "p", app_source(), dockerfile=dockerfile))
    wheelhouse = tmp_path / "wheelhouse"
    pip_wheel(wheelhouse, tmp_path)
    jetson = WheelTarget("jetson-1", "3.10.12", "cp", ("manylinux2014_aarch64",), {"numpy": "1.26.4"})
    options = {"app_id": "counter", "name": "Counter", "version": "1.0.0", "cameras": {"cam-1": "rtsp://10.0.0.5/s1"}}
    assert imported.summary()["requirements"] == ["tinylib==1.0", "numpy"]

    package = build_panorama_package(imported, **options, wheel_targets=[jetson, None],
                                     python_packages=PythonPackagesSettings(wheelhouse=str(wheelhouse)))

    wheels = {name for name in members(package) if name.startswith("wheels/")}
    assert wheels == {"wheels/tinylib-1.0-py3-none-any.whl"}
    with pytest.raises(PanoramaImportError, match="Dockerfile pip requirements: no wheel of tinylib==1.0 for jetson-1"):
        build_panorama_package(imported, **options, wheel_targets=[jetson],
                               python_packages=PythonPackagesSettings(wheelhouse=str(tmp_path / "p")))
