"""TensorRT engine cache: one folder per (model, TensorRT version, precision), and build progress.

Building a TensorRT engine takes minutes on a Jetson, so it must happen
once: onnxruntime's TensorRT provider writes the engine (and its timing
cache) into the folder it is given, and loads it from there next time. Its
own file names do not say which TensorRT built them, and an engine from
another TensorRT version does not load, so each engine gets a folder named
by what it depends on::

    <cache>/<model sha256[:16]>-trt<version>-<precision>/

A changed model or a TensorRT upgrade (JetPack update) gives a new folder,
hence a rebuild; the folders of the same model for older TensorRT versions
are removed then (they can never load again). ``build.json`` in a folder
records how long its build took; those times give the estimate shown while
the next model builds (TensorRT reports no progress through onnxruntime, so
progress is elapsed time over the estimate, capped below 100 % until done).

Precision: FP16 by default where the GPU computes FP16 at full speed
(compute capability 5.3, 6.0, 6.2 and 7.0 up: every Jetson, every Volta or
newer card; not consumer Pascal 6.1) and the settings do not forbid it;
FP32 otherwise. The precision in use is shown in device info.
"""

from __future__ import annotations

import ctypes
import functools
import json
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

BUILD_RECORD = "build.json"
# First build on a device, nothing measured yet: seconds per MB of model, plus a fixed part
# (a 6 MB YOLOv8n at FP16 takes 2-5 minutes on a Jetson Orin Nano, well under one on a desktop GPU).
DEFAULT_SECONDS_FIXED = 30.0
DEFAULT_SECONDS_PER_MB = 20.0


@dataclass(frozen=True)
class EngineKey:
    """What an engine depends on; its folder name says all three."""

    model_sha256: str
    tensorrt_version: str
    precision: str  # "fp16" or "fp32"

    @property
    def folder_name(self) -> str:
        return f"{self.model_sha256[:16]}-trt{self.tensorrt_version}-{self.precision}"


@functools.lru_cache(maxsize=1)
def tensorrt_version() -> str:
    """The TensorRT version onnxruntime would load here ("10.3.0"), or "" without TensorRT."""
    try:
        import tensorrt  # NVIDIA's Python package, where installed

        return str(tensorrt.__version__)
    except ImportError:
        pass
    for name in ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so", "nvinfer.dll"):
        version = _library_version(name)
        if version:
            return version
    return ""


def _library_version(name: str) -> str:
    """``getInferLibVersion()`` of the TensorRT library ``name`` as "major.minor.patch"."""
    try:
        library = ctypes.CDLL(name)
    except OSError:
        return ""
    try:
        function = library.getInferLibVersion
    except AttributeError:
        return ""
    function.restype = ctypes.c_int32
    number = int(function())
    # TensorRT 10 encodes major*10000 + minor*100 + patch; 8 and earlier major*1000 + minor*100 + patch.
    major = number // 10000 if number >= 10000 else number // 1000
    rest = number - major * (10000 if number >= 10000 else 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def has_fast_fp16(compute_capability: tuple[int, int] | None) -> bool:
    """Whether a GPU of this compute capability runs FP16 at full speed (or better)."""
    if compute_capability is None:
        return False
    return compute_capability in ((5, 3), (6, 0), (6, 2)) or compute_capability >= (7, 0)


@functools.lru_cache(maxsize=1)
def gpu_compute_capability() -> tuple[int, int] | None:
    """The first CUDA GPU's compute capability through the driver, or None without one."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    if driver.cuInit(0) != 0:
        return None
    device = ctypes.c_int(0)
    if driver.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return None
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    driver.cuDeviceGetAttribute(ctypes.byref(major), 75, device)  # COMPUTE_CAPABILITY_MAJOR
    driver.cuDeviceGetAttribute(ctypes.byref(minor), 76, device)  # COMPUTE_CAPABILITY_MINOR
    return major.value, minor.value


def choose_precision(fp16_allowed: bool, compute_capability: tuple[int, int] | None) -> str:
    """ "fp16" where allowed and fast on this GPU, else "fp32"."""
    return "fp16" if fp16_allowed and has_fast_fp16(compute_capability) else "fp32"


@dataclass(frozen=True)
class EngineBuild:
    """One model's engine on this device, as device info shows it."""

    model: str
    precision: str
    tensorrt_version: str
    state: str  # "building", "ready" (built now), "cached" (loaded from the cache), "failed"
    started: float  # time.time()
    estimate_s: float
    finished: float = 0.0
    reason: str = ""  # why it failed

    def elapsed_s(self, now: float | None = None) -> float:
        end = self.finished or (now if now is not None else time.time())
        return max(0.0, end - self.started)

    def progress(self, now: float | None = None) -> float:
        """0..1; while building, elapsed over estimate, held at 0.95 until TensorRT is done."""
        if self.state in ("ready", "cached"):
            return 1.0
        if self.state == "failed" or self.estimate_s <= 0:
            return 0.0
        return min(0.95, self.elapsed_s(now) / self.estimate_s)

    def remaining_s(self, now: float | None = None) -> float:
        if self.state != "building":
            return 0.0
        return max(0.0, self.estimate_s - self.elapsed_s(now))


class EngineCache:
    """The engine folders under ``root`` and the builds of this process."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._builds: dict[str, EngineBuild] = {}  # model name -> latest build

    def folder(self, key: EngineKey) -> Path:
        """The key's folder (made if missing)."""
        path = self.root / key.folder_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def is_built(self, key: EngineKey) -> bool:
        """Whether an engine for ``key`` is on disk (onnxruntime writes ``*.engine`` files)."""
        path = self.root / key.folder_name
        return path.is_dir() and any(path.glob("*.engine"))

    def remove_outdated(self, key: EngineKey) -> list[Path]:
        """Delete this model's folders built by other TensorRT versions (they cannot load); the removed."""
        prefix = key.model_sha256[:16] + "-trt"
        removed = []
        for path in self.root.glob(prefix + "*"):
            if path.is_dir() and not path.name.startswith(f"{prefix}{key.tensorrt_version}-"):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def estimate_s(self, model_bytes: int) -> float:
        """Seconds a build of a model this size should take here, from earlier builds' records."""
        rates = []
        for record in self.root.glob(f"*/{BUILD_RECORD}"):
            try:
                data = json.loads(record.read_text())
                rates.append(float(data["seconds"]) / max(float(data["model_mb"]), 0.1))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        megabytes = model_bytes / 1e6
        if rates:
            rates.sort()
            return max(1.0, rates[len(rates) // 2] * max(megabytes, 0.1))
        return DEFAULT_SECONDS_FIXED + DEFAULT_SECONDS_PER_MB * megabytes

    def start(self, model: str, key: EngineKey, model_bytes: int) -> EngineBuild:
        """Note that ``model`` is loading with ``key``: "cached" when its engine exists, else "building"."""
        cached = self.is_built(key)
        if not cached:
            self.remove_outdated(key)
        build = EngineBuild(
            model=model,
            precision=key.precision,
            tensorrt_version=key.tensorrt_version,
            state="cached" if cached else "building",
            started=time.time(),
            estimate_s=0.0 if cached else self.estimate_s(model_bytes),
        )
        with self._lock:
            self._builds[model] = build
        return build

    def finish(self, model: str, key: EngineKey, model_bytes: int, *, ok: bool, reason: str = "") -> None:
        """The load ended; a successful build is recorded for later estimates."""
        with self._lock:
            build = self._builds.get(model)
            if build is None:
                return
            now = time.time()
            if not ok:
                build = replace(build, state="failed", finished=now, reason=reason)
            elif build.state == "building":
                build = replace(build, state="ready", finished=now)
                record = {"model": model, "model_mb": model_bytes / 1e6, "seconds": build.elapsed_s(now),
                          "precision": key.precision, "tensorrt": key.tensorrt_version}
                (self.folder(key) / BUILD_RECORD).write_text(json.dumps(record))
            else:
                build = replace(build, finished=now)
            self._builds[model] = build

    def builds(self) -> list[EngineBuild]:
        """The latest build of every model loaded by this process, by model name."""
        with self._lock:
            return [self._builds[name] for name in sorted(self._builds)]


@dataclass
class EnginePlan:
    """A model loading on TensorRT: its key and folder, whether FP16 is on, and its build record."""

    model: str
    model_bytes: int
    key: EngineKey
    cache: EngineCache
    folder: Path = field(init=False)
    fp16: bool = field(init=False)

    def __post_init__(self) -> None:
        self.folder = self.cache.folder(self.key)
        self.fp16 = self.key.precision == "fp16"
        self.build = self.cache.start(self.model, self.key, self.model_bytes)

    def finish(self, *, ok: bool, reason: str = "") -> None:
        self.cache.finish(self.model, self.key, self.model_bytes, ok=ok, reason=reason)


_caches_lock = threading.Lock()
_caches: dict[Path, EngineCache] = {}


def cache_at(root: str | Path) -> EngineCache:
    """The process's :class:`EngineCache` for ``root`` (one per folder, shared by every session)."""
    path = Path(root).resolve()
    with _caches_lock:
        if path not in _caches:
            _caches[path] = EngineCache(path)
        return _caches[path]


def device_precision(fp16_allowed: bool = True) -> str:
    """The precision TensorRT engines get on this device ("fp16" or "fp32")."""
    return choose_precision(fp16_allowed, gpu_compute_capability())


def plan_engine(model: str, sha256: str, model_bytes: int, settings) -> EnginePlan | None:  # type: ignore[no-untyped-def]
    """The engine plan of a model about to load, or None when TensorRT will not be tried.

    TensorRT is tried when it is in the provider preference, loads here, and
    the settings name a cache folder.
    """
    from device_runtime.inference.providers import TENSORRT, probe_provider, resolve_preference

    if settings.trt_cache_dir is None or TENSORRT not in resolve_preference(settings.providers):
        return None
    if not probe_provider(TENSORRT)[0]:
        return None
    key = EngineKey(sha256, tensorrt_version() or "unknown", device_precision(settings.fp16))
    return EnginePlan(model, model_bytes, key, cache_at(settings.trt_cache_dir))
