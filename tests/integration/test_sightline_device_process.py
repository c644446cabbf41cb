"""``sightline-device serve`` as a site runs it: a separate process that can be killed outright."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from console_app.core.gateways.device_client import DeviceClient, pair
from tests.integration.conftest import detector_manifest, next_preview

REPO = Path(__file__).resolve().parents[2]


class DeviceProcess:
    def __init__(self, data_dir: Path, listen: str = "127.0.0.1:0"):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "device_runtime", "serve", "--data-dir", str(data_dir), "--listen", listen,
             "--no-advertise", "--providers", "cpu", "--name", "proc-device"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO,
        )
        banner = []
        deadline = time.monotonic() + 30
        while len(banner) < 4 and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            banner.append(line)
        text = "".join(banner)
        match = re.search(r"address:\s+127\.0\.0\.1:(\d+)", text)
        code = re.search(r"pairing code:\s+(\d{4}-\d{4})", text)
        if not match or not code:
            self.proc.kill()
            raise AssertionError(f"no banner from sightline-device serve: {text!r}")
        self.port, self.code = int(match.group(1)), code.group(1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


def test_version_flag_prints_the_runtime_version():
    out = subprocess.run([sys.executable, "-m", "device_runtime", "--version"], capture_output=True, text=True,
                         cwd=REPO, timeout=30)
    assert out.returncode == 0 and re.match(r"sightline-device \d+\.\d+\.\d+", out.stdout)


def test_a_bad_config_file_stops_with_a_message_naming_the_key(tmp_path):
    config = tmp_path / "device.json"
    config.write_text('{"listen": "nowhere", "colour": "blue"}')
    out = subprocess.run([sys.executable, "-m", "device_runtime", "serve", "--config", str(config)],
                         capture_output=True, text=True, cwd=REPO, timeout=30)
    assert out.returncode == 2
    assert "listen" in out.stderr and "colour" in out.stderr


def test_a_killed_device_process_resumes_its_apps_on_restart(tmp_path, make_package, signer):
    data_dir = tmp_path / "device"
    first = DeviceProcess(data_dir)
    try:
        creds = pair("127.0.0.1", first.port, first.code, "pytest", signer=signer)
        with DeviceClient("127.0.0.1", first.port, creds, signer=signer) as client:
            client.deploy(make_package(detector_manifest()))
            assert next_preview(client, "cam-1").detections
    finally:
        first.kill()  # no clean shutdown: a power cut, as far as the runtime can tell
    second = DeviceProcess(data_dir)
    try:
        with DeviceClient("127.0.0.1", second.port, creds) as client:
            [app] = client.list_apps()
            assert (app.app_id, app.state) == ("widgets", "running")
            assert next_preview(client, "cam-1").detections
    finally:
        assert second.stop() == 0

