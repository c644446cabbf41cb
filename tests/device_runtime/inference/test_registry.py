"""The registry of loaded models: sharing, reference counts, lookup by name."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from device_runtime.inference import (
    ModelConflictError,
    ModelLoadError,
    ModelRegistry,
    UnknownModelError,
    available_providers,
)
from device_runtime.inference.providers import CPU, nvidia_driver_problem
from tests.device_runtime.inference.helpers import LABELS
from tests.peers.onnx_models import make_constant_detector, make_two_input_model

DETECTIONS = [(10, 10, 50, 50, 0.9, 0)]


@pytest.fixture
def registry(settings):
    registry = ModelRegistry(settings)
    yield registry
    registry.close()


@pytest.fixture
def model_path(tmp_path):
    return make_constant_detector(tmp_path / "parts.onnx", "yolov8", DETECTIONS)


def test_two_apps_acquiring_the_same_model_share_one_session(registry, model_path):
    first = registry.acquire("parts", model_path, labels=LABELS)
    second = registry.acquire("parts", model_path.read_bytes(), labels=LABELS)

    assert second is first
    assert [(use.name, use.users) for use in registry.models()] == [("parts", 2)]


def test_the_session_is_unloaded_when_the_last_holder_releases_it(registry, model_path):
    first = registry.acquire("parts", model_path)
    registry.acquire("parts", model_path)

    registry.release(first)
    assert not first.closed
    registry.release(first)

    assert first.closed
    assert registry.models() == []
    with pytest.raises(UnknownModelError):
        registry.get("parts")


def test_code_apps_call_a_shared_model_by_name_with_raw_inputs(registry, tmp_path):
    registry.acquire("adder", make_two_input_model(tmp_path / "adder.onnx"), decoder="raw")
    ones = np.ones((1, 4), np.float32)

    total, product = registry.get("adder").run_raw({"a": ones, "b": ones * 3})

    assert total.tolist() == [[4.0] * 4]
    assert product.tolist() == [[3.0] * 4]


def test_an_unknown_name_raises_a_key_error_listing_the_loaded_models(registry, model_path):
    registry.acquire("parts", model_path)

    with pytest.raises(KeyError) as raised:
        registry.get("people")

    assert isinstance(raised.value, UnknownModelError)
    assert str(raised.value) == "no model named 'people' is loaded (loaded models: 'parts')"


def test_a_new_version_under_the_same_name_loads_beside_the_old_and_wins_lookups(
    registry, tmp_path, model_path
):
    old = registry.acquire("parts", model_path)
    newer_bytes = make_constant_detector(None, "yolov8", [(0, 0, 9, 9, 0.5, 1)])

    new = registry.acquire("parts", newer_bytes)

    assert new is not old
    assert new.sha256 != old.sha256
    assert registry.get("parts") is new
    registry.release(new)
    assert registry.get("parts") is old


def test_the_same_model_with_other_labels_or_decoder_is_a_conflict(registry, model_path):
    registry.acquire("parts", model_path, labels=LABELS)

    with pytest.raises(
        ModelConflictError,
        match=r"'parts' .* already loaded with decoder auto, 3 labels.*asked for decoder yolov5, no labels",
    ):
        registry.acquire("parts", model_path, decoder="yolov5")


def test_concurrent_first_acquires_load_the_model_once(registry, model_path):
    start = threading.Barrier(4)
    sessions = []

    def app() -> None:
        start.wait(timeout=10)
        sessions.append(registry.acquire("parts", model_path))

    threads = [threading.Thread(target=app) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(sessions) == 4
    assert all(session is sessions[0] for session in sessions)
    assert registry.models()[0].users == 4


def test_a_model_that_fails_to_load_is_not_kept(registry, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00not a model")

    with pytest.raises(ModelLoadError, match="broken.onnx: not a valid ONNX model"):
        registry.acquire("broken", broken)

    assert registry.models() == []
    with pytest.raises(UnknownModelError):
        registry.get("broken")


def test_releasing_a_session_the_registry_does_not_hold_is_an_error(registry, model_path):
    session = registry.acquire("parts", model_path)
    registry.release(session)

    with pytest.raises(UnknownModelError, match="'parts' .* is not held in this registry"):
        registry.release(session)


def test_the_device_reports_its_provider_before_any_model_loads(registry):
    status = registry.providers

    assert status.available == tuple(available_providers())
    assert status.active in status.available
    if nvidia_driver_problem():  # this machine: GPU providers listed but unusable
        assert status.active == CPU
        assert status.warning.endswith(f"running on {CPU}")


def test_a_forced_cpu_preference_and_cache_dir_reach_every_session(tmp_path, model_path):
    registry = ModelRegistry(providers=["cpu"], cache_dir=tmp_path / "trt-cache")

    session = registry.acquire("parts", model_path)

    assert registry.settings.trt_cache_dir == str(tmp_path / "trt-cache")
    assert session.provider_choice.requested == (CPU,)
    assert (registry.providers.active, registry.providers.warning) == (CPU, "")
    registry.close()
