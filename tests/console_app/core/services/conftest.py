"""Real device runtimes on 127.0.0.1 for the appliance service tests."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from console_app.core.workers import WorkerPool
from device_runtime.config import load_config
from device_runtime.runtime import DeviceRuntime


@pytest.fixture
def start_device(tmp_path: Path):
    """``start_device(name=None, port=0, data_dir=None)`` starts a real runtime; all are stopped at the end."""
    started: list[DeviceRuntime] = []

    def start(name: str | None = None, port: int = 0, data_dir: Path | None = None) -> DeviceRuntime:
        name = name or f"k-dev-{secrets.token_hex(4)}"
        folder = data_dir or tmp_path / f"device-{len(started)}"
        config = load_config(None, name=name, data_dir=folder, listen=f"127.0.0.1:{port}",
                             interfaces=["127.0.0.1"])
        runtime = DeviceRuntime(config).start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop(grace=0.2)


@pytest.fixture
def workers():
    with WorkerPool(name="test-console-io") as pool:
        yield pool
