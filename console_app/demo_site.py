"""The embedded demo site: a Sightline device runtime and two simulated ONVIF cameras on 127.0.0.1.

``sightline-console --demo`` starts one next to the console, which then finds,
pairs, registers and deploys against it exactly as it would on a plant LAN;
the terminal demo (``python -m console_app.demo``) and the smoke test use it
too. Everything binds to 127.0.0.1: the device's mDNS advert and the
cameras' WS-Discovery responders stay on loopback, so the demo never talks
to the real network. The cameras' video is the synthetic production line
(``sim://`` URLs, rendered by the device), each camera with its own seed, so
the two views differ.

This module may import device_runtime: the demo is exempt from the layering rule.

Usage::

    with DemoSite() as site:
        print(site.pairing_code, [c.xaddr for c in site.cameras])
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from console_app.resources import resource_path
from console_app.sim.onvif_camera import SimulatedOnvifCamera
from console_app.sim.onvif_soap import SimProfile

log = logging.getLogger(__name__)

DEMO_HOST = "127.0.0.1"
DEVICE_NAME = "demo-line3"
CAMERA_USERNAME = "admin"
#: Shown to the newcomer in the demo guide; the cameras exist only on loopback while the demo runs.
CAMERA_PASSWORD = "sightline"
#: One seed per camera: camera height, lighting and part mix differ (all within the model's training seeds).
CAMERA_SEEDS = (7, 31)
#: 4:3 profiles fill the demo model's 320x240 input exactly; the main one is what registration picks.
DEMO_PROFILES = (
    SimProfile("main", "MainStream", 640, 480, 15, "H264", 2048),
    SimProfile("sub", "SubStream", 320, 240, 10, "H264", 512),
)
MODEL_NAME = "sightline-demo"
#: The detector's output layout (the runtime's decoder of that name).
MODEL_DECODER = "yolov8"


def demo_model_path() -> Path:
    """The trained demo detector shipped in resources/models/."""
    return resource_path("models", f"{MODEL_NAME}.onnx")


def demo_labels() -> list[str]:
    """The demo detector's class names, line n = class id n."""
    text = resource_path("models", f"{MODEL_NAME}.labels").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def demo_app_folder() -> Path:
    """The sample application deployed by the demo (zones and a counting line for the line)."""
    return resource_path("apps", "line-safety")


class DemoSiteError(RuntimeError):
    """A part of the demo site could not start; the message names the part and why."""


@dataclass(frozen=True)
class DemoCamera:
    """What the console (or the engineer) needs to find and register one demo camera."""

    name: str
    seed: int
    xaddr: str
    host: str
    port: int
    username: str
    password: str
    endpoint_reference: str
    serial: str


class DemoSite:
    """A device runtime and ``camera_count`` simulated ONVIF cameras on 127.0.0.1.

    ``data_dir``: where the device keeps its identity, packages and models and
    where :attr:`console_dir` is (for the demo console's inventory and
    credentials); default a fresh temporary folder, removed by :meth:`stop`.
    A given folder is kept. Use as a context manager, or call :meth:`start`
    and :meth:`stop`.
    """

    def __init__(self, data_dir: Path | None = None, *, camera_count: int = len(CAMERA_SEEDS),
                 camera_password: str = CAMERA_PASSWORD, device_name: str = DEVICE_NAME) -> None:
        if not 1 <= camera_count <= len(CAMERA_SEEDS):
            raise ValueError(f"the demo site runs 1..{len(CAMERA_SEEDS)} cameras, not {camera_count}")
        self._given_dir = Path(data_dir) if data_dir is not None else None
        self.data_dir: Path | None = self._given_dir
        self.camera_count = camera_count
        self.camera_password = camera_password
        self.device_name = device_name
        self.runtime = None  # device_runtime.runtime.DeviceRuntime once started
        self.sim_cameras: list[SimulatedOnvifCamera] = []
        self.cameras: list[DemoCamera] = []
        self.stick = None  # console_app.demo_stick.DemoStick: the optional provisioning step

    # ------------------------------------------------------------ lifecycle

    def start(self) -> DemoSite:
        """Start the device, then the cameras. On failure everything started is stopped again."""
        if self.runtime is not None:
            raise DemoSiteError("the demo site is already running")
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="sightline-demo-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_device()
            for index, seed in enumerate(CAMERA_SEEDS[: self.camera_count], start=1):
                self._start_camera(index, seed)
            from console_app.demo_stick import DemoStick

            self.stick = DemoStick(self.data_dir).start()
        except BaseException:
            self.stop()
            raise
        log.info("demo site: device %s on %s, cameras %s", self.device_name, self.runtime.address,
                 ", ".join(c.xaddr for c in self.cameras))
        return self

    def stop(self) -> None:
        """Stop the cameras and the device; remove the temporary folder. Idempotent."""
        for camera in self.sim_cameras:
            try:
                camera.stop()
            except Exception:  # keep stopping the rest
                log.exception("stopping demo camera %s failed", camera.name)
        self.sim_cameras, self.cameras = [], []
        stick, self.stick = self.stick, None
        if stick is not None:
            stick.stop()
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.stop(grace=0.5)
        if self._given_dir is None and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ what the console needs

    @property
    def running(self) -> bool:
        return self.runtime is not None

    @property
    def console_dir(self) -> Path:
        """The demo console's own data folder (inventory, credentials, pairings, libraries)."""
        return self._folder() / "console"

    @property
    def device_id(self) -> str:
        return self._runtime().identity.device_id

    @property
    def device_port(self) -> int:
        return self._runtime().port

    @property
    def device_fingerprint(self) -> str:
        return self._runtime().identity.fingerprint

    @property
    def pairing_code(self) -> str:
        """The code the device would print now (it changes after each pairing and after a lockout)."""
        return self._runtime().pairing.current_code()

    def camera(self, endpoint_reference: str) -> DemoCamera:
        for camera in self.cameras:
            if camera.endpoint_reference == endpoint_reference:
                return camera
        raise KeyError(f"no demo camera with endpoint reference {endpoint_reference!r}")

    def guide_lines(self) -> list[str]:
        """What a newcomer clicks, step by step, with the values to type (for the banner and the terminal)."""
        names = " and ".join(c.name for c in self.cameras)
        return [
            f"Devices: '{self.device_name}' appears by itself. Select it, press Pair and type the code "
            f"{self.pairing_code}.",
            f"Cameras: press Find cameras; {names} answer. Select each, press Register found… "
            f"(user '{CAMERA_USERNAME}', password '{self.camera_password}', profile MainStream).",
            f"Models: '{MODEL_NAME}', the detector trained on this line, is already in the library.",
            f"Applications: New app… with both cameras and '{MODEL_NAME}' (draw a safety zone or a "
            f"counting line on each camera's picture if you like; 'Copy here' starts from the other "
            f"camera's), then Deploy… to '{self.device_name}'.",
            "Live: tick the device (or Watch all) to see the annotated wall: parts, defects, hard hats, "
            "zones and line counts. Double-click a tile to tune it.",
        ] + ([
            f"Optional: Devices → More → Provision new device…, write the bundle to {self.stick.folder} "
            "(a stand-in USB stick): a second demo device applies it within seconds; then More → Read "
            "provisioning report… and pick the .report.json there: it appears paired, no code typed.",
        ] if self.stick is not None else [])

    # ------------------------------------------------------------ internals

    def _folder(self) -> Path:
        if self.data_dir is None:
            raise DemoSiteError("the demo site has not been started")
        return self.data_dir

    def _runtime(self):
        if self.runtime is None:
            raise DemoSiteError("the demo site is not running: call start() first")
        return self.runtime

    def _start_device(self) -> None:
        from device_runtime.config import load_config
        from device_runtime.runtime import DeviceRuntime

        config = load_config(None, name=self.device_name, data_dir=self._folder() / "device",
                             listen=f"{DEMO_HOST}:0", interfaces=[DEMO_HOST])
        try:
            self.runtime = DeviceRuntime(config).start()
        except OSError as exc:
            raise DemoSiteError(f"the demo device could not start on {DEMO_HOST}: {exc}") from exc

    def _start_camera(self, index: int, seed: int) -> None:
        name = f"Line 3 camera {index}"
        sim = SimulatedOnvifCamera(
            DEMO_HOST, 0, CAMERA_USERNAME, self.camera_password,
            video_url=f"sim://production-line?seed={seed}&width=640&height=480&fps=15",
            name=name, model="SIM-ONVIF-DEMO", serial=f"DEMO-{seed:04d}-{index}", profiles=DEMO_PROFILES,
            discovery_interface=DEMO_HOST,
        )
        try:
            sim.start()
        except OSError as exc:
            raise DemoSiteError(f"demo camera {index} could not start on {DEMO_HOST}: {exc}") from exc
        self.sim_cameras.append(sim)
        self.cameras.append(DemoCamera(
            name=name, seed=seed, xaddr=sim.url, host=DEMO_HOST, port=sim.port, username=CAMERA_USERNAME,
            password=self.camera_password, endpoint_reference=sim.endpoint_reference, serial=sim.serial,
        ))
