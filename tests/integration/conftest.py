"""Fixtures that start a real device runtime (TLS gRPC on 127.0.0.1) and pair with it."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console_app.core.gateways.device_client import DeviceClient, PairedCredentials, pair
from console_app.core.packaging import build_package
from console_app.core.signing import PackageSigner
from device_runtime.config import load_config
from device_runtime.runtime import DeviceRuntime
from tests.peers.onnx_models import make_constant_detector

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "resources" / "models" / "sightline-demo.onnx"
DEMO_LABELS = (REPO / "resources" / "models" / "sightline-demo.labels").read_text().split()

# The constant detector always sees one "widget" at the centre of its 320x320 input.
CONSTANT_LABELS = ["widget", "gadget", "person"]
CONSTANT_BOX = (140, 140, 180, 180, 0.8, 0)


def start_device(
    data_dir: Path, *, advertise: bool = False, listen: str = "127.0.0.1:0", **config_overrides: object
) -> DeviceRuntime:
    config = load_config(
        None,
        name="test-device",
        data_dir=data_dir,
        listen=listen,
        interfaces=["127.0.0.1"],
        advertise=advertise,
        providers=["cpu"],
        **config_overrides,
    )
    return DeviceRuntime(config).start()


@pytest.fixture
def device(tmp_path: Path) -> Iterator[DeviceRuntime]:
    runtime = start_device(tmp_path / "device")
    yield runtime
    runtime.stop()


@pytest.fixture
def signer() -> PackageSigner:
    """The test console's package signing key (sent at pairing, signs every deploy)."""
    return PackageSigner.generate()


@pytest.fixture
def credentials(device: DeviceRuntime, signer: PackageSigner) -> PairedCredentials:
    return pair("127.0.0.1", device.port, device.pairing.current_code(), "pytest", signer=signer)


@pytest.fixture
def client(device: DeviceRuntime, credentials: PairedCredentials, signer: PackageSigner) -> Iterator[DeviceClient]:
    with DeviceClient("127.0.0.1", device.port, credentials, signer=signer) as c:
        yield c


@pytest.fixture
def constant_model(tmp_path: Path) -> Path:
    return make_constant_detector(
        tmp_path / "constant.onnx", "yolov8", detections=[CONSTANT_BOX], num_classes=len(CONSTANT_LABELS)
    )


def detector_manifest(
    app_id: str = "widgets",
    version: str = "1.0.0",
    camera_url: str = "test://pattern?width=320&height=240&fps=15",
    camera_id: str = "cam-1",
    model: dict | None = None,
    params: dict | None = None,
) -> dict:
    return {
        "schema": "sightline.app/v2",
        "id": app_id,
        "name": f"App {app_id}",
        "version": version,
        "kind": "detector",
        "cameras": [{"id": camera_id, "url": camera_url}],
        "model": model or {"name": "constant", "file": "models/constant.onnx", "labels": CONSTANT_LABELS},
        "params": params or {"confidence": 0.5, "geometry": {}},
    }


@pytest.fixture
def make_package(tmp_path: Path, constant_model: Path) -> Callable[..., bytes]:
    """Build a package from a manifest dict; bundles the constant model unless told not to."""
    counter = iter(range(1000))

    def make(manifest: dict, bundle_model: bool = True, extra: dict[str, bytes] | None = None) -> bytes:
        folder = tmp_path / f"pkg-{next(counter)}"
        folder.mkdir()
        (folder / "app.json").write_text(json.dumps(manifest))
        if bundle_model:
            (folder / "models").mkdir()
            shutil.copy(constant_model, folder / "models" / "constant.onnx")
        for name, data in (extra or {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        return build_package(folder)

    return make


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    """Poll ``predicate`` until truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def next_preview(client: DeviceClient, camera_id: str, timeout: float = 10.0, after: float = 0.0):
    """The first preview frame of ``camera_id`` captured after ``after`` (unix seconds)."""
    deadline = time.monotonic() + timeout
    with client.preview(camera_id, fps=30, max_width=320) as stream:
        for frame in stream:
            if frame.capture_time > after:
                return frame
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"no preview frame from {camera_id} within {timeout} s")


def first_message(stream, timeout: float, what: str, accept: Callable[[object], bool] = lambda m: True):
    """The first message of a device stream that ``accept`` takes; fail naming ``what`` after ``timeout``."""
    import threading

    timer = threading.Timer(timeout, stream.cancel)
    timer.start()
    try:
        for message in stream:
            if accept(message):
                return message
    finally:
        timer.cancel()
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
