"""The model library: imports from files, S3 (moto's real server) and SageMaker; versions; removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_app.core.gateways.model_sources import (
    AmbiguousArchive,
    CloudUnreachable,
    S3AccessDenied,
    S3ObjectNotFound,
)
from console_app.core.persistence import InventoryStore
from console_app.core.services.model_library import (
    DownloadCancelled,
    LabelsError,
    ModelInUse,
    ModelLibrary,
    ModelRejected,
    UnknownModel,
)
from console_app.core.settings import CloudSettings
from tests.peers.moto_s3 import MotoServer, isolated_aws_environment, model_tar_gz
from tests.peers.onnx_models import (
    make_constant_detector,
    make_identity_model,
    make_two_input_model,
)
from tests.peers.postgres import free_port

REPO = Path(__file__).resolve().parents[4]
DEMO_MODEL = REPO / "resources/models/sightline-demo.onnx"
DEMO_LABELS = REPO / "resources/models/sightline-demo.labels"
BUCKET = "plant-models"


@pytest.fixture(params=["json", "inventory"])
def library(request, tmp_path: Path):
    """A library on its JSON index, and one on a real (SQLite) inventory with migrations applied."""
    if request.param == "json":
        yield ModelLibrary(tmp_path / "console")
        return
    store = InventoryStore(f"sqlite:///{tmp_path / 'inventory.sqlite'}")
    yield ModelLibrary(tmp_path / "console", session_factory=store.sessions)
    store.close()


@pytest.fixture
def moto(monkeypatch, tmp_path: Path):
    isolated_aws_environment(monkeypatch, tmp_path / "aws")
    with MotoServer() as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server


def detector(path: Path, score: float = 0.9) -> Path:
    return make_constant_detector(path, "yolov8", [(10, 10, 50, 50, score, 1)], num_classes=3)


def stored_files(library: ModelLibrary) -> list[str]:
    return sorted(p.name for p in library.folder.glob("*.onnx"))


def assert_nothing_half_imported(library: ModelLibrary, before: list[str]) -> None:
    assert stored_files(library) == before
    assert list(library.incoming.iterdir()) == []


def test_file_import_shows_tensors_opset_size_decoder_and_labels(library):
    model = library.import_file(DEMO_MODEL)

    assert (model.id, model.name, model.version) == ("sightline-demo@1", "sightline-demo", 1)
    assert model.decoder == model.detected_decoder == "yolov8"
    assert [t.describe() for t in model.inputs] == ["images [1,3,240,320] float32"]
    assert [t.describe() for t in model.outputs] == ["output0 [1,8,1200] float32"]
    assert model.opset == 17 and model.size == DEMO_MODEL.stat().st_size
    assert model.labels == tuple(DEMO_LABELS.read_text().split())
    assert model.path == library.folder / f"{model.sha256}.onnx" and model.path.read_bytes() == DEMO_MODEL.read_bytes()
    assert model.source == f"file:{DEMO_MODEL}"
    assert library.get("sightline-demo") == library.get(model.sha256) == model


def test_same_content_is_stored_once_and_new_content_under_a_name_is_the_next_version(library, tmp_path):
    first = library.import_file(detector(tmp_path / "helmet.onnx", 0.9))
    again = library.import_file(tmp_path / "helmet.onnx")
    (tmp_path / "v2").mkdir()
    second = library.import_file(detector(tmp_path / "v2" / "helmet.onnx", 0.8))

    assert again == first
    assert (first.id, second.id) == ("helmet@1", "helmet@2")
    assert first.sha256 != second.sha256
    assert stored_files(library) == sorted([f"{first.sha256}.onnx", f"{second.sha256}.onnx"])
    assert [m.id for m in library.list()] == ["helmet@1", "helmet@2"]
    assert library.get("helmet").id == "helmet@2"


def test_library_survives_a_restart(tmp_path):
    ModelLibrary(tmp_path / "console").import_file(DEMO_MODEL, name="line-detector")

    reopened = ModelLibrary(tmp_path / "console")

    assert [m.id for m in reopened.list()] == ["line-detector@1"]


def test_labels_file_is_attached_and_must_fit_the_class_count(library, tmp_path):
    model = library.import_file(detector(tmp_path / "det.onnx"))
    (tmp_path / "ok.labels").write_text("part\nworker\nforklift\n\n")
    (tmp_path / "short.labels").write_text("part\nworker\n")
    (tmp_path / "dup.labels").write_text("part\npart\nforklift\n")

    assert library.attach_labels(model.id, tmp_path / "ok.labels").labels == ("part", "worker", "forklift")
    with pytest.raises(LabelsError, match="2 class names for model det@1, whose outputs carry 3 classes"):
        library.attach_labels(model.id, tmp_path / "short.labels")
    with pytest.raises(LabelsError, match="'part' on line 2 repeats line 1"):
        library.attach_labels(model.id, tmp_path / "dup.labels")
    assert library.get(model.id).labels == ("part", "worker", "forklift")


def test_decoder_can_be_overridden_checked_and_reset(library, tmp_path):
    model = library.import_file(detector(tmp_path / "det.onnx"))

    raw = library.set_decoder(model.id, "raw")
    assert (raw.decoder, raw.detected_decoder, raw.decoder_overridden) == ("raw", "yolov8", True)
    with pytest.raises(ModelRejected, match="decoder 'ssd' needs outputs"):
        library.set_decoder(model.id, "ssd")
    assert library.get(model.id).decoder == "raw"
    assert library.set_decoder(model.id, None).decoder == "yolov8"


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_bytes(b"GIF89a not a model") and p, "not a valid ONNX model"),
    (lambda p: make_identity_model(p, [1, 3, 64, 64]), "has no output the device can use"),
    (lambda p: make_two_input_model(p), "need exactly one image input"),
], ids=["not-onnx", "no-usable-output", "input-no-camera-gives"])
def test_bad_models_are_refused_and_nothing_is_half_imported(library, tmp_path, make, expected):
    bad = tmp_path / "bad.onnx"
    make(bad)
    before = stored_files(library)

    with pytest.raises(ModelRejected, match=expected) as raised:
        library.import_file(bad)
    assert str(bad) in str(raised.value)
    assert_nothing_half_imported(library, before)
    assert library.list() == []


def test_a_model_in_use_by_a_deployed_app_is_not_removed_by_accident(library, tmp_path):
    model = library.import_file(detector(tmp_path / "det.onnx"))
    library.set_usage_lookup(lambda m: ["dock-counter", "helmet-check"] if m.sha256 == model.sha256 else [])

    with pytest.raises(ModelInUse) as raised:
        library.remove(model.id)
    assert raised.value.apps == ("dock-counter", "helmet-check")
    assert "det@1 is used by the deployed app(s) dock-counter, helmet-check" in str(raised.value)
    assert model.path.exists() and library.get(model.id) == model

    library.remove(model.id, force=True)
    assert library.list() == [] and not model.path.exists()
    with pytest.raises(UnknownModel, match="no model 'det@1'"):
        library.get("det@1")


def test_a_usage_lookup_that_fails_refuses_removal(library, tmp_path):
    model = library.import_file(detector(tmp_path / "det.onnx"))

    def lookup(_model):
        raise ConnectionError("device dock-1 unreachable")

    library.set_usage_lookup(lookup)
    with pytest.raises(ModelInUse, match=r"cannot tell whether det@1 is in use \(device dock-1 unreachable\)"):
        library.remove(model.id)
    assert library.get(model.id).path.exists()


def test_cancelled_import_leaves_nothing(library, tmp_path):
    before = stored_files(library)
    with pytest.raises(DownloadCancelled):
        library.import_file(DEMO_MODEL, cancel=lambda: True)
    assert_nothing_half_imported(library, before)


# ---------------------------------------------------------------------------- S3 and SageMaker


def test_import_from_s3_uses_the_endpoint_in_the_settings(library, moto):
    moto.client("s3").put_object(Bucket=BUCKET, Key="detectors/sightline-demo.onnx", Body=DEMO_MODEL.read_bytes())
    library.cloud = CloudSettings(endpoint_url=moto.endpoint_url)
    steps: list[str] = []

    model = library.import_s3(f"s3://{BUCKET}/detectors/sightline-demo.onnx",
                              labels=DEMO_LABELS, progress=lambda f, text: steps.append(text))

    assert (model.id, model.source) == ("sightline-demo@1", f"s3://{BUCKET}/detectors/sightline-demo.onnx")
    assert model.decoder == "yolov8" and model.labels[3] == "person_without_helmet"
    assert any(step.startswith(f"downloading s3://{BUCKET}/detectors/sightline-demo.onnx") for step in steps)


def test_import_of_a_sagemaker_training_job_output(library, moto, tmp_path):
    uri = moto.create_training_job("helmet-job-7", f"s3://{BUCKET}/training")
    archive = model_tar_gz({"code/requirements.txt": b"torch\n", "helmet.onnx": detector(tmp_path / "h.onnx").read_bytes()})
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    moto.client("s3").put_object(Bucket=bucket, Key=key, Body=archive)
    library.cloud = CloudSettings(endpoint_url=moto.endpoint_url)

    model = library.import_sagemaker("helmet-job-7")

    assert model.id == "helmet-job-7@1"
    assert model.source == f"sagemaker:helmet-job-7 ({uri})"
    assert model.decoder == "yolov8"
    assert list(library.incoming.iterdir()) == []


def test_a_model_tar_gz_by_s3_uri_with_two_models_asks_which(library, moto, tmp_path):
    archive = model_tar_gz({"det.onnx": detector(tmp_path / "a.onnx").read_bytes(),
                            "det-small.onnx": detector(tmp_path / "b.onnx", 0.5).read_bytes()})
    moto.client("s3").put_object(Bucket=BUCKET, Key="jobs/x/output/model.tar.gz", Body=archive)
    library.cloud = CloudSettings(endpoint_url=moto.endpoint_url)
    uri = f"s3://{BUCKET}/jobs/x/output/model.tar.gz"

    with pytest.raises(AmbiguousArchive) as raised:
        library.import_s3(uri)
    assert raised.value.candidates == ("det.onnx", "det-small.onnx")
    assert list(library.incoming.iterdir()) == []

    model = library.import_s3(uri, member="det-small.onnx")
    assert model.id == "det-small@1"


def test_s3_failures_name_the_object_and_leave_nothing(library, moto, monkeypatch):
    library.cloud = CloudSettings(endpoint_url=moto.endpoint_url)
    with pytest.raises(S3ObjectNotFound, match=f"s3://{BUCKET}/missing.onnx does not exist"):
        library.import_s3(f"s3://{BUCKET}/missing.onnx")

    moto.client("s3").put_bucket_policy(Bucket=BUCKET, Policy=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
        f'"Action":"s3:GetObject","Resource":"arn:aws:s3:::{BUCKET}/*"}}]}}'))
    moto.client("s3").put_object(Bucket=BUCKET, Key="m.onnx", Body=DEMO_MODEL.read_bytes())
    with pytest.raises(S3AccessDenied, match=f"access to s3://{BUCKET}/m.onnx is denied"):
        library.import_s3(f"s3://{BUCKET}/m.onnx")

    offline = CloudSettings(endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(CloudUnreachable, match=r"\(offline\?\)"):
        library.import_sagemaker("some-job", cloud=offline)
    assert library.list() == [] and list(library.incoming.iterdir()) == []
