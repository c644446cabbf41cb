"""A real device runtime on 127.0.0.1 running the sample app resources/apps/line-safety.

The demo detector (resources/models/sightline-demo.onnx) watches the
synthetic production line; within a second or two of :func:`start` the
device reports health for camera ``line3-cam1``, logs, and events
(``line_crossed``, ``count_changed``, ``zone_entered``) with snapshots::

    from tests.peers.line_safety_device import LineSafetyDevice

    with LineSafetyDevice(tmp_path / "device") as device:
        client = device.client()          # paired DeviceClient
        device.restart()                  # same port, same identity: tests reconnection

Pairing with a console's ``ApplianceService`` works through ``device.port``
and ``device.pairing_code()``.
"""

from __future__ import annotations

import json
from pathlib import Path

from console_app.core.gateways.device_client import DeviceClient, PairedCredentials, pair
from console_app.core.packaging import build_package_from_members
from console_app.core.signing import PackageSigner
from device_runtime.config import load_config
from device_runtime.runtime import DeviceRuntime

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "resources" / "models" / "sightline-demo.onnx"
LABELS = [x for x in (REPO / "resources" / "models" / "sightline-demo.labels").read_text().split() if x]
APP = REPO / "resources" / "apps" / "line-safety"
APP_ID = "line-safety"
CAMERA_ID = "line3-cam1"
CAMERA_IDS = ("line3-cam1", "line3-cam2")


def sample_manifest(cameras: int = 1) -> dict:
    """The sample app's manifest with its first ``cameras`` cameras (each with its own zones and lines).

    One camera by default: most tests need one stream, and each stream is a
    model run per frame on this machine's shared CPUs.
    """
    manifest = json.loads((APP / "app.json").read_text())
    manifest["cameras"] = manifest["cameras"][:cameras]
    kept = {c["id"] for c in manifest["cameras"]}
    manifest["params"]["geometry"] = {k: v for k, v in manifest["params"]["geometry"].items() if k in kept}
    return manifest


class LineSafetyDevice:
    """Starts the runtime, pairs once (``credentials``, trusting ``signer``), installs the model, deploys the app."""

    def __init__(self, data_dir: Path, name: str = "line3-test", deploy: bool = True, cameras: int = 1):
        self.data_dir, self.name = Path(data_dir), name
        self.runtime: DeviceRuntime | None = None
        self.port = 0
        self.credentials: PairedCredentials | None = None
        self.signer = PackageSigner.generate()
        self._start(listen="127.0.0.1:0")
        self.credentials = pair("127.0.0.1", self.port, self.pairing_code(), "pytest-peer", signer=self.signer)
        if deploy:
            with self.client() as client:
                client.upload_model(MODEL, "sightline-demo", LABELS)
                client.deploy(build_package_from_members(sample_manifest(cameras), {}))

    def _start(self, listen: str) -> None:
        config = load_config(None, name=self.name, data_dir=self.data_dir, listen=listen,
                             interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])
        self.runtime = DeviceRuntime(config).start()
        self.port = self.runtime.port

    @property
    def device_id(self) -> str:
        assert self.credentials is not None
        return self.credentials.device_id

    def pairing_code(self) -> str:
        assert self.runtime is not None
        return self.runtime.pairing.current_code()

    def client(self) -> DeviceClient:
        """A new paired client (close it, or use it in a ``with``)."""
        return DeviceClient("127.0.0.1", self.port, self.credentials, signer=self.signer)

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop(grace=0.2)
            self.runtime = None

    def restart(self) -> None:
        """Stop and start again on the same port and data folder (installed apps start again)."""
        self.stop()
        self._start(listen=f"127.0.0.1:{self.port}")

    def __enter__(self) -> LineSafetyDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
