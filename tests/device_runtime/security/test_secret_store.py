"""The device's secret store keeps named secrets in a private file and never shows their values."""

from __future__ import annotations

import os
import stat

import pytest

from device_runtime.errors import FailedPrecondition, InvalidArgument
from device_runtime.security.secret_store import SecretStore


def test_secrets_survive_a_restart_in_a_file_only_the_owner_can_read(tmp_path):
    store = SecretStore(tmp_path)
    store.put_many({"camera/cam1/password": "pa/ss@w0rd", "output/mqtt/password": "t0ken"})

    again = SecretStore(tmp_path)
    assert again.get("camera/cam1/password") == "pa/ss@w0rd"
    assert again.names() == ["camera/cam1/password", "output/mqtt/password"]
    assert stat.S_IMODE(os.stat(again.path).st_mode) == 0o600


def test_a_store_readable_by_others_is_refused_with_the_fix(tmp_path):
    SecretStore(tmp_path).put("camera/cam1/password", "secret")
    os.chmod(tmp_path / "secrets.json", 0o644)

    with pytest.raises(FailedPrecondition, match="chmod 600"):
        SecretStore(tmp_path)


def test_values_never_appear_in_repr_or_missing_secret_errors(tmp_path):
    store = SecretStore(tmp_path)
    store.put("camera/cam1/password", "hunter2")

    assert "hunter2" not in repr(store)
    with pytest.raises(FailedPrecondition, match="camera/cam2/password") as err:
        store.require("camera/cam2/password")
    assert "hunter2" not in str(err.value)


def test_delete_forgets_a_secret_and_bad_names_are_refused(tmp_path):
    store = SecretStore(tmp_path)
    store.put_many({"a": "1", "b": "2"})
    store.delete("a", "unknown")
    assert SecretStore(tmp_path).names() == ["b"]

    with pytest.raises(InvalidArgument, match="control character"):
        store.put("bad\nname", "x")
    with pytest.raises(InvalidArgument, match="larger than"):
        store.put("big", "x" * 70_000)
    assert SecretStore(tmp_path).names() == ["b"]
