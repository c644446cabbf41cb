"""The demo's optional provisioning step: a folder that stands in for a USB stick, and a second device.

When a provisioning bundle appears in :attr:`DemoStick.folder` (the console's
*Provision new device…* writes it there), the stick is "plugged into" a fresh
second device: the bundle is applied exactly as ``sightline-device provision``
would (``device_runtime.provisioning``), the report is written next to it, and
the second device starts, advertised on 127.0.0.1, so *Read provisioning
report…* adds it paired. Network settings in the bundle go to files under the
demo folder (``--root``), never to this machine's network.

This module may import device_runtime: the demo is exempt from the layering rule.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_HOST = "127.0.0.1"
POLL_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((DEMO_HOST, 0))
        return s.getsockname()[1]


class DemoStick:
    """Watches ``folder`` for bundles; applies the first one to a second demo device and starts it."""

    def __init__(self, site_dir: Path, name: str = "demo-line3-b"):
        self.folder = Path(site_dir) / "usb-stick"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._device_dir = Path(site_dir) / "device-2"
        self._name = name
        self.runtime = None
        self.last_report = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-stick", daemon=True)

    def start(self) -> DemoStick:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.stop(grace=0.5)

    def _watch(self) -> None:
        from device_runtime.protocol.provisioning.manifest import BUNDLE_SUFFIX

        while not self._stop.wait(POLL_S):
            if self.runtime is not None:
                return
            bundles = sorted(self.folder.glob(f"*{BUNDLE_SUFFIX}"))
            if bundles:
                try:
                    self.plug_in(bundles[0])
                except Exception:  # the demo keeps running; the report says what went wrong
                    log.exception("demo stick: provisioning the second device failed")
                    return

    def plug_in(self, bundle: Path):
        """Apply ``bundle`` to the second device and start it; returns the report."""
        from device_runtime.config import load_config
        from device_runtime.provisioning.apply import Provisioner, ProvisionOptions
        from device_runtime.runtime import DeviceRuntime

        config_path = self._device_dir / "device.json"
        self._device_dir.mkdir(parents=True, exist_ok=True)
        if not config_path.exists():
            config_path.write_text(
                f'{{"name": "{self._name}", "data_dir": "{self._device_dir / "data"}", '
                f'"listen": "{DEMO_HOST}:{_free_port()}", "interfaces": ["{DEMO_HOST}"]}}\n', encoding="utf-8")
        options = ProvisionOptions(
            root=self._device_dir / "root", config_path=config_path, network_tool="networkd",
            # The demo device lives on loopback: that is the address it reports.
            addresses=lambda: {"lo0": [{"address": f"{DEMO_HOST}/8", "dynamic": False}]})
        report = Provisioner(load_config(config_path), options).provision(bundle)
        self.last_report = report
        if report.ok:
            self.runtime = DeviceRuntime(load_config(config_path)).start()
            log.info("demo stick: second device %s provisioned and serving on %s", report.device_name,
                     self.runtime.address)
        return report
