"""The committed protobuf/gRPC modules are what the .proto files generate."""

from __future__ import annotations

from pathlib import Path

from device_runtime.protocol.generate import REPO_ROOT, generate


def test_committed_generated_code_matches_the_proto_files(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh, "protoc generated nothing"
    stale = []
    for path in fresh:
        committed = REPO_ROOT / path.relative_to(tmp_path)
        if not committed.exists() or committed.read_bytes() != path.read_bytes():
            stale.append(str(committed.relative_to(REPO_ROOT)))
    assert stale == [], f"stale generated code, run `make proto`: {stale}"


def test_the_service_exposes_every_call_the_console_needs() -> None:
    from device_runtime.protocol.v1 import device_pb2

    methods = set(device_pb2.DESCRIPTOR.services_by_name["Device"].methods_by_name)
    assert {
        "GetInfo", "Pair", "WatchHealth", "ListApps", "DeployApp", "StartApp", "StopApp", "RemoveApp",
        "RollbackApp", "SetParams", "UploadModel", "ListModels", "RemoveModel", "WatchEvents",
        "WatchLogs", "WatchPreview", "GetSnapshot", "ProbeCamera",
    } <= methods
