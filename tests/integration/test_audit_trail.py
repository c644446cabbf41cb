"""The audit trail over the real TLS API: every change recorded with who, what, when and outcome."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from console_app.core.gateways.device_client import DeviceCallError, DeviceClient, pair
from console_app.core.services.audit_trail import write_audit_csv
from console_app.core.signing import PackageSigner
from device_runtime.protocol.package_signature import key_fingerprint
from tests.integration.conftest import detector_manifest, first_message

REPO = Path(__file__).resolve().parents[2]


def test_audit_trail_names_the_paired_client_for_each_change_and_keeps_refusals(
    device, client, credentials, signer, make_package
):
    client.deploy(make_package(detector_manifest()))
    client.set_params("widgets", '{"confidence": 0.3}')
    with pytest.raises(DeviceCallError):
        client.set_params("widgets", '{"confidence": 7}')
    with pytest.raises(DeviceCallError):
        client.rollback_app("widgets")  # nothing to roll back to
    # A package signed by a console the device never paired with.
    stranger = DeviceClient("127.0.0.1", device.port, credentials, signer=PackageSigner.generate())
    with stranger, pytest.raises(DeviceCallError):
        stranger.deploy(make_package(detector_manifest(version="2.0.0")))
    # A guest (unpaired) caller trying to remove the app.
    with DeviceClient("127.0.0.1", device.port) as guest, pytest.raises(DeviceCallError):
        guest.remove_app("widgets")

    entries = client.audit()
    seen = [(e.action, e.outcome) for e in entries]
    assert seen == [
        ("pair", "ok"),
        ("deploy", "ok"),
        ("params", "ok"),
        ("params", "INVALID_ARGUMENT"),
        ("rollback", "FAILED_PRECONDITION"),
        ("deploy", "PERMISSION_DENIED"),
        ("remove", "UNAUTHENTICATED"),
    ]
    by_client = entries[:6]
    assert {e.actor for e in by_client} == {"pytest"}
    # The certificate fingerprint of the client, as the device issued it at pairing.
    client_fp = device.pairing.trusted_clients()[0].fingerprint
    assert {e.actor_fingerprint for e in by_client} == {client_fp}
    assert {e.signing_key for e in by_client} == {key_fingerprint(signer.public_key_bytes())}
    assert entries[1].target == "widgets 1.0.0"
    assert "signature" in entries[5].detail
    assert entries[6].actor == "unpaired caller" and entries[6].target == "widgets"
    assert [e.action for e in client.audit(action="params")] == ["params", "params"]
    assert len(client.audit(limit=2)) == 2

    buffer = io.StringIO()
    write_audit_csv(buffer, entries)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0][:3] == ["time", "action", "actor"] and rows[2][1:3] == ["deploy", "pytest"]


def test_watch_audit_streams_entries_as_they_happen(device, client, make_package):
    stream = client.watch_audit(replay=5)
    got: list = []

    def deploy_soon() -> None:
        client.deploy(make_package(detector_manifest()))

    with stream:
        first = first_message(stream, 10, "the replayed pairing entry")
        assert first.action == "pair"
        worker = threading.Thread(target=deploy_soon)
        worker.start()
        got.append(first_message(stream, 30, "the deploy entry", accept=lambda e: e.action == "deploy"))
        worker.join()
    assert got[0].target == "widgets 1.0.0" and got[0].actor == "pytest"


def test_unpair_is_audited_and_the_unpaired_client_is_refused_afterwards(device, client, credentials):
    gone = client.unpair()
    assert gone.name == "pytest"
    with pytest.raises(DeviceCallError) as refused:
        client.list_apps()
    assert refused.value.code == "UNAUTHENTICATED"
    entries = device.audit.entries()
    assert (entries[-1].action, entries[-1].actor, entries[-1].outcome) == ("unpair", "pytest", "ok")


def test_ctl_audit_prints_and_exports_csv(device, tmp_path, signer):
    state = tmp_path / "ctl"

    def ctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "console_app.cli", "--target", f"127.0.0.1:{device.port}",
             "--state-dir", str(state), *args],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )

    assert ctl("pair", device.pairing.current_code(), "--name", "night-shift").returncode == 0
    assert ctl("stop", "nothing-here").returncode == 1
    listed = ctl("audit")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert "\tpair\tnight-shift" in lines[0]
    assert "\tstop\tnight-shift" in lines[1] and "NOT_FOUND" in lines[1]
    out = tmp_path / "audit.csv"
    exported = ctl("audit", "--csv", str(out))
    assert exported.returncode == 0 and "wrote 2 audit entries" in exported.stdout
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [r[1] for r in rows[1:]] == ["pair", "stop"] and rows[2][6] == "NOT_FOUND"


def test_pairing_with_a_wrong_code_is_audited_under_the_claimed_name(device):
    with pytest.raises(DeviceCallError):
        pair("127.0.0.1", device.port, "0000-0000", "intruder")
    entry = device.audit.entries()[-1]
    assert (entry.action, entry.actor, entry.outcome) == ("pair", "intruder", "PERMISSION_DENIED")
    assert entry.actor_fingerprint == ""
