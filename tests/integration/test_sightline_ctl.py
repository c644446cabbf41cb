"""sightline-ctl as a user runs it: a separate process against a real device."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from console_app.core.signing import load_or_create_signer

REPO = Path(__file__).resolve().parents[2]


def ctl(device, state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console_app.cli", "--target", f"127.0.0.1:{device.port}", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )


def test_ctl_pairs_deploys_tunes_and_saves_preview_frames(device, tmp_path, make_package):
    state = tmp_path / "ctl"
    refused = ctl(device, state, "apps")
    assert refused.returncode != 0 and "pair" in refused.stderr

    info = ctl(device, state, "info")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["active_provider"] == "CPUExecutionProvider"

    wrong = ctl(device, state, "pair", "1111-1111")
    assert wrong.returncode == 1 and "PERMISSION_DENIED" in wrong.stderr
    paired = ctl(device, state, "pair", device.pairing.current_code())
    assert paired.returncode == 0, paired.stderr
    assert device.identity.fingerprint in paired.stdout
    # Pairing told the device ctl's signing key, kept private in the state folder.
    key_file = state / "package_signing_key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signer = load_or_create_signer(None, state)
    assert device.pairing.signing_keys() == [signer.public_key_bytes()]
    assert f"signed with key {signer.fingerprint()}" in paired.stdout

    package = tmp_path / "app.tar.gz"
    from tests.integration.conftest import detector_manifest

    package.write_bytes(make_package(detector_manifest()))
    deployed = ctl(device, state, "deploy", str(package))
    assert deployed.returncode == 0, deployed.stderr
    assert "widgets version 1.0.0: running" in deployed.stdout

    tuned = ctl(device, state, "params", "widgets", '{"confidence": 0.3}')
    assert tuned.returncode == 0 and json.loads(tuned.stdout)["confidence"] == 0.3

    out = tmp_path / "frames"
    preview = ctl(device, state, "preview", "--camera", "cam-1", "--frames", "2", "--out", str(out))
    assert preview.returncode == 0, preview.stderr
    jpegs, metas = sorted(out.glob("*.jpg")), sorted(out.glob("*.json"))
    assert len(jpegs) == len(metas) == 2
    meta = json.loads(metas[0].read_text())
    assert meta["detections"][0]["label"] == "widget" and "inference" in meta["timings_ms"]

    missing = ctl(device, state, "start", "ghost")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr and "ghost" in missing.stderr


def test_ctl_paired_before_it_had_a_signing_key_is_told_to_pair_again(device, tmp_path, make_package):
    from console_app.core.device_credentials import CredentialStore
    from console_app.core.gateways.device_client import pair

    state = tmp_path / "ctl"
    # An old ctl pairing: credentials saved, no signing key sent.
    CredentialStore(state).save(f"127.0.0.1:{device.port}", pair("127.0.0.1", device.port,
                                                                 device.pairing.current_code(), "old ctl"))
    package = tmp_path / "app.tar.gz"
    from tests.integration.conftest import detector_manifest

    package.write_bytes(make_package(detector_manifest()))
    refused = ctl(device, state, "deploy", str(package))
    assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr
    assert "must pair again" in refused.stderr

    assert ctl(device, state, "pair", device.pairing.current_code()).returncode == 0
    deployed = ctl(device, state, "deploy", str(package))
    assert deployed.returncode == 0, deployed.stderr


def test_ctl_outputs_and_health_show_each_outputs_delivery_state(device, tmp_path, make_package):
    from tests.integration.conftest import detector_manifest, wait_for
    from tests.peers.mosquitto import free_port

    state = tmp_path / "ctl"
    assert ctl(device, state, "pair", device.pairing.current_code()).returncode == 0
    port = free_port()
    manifest = detector_manifest(params={"confidence": 0.5, "geometry": {"cam-1": {"zones": [
        {"name": "centre", "points": [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]}]}}})
    manifest["outputs"] = [{"kind": "webhook", "name": "shift-chat", "url": f"http://127.0.0.1:{port}/hook"}]
    package = tmp_path / "app.tar.gz"
    package.write_bytes(make_package(manifest))
    assert ctl(device, state, "deploy", str(package)).returncode == 0

    def failing_line():
        out = ctl(device, state, "outputs")
        lines = out.stdout.splitlines()
        return len(lines) == 2 and "\tretrying\t" in lines[1] and lines
    header, row = wait_for(failing_line, 30, "the output to report its error")
    assert header.split("\t")[:3] == ["app/output", "kind", "state"]
    assert row.startswith("widgets/shift-chat\twebhook\tretrying\t0\t")
    assert row.endswith(f"cannot reach 127.0.0.1:{port}: connection refused")
    health = json.loads(ctl(device, state, "health").stdout)
    [output] = health["outputs"]
    assert output["name"] == "shift-chat" and output["last_error"].endswith("connection refused")
