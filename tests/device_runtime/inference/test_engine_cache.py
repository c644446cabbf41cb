"""TensorRT engine cache: keys, rebuilds, estimates, progress and precision.

This machine has no TensorRT. The cache logic works on real folders and
files; TensorRT itself appears only as a stub where it is absent: a tiny
C library exporting ``getInferLibVersion`` (compiled here with gcc) for the
version probe, and a probe result that says TensorRT loads for the
fallback test (onnxruntime then really fails to start it). The GPU-marked
test at the end builds and reuses a real engine.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from device_runtime.inference import ModelSession
from device_runtime.inference import providers as providers_module
from device_runtime.inference.engine_cache import (
    BUILD_RECORD,
    EngineBuild,
    EngineCache,
    EngineKey,
    _library_version,
    choose_precision,
    has_fast_fp16,
    plan_engine,
)
from device_runtime.inference.providers import TENSORRT
from device_runtime.inference.settings import SessionSettings

ROOT = Path(__file__).resolve().parents[3]
DEMO_MODEL = ROOT / "resources" / "models" / "sightline-demo.onnx"
SHA_A = "a" * 64
SHA_B = "b" * 64


def _engine_file(cache: EngineCache, key: EngineKey) -> None:
    """What onnxruntime's TensorRT provider leaves after a build."""
    (cache.folder(key) / "TensorrtExecutionProvider_TRTKernel_graph_main_123.engine").write_bytes(b"plan")


def test_a_changed_model_tensorrt_version_or_precision_needs_a_new_engine(tmp_path):
    cache = EngineCache(tmp_path)
    built = EngineKey(SHA_A, "10.3.0", "fp16")
    _engine_file(cache, built)
    assert cache.is_built(built)
    assert not cache.is_built(EngineKey(SHA_B, "10.3.0", "fp16"))  # new model
    assert not cache.is_built(EngineKey(SHA_A, "10.7.0", "fp16"))  # JetPack upgrade
    assert not cache.is_built(EngineKey(SHA_A, "10.3.0", "fp32"))  # other precision
    assert built.folder_name == "aaaaaaaaaaaaaaaa-trt10.3.0-fp16"


def test_first_load_builds_with_an_estimate_and_the_next_load_reuses_it(tmp_path):
    cache = EngineCache(tmp_path)
    key = EngineKey(SHA_A, "10.3.0", "fp16")
    first = cache.start("widgets", key, model_bytes=6_000_000)
    assert first.state == "building"
    assert first.estimate_s == pytest.approx(30 + 20 * 6)  # nothing measured yet: the default
    _engine_file(cache, key)  # TensorRT wrote its engine
    cache.finish("widgets", key, 6_000_000, ok=True)
    [done] = cache.builds()
    assert done.state == "ready" and done.progress() == 1.0
    record = json.loads((cache.folder(key) / BUILD_RECORD).read_text())
    assert record["precision"] == "fp16" and record["tensorrt"] == "10.3.0"

    again = EngineCache(tmp_path).start("widgets", key, model_bytes=6_000_000)  # a restart
    assert again.state == "cached" and again.progress() == 1.0 and again.estimate_s == 0.0


def test_estimates_come_from_the_builds_this_device_already_did(tmp_path):
    cache = EngineCache(tmp_path)
    for sha, megabytes, seconds in ((SHA_A, 2.0, 100.0), (SHA_B, 4.0, 200.0)):
        folder = cache.folder(EngineKey(sha, "10.3.0", "fp16"))
        (folder / BUILD_RECORD).write_text(json.dumps({"model_mb": megabytes, "seconds": seconds}))
    assert cache.estimate_s(10_000_000) == pytest.approx(500.0)  # 50 s per MB here


def test_a_tensorrt_upgrade_removes_this_models_engines_that_can_no_longer_load(tmp_path):
    cache = EngineCache(tmp_path)
    old = EngineKey(SHA_A, "8.6.1", "fp16")
    other_model = EngineKey(SHA_B, "8.6.1", "fp16")
    for key in (old, other_model):
        _engine_file(cache, key)
    cache.start("widgets", EngineKey(SHA_A, "10.3.0", "fp16"), 1_000_000)
    assert not (tmp_path / old.folder_name).exists()
    assert cache.is_built(other_model)  # another model's engine waits for its own reload


def test_progress_follows_the_estimate_but_never_claims_done_while_building():
    build = EngineBuild("widgets", "fp16", "10.3.0", "building", started=1000.0, estimate_s=200.0)
    assert build.progress(now=1050.0) == pytest.approx(0.25)
    assert build.remaining_s(now=1050.0) == pytest.approx(150.0)
    assert build.progress(now=1400.0) == 0.95 and build.remaining_s(now=1400.0) == 0.0


@pytest.mark.parametrize(
    ("capability", "allowed", "precision"),
    [((8, 7), True, "fp16"),  # Jetson Orin
     ((7, 2), True, "fp16"),  # Jetson Xavier
     ((5, 3), True, "fp16"),  # Jetson Nano
     ((6, 1), True, "fp32"),  # GeForce 10xx: FP16 at 1/64 speed
     ((8, 6), False, "fp32"),  # the settings say no
     (None, True, "fp32")],
)
def test_fp16_is_the_default_where_the_gpu_runs_it_fast(capability, allowed, precision):
    assert choose_precision(allowed, capability) == precision
    assert has_fast_fp16(capability) == (capability is not None and capability != (6, 1))


@pytest.mark.parametrize(("number", "version"), [(100300, "10.3.0"), (8601, "8.6.1")])
def test_tensorrt_version_is_read_from_the_library(tmp_path, number, version):
    """Stub: TensorRT is absent here, so a library with its version function stands in."""
    source = tmp_path / "stub.c"
    source.write_text(f"int getInferLibVersion(void) {{ return {number}; }}\n")
    library = tmp_path / "libnvinfer_stub.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True, timeout=60)
    assert _library_version(str(library)) == version
    assert _library_version(str(tmp_path / "missing.so")) == ""


def test_without_tensorrt_no_engine_is_planned_and_the_model_runs_in_fp32(tmp_path):
    settings = SessionSettings(providers=("tensorrt", "cpu"), trt_cache_dir=str(tmp_path))
    assert plan_engine("demo", SHA_A, 1000, settings) is None  # TensorRT does not load here
    session = ModelSession(DEMO_MODEL, settings=settings)
    try:
        assert session.engine is None and session.precision == "fp32"
    finally:
        session.close()


def test_a_tensorrt_that_cannot_start_shows_a_failed_build_with_the_reason(tmp_path, monkeypatch):
    """Stub: the probe is told TensorRT loads; onnxruntime then really fails to start it here."""
    monkeypatch.setitem(providers_module._probe_results, TENSORRT, (True, ""))
    settings = SessionSettings(providers=("tensorrt", "cpu"), trt_cache_dir=str(tmp_path))
    session = ModelSession(DEMO_MODEL, name="demo", settings=settings)
    try:
        assert session.active_provider == "CPUExecutionProvider"
        assert session.engine is not None and session.precision == "fp32"
        [build] = [b for b in session.engine.cache.builds() if b.model == "demo"]
        assert build.state == "failed" and build.reason
        assert not (session.engine.folder / BUILD_RECORD).exists()
    finally:
        session.close()


@pytest.mark.gpu
def test_on_a_gpu_the_first_load_builds_an_engine_and_the_second_reuses_it(tmp_path):
    settings = SessionSettings(providers=("tensorrt", "cuda", "cpu"), trt_cache_dir=str(tmp_path))
    timings, states = [], []
    for _ in range(2):
        started = time.monotonic()
        session = ModelSession(DEMO_MODEL, name="demo", settings=settings)
        timings.append(time.monotonic() - started)
        assert session.active_provider == TENSORRT, session.provider_warning
        assert session.precision in ("fp16", "fp32")
        states += [b.state for b in session.engine.cache.builds() if b.model == "demo"]
        folder = session.engine.folder
        session.close()
    assert states == ["ready", "cached"], states
    assert any(folder.glob("*.engine"))
    assert timings[1] < timings[0], f"reusing the engine took {timings[1]:.1f} s, building {timings[0]:.1f} s"
