from __future__ import annotations

import pytest

from device_runtime.store.errors import InvalidName
from device_runtime.store.names import check_id, check_version


@pytest.mark.parametrize("value", ["line3", "PPE-Detector", "a", "cam_2.v1", "x" * 64])
def test_check_id_accepts_slugs(value: str) -> None:
    assert check_id("app id", value) == value


@pytest.mark.parametrize(
    "value", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "_meta", "-x", "a b", "x" * 65, "é"]
)
def test_check_id_refuses_anything_that_is_not_a_plain_file_name(value: str) -> None:
    with pytest.raises(InvalidName, match=r"app id .* is not allowed: use letters, digits"):
        check_id("app id", value)


def test_check_id_names_a_value_of_the_wrong_type() -> None:
    with pytest.raises(InvalidName, match="model name must be a string, got int 7"):
        check_id("model name", 7)


@pytest.mark.parametrize("value", ["1.0.0", "2.1.0-rc.1", "1.0.0+build.5", "v3"])
def test_check_version_accepts_semver_like_versions(value: str) -> None:
    assert check_version(value) == value


@pytest.mark.parametrize("value", ["", "..", "../1", "1/2", "+1", "1 0"])
def test_check_version_refuses_unsafe_versions(value: str) -> None:
    with pytest.raises(InvalidName, match="version .* is not allowed"):
        check_version(value)
