"""The embedded demo site: a real device runtime and two simulated ONVIF cameras on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from console_app.core.gateways import ws_discovery
from console_app.core.gateways.appliance_browser import REMOVED, ApplianceBrowser
from console_app.core.gateways.device_client import pair
from console_app.core.gateways.onvif_client import OnvifAuthError, read_camera
from console_app.demo_site import CAMERA_SEEDS, DemoSite, DemoSiteError

WAIT_S = 15.0


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with DemoSite(tmp_path_factory.mktemp("demo-site")) as running:
        yield running


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def test_demo_site_advertises_its_device_on_loopback_and_the_shown_code_pairs(site):
    seen: dict[str, object] = {}
    advertised = threading.Event()

    def on_change(event, appliance):
        if event != REMOVED and appliance.device_id == site.device_id:
            seen["appliance"] = appliance
            advertised.set()

    browser = ApplianceBrowser(["127.0.0.1"], on_change=on_change)
    browser.start()
    try:
        assert advertised.wait(WAIT_S), f"no mDNS advert for {site.device_id} on 127.0.0.1"
    finally:
        browser.stop()
    appliance = seen["appliance"]
    assert (appliance.address, appliance.port) == ("127.0.0.1", site.device_port)
    assert appliance.name == site.device_name
    assert appliance.fingerprint.replace(":", "").lower() == site.device_fingerprint

    code = site.pairing_code
    creds = pair("127.0.0.1", site.device_port, code, "demo-site test", expected_fingerprint=site.device_fingerprint)
    assert creds.device_id == site.device_id
    assert site.pairing_code != code, "the device replaces its code after a pairing; the guide shows the new one"


def test_demo_site_cameras_answer_ws_discovery_and_onvif_with_their_own_video(site):
    assert len(site.cameras) == len(CAMERA_SEEDS) == 2
    found = {}
    ws_discovery.probe(["127.0.0.1"], timeout_s=3.0,
                       on_found=lambda c: found.__setitem__(c.endpoint_reference, c))
    for camera in site.cameras:
        assert camera.endpoint_reference in found, f"{camera.name} did not answer the probe: {sorted(found)}"
        assert camera.xaddr in found[camera.endpoint_reference].xaddrs

    stream_uris = set()
    for camera in site.cameras:
        info = read_camera(camera.xaddr, camera.port, camera.username, camera.password, timeout_s=10)
        assert info.device.serial == camera.serial
        main = {p.token: p for p in info.profiles}["main"]
        assert (main.width, main.height) == (640, 480)
        assert main.stream_uri.startswith("sim://production-line?")
        assert f"seed={camera.seed}" in main.stream_uri
        stream_uris.add(main.stream_uri)
    assert len(stream_uris) == 2, "each camera shows its own view of the line"


def test_demo_site_camera_refuses_a_wrong_password(site):
    camera = site.cameras[0]
    with pytest.raises(OnvifAuthError):
        read_camera(camera.xaddr, camera.port, camera.username, "not-the-password", timeout_s=10)


def test_demo_site_stops_cleanly_and_removes_its_temporary_folder():
    site = DemoSite().start()
    folder, device_port = site.data_dir, site.device_port
    camera_ports = [c.port for c in site.cameras]
    assert folder is not None and (folder / "device").is_dir()
    assert not refused(device_port) and not any(refused(p) for p in camera_ports)

    site.stop()
    site.stop()  # idempotent

    assert not folder.exists()
    assert refused(device_port), "the device still accepts connections after stop()"
    assert all(refused(p) for p in camera_ports), "a camera still accepts connections after stop()"
    left = [t.name for t in threading.enumerate() if any(t.name == f"sim-onvif-{p}" for p in camera_ports)]
    assert left == []
    assert site.cameras == [] and not site.running
    with pytest.raises(DemoSiteError, match="not running"):
        _ = site.pairing_code


def test_demo_site_keeps_a_folder_it_was_given(tmp_path: Path):
    with DemoSite(tmp_path / "kept", camera_count=1) as site:
        assert len(site.cameras) == 1
        assert site.console_dir == tmp_path / "kept" / "console"
    assert (tmp_path / "kept" / "device").is_dir()


def test_demo_site_refuses_a_camera_count_it_cannot_run():
    with pytest.raises(ValueError, match="1..2 cameras, not 3"):
        DemoSite(camera_count=3)


def test_optional_step_a_bundle_on_the_demo_stick_brings_up_a_second_device_the_console_adopts(site, tmp_path):
    import time

    from console_app.core.credentials import CredentialStore
    from console_app.core.services.appliances import ApplianceService, FilePairingStore
    from console_app.core.services.provisioning import (
        BundleRequest,
        ProvisioningService,
        read_report,
    )
    from console_app.core.signing import PackageSigner
    from console_app.core.workers import WorkerPool

    assert any(str(site.stick.folder) in line for line in site.guide_lines())
    workers = WorkerPool().start()
    try:
        appliances = ApplianceService(FilePairingStore(tmp_path / "devices"), workers, interfaces=["127.0.0.1"],
                                      client_name="demo console", signer=PackageSigner.generate())
        service = ProvisioningService(appliances, CredentialStore(tmp_path / "secrets", use_keyring=False))
        built = service.build(BundleRequest(device_name="demo-line3-b"), site.stick.folder)
        deadline = time.monotonic() + WAIT_S
        # The report is written when the bundle is applied, a moment before the device serves
        # (as on a real box, whose service restarts): adopt once it does.
        while (not built.report_path.exists() or site.stick.runtime is None) and time.monotonic() < deadline:
            time.sleep(0.1)
        report = read_report(built.report_path)
        assert report.ok and report.addresses == ["lo0: 127.0.0.1/8"]
        entry = service.adopt(report)
        assert entry.paired and entry.name == "demo-line3-b" and entry.device_id != site.device_id
        assert entry.pinned_fingerprint == site.stick.runtime.identity.fingerprint
    finally:
        workers.stop()
