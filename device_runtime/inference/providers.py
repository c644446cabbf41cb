"""Choose onnxruntime execution providers by probing what actually loads.

``onnxruntime-gpu`` lists TensorRT and CUDA as *available* even on a machine
with no NVIDIA driver; asking for them there prints screens of errors and then
quietly runs on the CPU. So every provider is probed once per process with a
tiny model, with onnxruntime's own output captured (it is the best account of
why a provider failed), and sessions are then created GPU-first from the
providers that passed. Ending up on a slower provider than the one asked for is
never silent: the :class:`ProviderChoice` carries one warning sentence with the
reason, which the API reports and health shows.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from device_runtime.inference.errors import ProviderConfigError

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

#: Short names accepted in a preference list (case-insensitive); full
#: onnxruntime names are accepted as they are.
ALIASES = {
    "tensorrt": TENSORRT,
    "trt": TENSORRT,
    "cuda": CUDA,
    "cpu": CPU,
    "openvino": "OpenVINOExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "rocm": "ROCMExecutionProvider",
}

#: GPU first: TensorRT (fastest, builds engines), then CUDA, then CPU.
DEFAULT_PREFERENCE = ("tensorrt", "cuda", "cpu")

_NVIDIA_PROVIDERS = (TENSORRT, CUDA)

# A one-node model (y = Relu(x), x: float[1]; IR 8, opset 13), serialised with
# onnx.helper. Embedded because the `onnx` package is a development dependency
# only; tests/device_runtime/inference/test_providers.py rebuilds it and
# checks these bytes still match.
PROBE_MODEL = (
    b'\x08\x08\x12\x00:7\n\x0c\n\x01x\x12\x01y"\x04Relu\x12\x05probe'
    b"Z\x0f\n\x01x\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01"
    b"b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01B\x04\n\x00\x10\r"
)

ModelSource = str | bytes | os.PathLike


@dataclass(frozen=True)
class ProviderChoice:
    """What a session asked for and what it got.

    ``active`` is the provider that runs the model (the first one registered);
    ``providers`` all that registered, in priority order; ``requested`` the
    resolved preference; ``warning`` is empty unless a provider ranked above
    ``active`` was requested and could not start, and then says which and why.
    """

    active: str
    providers: tuple[str, ...]
    requested: tuple[str, ...]
    warning: str = ""
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def on_gpu(self) -> bool:
        """True when an NVIDIA provider runs the model."""
        return self.active in _NVIDIA_PROVIDERS


@dataclass(frozen=True)
class ProviderStatus:
    """What the device reports: providers that load here, the one inference uses, and why not better."""

    available: tuple[str, ...]
    active: str
    warning: str = ""


def device_provider_status(preference: Sequence[str] | None = None) -> ProviderStatus:
    """The provider a model would get under ``preference``, before any model is loaded.

    Creates a session for the one-node probe model the same way models are
    loaded, so the answer (and its warning) is the one sessions will see.
    """
    _, choice = create_session(PROBE_MODEL, _quiet_options(), preference)
    return ProviderStatus(tuple(available_providers()), choice.active, choice.warning)


def compiled_providers() -> list[str]:
    """Providers this onnxruntime build ships (not necessarily loadable here)."""
    return list(ort.get_available_providers())


def available_providers() -> list[str]:
    """Providers that actually load and run here, in onnxruntime's priority order."""
    return [name for name in compiled_providers() if probe_provider(name)[0]]


def resolve_preference(preference: Sequence[str] | None) -> tuple[str, ...]:
    """Map a preference list (``["cuda", "cpu"]``) to onnxruntime provider names.

    ``None`` or empty means :data:`DEFAULT_PREFERENCE`. The CPU provider is
    appended when missing: a model must run somewhere.
    """
    known = set(ort.get_all_providers())
    resolved: list[str] = []
    for raw in preference or DEFAULT_PREFERENCE:
        name = ALIASES.get(str(raw).strip().lower(), str(raw).strip())
        if name not in known:
            choices = ", ".join(sorted(set(ALIASES)))
            raise ProviderConfigError(
                f"unknown execution provider {raw!r} in the provider preference; expected one of "
                f"{choices} or a full onnxruntime name such as {CUDA}"
            )
        if name not in resolved:
            resolved.append(name)
    if CPU not in resolved:
        resolved.append(CPU)
    return tuple(resolved)


def provider_options(name: str, *, trt_cache_dir: str | os.PathLike | None, fp16: bool) -> dict:
    """Options onnxruntime gets for provider ``name``.

    TensorRT builds an engine per model and input shape, which takes minutes on
    a Jetson; the persistent engine and timing caches make that a one-time cost.
    """
    if name != TENSORRT:
        return {}
    options = {"trt_fp16_enable": "True" if fp16 else "False"}
    if trt_cache_dir is not None:
        cache = Path(trt_cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        options.update(
            trt_engine_cache_enable="True",
            trt_engine_cache_path=str(cache),
            trt_timing_cache_enable="True",
            trt_timing_cache_path=str(cache),
        )
    return options


_probe_lock = threading.Lock()
_probe_results: dict[str, tuple[bool, str]] = {}


def probe_provider(name: str) -> tuple[bool, str]:
    """Whether provider ``name`` loads and runs a tiny model here, and why not.

    Runs once per provider per process (the answer cannot change without a
    restart: the libraries are loaded or they are not). Returns ``(True, "")``
    or ``(False, reason)``.
    """
    with _probe_lock:
        if name not in _probe_results:
            _probe_results[name] = _probe_uncached(name)
        return _probe_results[name]


def forget_probes() -> None:
    """Drop cached probe results and logged warnings, so the next session probes afresh.

    For tests, and for a runtime that installed GPU drivers without restarting.
    """
    with _probe_lock:
        _probe_results.clear()
    with _warned_lock:
        _warned.clear()
    nvidia_driver_problem.cache_clear()


def _probe_uncached(name: str) -> tuple[bool, str]:
    if name == CPU:
        return True, ""
    if name not in ort.get_available_providers():
        hint = " (install onnxruntime-gpu)" if name in _NVIDIA_PROVIDERS else ""
        return False, f"not part of this onnxruntime {ort.__version__} build{hint}"
    error = ""
    loaded = False
    with capture_process_output() as captured:
        try:
            session = ort.InferenceSession(
                PROBE_MODEL,
                _quiet_options(),
                providers=[name, CPU],
                enable_fallback=0,
            )
            loaded = session.get_providers()[0] == name
            if loaded:
                session.run(None, {"x": np.ones(1, dtype=np.float32)})
        except Exception as exc:  # any failure means "does not load"; the text says why
            error = str(exc)
            loaded = False
    if captured.text.strip():
        log.debug("onnxruntime output while probing %s:\n%s", name, captured.text)
    if loaded:
        return True, ""
    return False, _failure_reason(name, error, captured.text)


def _quiet_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; our own message replaces the rest
    return options


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOAD_FAILURE = re.compile(r"Failed to load library (\S+) with error: ([^\n]+)")
_MISSING_LIBRARY = re.compile(r"(\S+): cannot open shared object file")
_REQUIREMENT = re.compile(r"Failed to create (\w+)\. Require (.+?)\. Please")
_ORT_PREFIX = re.compile(r"\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*")
_SOURCE_LOCATION = re.compile(r"/onnxruntime_src/\S+:\d+ [^\n]*?\) ")


def clean_ort_message(text: str) -> str:
    """onnxruntime's exception text without the code prefix and C++ source locations."""
    text = _ANSI.sub("", str(text))
    text = _ORT_PREFIX.sub("", text)
    text = _SOURCE_LOCATION.sub("", text)
    return " ".join(text.split())


def _failure_reason(name: str, error: str, output: str) -> str:
    parts: list[str] = []
    if name in _NVIDIA_PROVIDERS:
        driver = nvidia_driver_problem()
        if driver:
            parts.append(driver)
    output = _ANSI.sub("", output)
    key = {TENSORRT: "tensorrt", CUDA: "cuda"}.get(
        name, name.replace("ExecutionProvider", "").lower()
    )
    library_reason = False
    for library, why in _LOAD_FAILURE.findall(output):
        library = os.path.basename(library)
        if key in library.lower():
            library_reason = True
            missing = _MISSING_LIBRARY.match(why.strip())
            if missing:
                parts.append(f"{library} needs {missing.group(1)}, which is missing")
            else:
                parts.append(f"{library} cannot load: {why.strip()}")
            break
    requirement = next((m for m in _REQUIREMENT.finditer(output) if m.group(1) == name), None)
    if requirement:
        parts.append(f"it requires {requirement.group(2)}")
    if error and not library_reason:
        parts.append(clean_ort_message(error))
    if not parts:
        parts.append("onnxruntime did not register it and gave no reason")
    return "; ".join(parts)


@functools.lru_cache(maxsize=1)
def nvidia_driver_problem() -> str:
    """Empty when the NVIDIA driver loads and sees a GPU; otherwise what is missing."""
    if sys.platform == "darwin":
        return "macOS has no NVIDIA CUDA driver"
    library = "nvcuda.dll" if os.name == "nt" else "libcuda.so.1"
    try:
        driver = ctypes.CDLL(library)
    except OSError:
        return f"no NVIDIA driver found ({library} cannot be loaded)"
    status = driver.cuInit(0)
    if status != 0:
        name = ctypes.c_char_p()
        driver.cuGetErrorName(status, ctypes.byref(name))
        label = name.value.decode() if name.value else f"error {status}"
        return f"the NVIDIA driver cannot start CUDA (cuInit: {label})"
    count = ctypes.c_int(0)
    driver.cuDeviceGetCount(ctypes.byref(count))
    if count.value == 0:
        return "the NVIDIA driver sees no GPU"
    return ""


class CapturedOutput:
    """Text written to stdout/stderr (Python and native) inside :func:`capture_process_output`."""

    text = ""


@contextlib.contextmanager
def capture_process_output() -> Iterator[CapturedOutput]:
    """Send everything written to fds 1 and 2 (and sys.stdout/err) into a buffer.

    onnxruntime logs provider failures from C++ straight to the process's
    stderr, bypassing Python. Capturing at the file-descriptor level is the
    only way to keep them off the console and read the reason. It is process
    wide, so it is used only around the short, once-per-process probes; what
    it caught is logged at DEBUG level, not lost.
    """
    captured = CapturedOutput()
    python_out, python_err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile() as sink:
        _flush_standard_streams()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:  # no fds 1/2 (a windowed process): nothing to hide output from
            saved = None
        try:
            if saved:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(python_out), contextlib.redirect_stderr(python_err):
                yield captured
        finally:
            _flush_standard_streams()
            if saved:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
            sink.seek(0)
            native = sink.read().decode("utf-8", errors="replace")
            captured.text = native + python_out.getvalue() + python_err.getvalue()


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


def create_session(
    model: ModelSource,
    options: ort.SessionOptions,
    preference: Sequence[str] | None = None,
    *,
    trt_cache_dir: str | os.PathLike | None = None,
    fp16: bool = True,
) -> tuple[ort.InferenceSession, ProviderChoice]:
    """Create an onnxruntime session on the best provider that works for this model.

    Providers that failed the process-wide probe are skipped. One that passed
    the probe can still fail on a particular model (TensorRT cannot build every
    graph); then it is dropped, its error becomes the reason, and the next one
    is tried. When even the CPU provider fails the model itself is at fault and
    that exception propagates for the caller to describe.
    """
    requested = resolve_preference(preference)
    failures: dict[str, str] = {}
    candidates: list[str] = []
    for name in requested:
        ok, reason = probe_provider(name)
        if ok:
            candidates.append(name)
        else:
            failures[name] = reason
    while True:
        providers = [
            (name, provider_options(name, trt_cache_dir=trt_cache_dir, fp16=fp16))
            for name in candidates
        ]
        try:
            session = ort.InferenceSession(model, options, providers=providers, enable_fallback=0)
            break
        except Exception as exc:
            gpu_candidates = [name for name in candidates if name != CPU]
            if not gpu_candidates:
                raise
            failures[gpu_candidates[0]] = clean_ort_message(str(exc))
            candidates.remove(gpu_candidates[0])
    registered = tuple(session.get_providers())
    active = registered[0]
    for name in candidates:
        if name not in registered:
            failures.setdefault(name, "onnxruntime did not register it and gave no reason")
    warning = _fallback_warning(requested, active, failures)
    if warning:
        _warn_once(warning)
    return session, ProviderChoice(active, registered, requested, warning, failures)


def _fallback_warning(requested: tuple[str, ...], active: str, failures: dict[str, str]) -> str:
    ranked_above = requested[: requested.index(active)] if active in requested else requested
    failed = [name for name in ranked_above if name in failures]
    if not failed:
        return ""
    # The missing driver is usually the one root cause; say it once, up front.
    driver = nvidia_driver_problem() if any(n in _NVIDIA_PROVIDERS for n in failed) else ""
    reasons = []
    for name in failed:
        reason = failures[name]
        if driver and reason.startswith(driver):
            reason = reason[len(driver) :].lstrip("; ")
        reasons.append(f"{name} could not start" + (f" ({reason})" if reason else ""))
    lead = f"{driver}: " if driver else ""
    return f"{lead}{'; '.join(reasons)}; running on {active}"


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    # Every model load would repeat the same sentence; the log needs it once.
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("%s", message)
