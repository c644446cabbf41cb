from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from device_runtime.store.atomic import (
    atomic_write_json,
    load_json_file,
    quarantine,
    remove_stale_temp_files,
)
from tests.device_runtime.store.crash import REPO_ROOT


def test_atomic_write_json_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"b": [1, 2], "a": "é"})

    assert json.loads(target.read_text("utf-8")) == {"a": "é", "b": [1, 2]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, object()])
def test_a_value_json_cannot_hold_leaves_the_old_file_untouched(tmp_path: Path, value) -> None:
    target = tmp_path / "index.json"
    atomic_write_json(target, {"ok": True})

    with pytest.raises((ValueError, TypeError)):
        atomic_write_json(target, {"bad": value})

    assert json.loads(target.read_text()) == {"ok": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


def test_remove_stale_temp_files_removes_only_temp_files_of_that_file(tmp_path: Path) -> None:
    for name in ("state.json", ".state.json.abc.tmp", ".other.json.abc.tmp", "state.json.tmp"):
        (tmp_path / name).write_text("x")

    removed = remove_stale_temp_files(tmp_path / "state.json")

    assert [p.name for p in removed] == [".state.json.abc.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.json.abc.tmp",
        "state.json",
        "state.json.tmp",
    ]


def test_load_json_file_reports_a_missing_file_as_nothing(tmp_path: Path) -> None:
    assert load_json_file(tmp_path / "none.json", lambda data: None) == (None, None, None)


def test_load_json_file_quarantines_a_file_its_check_rejects(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    target.write_text('{"format": 2}')

    def check(data) -> None:
        if data["format"] != 1:
            raise ValueError(f"format {data['format']} is not one this runtime reads")

    data, moved, warning = load_json_file(target, check)

    assert data is None
    assert moved is not None and moved.read_text() == '{"format": 2}'
    assert warning == (
        f"{target} was unreadable (ValueError: format 2 is not one this runtime reads); "
        f"moved it aside to {moved}"
    )


def test_quarantine_never_overwrites_an_earlier_quarantined_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    moved = []
    for content in ("1", "2", "3"):
        target.write_text(content)
        moved.append(quarantine(target, "test"))

    assert [p.read_text() for p in moved] == ["1", "2", "3"]
    assert len(set(moved)) == 3


CHILD_RUNS_OUT_OF_SPACE = """
import json, os, resource, signal, sys
from pathlib import Path
from device_runtime.store.atomic import atomic_write_json
from device_runtime.store.uploads import receive_upload

folder = Path(sys.argv[1])
atomic_write_json(folder / "state.json", {"small": True})
# The kernel now refuses to let this process grow any file past 64 kB.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
results = {}
try:
    atomic_write_json(folder / "state.json", {"big": "x" * 200_000})
except Exception as exc:
    results["state"] = [type(exc).__name__, exc.code, str(exc)]
data = os.urandom(200_000)
import hashlib
try:
    receive_upload(len(data), hashlib.sha256(data).hexdigest(), [data[:100_000], data[100_000:]],
                   folder / "staging", 10**6, label="model")
except Exception as exc:
    results["upload"] = [type(exc).__name__, exc.code, str(exc)]
print(json.dumps(results))
"""


@pytest.mark.integration
def test_running_out_of_space_is_resource_exhausted_and_leaves_old_files_whole(
    tmp_path: Path,
) -> None:
    """A file size limit (RLIMIT_FSIZE) makes the kernel fail writes, as a full disk does."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD_RUNS_OUT_OF_SPACE, str(tmp_path)],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)

    state_error, state_code, state_message = results["state"]
    assert (state_error, state_code) == ("DiskFull", "RESOURCE_EXHAUSTED")
    assert state_message.startswith(f"no space left while writing {tmp_path / 'state.json'}")
    assert json.loads((tmp_path / "state.json").read_text()) == {"small": True}

    upload_error, upload_code, upload_message = results["upload"]
    assert (upload_error, upload_code) == ("DiskFull", "RESOURCE_EXHAUSTED")
    assert upload_message.startswith("no space left while writing model to ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staging", "state.json"]
    assert list((tmp_path / "staging").iterdir()) == []
