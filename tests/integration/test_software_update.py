"""Offline device software updates over the paired API: signed .deb, staged, installed, rolled back.

dpkg installs for real, but into a scratch root the test makes (``dpkg --root``): running dpkg
on this machine's own root would change the host. The real `sightline-device` service restart
(``systemctl restart``, done by the package's postinst on a device) is stood in for by stopping
and starting the test's real TLS device runtime on the same data folder and port; a "broken"
version is one whose payload makes that restart fail to start the runtime, as a device whose new
version crashes at start would be.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, _upload_chunks
from console_app.core.services.software_update import SoftwareUpdater
from console_app.core.signing import PackageSigner
from device_runtime import __version__
from device_runtime.config import load_config
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.runtime import DeviceRuntime
from device_runtime.update.apply import INSTALLED_DIR, Updater, UpdaterOptions
from device_runtime.update.staging import machine_architecture


def make_deb(folder: Path, version: str, *, package: str = "sightline-device", broken: bool = False) -> Path:
    root = folder / f"pkg-{package}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "opt/sightline-device").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: {machine_architecture()}\n"
        "Maintainer: Sightline tests <tests@sightline.invalid>\nDescription: test build\n")
    (root / "DEBIAN/postinst").write_text("#!/bin/sh\nexit 0\n")
    (root / "DEBIAN/postinst").chmod(0o755)
    (root / "opt/sightline-device/VERSION").write_text(version + ("\nBROKEN\n" if broken else "\n"))
    deb = folder / f"{package}_{version}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


class Appliance:
    """A device: a real runtime on a fixed data folder and port, plus its scratch dpkg root."""

    def __init__(self, tmp_path: Path):
        self.data = tmp_path / "device"
        self.root = tmp_path / "root"
        for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
            (self.root / sub).mkdir(parents=True)
        (self.root / "var/lib/dpkg/status").touch()
        self.runtime = self._start(0)
        self.port = self.runtime.port

    def _start(self, port: int) -> DeviceRuntime:
        config = load_config(None, name="box", data_dir=self.data, listen=f"127.0.0.1:{port}",
                             interfaces=["127.0.0.1"], advertise=False, providers=["cpu"])
        return DeviceRuntime(config).start()

    def installed(self) -> str:
        return (self.root / "opt/sightline-device/VERSION").read_text()

    def restart(self) -> None:
        """Stands in for `systemctl restart sightline-device`: the new files decide whether it comes up."""
        if self.runtime is not None:
            self.runtime.stop(grace=0.2)
            self.runtime = None
        if "BROKEN" not in self.installed():
            self.runtime = self._start(self.port)

    def updater(self) -> Updater:
        return Updater(self.data, UpdaterOptions(dpkg_root=self.root, restart=self.restart, health_timeout_s=6,
                                                 # the runtime under test reports its own source version
                                                 check_version=False))

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop(grace=0.2)


@pytest.fixture
def appliance(tmp_path):
    a = Appliance(tmp_path)
    # The version running now was installed from a .deb the device kept (its rollback target).
    baseline = make_deb(tmp_path, __version__)
    subprocess.run(["dpkg", f"--root={a.root}", "--force-script-chrootless", "--force-not-root", "-i", str(baseline)],
                   check=True, capture_output=True)
    (a.data / "updates" / INSTALLED_DIR).mkdir(parents=True, exist_ok=True)
    baseline.replace(a.data / "updates" / INSTALLED_DIR / f"{__version__}.deb")
    yield a
    a.stop()


@pytest.fixture
def paired(appliance, signer):
    from console_app.core.gateways.device_client import pair

    return pair("127.0.0.1", appliance.port, appliance.runtime.pairing.current_code(), "pytest", signer=signer)


def client_for(appliance, paired, signer) -> DeviceClient:
    return DeviceClient("127.0.0.1", appliance.port, paired, signer=signer)


def test_an_update_that_does_not_come_up_is_rolled_back_and_the_previous_version_serves(
        tmp_path, appliance, paired, signer):
    deb = make_deb(tmp_path, "99.0.0", broken=True)
    with client_for(appliance, paired, signer) as client:
        staged = client.update_software(deb)
    assert (staged.state, staged.version, staged.previous_version) == ("staged", "99.0.0", __version__)

    final = appliance.updater().apply()
    assert final.state == "rolled-back", final
    assert "not healthy" in final.detail and f"reinstalled {__version__}" in final.detail
    assert appliance.installed().strip() == __version__
    with client_for(appliance, paired, signer) as client:  # the previous version serves again
        status = client.update_status()
        audit = client.audit(action="update")
    assert status.state == "rolled-back" and status.running_version == __version__
    assert [(e.actor, e.outcome) for e in audit] == [("pytest", "ok"), ("local (on the device)", "ROLLED_BACK")]
    assert audit[0].target == f"{__version__} -> 99.0.0 (staged)"


def test_a_healthy_update_is_kept_as_the_next_rollback_target(tmp_path, appliance, paired, signer):
    deb = make_deb(tmp_path, "99.0.1")
    with client_for(appliance, paired, signer) as client:
        client.update_software(deb)
    final = appliance.updater().apply()
    assert final.state == "installed", final
    assert appliance.installed().strip() == "99.0.1"
    assert (appliance.data / "updates" / INSTALLED_DIR / "99.0.1.deb").exists()
    assert appliance.updater().apply().state == "none", "applying again does nothing"


def test_unsigned_foreign_or_wrong_updates_are_refused_and_nothing_is_staged(tmp_path, appliance, paired, signer):
    deb = make_deb(tmp_path, "99.0.2")
    with client_for(appliance, paired, PackageSigner.generate()) as stranger, \
            pytest.raises(DeviceCallError) as foreign:
        stranger.update_software(deb)
    assert foreign.value.code == "PERMISSION_DENIED" and "no paired console" in foreign.value.message
    with client_for(appliance, paired, signer) as client:
        # An app-package signature over the same bytes is not an update signature.
        data = deb.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        header = pb.UploadHeader(filename=deb.name, size=len(data), sha256=sha, signature=signer.sign_package(sha))
        with pytest.raises(Exception) as replay:
            client._stub.UpdateSoftware(_upload_chunks(header, data))
        assert "PERMISSION_DENIED" in str(replay.value)
        with pytest.raises(DeviceCallError) as other:
            client.update_software(make_deb(tmp_path, "1.0.0", package="something-else"))
        assert other.value.code == "INVALID_ARGUMENT" and "not sightline-device" in other.value.message
        (tmp_path / "same").mkdir()
        with pytest.raises(DeviceCallError) as same:
            client.update_software(make_deb(tmp_path / "same", __version__))
        assert same.value.code == "ALREADY_EXISTS"
        assert client.update_status().state == "none"
    assert not (appliance.data / "updates" / "pending.json").exists()


def test_the_console_pushes_an_update_to_several_devices_with_progress(tmp_path, signer):
    from console_app.core.services.appliances import ApplianceService, FilePairingStore
    from console_app.core.workers import WorkerPool

    devices = [Appliance(tmp_path / f"d{i}") for i in range(2)]
    workers = WorkerPool().start()
    try:
        service = ApplianceService(FilePairingStore(tmp_path / "console"), workers, interfaces=["127.0.0.1"],
                                   signer=signer)
        for d in devices:
            entry = service.add_by_address("127.0.0.1", d.port)
            service.pair(entry.device_id, d.runtime.pairing.current_code())
        deb = make_deb(tmp_path, "99.1.0").read_bytes()
        seen: dict[str, list[str]] = {}
        results = SoftwareUpdater(service).deploy(
            deb, [d.runtime.identity.device_id for d in devices],
            on_progress=lambda device_id, p: seen.setdefault(device_id, []).append(p.stage.value))
        assert all(r.ok for r in results.values()), results
        assert all("version 99.1.0 staged" in r.message for r in results.values())
        for stages in seen.values():
            assert stages[0] == "queued" and "uploading" in stages and stages[-1] == "installed"
        for d in devices:
            assert d.runtime.updates.state().state == "staged"
    finally:
        workers.stop()
        for d in devices:
            d.stop()
