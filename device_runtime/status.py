"""Device info and health, assembled for the API from the domain's parts."""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

from device_runtime import __version__
from device_runtime.health import read_device_health
from device_runtime.protocol.v1 import device_pb2 as pb

API_VERSION = "v1"


def _library_versions() -> dict[str, str]:
    import cv2
    import grpc
    import onnxruntime

    return {
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "grpcio": grpc.__version__,
    }


def device_info(device: Any) -> pb.DeviceInfo:
    hw = device.hardware
    providers = device.supervisor.registry.providers
    return pb.DeviceInfo(
        device_id=device.identity.device_id,
        name=device.config.name,
        runtime_version=__version__,
        api_version=API_VERSION,
        hardware=pb.Hardware(
            cpu_model=hw.get("cpu_model", ""),
            cpu_cores=int(hw.get("cpu_cores", 0)),
            memory_bytes=int(hw.get("memory_bytes", 0)),
            gpus=list(hw.get("gpus", [])),
            platform=hw.get("platform", sys.platform),
        ),
        available_providers=list(providers.available),
        active_provider=providers.active,
        provider_warning=providers.warning or "",
        cert_fingerprint=device.identity.fingerprint,
        versions=_library_versions(),
        **_video_decoding(),
        inference_precision=_precision(providers.active),
        engine_builds=engine_builds(device.supervisor),
    )


def engine_builds(supervisor: Any) -> list[pb.EngineBuild]:
    """The TensorRT engine of every model this device loaded, with its build progress."""
    from device_runtime.inference.engine_cache import cache_at

    cache_dir = supervisor.registry.settings.trt_cache_dir
    if cache_dir is None:
        return []
    now = time.time()
    return [
        pb.EngineBuild(
            model=build.model,
            precision=build.precision,
            tensorrt_version=build.tensorrt_version,
            state=build.state,
            progress=build.progress(now),
            estimate_s=build.estimate_s,
            remaining_s=build.remaining_s(now),
            reason=build.reason,
        )
        for build in cache_at(cache_dir).builds()
    ]


def _precision(active_provider: str) -> str:
    from device_runtime.inference.engine_cache import device_precision
    from device_runtime.inference.providers import TENSORRT

    return device_precision() if active_provider == TENSORRT else "fp32"


def _video_decoding() -> dict[str, Any]:
    from device_runtime.sources.gst_support import available_decoders, gstreamer_status

    status = gstreamer_status()
    return {
        "video_decoders": available_decoders(),
        "gstreamer": status.version if status.available else f"unavailable: {status.reason}",
    }


def stream_state(supervisor: Any, camera_id: str) -> str:
    source = supervisor.sources.get(camera_id)
    return source.state.value if source is not None else "stopped"


def health(device: Any) -> pb.Health:
    supervisor = device.supervisor
    sample = read_device_health()
    now = time.monotonic()
    streams = []
    for runner in supervisor.runners():
        for camera_id, worker in list(runner.workers.items()):
            source = worker.source
            streams.append(
                pb.StreamHealth(
                    camera_id=camera_id,
                    url=source.url,
                    state=source.state.value,
                    state_reason=source.state_reason or worker.error,
                    camera_fps=source.camera_fps,
                    inferred_fps=worker.stats.fps(now),
                    dropped_frames=worker.dropped,
                    inference_ms=worker.stats.inference_ms,
                    width=source.width or 0,
                    height=source.height or 0,
                    video_backend=getattr(source, "backend", ""),
                    decoder=getattr(source, "decoder", ""),
                )
            )
    device_health = pb.DeviceHealth(
        cpu_percent=sample.cpu_percent,
        memory_percent=sample.memory_percent,
        memory_used_bytes=sample.memory_used_bytes,
        uptime_s=sample.uptime_s,
    )
    for name in ("gpu_percent", "gpu_memory_percent", "temperature_c"):
        value = getattr(sample, name)
        if value is not None:
            setattr(device_health, name, value)
    providers = supervisor.registry.providers
    from device_runtime.rpc.mappers import app_status  # local: mappers import supervisor types

    return pb.Health(
        time=time.time(),
        device=device_health,
        streams=streams,
        apps=[app_status(v) for v in supervisor.list_apps()],
        active_provider=providers.active,
        provider_warning=providers.warning or "",
        engine_builds=engine_builds(supervisor),
    )
