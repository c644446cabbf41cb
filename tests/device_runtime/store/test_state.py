from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_runtime.errors import InvalidArgument, NotFound
from device_runtime.store.state import AppDesired, DesiredState
from tests.device_runtime.store.crash import kill_mid_write


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "state.json"


def test_a_fresh_device_has_no_desired_apps(state_path: Path) -> None:
    state = DesiredState(state_path)

    assert state.apps() == {}
    assert state.warnings == []
    assert state.corrupt_file is None


def test_desired_state_survives_a_restart(state_path: Path) -> None:
    state = DesiredState(state_path)
    state.set("line3", version="1.0.0", params={"threshold": 0.4, "zones": [[0, 0], [1, 1]]})
    state.set("dock", version="0.2.0", running=False)

    reopened = DesiredState(state_path)

    assert reopened.apps() == {
        "line3": AppDesired("1.0.0", True, {"threshold": 0.4, "zones": [[0, 0], [1, 1]]}),
        "dock": AppDesired("0.2.0", False, {}),
    }


def test_set_changes_only_the_fields_given(state_path: Path) -> None:
    state = DesiredState(state_path)
    state.set("line3", version="1.0.0", params={"threshold": 0.4})

    updated = state.set("line3", running=False)

    assert updated == AppDesired("1.0.0", False, {"threshold": 0.4})
    assert state.set("line3", version="1.1.0").params == {"threshold": 0.4}
    assert DesiredState(state_path).get("line3") == AppDesired("1.1.0", False, {"threshold": 0.4})


def test_a_new_app_needs_a_version(state_path: Path) -> None:
    state = DesiredState(state_path)

    with pytest.raises(InvalidArgument, match="app 'line3' has no desired state yet; its version"):
        state.set("line3", running=True)
    assert not state_path.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"version": "1.0", "running": "yes"}, "'running' of app 'line3' must be true or false"),
        ({"version": "1.0", "params": [1, 2]}, "params of app 'line3' must be an object"),
        ({"version": "1.0", "params": {"t": float("nan")}}, "cannot be saved as JSON"),
        ({"version": "1.0", "params": {"t": {1, 2}}}, "cannot be saved as JSON"),
        ({"version": "../1"}, "version '../1' is not allowed"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_changes(
    state_path: Path, fields: dict, message: str
) -> None:
    state = DesiredState(state_path)
    state.set("line3", version="0.9", params={"t": 1})
    before = state_path.read_bytes()

    with pytest.raises(InvalidArgument, match=message):
        state.set("line3", **fields)

    assert state.get("line3") == AppDesired("0.9", True, {"t": 1})
    assert state_path.read_bytes() == before


def test_returned_state_is_a_copy(state_path: Path) -> None:
    state = DesiredState(state_path)
    params = {"zones": [1]}
    state.set("line3", version="1.0", params=params)

    params["zones"].append(2)
    state.apps()["line3"].params["zones"].append(3)

    assert state.get("line3").params == {"zones": [1]}


def test_remove_forgets_an_app_and_says_whether_it_was_there(state_path: Path) -> None:
    state = DesiredState(state_path)
    state.set("line3", version="1.0")

    assert state.remove("line3") is True
    assert state.remove("line3") is False
    assert DesiredState(state_path).apps() == {}
    with pytest.raises(NotFound, match="app 'line3' has no desired state"):
        state.get("line3")


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": 1, "apps": {"line3": {"vers',
        b"\xff\xfe not utf-8",
        b'{"format": 1, "apps": {"line3": {"version": "1.0", "running": "maybe", "params": {}}}}',
        b'{"format": 7, "apps": {}}',
        b"[]",
        b"",
    ],
    ids=["torn", "binary", "bad_field", "unknown_format", "wrong_shape", "empty"],
)
def test_an_unreadable_state_file_is_moved_aside_and_the_device_starts_with_no_apps(
    state_path: Path, content: bytes
) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(content)

    state = DesiredState(state_path)

    assert state.apps() == {}
    assert state.corrupt_file is not None
    assert state.corrupt_file.name.startswith("state.json.corrupt-")
    assert state.corrupt_file.read_bytes() == content
    assert not state_path.exists()
    assert len(state.warnings) == 1
    assert str(state.corrupt_file) in state.warnings[0]
    assert state.warnings[0].endswith("starting with no apps")
    # The device keeps working: the next change writes a fresh, valid file.
    state.set("line3", version="1.0")
    assert DesiredState(state_path).apps() == {"line3": AppDesired("1.0")}


def test_two_corrupt_files_in_one_second_are_both_kept(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(b"one")
    first = DesiredState(state_path).corrupt_file
    state_path.write_bytes(b"two")
    second = DesiredState(state_path).corrupt_file

    assert first != second
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"


CHILD_WRITES_FOREVER = """
import sys
from device_runtime.store.state import DesiredState

state = DesiredState(sys.argv[1])
# A large value makes each write long, so the kill lands inside one.
blob = "x" * 1_000_000
i = 0
while True:
    i += 1
    state.set("line3", version=f"{i}.0.0", running=i % 2 == 0, params={"i": i, "blob": blob})
    if i <= 3:
        print(i, flush=True)
"""


@pytest.mark.integration
def test_desired_state_killed_in_the_middle_of_a_write_loads_old_or_new_never_torn(
    state_path: Path,
) -> None:
    state_path.parent.mkdir(parents=True)

    def writing() -> bool:
        return any(state_path.parent.glob(".state.json.*.tmp"))

    kill_mid_write(CHILD_WRITES_FOREVER, [str(state_path)], writing)
    state = DesiredState(state_path)

    assert state.warnings == [] and state.corrupt_file is None
    assert not writing(), "the killed write's temp file was not cleaned up"
    desired = state.get("line3")
    i = desired.params["i"]
    assert i >= 3
    assert desired == AppDesired(f"{i}.0.0", i % 2 == 0, {"i": i, "blob": "x" * 1_000_000})
    assert json.loads(state_path.read_text())["apps"]["line3"]["params"]["i"] == i
