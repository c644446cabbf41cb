"""How long the console takes to list every camera and device on a LAN, measured on loopback.

    python -m benchmarks.discovery

Starts 32 simulated cameras (WS-Discovery responders from
``console_app/sim``, each on its own 127.93.0.x address) and 8 simulated
devices (real ``device_runtime`` mDNS adverts on 127.0.0.1 with distinct ids),
waits until the adverts are announced, then presses "scan": a
:class:`CameraDiscovery` probe and an :class:`ApplianceBrowser`, both on
127.0.0.1 only. The clock stops when all 40 are listed (target: 2 s).

Writes ``benchmarks/results/discovery.json``: ``{cameras, devices,
seconds_to_all}`` (``seconds_to_all`` is ``null`` if not all were listed
within :data:`GIVE_UP_S`) plus the time to the last camera and the last device,
and ``seconds_probe_done``: when the camera probe ended by itself (it is given
the full :data:`GIVE_UP_S` and ends once answers stop; "Find cameras" is ready
again then).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from console_app.core.gateways.appliance_browser import ADDED, Appliance, ApplianceBrowser
from console_app.core.services.camera_discovery import CameraDiscovery
from console_app.sim.ws_discovery_responder import WsDiscoveryResponder, new_endpoint_reference
from device_runtime.discovery.advertiser import Advertiser

RESULTS = Path(__file__).resolve().parent / "results" / "discovery.json"
CAMERAS = 32
DEVICES = 8
TARGET_S = 2.0
GIVE_UP_S = 10.0


def _start_cameras() -> list[WsDiscoveryResponder]:
    cameras = []
    for index in range(1, CAMERAS + 1):
        address = f"127.93.0.{index}"
        camera = WsDiscoveryResponder(
            new_endpoint_reference(),
            [f"http://{address}:8080/onvif/device_service"],
            scopes=[
                "onvif://www.onvif.org/type/video_encoder",
                f"onvif://www.onvif.org/name/Bench%20Camera%20{index}",
                "onvif://www.onvif.org/hardware/SL-SIM-1",
            ],
            interface=address,
        )
        camera.start()
        cameras.append(camera)
    return cameras


def _start_devices() -> list[Advertiser]:
    devices = []
    for index in range(DEVICES):
        device = Advertiser(
            device_id=f"sl-bench{index:08x}",
            name=f"Bench device {index}",
            port=50_000 + index,
            fingerprint=f"{index:064x}",
            runtime_version="bench",
            interfaces=["127.0.0.1"],
        )
        device.start()
        devices.append(device)
    for device in devices:
        device.wait_announced(timeout=GIVE_UP_S)
    return devices


def measure() -> dict:
    """Run one scan against freshly started simulated cameras and devices; the result record."""
    cameras = _start_cameras()
    devices = _start_devices()
    camera_refs = {c.endpoint_reference for c in cameras}
    device_ids = {d.device_id for d in devices}
    lock = threading.Lock()
    seen_cameras: set[str] = set()
    seen_devices: set[str] = set()
    times: dict[str, float] = {}
    everything = threading.Event()

    def check(now: float) -> None:
        if seen_cameras == camera_refs and "cameras" not in times:
            times["cameras"] = now
        if seen_devices == device_ids and "devices" not in times:
            times["devices"] = now
        if "cameras" in times and "devices" in times:
            everything.set()

    def on_camera(candidate) -> None:
        with lock:
            if candidate.endpoint_reference in camera_refs:
                seen_cameras.add(candidate.endpoint_reference)
                check(time.perf_counter())

    def on_probe_done(_summary, _error) -> None:
        times["probe_done"] = time.perf_counter()

    def on_device(event: str, appliance: Appliance) -> None:
        with lock:
            if event == ADDED and appliance.device_id in device_ids:
                seen_devices.add(appliance.device_id)
                check(time.perf_counter())

    discovery = CameraDiscovery(default_interfaces=["127.0.0.1"])
    browser = ApplianceBrowser(interfaces=["127.0.0.1"], on_change=on_device)
    try:
        started = time.perf_counter()  # the engineer presses "scan"
        handle = discovery.start_probe(None, on_camera, on_probe_done, timeout_s=GIVE_UP_S)
        browser.start()
        finished = everything.wait(GIVE_UP_S)
        handle.wait(GIVE_UP_S)  # not cancelled: the probe must end by itself once answers stop
    finally:
        browser.stop()
        for camera in cameras:
            camera.stop()
        for device in devices:
            device.stop()

    def since_start(key: str) -> float | None:
        return round(times[key] - started, 3) if key in times else None

    return {
        "cameras": len(seen_cameras),
        "devices": len(seen_devices),
        "seconds_to_all": round(max(times[k] for k in ("cameras", "devices")) - started, 3) if finished else None,
        "seconds_to_cameras": since_start("cameras"),
        "seconds_to_devices": since_start("devices"),
        "seconds_probe_done": since_start("probe_done"),
    }


def main() -> dict:
    """Measure, print one line and write ``benchmarks/results/discovery.json``."""
    result = measure()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    verdict = (
        "not all listed"
        if result["seconds_to_all"] is None
        else ("within" if result["seconds_to_all"] <= TARGET_S else "OVER")
        + f" the {TARGET_S:g} s target"
    )
    print(
        f"discovery: {result['cameras']}/{CAMERAS} cameras and {result['devices']}/{DEVICES} "
        f"devices listed in {result['seconds_to_all']} s ({verdict}; cameras "
        f"{result['seconds_to_cameras']} s, devices {result['seconds_to_devices']} s; the probe ended "
        f"by itself after {result['seconds_probe_done']} s of the {GIVE_UP_S:g} s it was given)"
    )
    return result


if __name__ == "__main__":
    main()
