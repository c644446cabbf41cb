"""Execution-provider probing and choice, against the onnxruntime-gpu build installed here."""

from __future__ import annotations

import logging

import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from device_runtime.inference import providers
from device_runtime.inference.errors import ProviderConfigError
from device_runtime.inference.providers import (
    CPU,
    CUDA,
    PROBE_MODEL,
    TENSORRT,
    available_providers,
    clean_ort_message,
    create_session,
    forget_probes,
    nvidia_driver_problem,
    resolve_preference,
)


def quiet_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    return options


def test_embedded_probe_model_matches_a_fresh_onnx_build():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8, producer_name=""
    )
    assert model.SerializeToString() == PROBE_MODEL


def test_gpu_first_choice_reports_what_loaded_and_warns_with_the_reason_when_it_fell_back():
    session, choice = create_session(PROBE_MODEL, quiet_options())

    assert session.get_providers()[0] == choice.active
    assert choice.requested == (TENSORRT, CUDA, CPU)
    driver_problem = nvidia_driver_problem()
    if driver_problem:  # this machine: onnxruntime-gpu lists CUDA/TensorRT, but there is no GPU
        assert choice.active == CPU
        assert not choice.on_gpu
        assert choice.warning.startswith(driver_problem)
        for name in (TENSORRT, CUDA):
            assert f"{name} could not start" in choice.warning
        assert choice.warning.endswith(f"running on {CPU}")
        assert "\n" not in choice.warning
    else:  # a machine with a working NVIDIA driver must end up on the GPU
        assert choice.active in (TENSORRT, CUDA)
        assert choice.on_gpu


def test_probing_keeps_onnxruntime_noise_off_the_console(capfd):
    forget_probes()

    create_session(PROBE_MODEL, quiet_options())

    out, err = capfd.readouterr()
    for noise in ("EP Error", "[E:onnxruntime", "[W:onnxruntime", "Failed to load library"):
        assert noise not in out + err


def test_fallback_warning_is_logged_once_per_process(caplog):
    forget_probes()
    caplog.set_level(logging.WARNING, logger=providers.__name__)

    _, first = create_session(PROBE_MODEL, quiet_options())
    create_session(PROBE_MODEL, quiet_options())

    logged = [r.getMessage() for r in caplog.records if r.name == providers.__name__]
    assert logged == ([first.warning] if first.warning else [])


def test_forced_cpu_preference_runs_on_cpu_without_a_warning():
    session, choice = create_session(PROBE_MODEL, quiet_options(), ["cpu"])

    assert session.get_providers() == [CPU]
    assert choice.active == CPU
    assert choice.requested == (CPU,)
    assert choice.warning == ""


def test_preference_accepts_short_and_full_names_and_always_ends_with_cpu():
    assert resolve_preference(["CUDA"]) == (CUDA, CPU)
    assert resolve_preference(["trt", "CUDAExecutionProvider", "cuda"]) == (TENSORRT, CUDA, CPU)
    assert resolve_preference(None) == (TENSORRT, CUDA, CPU)


def test_unknown_provider_name_is_rejected_naming_it():
    with pytest.raises(ProviderConfigError, match="'gpu'.*expected one of"):
        resolve_preference(["gpu", "cpu"])


def test_available_providers_lists_only_those_that_load_here():
    loadable = available_providers()

    assert CPU in loadable
    for name in loadable:
        assert providers.probe_provider(name) == (True, "")
    if nvidia_driver_problem():
        assert CUDA not in loadable and TENSORRT not in loadable


def test_a_provider_missing_from_the_build_is_explained():
    ok, reason = providers.probe_provider("ROCMExecutionProvider")

    assert not ok
    assert f"not part of this onnxruntime {ort.__version__} build" in reason


def test_onnxruntime_messages_lose_error_codes_and_source_locations():
    raw = (
        "[ONNXRuntimeError] : 1 : FAIL : /onnxruntime_src/onnxruntime/core/graph/model.cc:256 "
        "onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::ModelOptions&) "
        "Unsupported model IR version: 14, max supported IR version: 13"
    )

    assert (
        clean_ort_message(raw) == "Unsupported model IR version: 14, max supported IR version: 13"
    )


# What onnxruntime-gpu 1.31 printed on this machine (no NVIDIA driver, no CUDA 13 libraries).
CUDA_LOG = (
    "\x1b[1;31m2026-11-21 00:08:07.9 [E:onnxruntime:Default, provider_bridge_ort.cc:2458 "
    "operator()] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 "
    "onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : "
    "Failed to load library /venv/onnxruntime/capi/libonnxruntime_providers_cuda.so with error: "
    "libcublasLt.so.13: cannot open shared object file: No such file or directory\n\x1b[m\n"
    "\x1b[0;93m2026-11-21 00:08:07.9 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:1295 "
    "CreateExecutionProviderFactoryInstance] Failed to create CUDAExecutionProvider. Require "
    "cuDNN 9.* and CUDA 13.*. Please install all dependencies as mentioned in the GPU "
    "requirements page.\x1b[m\n"
)


def test_a_provider_failure_is_explained_by_the_library_onnxruntime_could_not_load():
    reason = providers._failure_reason(CUDA, "", CUDA_LOG)

    expected = (
        "libonnxruntime_providers_cuda.so needs libcublasLt.so.13, which is missing; "
        "it requires cuDNN 9.* and CUDA 13.*"
    )
    assert reason.endswith(expected)
    assert reason == "; ".join(filter(None, [nvidia_driver_problem(), expected]))
