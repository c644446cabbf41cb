"""Offline provisioning end to end: console bundle → FAT32 stick → device in a network namespace → report → paired.

Real parts throughout: a FAT32 image made with mkfs.vfat (loop-mounted where the kernel
allows, else read and written with mtools: see tests/peers/usb_stick.py), the device's
own `sightline-device provision` process run inside a network namespace the test creates
(veth), the real systemd-networkd applying the .network files it wrote in that namespace,
a real TLS device runtime, and the console's pairing by the bundle's one-time secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console_app.core.credentials import CredentialStore
from console_app.core.services.appliances import ApplianceService, FilePairingStore
from console_app.core.services.provisioning import (
    BundleRequest,
    ModelFile,
    ProvisioningError,
    ProvisioningService,
    read_report,
)
from console_app.core.signing import PackageSigner
from console_app.core.workers import WorkerPool
from device_runtime.config import load_config
from device_runtime.protocol.provisioning.manifest import (
    InterfaceSettings,
    NetworkSettings,
    report_name,
)
from device_runtime.runtime import DeviceRuntime
from device_runtime.security.secret_store import SecretStore
from tests.integration.conftest import DEMO_LABELS, DEMO_MODEL, detector_manifest, first_message
from tests.peers.netns import NETWORKD, NetNamespace, can_make_namespaces
from tests.peers.usb_stick import UsbStick

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def console(tmp_path):
    workers = WorkerPool().start()
    credentials = CredentialStore(tmp_path / "console", use_keyring=False)
    appliances = ApplianceService(FilePairingStore(tmp_path / "console" / "devices"), workers,
                                  interfaces=["127.0.0.1"], client_name="site laptop", signer=PackageSigner.generate())
    yield ProvisioningService(appliances, credentials)
    workers.stop()


@pytest.fixture
def netns():
    why = can_make_namespaces()
    if why:
        pytest.fail(f"this test needs network namespaces (run as root with iproute2): {why}")
    ns = NetNamespace()
    yield ns
    ns.close()


@pytest.fixture
def stick(tmp_path):
    s = UsbStick(tmp_path)
    yield s
    s.close()


def device_config(tmp_path: Path) -> Path:
    path = tmp_path / "device.json"
    path.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "providers": ["cpu"], "advertise": False,
                                "listen": "127.0.0.1:0", "interfaces": ["127.0.0.1"]}))
    return path


def provision(config: Path, bundle: Path, *args: str, netns: NetNamespace | None = None,
              root: Path | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "device_runtime", "provision", str(bundle), "--config", str(config), *args]
    if root is not None:
        argv += ["--root", str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if netns is not None:
        return netns.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO, env=env)


def line_app_package(tmp_path: Path, make_package) -> Path:
    manifest = detector_manifest(
        app_id="line", camera_url="sim://production-line?seed=7&width=640&height=480&fps=15",
        model={"name": "sightline-demo"},
        params={"confidence": 0.4, "geometry": {"cam-1": {"lines": [
            {"name": "exit", "a": [0.8, 0.0], "b": [0.8, 0.45], "count": "both"}]}}},
    )
    path = tmp_path / "line-1.0.0.tar.gz"
    path.write_bytes(make_package(manifest, bundle_model=False))
    return path


def test_console_bundle_on_a_fat32_stick_provisions_a_device_that_comes_up_paired_with_its_app_running(
        tmp_path, console, netns, stick, make_package):
    """The full path, with nothing typed between making the bundle and seeing events."""
    assert NETWORKD.exists(), "systemd-networkd is part of the test system packages"
    request = BundleRequest(
        device_name="line3-box",
        network=NetworkSettings(
            interfaces=[InterfaceSettings(name=netns.inner, method="static", address="192.168.77.20/24",
                                          gateway="192.168.77.1", dns=["192.168.77.1"])],
            ntp_servers=[], timezone="Europe/Berlin"),
        apps=[line_app_package(tmp_path, make_package)],
        models=[ModelFile(DEMO_MODEL, "sightline-demo", tuple(DEMO_LABELS))],
        secrets={"mqtt-token": "s3cret!"},
        passphrase=PASSPHRASE,
    )
    out = tmp_path / "console-out"
    out.mkdir()
    built = console.build(request, out)
    stick.put(built.path)

    # ---- on the device: the stick's folder, the passphrase file, the real network tool in a namespace.
    config, root = device_config(tmp_path), tmp_path / "root"
    (root / "etc/systemd/network").mkdir(parents=True)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    folder = stick.device_view()
    dry = provision(config, folder / built.path.name, "--dry-run", "--passphrase-file", str(passphrase_file),
                    netns=netns, root=root)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"would apply: {netns.inner}: static 192.168.77.20/24 via 192.168.77.1" in dry.stdout
    assert "Address=192.168.77.20/24" in dry.stdout
    assert list((root / "etc/systemd/network").iterdir()) == [], "a dry run changes nothing"

    done = provision(config, folder / built.path.name, "--passphrase-file", str(passphrase_file),
                     netns=netns, root=root)
    assert done.returncode == 0, done.stdout + done.stderr
    stick.sync_back()
    assert report_name(built.path.name) in stick.names()

    # The real systemd-networkd, in the namespace, applies what provisioning wrote.
    netns.start_networkd(root / "etc/systemd/network", tmp_path / "networkd.log")
    assert "192.168.77.20/24" in netns.wait_for_address(netns.inner, "192.168.77.20/24")
    assert netns.default_route() == "192.168.77.1"
    assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/Berlin"
    assert json.loads(config.read_text())["name"] == "line3-box"
    assert SecretStore(tmp_path / "data").get("mqtt-token") == "s3cret!"

    # Applying the same bundle again is harmless.
    again = provision(config, folder / built.path.name, "--passphrase-file", str(passphrase_file),
                      netns=netns, root=root)
    assert again.returncode == 0 and "would apply" not in again.stdout
    assert "applied:" not in again.stdout, again.stdout
    assert "already so: app line 1.0.0" in again.stdout

    # ---- the device service starts; the console reads the report off the FAT32 image and adopts it.
    runtime = DeviceRuntime(load_config(config)).start()
    try:
        report = read_report(stick.read(report_name(built.path.name), tmp_path / "console-in"))
        assert report.ok and report.device_id == runtime.identity.device_id
        assert report.cert_fingerprint == runtime.identity.fingerprint
        assert f"{netns.inner}: 192.168.77.20/24" in report.addresses
        entry = console.adopt(report, hosts=["127.0.0.1"], port=runtime.port)
        assert entry.paired and entry.pinned_fingerprint == runtime.identity.fingerprint
        with console.appliances.connect(entry.device_id) as client:
            apps = {a.app_id: a for a in client.list_apps()}
            assert apps["line"].state == "running", apps["line"]
            with client.events(app_id="line") as stream:
                event = first_message(stream, 60, "the provisioned app's first line_crossed event",
                                      lambda e: e.type == "line_crossed")
            assert event.line == "exit"
            audit = client.audit()
        assert [(e.action, e.outcome) for e in audit[:3]] == [("provision", "ok"), ("provision", "ok"), ("pair", "ok")]
        assert audit[0].actor.endswith("bundle from site laptop") and audit[2].actor == "site laptop"
        # The secret worked once; the console forgot it, and the device will not take it again.
        with pytest.raises(ProvisioningError, match="did not make bundle"):
            console.adopt(report, hosts=["127.0.0.1"], port=runtime.port)
    finally:
        runtime.stop()


def test_a_registered_camera_bound_in_the_bundle_is_what_the_bundled_app_opens_with_its_password(
        tmp_path, console, make_package):
    """The app names camera id "Dock-2" with a placeholder URL; binding the inventory's "Dock 2" (a real RTSP
    camera with digest auth) writes its URL into the app and its password into the device's secret store only."""
    from console_app.core.persistence import CameraDraft, InventoryStore
    from console_app.core.services.provisioning_cameras import registered_camera
    from tests.integration.conftest import detector_manifest, wait_for
    from tests.peers.rtsp_server import RtspServer

    inventory = InventoryStore(f"sqlite:///{tmp_path / 'office.sqlite'}",
                               credentials=CredentialStore(tmp_path / "office-secrets", use_keyring=False))
    app = tmp_path / "dock-1.0.0.tar.gz"
    app.write_bytes(make_package(detector_manifest(app_id="dock", camera_id="Dock-2",
                                                   camera_url="rtsp://placeholder.invalid/stream1")))
    with RtspServer(path="/live", user="admin", password="right-pw", auth="digest", width=320, height=240) as camera:
        record = inventory.cameras.add_camera(CameraDraft(name="Dock 2", host="127.0.0.1",
                                                          stream_uri=camera.url_for(), username="admin"), "right-pw")
        bound = registered_camera(inventory.cameras, record.id)
        assert bound.id == "Dock-2", "bound under the id the app builder gives a camera of that name"
        built = console.build(BundleRequest(device_name="dock-box", apps=[app], cameras=[bound],
                                            passphrase=PASSPHRASE), tmp_path)
        assert built.bound_cameras == {"Dock-2": [app.name]}
        assert built.manifest.secrets.names == ["camera/Dock-2/password"]
        assert b"right-pw" not in built.path.read_bytes(), "the password travels encrypted only"

        config = device_config(tmp_path)
        done = provision(config, built.path, "--passphrase-file", str(_passphrase(tmp_path)), root=tmp_path / "root")
        assert done.returncode == 0, done.stdout + done.stderr
        assert SecretStore(tmp_path / "data").get("camera/Dock-2/password") == "right-pw"
        runtime = DeviceRuntime(load_config(config)).start()
        try:
            entry = console.adopt(read_report(built.report_path), hosts=["127.0.0.1"], port=runtime.port)
            with console.appliances.connect(entry.device_id) as client:
                installed = {a.app_id: a for a in client.list_apps()}["dock"]
                assert f"rtsp://admin@127.0.0.1:{camera.port}/live" in installed.manifest_json
                assert "right-pw" not in installed.manifest_json

                def live():
                    with client.health(interval_s=0.2) as stream:
                        for sample in stream:
                            if sample.streams and sample.streams[0].state in ("failed", "live"):
                                return sample.streams[0]
                    return None

                stream = wait_for(live, 30, "the bound camera's verdict in health")
            assert (stream.camera_id, stream.state) == ("Dock-2", "live"), stream.state_reason
        finally:
            runtime.stop()
            inventory.close()


def test_a_camera_bound_to_an_id_no_bundled_app_uses_is_refused_before_anything_is_written(
        tmp_path, console, make_package):
    from console_app.core.services.provisioning_cameras import CameraToBind

    app = tmp_path / "dock-1.0.0.tar.gz"
    app.write_bytes(make_package(detector_manifest(app_id="dock", camera_id="Dock-2")))
    out = tmp_path / "stick"
    out.mkdir()
    request = BundleRequest(device_name="box", apps=[app], passphrase=PASSPHRASE,
                            cameras=[CameraToBind("Gate", "rtsp://10.0.0.7/s1", "Gate", "admin", "pw")])
    with pytest.raises(ProvisioningError, match="no app in the bundle uses camera id"):
        console.build(request, out)
    assert list(out.iterdir()) == [], "no bundle, not even a partial one"


def tamper(bundle: Path, target: Path, member: str, change) -> Path:
    import zipfile

    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, change(data) if info.filename == member else data)
    return target


def simple_request(**extra) -> BundleRequest:
    return BundleRequest(device_name="box", secrets={"token": "t0ken"}, passphrase=PASSPHRASE, **extra)


def refused(tmp_path: Path, bundle: Path, *args: str) -> dict:
    config = device_config(tmp_path)
    result = provision(config, bundle, *args, root=tmp_path / "root")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((bundle.parent / report_name(bundle.name)).read_text())
    assert not report["ok"] and report["applied"] == []
    # Nothing changed: no secrets, no pre-authorised console, no renamed device.
    data = tmp_path / "data"
    assert not (data / "preauthorized_consoles.json").exists()
    assert SecretStore(data).get("token") is None
    assert "name" not in json.loads(config.read_text())
    assert json.loads((data / "audit" / "audit.jsonl").read_text().splitlines()[-1])["outcome"] == "FAILED"
    return report


def test_a_tampered_bundle_changes_nothing_and_the_report_says_why(tmp_path, console):
    built = console.build(simple_request(), tmp_path)
    bad = tamper(built.path, tmp_path / "bad.sightline-provision.zip", "manifest.json",
                 lambda d: d.replace(b'"box"', b'"evil"'))
    report = refused(tmp_path, bad, "--passphrase-file", str(_passphrase(tmp_path)))
    assert "signature does not verify" in report["errors"][0]


def test_a_wrong_passphrase_changes_nothing(tmp_path, console):
    built = console.build(simple_request(), tmp_path)
    report = refused(tmp_path, built.path, "--passphrase-file", str(_passphrase(tmp_path, "not the passphrase")))
    assert report["errors"] == ["wrong passphrase: the bundle's secrets do not open with it"]


def test_a_bundle_for_another_device_changes_nothing(tmp_path, console):
    from device_runtime.protocol.provisioning.manifest import Target

    built = console.build(simple_request(target=Target(device_id="sl-000000000000")), tmp_path)
    report = refused(tmp_path, built.path, "--passphrase-file", str(_passphrase(tmp_path)))
    assert "this bundle is for device sl-000000000000" in report["errors"][0]


def test_a_truncated_bundle_as_from_a_stick_pulled_mid_copy_changes_nothing(tmp_path, console):
    built = console.build(simple_request(), tmp_path)
    data = built.path.read_bytes()
    cut = tmp_path / "cut.sightline-provision.zip"
    cut.write_bytes(data[: len(data) // 2])
    report = refused(tmp_path, cut, "--passphrase-file", str(_passphrase(tmp_path)))
    assert "not a readable zip file" in report["errors"][0]


def test_a_bundle_with_a_path_that_escapes_is_refused(tmp_path, console):
    import zipfile

    built = console.build(simple_request(), tmp_path)
    evil = tmp_path / "evil.sightline-provision.zip"
    with zipfile.ZipFile(built.path) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("../../etc/cron.d/x", b"* * * * * root sh")
    report = refused(tmp_path, evil, "--passphrase-file", str(_passphrase(tmp_path)))
    assert "unsafe or unexpected name '../../etc/cron.d/x'" in report["errors"][0]
    assert not (tmp_path / "etc").exists()


def test_secrets_encrypted_for_the_device_open_only_on_that_device(tmp_path, console):
    from device_runtime.security.identity import DeviceIdentity

    config = device_config(tmp_path)
    identity = DeviceIdentity.load_or_create(tmp_path / "data", "box")
    request = BundleRequest(device_name="box", secrets={"token": "t0ken"}, device_cert_pem=identity.cert_pem.decode())
    built = console.build(request, tmp_path)
    ok = provision(config, built.path, root=tmp_path / "root")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert SecretStore(tmp_path / "data").get("token") == "t0ken"

    other = tmp_path / "other"
    other.mkdir()
    report = refused(other, built.path)
    assert report["errors"] == ["the bundle's secrets were encrypted for another device"]


def test_a_network_change_that_would_cut_off_a_paired_device_is_refused_unless_confirmed(
        tmp_path, console, netns):
    """The device (in the namespace) has 10.9.0.5 on its interface and a paired console; the bundle moves it."""
    from device_runtime.security.identity import DeviceIdentity
    from device_runtime.security.pairing import PairingManager
    from tests.integration.test_provisioning_helpers import pair_locally

    subprocess.run(["ip", "-n", netns.name, "addr", "add", "10.9.0.5/24", "dev", netns.inner], check=True)
    subprocess.run(["ip", "-n", netns.name, "link", "set", netns.inner, "up"], check=True)
    data = tmp_path / "data"
    identity = DeviceIdentity.load_or_create(data, "box")
    pair_locally(PairingManager(data, identity), console.appliances.signer)
    request = BundleRequest(device_name="box", network=NetworkSettings(interfaces=[
        InterfaceSettings(name=netns.inner, method="static", address="192.168.50.2/24")]))
    built = console.build(request, tmp_path)
    config, root = device_config(tmp_path), tmp_path / "root"
    result = provision(config, built.path, netns=netns, root=root)
    assert result.returncode == 1
    assert f"{netns.inner}: the change would drop 10.9.0.5/24" in result.stdout
    assert not (root / "etc/systemd/network").exists()
    confirmed = provision(config, built.path, "--confirm-network-change", "--network-tool", "networkd",
                          netns=netns, root=root)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert (root / f"etc/systemd/network/10-sightline-{netns.inner}.network").exists()


def test_provisioning_refuses_while_the_device_service_runs(tmp_path, console):
    config = device_config(tmp_path)
    runtime = DeviceRuntime(load_config(config)).start()
    try:
        built = console.build(BundleRequest(device_name="box"), tmp_path)
        result = provision(config, built.path, root=tmp_path / "root")
        assert result.returncode == 1
        assert "in use by a running device service; stop it first" in result.stdout
    finally:
        runtime.stop()


def _passphrase(tmp_path: Path, text: str = PASSPHRASE) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(text + "\n")
    return path


def test_a_stick_with_bundles_is_mounted_applied_and_the_service_restarted(tmp_path, console, stick):
    """provision_stick's own steps. This machine's kernel cannot mount vfat and runs no systemd, so the
    FAT32 image's files are handed over as a folder (tests/peers/usb_stick.py) that is bind-mounted in
    place of the stick, and systemctl is answered by a recorder: the host's services are never touched."""
    from device_runtime.provisioning.stick import provision_stick

    built = console.build(BundleRequest(device_name="box"), tmp_path)
    stick.put(built.path)
    folder = stick.device_view()
    calls: list[list[str]] = []

    def run(argv, **kwargs):
        calls.append(list(argv))
        if argv[0] == "mount":
            return subprocess.run(["mount", "--bind", str(folder), argv[-1]], **kwargs)
        if argv[0] == "systemctl":
            return subprocess.CompletedProcess(argv, 0, "", "")
        return subprocess.run(argv, **kwargs)

    config = device_config(tmp_path)

    def apply(mounted: Path) -> int:
        return provision(config, mounted / built.path.name, root=tmp_path / "root").returncode

    status = provision_stick(Path("/dev/sdz1"), apply, tmp_path / "data", run=run, mount_base=tmp_path / "run")
    assert status == 0
    assert [c for c in calls if c[0] == "systemctl"] == [
        ["systemctl", "is-active", "--quiet", "sightline-device.service"],
        ["systemctl", "stop", "sightline-device.service"],
        ["systemctl", "start", "sightline-device.service"],
    ]
    assert calls[-1] == ["umount", str(tmp_path / "run" / "stick-sdz1")]
    assert not os.path.ismount(tmp_path / "run" / "stick-sdz1")
    stick.sync_back()
    assert read_report(stick.read(report_name(built.path.name), tmp_path / "back")).ok


def test_a_bundle_larger_than_the_device_accepts_changes_nothing(tmp_path, console):
    from device_runtime.provisioning.apply import Provisioner, ProvisionOptions

    built = console.build(simple_request(), tmp_path)
    config = load_config(device_config(tmp_path))
    report = Provisioner(config, ProvisionOptions(passphrase=PASSPHRASE, root=tmp_path / "root",
                                                  max_bundle_bytes=1024)).provision(built.path)
    assert not report.ok and report.applied == []
    assert f"the bundle is {built.path.stat().st_size} bytes; this device accepts at most 1024" in report.errors[0]
    assert SecretStore(tmp_path / "data").get("token") is None
