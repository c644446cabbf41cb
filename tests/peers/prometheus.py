"""A real Prometheus server (Debian ``prometheus``) on 127.0.0.1 that scrapes given targets every second."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.peers.mosquitto import free_port


class PrometheusServer:
    """``prometheus --config.file ... --storage.tsdb.path ...`` with its own folder; :meth:`query` runs PromQL."""

    def __init__(self, folder: Path, targets: list[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = self.folder / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: sightline\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        self._process: subprocess.Popen | None = None
        self._log = open(self.folder / "prometheus.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self._process = subprocess.Popen(
            [binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.folder / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def query(self, promql: str) -> list[dict]:
        """The result vector of an instant query."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
        self._log.close()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
