"""The app library: versions, tuned versions, credentials kept out of storage, packages the device accepts."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from console_app.core.credentials import CredentialStore
from console_app.core.persistence.database import open_engine, upgrade_to_head
from console_app.core.persistence.records import CameraDraft
from console_app.core.persistence.store import InventoryStore
from console_app.core.services.app_library import (
    AppLibrary,
    AppLibraryError,
    InventoryCameraCredentials,
    UnknownApp,
    bump_version,
    version_key,
)
from console_app.core.services.model_library import ModelLibrary
from device_runtime.protocol.apps.manifest import parse_manifest
from tests.peers.onnx_models import make_constant_detector
from tests.peers.postgres import PostgresServer

LABELS = ("part", "person", "helmet")
_names = itertools.count(1)


def import_detector(models: ModelLibrary, folder: Path, name: str, score: float = 0.9):
    """A real (tiny) ONNX detector imported into the real model library."""
    path = make_constant_detector(folder / f"{name}-src.onnx", "yolov8", [(10, 10, 50, 50, score, 1)])
    return models.import_file(path, name=name, labels=list(LABELS))


def manifest(**changes) -> dict:
    data = {
        "schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
        "cameras": [{"id": "cam-1", "url": "rtsp://admin:s3cret@10.0.0.5:554/stream1", "name": "Gate cam"}],
        "model": {"name": "det-v1", "labels": list(LABELS), "decoder": "yolov8"},
        "params": {"confidence": 0.5, "classes": ["person"], "geometry": {}},
    }
    data.update(changes)
    return data


@pytest.fixture
def models(tmp_path: Path) -> ModelLibrary:
    library = ModelLibrary(tmp_path / "console")
    import_detector(library, tmp_path, "det")
    return library


@pytest.fixture(scope="module")
def postgres_server():
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["json", "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def library(request, tmp_path: Path, models: ModelLibrary) -> AppLibrary:
    lookup = {"rtsp://10.0.0.5:554/stream1": ("admin", "s3cret")}.get
    if request.param == "json":
        yield AppLibrary(tmp_path / "console", model_library=models, camera_credentials=lookup)
        return
    url = f"sqlite:///{tmp_path / 'inventory.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database(f"apps_{next(_names)}")
    engine = open_engine(url)
    upgrade_to_head(engine)  # through the real migrations, 0003 included
    yield AppLibrary(tmp_path / "console", sessionmaker(engine, expire_on_commit=False), models, lookup)
    engine.dispose()


def test_versions_bump_on_change_and_an_unchanged_save_returns_the_latest(library: AppLibrary):
    first = library.save_version(manifest(), "det@1")
    second = library.save_version(manifest(params={"confidence": 0.6, "classes": [], "geometry": {}}))
    same = library.save_version(manifest(version="9.9.9", params=second.manifest["params"]))
    major = library.save_version(manifest(name="Gate 2"), bump="major")

    assert [first.version, second.version, same.version, major.version] == ["1.0.0", "1.1.0", "1.1.0", "2.0.0"]
    assert second.model_id == "det@1"  # found by the manifest's model name
    assert [v.version for v in library.versions("gate")] == ["1.0.0", "1.1.0", "2.0.0"]
    summary = library.list()[0]
    assert (summary.app_id, summary.name, summary.latest) == ("gate", "Gate 2", "2.0.0")
    assert library.get("gate", "1.1.0").manifest["params"]["confidence"] == 0.6


def test_tuned_parameters_become_a_patch_version(library: AppLibrary):
    library.save_version(manifest(), "det@1")
    zone = {"name": "door", "points": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.5]]}
    tuned = library.save_tuned_version("gate", {"confidence": 0.35, "geometry": {"cam-1": {"zones": [zone]}}})
    assert tuned.version == "1.0.1" and tuned.note == "tuned live"
    params = tuned.manifest["params"]
    assert params["confidence"] == 0.35 and params["geometry"]["cam-1"]["zones"] == [zone]
    assert params["classes"] == ["person"]
    parse_manifest(tuned.manifest)


def test_a_version_stored_by_a_v1_console_is_upgraded_in_place_and_keeps_its_version(library: AppLibrary):
    from datetime import datetime, timezone

    from console_app.core.services.app_library import AppVersion

    zone = {"name": "door", "points": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.5]], "cameras": []}
    old = manifest(schema="sightline.app/v1", params={"confidence": 0.5, "zones": [zone], "lines": []})
    old["cameras"][0]["url"] = "rtsp://10.0.0.5:554/stream1"
    library._store.add(AppVersion("gate", "1.0.0", old, "det@1", datetime.now(timezone.utc), "old console"))

    read = library.get("gate", "1.0.0")

    assert read.manifest["schema"] == "sightline.app/v2" and read.version == "1.0.0"
    assert read.manifest["params"]["geometry"]["cam-1"]["zones"] == [
        {k: v for k, v in zone.items() if k != "cameras"}]
    [stored] = library._store.versions("gate")  # rewritten, not only read differently
    assert stored.manifest == read.manifest and stored.created_by == "old console"
    parse_manifest(read.manifest)
    assert library.save_version(read.manifest) == read  # unchanged: no new version


def test_camera_passwords_are_never_stored(library: AppLibrary, tmp_path: Path):
    library.save_version(manifest(), "det@1")
    assert library.get("gate").manifest["cameras"][0]["url"] == "rtsp://10.0.0.5:554/stream1"
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".onnx")
    assert b"s3cret" not in stored


def test_package_bundles_the_model_and_sends_the_camera_password_beside_it(library: AppLibrary, models):
    library.save_version(manifest(), "det@1")
    package = library.package("gate", "1.0.0")

    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
        names = tar.getnames()
        app = json.loads(tar.extractfile("app.json").read())
        model_bytes = tar.extractfile("models/det-v1.onnx").read()
    assert names == ["app.json", "models/det-v1.onnx"]
    parsed = parse_manifest(app)
    assert parsed.cameras[0].url == "rtsp://admin@10.0.0.5:554/stream1"  # the user, never the password
    assert b"s3cret" not in package
    assert parsed.model.file == "models/det-v1.onnx" and parsed.model.sha256 == models.get("det@1").sha256
    assert hashlib.sha256(model_bytes).hexdigest() == models.get("det@1").sha256
    assert library.package("gate") == package  # deterministic: same content, same bytes
    deploy = library.deploy_package("gate")
    assert deploy.data == package and dict(deploy.secrets) == {"camera/cam-1/password": "s3cret"}
    assert "s3cret" not in repr(deploy)


def test_unknown_apps_versions_and_models_are_named(library: AppLibrary, models):
    with pytest.raises(UnknownApp, match="there is no app 'nope' in the library"):
        library.get("nope")
    library.save_version(manifest(), "det@1")
    with pytest.raises(UnknownApp, match=r"app 'gate' has no version '3.0' \(versions: 1.0.0\)"):
        library.package("gate", "3.0")
    with pytest.raises(AppLibraryError, match="no model in the library has sha256 - or name 'other'"):
        library.save_version(manifest(id="other", model={"name": "other"}))
    with pytest.raises(AppLibraryError, match="id: app id 'Bad Id' is not valid"):
        library.save_version(manifest(id="Bad Id"), "det@1")
    library.save_version(manifest(id="ghost"), "gone@1")
    with pytest.raises(AppLibraryError, match="its model 'gone@1' is not in the library any more"):
        library.package("ghost")


def test_models_in_use_lists_the_apps_that_bundle_a_model(library: AppLibrary, models, tmp_path):
    other = import_detector(models, tmp_path, "other", score=0.8)
    library.save_version(manifest(), "det@1")
    library.save_version(manifest(name="Gate B", params={"confidence": 0.7}), other.id)
    assert library.models_in_use(models.get("det@1")) == ["Gate B (1.0.0)"]
    assert library.models_in_use(other.id) == ["Gate B (1.1.0)"]


def test_version_ordering_and_bumps():
    assert sorted(["1.10.0", "1.2", "1.2.1", "1.2.0-rc1"], key=version_key) == ["1.2.0-rc1", "1.2", "1.2.1", "1.10.0"]
    assert bump_version("1.2", "patch") == "1.2.1" and bump_version("1.2.3-rc1", "minor") == "1.3.0"
    with pytest.raises(AppLibraryError, match="bump must be one of major, minor, patch"):
        bump_version("1.0.0", "tiny")


def test_registered_cameras_passwords_come_from_the_inventory_into_the_deploys_secrets_only(tmp_path, models):
    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    with InventoryStore(f"sqlite:///{tmp_path / 'inv.db'}", credentials=credentials) as inventory:
        inventory.cameras.add_camera(CameraDraft(name="Gate cam", host="10.0.0.5",
                                                 stream_uri="rtsp://10.0.0.5:554/stream1", username="op"), "p@ss:w/rd")
        library = AppLibrary(tmp_path / "console", inventory.sessions, models,
                             InventoryCameraCredentials(inventory.cameras))
        library.save_version(manifest(), "det@1")
        deploy = library.deploy_package("gate")
        with tarfile.open(fileobj=io.BytesIO(deploy.data), mode="r:gz") as tar:
            app = json.loads(tar.extractfile("app.json").read())
    assert app["cameras"][0]["url"] == "rtsp://op@10.0.0.5:554/stream1"
    assert dict(deploy.secrets) == {"camera/cam-1/password": "p@ss:w/rd"}
    assert all(b"p@ss" not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_output_secrets_typed_in_the_builder_travel_with_the_deploy_and_a_missing_one_is_named(tmp_path, models):
    from console_app.core.services.output_drafts import save_output_secrets

    credentials = CredentialStore(tmp_path / "secrets", use_keyring=False)
    library = AppLibrary(tmp_path / "console", model_library=models, output_secret_store=credentials)
    outputs = [{"kind": "mqtt", "name": "scada", "url": "mqtt://127.0.0.1:1883", "username": "line3",
                "password_secret": "output/scada/password", "topic": "plant/{camera}/{event}"}]
    library.save_version(manifest(outputs=outputs), "det@1")
    with pytest.raises(AppLibraryError, match="output/scada/password"):
        library.deploy_package("gate")

    save_output_secrets(credentials, {"output/scada/password": "mqtt-pa55"})
    deploy = library.deploy_package("gate")
    assert dict(deploy.secrets) == {"output/scada/password": "mqtt-pa55"}
    assert b"mqtt-pa55" not in deploy.data


def test_synthetic_streams_get_no_credentials(tmp_path, models):
    library = AppLibrary(tmp_path / "console", model_library=models, camera_credentials=lambda url: ("op", "pw"))
    sim = "sim://production-line?seed=7"
    library.save_version(manifest(cameras=[{"id": "a", "url": sim}, {"id": "b", "url": "rtsp://10.0.0.6/s"}]), "det@1")
    with tarfile.open(fileobj=io.BytesIO(library.package("gate")), mode="r:gz") as tar:
        urls = [c["url"] for c in json.loads(tar.extractfile("app.json").read())["cameras"]]
    assert urls == [sim, "rtsp://op@10.0.0.6/s"]
    assert library.deploy_secrets("gate") == {"camera/b/password": "pw"}
