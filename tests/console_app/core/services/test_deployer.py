"""Deploying to real device runtimes on 127.0.0.1 (paired, TLS, signed packages), several at once."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from console_app.core.packaging import build_package_from_members
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.core.services.deployer import Deployer, DeployProgress, Stage
from tests.peers.onnx_models import make_constant_detector

WAIT_S = 30.0


def package(tmp_path: Path, version: str, padding_bytes: int = 0) -> bytes:
    """A detector app on the synthetic camera; ``padding_bytes`` of random data make the upload long."""
    model = make_constant_detector(tmp_path / "det.onnx", "yolov8", [(10, 10, 60, 60, 0.9, 0)])
    manifest = {
        "schema": "sightline.app/v1", "id": "gate", "name": "Gate", "version": version, "kind": "detector",
        "cameras": [{"id": "cam-1", "url": "sim://production-line?seed=7&width=160&height=120&fps=5"}],
        "model": {"name": "det", "file": "models/det.onnx", "labels": ["part", "person", "helmet"]},
        "params": {"confidence": 0.5},
    }
    files: dict[str, bytes | Path] = {"models/det.onnx": Path(model)}
    if padding_bytes:
        files["padding.bin"] = os.urandom(padding_bytes)
    return build_package_from_members(manifest, files)


class Progress:
    """Every progress report, per device (reports come from worker threads)."""

    def __init__(self) -> None:
        self.by_device: dict[str, list[DeployProgress]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, device_id: str, progress: DeployProgress) -> None:
        with self._lock:
            self.by_device[device_id].append(progress)

    def stages(self, device_id: str) -> list[Stage]:
        stages: list[Stage] = []
        for report in self.by_device[device_id]:
            if not stages or stages[-1] != report.stage:
                stages.append(report.stage)
        return stages


@pytest.fixture
def paired(start_device, workers, tmp_path):
    """``paired(n)`` → (service, [runtime, …]): ``n`` real devices added by address and paired."""
    services = []

    def make(n: int):
        service = ApplianceService(FilePairingStore(tmp_path / "pairings"), workers, ["127.0.0.1"],
                                   client_name="deploy test")
        services.append(service)
        runtimes = [start_device() for _ in range(n)]
        for runtime in runtimes:
            service.add_by_address("127.0.0.1", runtime.port)
            service.pair(runtime.identity.device_id, runtime.pairing.current_code())
        return service, runtimes

    yield make
    for service in services:
        service.stop()


def active_version(service: ApplianceService, device_id: str) -> tuple[str, str]:
    with service.connect(device_id) as client:
        app = next(a for a in client.list_apps() if a.app_id == "gate")
        return app.version, app.state


def test_deploy_to_two_devices_at_once_reports_each_devices_progress(paired, tmp_path):
    service, runtimes = paired(2)
    ids = [r.identity.device_id for r in runtimes]
    progress = Progress()
    data = package(tmp_path, "1.0.0", padding_bytes=600_000)

    results = Deployer(service).deploy(data, ids, progress, max_parallel=2)

    for device_id in ids:
        result = results[device_id]
        assert result.ok, result.message
        assert (result.app_id, result.version) == ("gate", "1.0.0")
        assert progress.stages(device_id)[:4] == [Stage.QUEUED, Stage.CONNECTING, Stage.UPLOADING, Stage.INSTALLING]
        assert progress.stages(device_id)[-1] == result.stage
        sent = [p.sent for p in progress.by_device[device_id] if p.stage == Stage.UPLOADING]
        assert sent == sorted(sent) and 0 < sent[1] < len(data), "upload progress in bytes, growing"
        assert active_version(service, device_id)[0] == "1.0.0"


def test_device_that_goes_away_mid_upload_keeps_its_version_and_retry_works_after_restart(
        paired, start_device, tmp_path):
    """The cut is real: the device's server is stopped while the upload is paused after its first chunk."""
    service, (leaving, staying) = paired(2)
    leaving_id, staying_id = leaving.identity.device_id, staying.identity.device_id
    deployer = Deployer(service)
    first = deployer.deploy(package(tmp_path, "1.0.0"), [leaving_id, staying_id])
    assert all(r.ok for r in first.values()), first

    stopped = threading.Event()
    cut = threading.Event()

    def stop_device() -> None:
        cut.wait(WAIT_S)
        leaving.stop(grace=0)
        stopped.set()

    stopper = threading.Thread(target=stop_device, daemon=True)
    stopper.start()
    progress = Progress()

    def on_progress(device_id: str, report: DeployProgress) -> None:
        progress(device_id, report)
        if device_id == leaving_id and report.stage == Stage.UPLOADING and report.sent and not cut.is_set():
            cut.set()
            assert stopped.wait(WAIT_S), "the device did not stop"

    v2 = package(tmp_path, "1.1.0", padding_bytes=2_000_000)
    results = deployer.deploy(v2, [leaving_id, staying_id], on_progress)
    stopper.join(WAIT_S)

    failed = results[leaving_id]
    assert failed.stage == Stage.FAILED and not failed.ok
    assert "lost the connection to" in failed.message and "keeps running the version it had" in failed.message
    assert progress.stages(leaving_id)[-1] == Stage.FAILED
    assert results[staying_id].ok and results[staying_id].version == "1.1.0"

    restarted = start_device(port=leaving.port, data_dir=leaving.config.data_dir, name=leaving.config.name)
    assert restarted.identity.device_id == leaving_id
    assert active_version(service, leaving_id)[0] == "1.0.0"

    retried = deployer.retry(v2, results, progress)
    assert retried[leaving_id].ok and retried[leaving_id].version == "1.1.0", retried[leaving_id].message
    assert retried[staying_id] is results[staying_id], "only the failed device is deployed again"
    assert active_version(service, leaving_id)[0] == "1.1.0"


def test_unpaired_or_unknown_device_fails_with_a_message_and_cancel_skips_the_rest(paired, tmp_path):
    service, (device,) = paired(1)
    deployer = Deployer(service)
    results = deployer.deploy(package(tmp_path, "1.0.0"), ["no-such-device"])
    assert results["no-such-device"].stage == Stage.FAILED
    assert "could not connect to no-such-device: no device with id 'no-such-device'" in results["no-such-device"].message

    progress = Progress()

    def cancel_on_connect(device_id: str, report: DeployProgress) -> None:
        progress(device_id, report)
        if report.stage == Stage.CONNECTING:
            deployer.cancel()

    device_id = device.identity.device_id
    results = deployer.deploy(package(tmp_path, "1.0.0"), [device_id], cancel_on_connect)
    assert results[device_id].stage == Stage.CANCELLED and not results[device_id].ok
    with service.connect(device_id) as client:
        assert [a.app_id for a in client.list_apps()] == []


def test_max_parallel_bounds_how_many_devices_upload_at_once(paired, tmp_path):
    service, runtimes = paired(2)
    ids = [r.identity.device_id for r in runtimes]
    order: list[tuple[str, Stage]] = []
    lock = threading.Lock()

    def record(device_id: str, report: DeployProgress) -> None:
        with lock:
            if not order or order[-1] != (device_id, report.stage):
                order.append((device_id, report.stage))

    results = Deployer(service).deploy(package(tmp_path, "1.0.0"), ids, record, max_parallel=1)

    assert all(r.ok for r in results.values())
    active = [(d, s) for d, s in order if s != Stage.QUEUED]
    first_done = next(i for i, (d, s) in enumerate(active) if s.finished)
    assert {d for d, _ in active[:first_done + 1]} == {active[0][0]}, f"the second device started early: {order}"
