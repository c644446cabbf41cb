"""Specifications of reading a Panorama project: what resolves, and errors that name file, node and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_runtime.panorama.models import ModelMismatch, check_model_file
from device_runtime.protocol.panorama.dockerfile import read_dockerfile
from device_runtime.protocol.panorama.formats import PanoramaFormatError
from device_runtime.protocol.panorama.project import load_project
from tests.device_runtime.panorama.fixture_apps import (
    ACCOUNT,
    CODE_PKG,
    write_override,
    write_project,
)

GRAPH = Path("graphs/counter_app/graph.json")


def _edit_graph(root: Path, change) -> None:  # noqa: ANN001
    path = root / GRAPH
    data = json.loads(path.read_text())
    change(data["nodeGraph"])
    path.write_text(json.dumps(data))


def test_the_worked_example_resolves_into_code_model_camera_parameters_and_display(tmp_path):
    project = load_project(write_project(tmp_path / "p"))

    [code] = project.code_nodes
    assert code.name == "counter_code"
    assert code.script_path() == tmp_path / "p" / "packages" / f"{ACCOUNT}-{CODE_PKG}-1.0" / "src" / "app.py"
    assert code.inputs["video_in"].cameras == ["camera_node"]
    assert code.inputs["min_score"].parameter == "min_score"
    assert code.display_outputs == ["video_out"]
    assert list(project.model_nodes) == ["model_node"]
    assert project.model_nodes["model_node"].descriptor.inputs[0].shape == [1, 3, 64, 64]
    assert project.cameras["camera_node"].abstract
    assert project.parameter_values() == {"min_score": 0.5, "zone_name": "dock-1"}
    assert project.parameters["zone_name"].constraint_regex == "dock-[0-9]+"
    assert project.displays == ["output_node"]


def test_an_override_binds_two_cameras_to_one_abstract_node_and_replaces_a_parameter(tmp_path):
    root = write_project(tmp_path / "p")
    override = write_override(root, ["dock_cam", "gate_cam"], params={"zone_name": "dock-7"}, on_signal=("gate_cam",))

    project = load_project(root, [override])

    camera = project.cameras["camera_node"]
    assert [(s.name, s.launch) for s in camera.streams] == [("dock_cam", "onAppStart"), ("gate_cam", "onSignal")]
    assert not camera.abstract
    assert project.parameter_values()["zone_name"] == "dock-7"


def test_a_missing_package_names_the_folder_it_expected(tmp_path):
    root = write_project(tmp_path / "p", with_model_package=False)

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root)

    assert (
        f"graphs/counter_app/graph.json: packages[1]: package {ACCOUNT}::mean_model version 1.0 has no folder "
        f"packages/{ACCOUNT}-mean_model-1.0"
    ) in caught.value.problems


def test_an_edge_to_an_unknown_port_names_the_node_and_the_ports_it_has(tmp_path):
    root = write_project(tmp_path / "p")
    _edit_graph(root, lambda g: g["edges"].append({"producer": "min_score", "consumer": "counter_code.min_scroe"}))

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root)

    assert caught.value.problems == [
        "graphs/counter_app/graph.json: edges[4].consumer: node 'counter_code' (interface) has no input port "
        "'min_scroe' (inputs: video_in, min_score, zone_name)"
    ]


def test_a_malformed_override_names_the_file_and_the_field(tmp_path):
    root = write_project(tmp_path / "p")
    bad = root / "graphs" / "counter_app" / "bad.json"
    bad.write_text(json.dumps({"nodeGraphOverrides": {"envelopeVersion": "2021-01-01", "nodeOverrides": [{"replace": "camera_node"}]}}))
    broken_json = root / "graphs" / "counter_app" / "broken.json"
    broken_json.write_text('{"nodeGraphOverrides": ')

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root, [bad])
    assert caught.value.problems == ["graphs/counter_app/bad.json: nodeGraphOverrides.nodeOverrides[0].with: required field is missing"]
    with pytest.raises(PanoramaFormatError, match=r"graphs/counter_app/broken.json: not valid JSON"):
        load_project(root, [broken_json])


def test_an_override_of_a_node_the_graph_lacks_is_refused(tmp_path):
    root = write_project(tmp_path / "p")
    override = write_override(root, ["dock_cam"])
    data = json.loads(override.read_text())
    data["nodeGraphOverrides"]["nodeOverrides"][0]["replace"] = "camera"
    override.write_text(json.dumps(data))

    with pytest.raises(PanoramaFormatError, match=r"override.json: nodeOverrides\[0\].replace: graph.json has no node 'camera'"):
        load_project(root, [override])


def test_a_parameter_that_breaks_its_constraint_or_type_is_refused(tmp_path):
    root = write_project(tmp_path / "p", zone_name="yard")
    _edit_graph(root, lambda g: g["nodes"][4].update(value="high"))

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root)

    assert caught.value.problems == [
        "graphs/counter_app/graph.json: nodes[4] 'min_score': value: expected a float32 value, got 'high'",
        "graphs/counter_app/graph.json: nodes[5] 'zone_name': value: 'yard' does not match the constraint "
        "'dock-[0-9]+' (dock-N)",
    ]


def test_a_routed_host_port_outside_8000_to_9000_is_refused(tmp_path):
    root = write_project(tmp_path / "p", route_port=8080)
    _edit_graph(root, lambda g: g["networkRoutingRules"][0].update(hostPort=443))

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root)

    assert caught.value.problems == [
        "graphs/counter_app/graph.json: nodeGraph.networkRoutingRules[0].hostPort: must be greater than or equal "
        "to 8000, got 443"
    ]


def test_a_misspelt_field_names_the_node_and_suggests_the_field(tmp_path):
    root = write_project(tmp_path / "p")
    _edit_graph(root, lambda g: g["nodes"][1].update(overidable=True))

    with pytest.raises(PanoramaFormatError) as caught:
        load_project(root)

    [problem] = caught.value.problems
    assert problem.startswith("graphs/counter_app/graph.json: nodeGraph.nodes[1] 'counter_code': unknown field 'overidable' (did you mean 'overridable'?)")


def test_an_onnx_export_whose_inputs_differ_from_the_descriptor_is_named(tmp_path):
    project = load_project(write_project(tmp_path / "p", model_shape=[1, 3, 224, 224]))
    node = project.model_nodes["model_node"]

    with pytest.raises(ModelMismatch) as caught:
        check_model_file(node, node.folder / "model.onnx")

    assert str(caught.value) == (
        "model node 'model_node': input 'images' has shape [1, 3, 224, 224] in descriptor.json but [-1, 3, 64, 64] in model.onnx"
    )


def test_the_dockerfile_gives_pip_requirements_and_warns_about_what_sightline_cannot_do(tmp_path):
    root = write_project(
        tmp_path / "p",
        dockerfile="FROM public.ecr.aws/panorama/panorama-application\nCOPY src /panorama\n"
        "COPY labels.txt /panorama/\nRUN apt-get update && \\\n    apt-get install -y libgl1\n"
        "RUN pip3 install --no-cache-dir boto3==1.34.0 shapely\n",
    )
    folder = root / "packages" / f"{ACCOUNT}-{CODE_PKG}-1.0"

    info = read_dockerfile(folder / "Dockerfile", folder)

    assert info.requirements == ["boto3==1.34.0", "shapely"]
    assert info.warnings == [
        "Dockerfile line 3: COPY labels.txt: not in the package, so the app will not find it (add the file to the package's folder)",
        "Dockerfile line 4: 'apt-get update': Sightline cannot install system packages for an app; install them on the device (or check the device image already has them)",
        "Dockerfile line 4: 'apt-get install -y libgl1': Sightline cannot install system packages for an app; install them on the device (or check the device image already has them)",
    ]
