"""Camera passwords stay out of packages, manifests, libraries and logs, end to end.

Real parts: GStreamer's RTSP server asking for a password, the console's
inventory with its encrypted credential file, its model and app libraries,
the deployer over a paired TLS connection, and a real device runtime. The
stream going live proves the device had the password; a byte search of both
data folders and of every log record proves it wrote it nowhere but its
secret store.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import stat
import tarfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.persistence.records import CameraDraft
from console_app.core.persistence.store import InventoryStore
from console_app.core.services.app_library import AppLibrary, InventoryCameraCredentials
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.core.services.deployer import Deployer
from console_app.core.services.model_library import ModelLibrary
from device_runtime.store.digests import tree_sha256
from tests.peers.onnx_models import make_constant_detector
from tests.peers.rtsp_server import RtspServer

WAIT_S = 30.0
PASSWORD = f"Cam!pw-{secrets.token_hex(6)}"


def forms(password: str) -> list[bytes]:
    """The password as it could appear in a file: plain and percent-encoded."""
    return sorted({password.encode(), quote(password, safe="").encode()})


def files_holding(folder: Path, needles: list[bytes], skip: tuple[Path, ...] = ()) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*")
                  if p.is_file() and p not in skip and any(n in p.read_bytes() for n in needles))


@pytest.fixture
def camera():
    with RtspServer(user="cam", password=PASSWORD) as server:
        yield server


@pytest.fixture
def all_logs(tmp_path):
    """Every log record of this process (console and device) at DEBUG, in one file."""
    path = tmp_path / "logs" / "all.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


@pytest.fixture
def console(tmp_path, camera):
    """The console's data folder: inventory (camera registered with its password), model and app libraries."""
    folder = tmp_path / "console"
    folder.mkdir()
    credentials = CredentialStore(folder / "secrets", use_keyring=False)
    with InventoryStore(f"sqlite:///{folder / 'inventory.db'}", credentials=credentials) as inventory:
        inventory.cameras.add_camera(CameraDraft(name="Gate cam", host="127.0.0.1", stream_uri=camera.url_for(),
                                                 username="cam"), PASSWORD)
        models = ModelLibrary(folder)
        model = models.import_file(make_constant_detector(tmp_path / "det.onnx", "yolov8",
                                                          [(10, 10, 60, 60, 0.9, 0)]),
                                   name="det", labels=["part", "person", "helmet"])
        library = AppLibrary(folder, inventory.sessions, models, InventoryCameraCredentials(inventory.cameras))
        for confidence in (0.5, 0.6):
            library.save_version({
                "schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0",
                "kind": "detector", "cameras": [{"id": "gate-cam", "url": camera.url_for(), "name": "Gate cam"}],
                "model": {"name": "det", "labels": ["part", "person", "helmet"]},
                "params": {"confidence": confidence},
            }, str(model.id))
        yield folder, library


def wait_live(service: ApplianceService, device_id: str, version: str) -> None:
    """Until the device runs ``version`` of gate with its RTSP stream live (only possible with the password)."""
    deadline = time.monotonic() + WAIT_S
    last = None
    while time.monotonic() < deadline:
        try:
            with service.connect(device_id) as client:
                [app] = client.list_apps()
                with client.health(interval_s=0.2) as stream:
                    sample = next(iter(stream))
            last = (app.version, app.state, [(s.camera_id, s.state, s.state_reason) for s in sample.streams])
            if app.version == version and app.state == "running" and any(
                    s.camera_id == "gate-cam" and s.state == "live" for s in sample.streams):
                return
        except Exception as exc:  # the device may be restarting
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"gate {version} never ran with a live stream: {last}")


def test_no_password_in_any_file_or_log_after_deploy_rollback_and_restart(
        tmp_path, camera, console, all_logs, start_device, workers):
    folder, library = console
    device_dir = tmp_path / "device"
    runtime = start_device(data_dir=device_dir)
    service = ApplianceService(FilePairingStore(folder / "pairings"), workers, ["127.0.0.1"], client_name="secrets test")
    try:
        service.add_by_address("127.0.0.1", runtime.port)
        device_id = runtime.identity.device_id
        service.pair(device_id, runtime.pairing.current_code())
        deployer = Deployer(service)

        for version in ("1.0.0", "1.1.0"):
            package = library.deploy_package("gate", version)
            with tarfile.open(fileobj=io.BytesIO(package.data), mode="r:gz") as tar:
                shipped = json.loads(tar.extractfile("app.json").read())
            assert shipped["cameras"][0]["url"] == f"rtsp://cam@127.0.0.1:{camera.port}{camera.path}"
            assert all(f not in package.data for f in forms(PASSWORD))
            result = deployer.deploy(package, [device_id])[device_id]
            assert result.ok, result.message
            wait_live(service, device_id, version)
        with service.connect(device_id) as client:
            client.rollback_app("gate", "1.0.0")
        wait_live(service, device_id, "1.0.0")
        port = runtime.port
        runtime.stop(grace=0.2)
        runtime = start_device(data_dir=device_dir, port=port)
        wait_live(service, device_id, "1.0.0")
    finally:
        service.stop()

    store = device_dir / "secrets.json"
    assert json.loads(store.read_text())["camera/gate-cam/password"] == PASSWORD
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    needles = forms(PASSWORD)
    assert files_holding(device_dir, needles, skip=(store,)) == []
    assert files_holding(folder, needles) == []
    assert all_logs.stat().st_size > 0 and files_holding(all_logs.parent, needles) == []


def test_an_app_installed_with_a_password_in_its_manifest_is_migrated_on_start(
        tmp_path, camera, all_logs, start_device, workers):
    """What an older runtime left on disk: the password inside an installed app.json, no secret store entry."""
    from console_app.core.packaging import build_package_from_members

    device_dir = tmp_path / "device"
    runtime = start_device(data_dir=device_dir)
    service = ApplianceService(FilePairingStore(tmp_path / "pairings"), workers, ["127.0.0.1"], client_name="old")
    model = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 60, 60, 0.9, 0)])
    manifest = {
        "schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
        "cameras": [{"id": "gate-cam", "url": camera.url}],
        "model": {"name": "det", "file": "models/det.onnx", "labels": ["part", "person", "helmet"]},
        "params": {"confidence": 0.5, "zones": [], "lines": []},
    }
    try:
        service.add_by_address("127.0.0.1", runtime.port)
        device_id = runtime.identity.device_id
        service.pair(device_id, runtime.pairing.current_code())
        result = Deployer(service).deploy(build_package_from_members(manifest, {"models/det.onnx": model}),
                                          [device_id])[device_id]
        assert result.ok, result.message
        wait_live(service, device_id, "1.0.0")
        installed = device_dir / "apps" / "gate" / "1.0.0" / "app.json"
        assert all(f not in installed.read_bytes() for f in forms(PASSWORD))  # moved at deploy already

        # Put the disk back the way an older runtime kept it, digests included.
        port = runtime.port
        runtime.stop(grace=0.2)
        installed.write_text(json.dumps(manifest, indent=2))
        (device_dir / "secrets.json").unlink()
        pointer = device_dir / "apps" / "gate" / "_versions.json"
        record = json.loads(pointer.read_text())
        old_digest = tree_sha256(installed.parent)
        for entry in record["versions"]:
            entry["content_sha256"] = old_digest
        pointer.write_text(json.dumps(record))
        open(all_logs, "w").close()  # only this start's records count below

        runtime = start_device(data_dir=device_dir, port=port)
        wait_live(service, device_id, "1.0.0")
    finally:
        service.stop()

    assert all(f not in installed.read_bytes() for f in forms(PASSWORD))
    assert json.loads((device_dir / "secrets.json").read_text()) == {"camera/gate-cam/password": PASSWORD}
    assert json.loads(installed.read_text())["cameras"][0]["url"] == f"rtsp://cam@127.0.0.1:{camera.port}{camera.path}"
    assert json.loads(pointer.read_text())["versions"][0]["content_sha256"] == tree_sha256(installed.parent)
    log = all_logs.read_text()
    assert "app gate version 1.0.0 (package sha256 " in log and "camera/gate-cam/password" in log
    assert all(f.decode() not in log for f in forms(PASSWORD))


def test_a_hand_written_app_folder_is_packaged_without_its_camera_passwords(tmp_path):
    from console_app.core.packaging import build_package, build_package_without_passwords

    folder = tmp_path / "app"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "det.onnx").write_bytes(b"model bytes")
    manifest = {"schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
                "cameras": [{"id": "gate-cam", "url": f"rtsp://cam:{quote(PASSWORD, safe='')}@10.0.0.5/s1"},
                            {"id": "sim", "url": "sim://production-line"}],
                "model": {"name": "det", "file": "models/det.onnx"}}
    (folder / "app.json").write_text(json.dumps(manifest))

    package, secrets_sent = build_package_without_passwords(folder)

    assert secrets_sent == {"camera/gate-cam/password": PASSWORD}
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["app.json", "models/det.onnx"]
        shipped = json.loads(tar.extractfile("app.json").read())
    assert [c["url"] for c in shipped["cameras"]] == ["rtsp://cam@10.0.0.5/s1", "sim://production-line"]
    assert all(f not in package for f in forms(PASSWORD))
    (folder / "app.json").write_text(json.dumps({**manifest, "cameras": shipped["cameras"]}))
    assert build_package_without_passwords(folder) == (build_package(folder), {})


def test_a_password_a_camera_takes_in_its_query_string_is_packaged_as_a_secret_too(tmp_path):
    from console_app.core.packaging import build_package_without_passwords

    folder = tmp_path / "app"
    folder.mkdir()
    url = f"rtsp://10.0.0.5/live?user=admin&pwd={quote(PASSWORD, safe='')}&channel=1"
    manifest = {"schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
                "cameras": [{"id": "gate-cam", "url": url}], "model": {"name": "det"}}
    (folder / "app.json").write_text(json.dumps(manifest))

    package, secrets_sent = build_package_without_passwords(folder)

    assert secrets_sent == {"camera/gate-cam/password": PASSWORD}
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:gz") as tar:
        shipped = json.loads(tar.extractfile("app.json").read())
    assert shipped["cameras"][0]["url"] == "rtsp://10.0.0.5/live?user=admin&pwd=&channel=1"
    assert all(f not in package for f in forms(PASSWORD))


def test_removing_the_last_app_that_reads_a_camera_removes_its_password(tmp_path, console, start_device, workers):
    folder, library = console
    runtime = start_device(data_dir=tmp_path / "device")
    service = ApplianceService(FilePairingStore(folder / "pairings"), workers, ["127.0.0.1"], client_name="remove")
    try:
        service.add_by_address("127.0.0.1", runtime.port)
        device_id = runtime.identity.device_id
        service.pair(device_id, runtime.pairing.current_code())
        assert Deployer(service).deploy(library.deploy_package("gate"), [device_id])[device_id].ok
        assert runtime.secrets.names() == ["camera/gate-cam/password"]
        with service.connect(device_id) as client:
            client.remove_app("gate")
    finally:
        service.stop()

    assert runtime.secrets.names() == []
    assert files_holding(tmp_path / "device", forms(PASSWORD)) == []


def test_a_camera_that_takes_its_password_in_the_query_streams_on_the_device_and_the_password_stays_secret(
        tmp_path, all_logs, start_device, workers):
    folder = tmp_path / "console"
    folder.mkdir()
    credentials = CredentialStore(folder / "secrets", use_keyring=False)
    runtime = start_device(data_dir=tmp_path / "device")
    service = ApplianceService(FilePairingStore(folder / "pairings"), workers, ["127.0.0.1"], client_name="query")
    with RtspServer(user="cam", password=PASSWORD, auth="query") as camera, \
            InventoryStore(f"sqlite:///{folder / 'inventory.db'}", credentials=credentials) as inventory:
        # The engineer pastes the URL from the camera's manual; no password field is filled in.
        registered = inventory.cameras.add_camera(
            CameraDraft(name="Gate cam", host="127.0.0.1", stream_uri=camera.url), None)
        models = ModelLibrary(folder)
        model = models.import_file(make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 60, 60, 0.9, 0)]),
                                   name="det", labels=["part", "person", "helmet"])
        library = AppLibrary(folder, inventory.sessions, models, InventoryCameraCredentials(inventory.cameras))
        library.save_version({
            "schema": "sightline.app/v2", "id": "gate", "name": "Gate", "version": "1.0.0", "kind": "detector",
            "cameras": [{"id": "gate-cam", "url": registered.stream_uri, "name": "Gate cam"}],
            "model": {"name": "det", "labels": ["part", "person", "helmet"]}, "params": {"confidence": 0.5},
        }, str(model.id))
        try:
            service.add_by_address("127.0.0.1", runtime.port)
            device_id = runtime.identity.device_id
            service.pair(device_id, runtime.pairing.current_code())
            package = library.deploy_package("gate")
            with tarfile.open(fileobj=io.BytesIO(package.data), mode="r:gz") as tar:
                shipped = json.loads(tar.extractfile("app.json").read())
            assert shipped["cameras"][0]["url"] == f"rtsp://127.0.0.1:{camera.port}/cam?user=cam&pwd="
            result = Deployer(service).deploy(package, [device_id])[device_id]
            assert result.ok, result.message
            wait_live(service, device_id, "1.0.0")
        finally:
            service.stop()

    store = tmp_path / "device" / "secrets.json"
    assert json.loads(store.read_text()) == {"camera/gate-cam/password": PASSWORD}
    needles = forms(PASSWORD)
    assert files_holding(tmp_path / "device", needles, skip=(store,)) == []
    assert files_holding(folder, needles) == []
    assert files_holding(all_logs.parent, needles) == []
