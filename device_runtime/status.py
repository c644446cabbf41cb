"""Device info and health, assembled for the API from the domain's parts."""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

from device_runtime import __version__
from device_runtime.health import read_device_health
from device_runtime.panorama.dependencies import python_environment
from device_runtime.protocol.v1 import device_pb2 as pb
from device_runtime.types import StreamState

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
        python=pb.PythonEnvironment(**python_environment()),
    )


#: Markers of the refusals our RTSP diagnosis reports (device_runtime/sources/rtsp_diagnose.py).
_AUTH_REFUSALS = ("(401 Unauthorized)", "(403 Forbidden)")


def camera_availability(state: str, reason: str) -> str:
    """A stream's state as a camera's availability: online, connecting, offline or auth_failed.

    A camera that refused the credentials ends FAILED (retrying could lock the
    account) with the 401/403 named in its reason; any other failure, a stall or a
    reconnect is offline.
    """
    if state == StreamState.LIVE.value:
        return "online"
    if state == StreamState.CONNECTING.value:
        return "connecting"
    if state == StreamState.FAILED.value and any(marker in reason for marker in _AUTH_REFUSALS):
        return "auth_failed"
    return "offline"


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
            availability=camera_availability(stream.state, stream.state_reason),
            video_backend=stream.video_backend,
            decoder=stream.decoder,
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
        outputs=[output_health(o) for o in supervisor.outputs.statuses()],
        engine_builds=engine_builds(supervisor),
    )


def output_health(status: Any) -> pb.OutputHealth:
    """One output's delivery state (an ``OutputStatus``) as the API reports it."""
    c = status.counters
    return pb.OutputHealth(
        app_id=status.app_id,
        name=status.name,
        kind=status.kind,
        state=status.state,
        delivered=c.delivered,
        queued=c.queued,
        failed=c.failed,
        dropped=c.dropped,
        suppressed=c.suppressed,
        last_error=c.last_error,
        last_error_time=c.last_error_time,
        last_delivered_time=c.last_delivered_time,
        oldest_queued_time=c.oldest_queued_time,
        queued_bytes=c.queued_bytes,
        latency_p50_ms=status.latency_ms.get("p50", 0.0),
        latency_p99_ms=status.latency_ms.get("p99", 0.0),
    )
