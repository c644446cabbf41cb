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
    )


def stream_state(supervisor: Any, camera_id: str) -> str:
    # An app's own preview stream is named "<app id>/<camera id>": its state is its camera's.
    source = supervisor.sources.get(camera_id) or supervisor.sources.get(camera_id.rpartition("/")[2])
    return source.state.value if source is not None else "stopped"


def health(device: Any) -> pb.Health:
    supervisor = device.supervisor
    sample = read_device_health()
    streams = [
        pb.StreamHealth(
            camera_id=stream.camera_id,
            url=stream.url,
            state=stream.state,
            state_reason=stream.state_reason,
            camera_fps=stream.camera_fps,
            inferred_fps=stream.inferred_fps,
            dropped_frames=stream.dropped_frames,
            inference_ms=stream.inference_ms,
            width=stream.width,
            height=stream.height,
        )
        for runner in supervisor.runners()
        for stream in runner.streams()
    ]
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
    )
