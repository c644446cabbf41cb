from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Hardware(_message.Message):
    __slots__ = ("cpu_model", "cpu_cores", "memory_bytes", "gpus", "platform")
    CPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    cpu_model: str
    cpu_cores: int
    memory_bytes: int
    gpus: _containers.RepeatedScalarFieldContainer[str]
    platform: str
    def __init__(self, cpu_model: _Optional[str] = ..., cpu_cores: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., gpus: _Optional[_Iterable[str]] = ..., platform: _Optional[str] = ...) -> None: ...

class DeviceInfo(_message.Message):
    __slots__ = ("device_id", "name", "runtime_version", "api_version", "hardware", "available_providers", "active_provider", "provider_warning", "cert_fingerprint", "caller_paired", "versions", "video_decoders", "gstreamer", "inference_precision", "engine_builds", "python")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_WARNING_FIELD_NUMBER: _ClassVar[int]
    CERT_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CALLER_PAIRED_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    VIDEO_DECODERS_FIELD_NUMBER: _ClassVar[int]
    GSTREAMER_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_PRECISION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_BUILDS_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    name: str
    runtime_version: str
    api_version: str
    hardware: Hardware
    available_providers: _containers.RepeatedScalarFieldContainer[str]
    active_provider: str
    provider_warning: str
    cert_fingerprint: str
    caller_paired: bool
    versions: _containers.ScalarMap[str, str]
    video_decoders: _containers.RepeatedScalarFieldContainer[str]
    gstreamer: str
    inference_precision: str
    engine_builds: _containers.RepeatedCompositeFieldContainer[EngineBuild]
    python: PythonEnvironment
    def __init__(self, device_id: _Optional[str] = ..., name: _Optional[str] = ..., runtime_version: _Optional[str] = ..., api_version: _Optional[str] = ..., hardware: _Optional[_Union[Hardware, _Mapping]] = ..., available_providers: _Optional[_Iterable[str]] = ..., active_provider: _Optional[str] = ..., provider_warning: _Optional[str] = ..., cert_fingerprint: _Optional[str] = ..., caller_paired: _Optional[bool] = ..., versions: _Optional[_Mapping[str, str]] = ..., video_decoders: _Optional[_Iterable[str]] = ..., gstreamer: _Optional[str] = ..., inference_precision: _Optional[str] = ..., engine_builds: _Optional[_Iterable[_Union[EngineBuild, _Mapping]]] = ..., python: _Optional[_Union[PythonEnvironment, _Mapping]] = ...) -> None: ...

class PythonEnvironment(_message.Message):
    __slots__ = ("version", "implementation", "platforms", "packages")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMPLEMENTATION_FIELD_NUMBER: _ClassVar[int]
    PLATFORMS_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    version: str
    implementation: str
    platforms: _containers.RepeatedScalarFieldContainer[str]
    packages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[str] = ..., implementation: _Optional[str] = ..., platforms: _Optional[_Iterable[str]] = ..., packages: _Optional[_Iterable[str]] = ...) -> None: ...

class EngineBuild(_message.Message):
    __slots__ = ("model", "precision", "tensorrt_version", "state", "progress", "estimate_s", "remaining_s", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    TENSORRT_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_S_FIELD_NUMBER: _ClassVar[int]
    REMAINING_S_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    precision: str
    tensorrt_version: str
    state: str
    progress: float
    estimate_s: float
    remaining_s: float
    reason: str
    def __init__(self, model: _Optional[str] = ..., precision: _Optional[str] = ..., tensorrt_version: _Optional[str] = ..., state: _Optional[str] = ..., progress: _Optional[float] = ..., estimate_s: _Optional[float] = ..., remaining_s: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class PairRequest(_message.Message):
    __slots__ = ("code", "client_name", "csr_pem", "signing_public_key")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    code: str
    client_name: str
    csr_pem: str
    signing_public_key: bytes
    def __init__(self, code: _Optional[str] = ..., client_name: _Optional[str] = ..., csr_pem: _Optional[str] = ..., signing_public_key: _Optional[bytes] = ...) -> None: ...

class PairResponse(_message.Message):
    __slots__ = ("client_cert_pem", "device_cert_pem", "device_id")
    CLIENT_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    DEVICE_CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    client_cert_pem: str
    device_cert_pem: str
    device_id: str
    def __init__(self, client_cert_pem: _Optional[str] = ..., device_cert_pem: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class WatchHealthRequest(_message.Message):
    __slots__ = ("interval_s",)
    INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    interval_s: float
    def __init__(self, interval_s: _Optional[float] = ...) -> None: ...

class DeviceHealth(_message.Message):
    __slots__ = ("cpu_percent", "memory_percent", "memory_used_bytes", "gpu_percent", "gpu_memory_percent", "temperature_c", "uptime_s")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    GPU_MEMORY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    memory_percent: float
    memory_used_bytes: int
    gpu_percent: float
    gpu_memory_percent: float
    temperature_c: float
    uptime_s: float
    def __init__(self, cpu_percent: _Optional[float] = ..., memory_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., gpu_percent: _Optional[float] = ..., gpu_memory_percent: _Optional[float] = ..., temperature_c: _Optional[float] = ..., uptime_s: _Optional[float] = ...) -> None: ...

class StreamHealth(_message.Message):
    __slots__ = ("camera_id", "url", "state", "state_reason", "camera_fps", "inferred_fps", "dropped_frames", "inference_ms", "width", "height", "availability", "video_backend", "decoder")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FPS_FIELD_NUMBER: _ClassVar[int]
    INFERRED_FPS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FRAMES_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_MS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    VIDEO_BACKEND_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    url: str
    state: str
    state_reason: str
    camera_fps: float
    inferred_fps: float
    dropped_frames: int
    inference_ms: float
    width: int
    height: int
    availability: str
    video_backend: str
    decoder: str
    def __init__(self, camera_id: _Optional[str] = ..., url: _Optional[str] = ..., state: _Optional[str] = ..., state_reason: _Optional[str] = ..., camera_fps: _Optional[float] = ..., inferred_fps: _Optional[float] = ..., dropped_frames: _Optional[int] = ..., inference_ms: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., availability: _Optional[str] = ..., video_backend: _Optional[str] = ..., decoder: _Optional[str] = ...) -> None: ...

class Health(_message.Message):
    __slots__ = ("time", "device", "streams", "apps", "active_provider", "provider_warning", "outputs", "engine_builds")
    TIME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    APPS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_WARNING_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_BUILDS_FIELD_NUMBER: _ClassVar[int]
    time: float
    device: DeviceHealth
    streams: _containers.RepeatedCompositeFieldContainer[StreamHealth]
    apps: _containers.RepeatedCompositeFieldContainer[AppStatus]
    active_provider: str
    provider_warning: str
    outputs: _containers.RepeatedCompositeFieldContainer[OutputHealth]
    engine_builds: _containers.RepeatedCompositeFieldContainer[EngineBuild]
    def __init__(self, time: _Optional[float] = ..., device: _Optional[_Union[DeviceHealth, _Mapping]] = ..., streams: _Optional[_Iterable[_Union[StreamHealth, _Mapping]]] = ..., apps: _Optional[_Iterable[_Union[AppStatus, _Mapping]]] = ..., active_provider: _Optional[str] = ..., provider_warning: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[OutputHealth, _Mapping]]] = ..., engine_builds: _Optional[_Iterable[_Union[EngineBuild, _Mapping]]] = ...) -> None: ...

class OutputHealth(_message.Message):
    __slots__ = ("app_id", "name", "kind", "state", "delivered", "queued", "failed", "dropped", "suppressed", "last_error", "last_error_time", "last_delivered_time", "oldest_queued_time", "queued_bytes", "latency_p50_ms", "latency_p99_ms")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_DELIVERED_TIME_FIELD_NUMBER: _ClassVar[int]
    OLDEST_QUEUED_TIME_FIELD_NUMBER: _ClassVar[int]
    QUEUED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    kind: str
    state: str
    delivered: int
    queued: int
    failed: int
    dropped: int
    suppressed: int
    last_error: str
    last_error_time: float
    last_delivered_time: float
    oldest_queued_time: float
    queued_bytes: int
    latency_p50_ms: float
    latency_p99_ms: float
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., delivered: _Optional[int] = ..., queued: _Optional[int] = ..., failed: _Optional[int] = ..., dropped: _Optional[int] = ..., suppressed: _Optional[int] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[float] = ..., last_delivered_time: _Optional[float] = ..., oldest_queued_time: _Optional[float] = ..., queued_bytes: _Optional[int] = ..., latency_p50_ms: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ...) -> None: ...

class AppRef(_message.Message):
    __slots__ = ("app_id",)
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    def __init__(self, app_id: _Optional[str] = ...) -> None: ...

class AppStatus(_message.Message):
    __slots__ = ("app_id", "name", "kind", "version", "state", "error", "versions", "params_json", "camera_ids", "model", "manifest_json", "nodes")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    CAMERA_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_JSON_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    name: str
    kind: str
    version: str
    state: str
    error: str
    versions: _containers.RepeatedScalarFieldContainer[str]
    params_json: str
    camera_ids: _containers.RepeatedScalarFieldContainer[str]
    model: str
    manifest_json: str
    nodes: _containers.RepeatedCompositeFieldContainer[CodeNodeStatus]
    def __init__(self, app_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., version: _Optional[str] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., versions: _Optional[_Iterable[str]] = ..., params_json: _Optional[str] = ..., camera_ids: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., manifest_json: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[CodeNodeStatus, _Mapping]]] = ...) -> None: ...

class CodeNodeStatus(_message.Message):
    __slots__ = ("name", "state", "pid", "crashes", "last_traceback", "results_per_s")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    CRASHES_FIELD_NUMBER: _ClassVar[int]
    LAST_TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    RESULTS_PER_S_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    pid: int
    crashes: int
    last_traceback: str
    results_per_s: float
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., pid: _Optional[int] = ..., crashes: _Optional[int] = ..., last_traceback: _Optional[str] = ..., results_per_s: _Optional[float] = ...) -> None: ...

class ListAppsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAppsResponse(_message.Message):
    __slots__ = ("apps",)
    APPS_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[AppStatus]
    def __init__(self, apps: _Optional[_Iterable[_Union[AppStatus, _Mapping]]] = ...) -> None: ...

class RemoveAppResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("app_id", "version")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    version: str
    def __init__(self, app_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class SetParamsRequest(_message.Message):
    __slots__ = ("app_id", "params_json")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    params_json: str
    def __init__(self, app_id: _Optional[str] = ..., params_json: _Optional[str] = ...) -> None: ...

class SetCameraPausedRequest(_message.Message):
    __slots__ = ("app_id", "camera_id", "paused")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    camera_id: str
    paused: bool
    def __init__(self, app_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., paused: _Optional[bool] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("filename", "size", "sha256", "name", "labels", "decoder", "signature", "secrets")
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size: int
    sha256: str
    name: str
    labels: str
    decoder: str
    signature: bytes
    secrets: _containers.ScalarMap[str, str]
    def __init__(self, filename: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., name: _Optional[str] = ..., labels: _Optional[str] = ..., decoder: _Optional[str] = ..., signature: _Optional[bytes] = ..., secrets: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ("name", "shape", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    type: str
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., type: _Optional[str] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "sha256", "size", "inputs", "outputs", "decoder", "labels", "used_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    USED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    size: int
    inputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    decoder: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    used_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., inputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., decoder: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., used_by: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class RemoveModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("app_id", "replay")
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    app_id: str
    replay: int
    def __init__(self, app_id: _Optional[str] = ..., replay: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "time", "app_id", "camera_id", "type", "label", "track_id", "zone", "line", "direction", "count", "snapshot_id", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: str
    time: float
    app_id: str
    camera_id: str
    type: str
    label: str
    track_id: int
    zone: str
    line: str
    direction: str
    count: int
    snapshot_id: str
    detail: str
    def __init__(self, id: _Optional[str] = ..., time: _Optional[float] = ..., app_id: _Optional[str] = ..., camera_id: _Optional[str] = ..., type: _Optional[str] = ..., label: _Optional[str] = ..., track_id: _Optional[int] = ..., zone: _Optional[str] = ..., line: _Optional[str] = ..., direction: _Optional[str] = ..., count: _Optional[int] = ..., snapshot_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class WatchLogsRequest(_message.Message):
    __slots__ = ("min_level", "replay", "contains")
    MIN_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_FIELD_NUMBER: _ClassVar[int]
    min_level: str
    replay: int
    contains: str
    def __init__(self, min_level: _Optional[str] = ..., replay: _Optional[int] = ..., contains: _Optional[str] = ...) -> None: ...

class LogRecord(_message.Message):
    __slots__ = ("time", "level", "logger", "message")
    TIME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    time: float
    level: str
    logger: str
    message: str
    def __init__(self, time: _Optional[float] = ..., level: _Optional[str] = ..., logger: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PreviewRequest(_message.Message):
    __slots__ = ("camera_id", "fps", "max_width", "jpeg_quality")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    fps: float
    max_width: int
    jpeg_quality: int
    def __init__(self, camera_id: _Optional[str] = ..., fps: _Optional[float] = ..., max_width: _Optional[int] = ..., jpeg_quality: _Optional[int] = ...) -> None: ...

class BoxDetection(_message.Message):
    __slots__ = ("x1", "y1", "x2", "y2", "score", "class_id", "label", "track_id")
    X1_FIELD_NUMBER: _ClassVar[int]
    Y1_FIELD_NUMBER: _ClassVar[int]
    X2_FIELD_NUMBER: _ClassVar[int]
    Y2_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CLASS_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TRACK_ID_FIELD_NUMBER: _ClassVar[int]
    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    class_id: int
    label: str
    track_id: int
    def __init__(self, x1: _Optional[float] = ..., y1: _Optional[float] = ..., x2: _Optional[float] = ..., y2: _Optional[float] = ..., score: _Optional[float] = ..., class_id: _Optional[int] = ..., label: _Optional[str] = ..., track_id: _Optional[int] = ...) -> None: ...

class PreviewFrame(_message.Message):
    __slots__ = ("camera_id", "seq", "capture_time", "jpeg", "width", "height", "detections", "timings_ms", "app_id", "counts", "provider", "sent_time", "state", "state_reason", "labels", "geometry_json")
    class TimingsMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_MS_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SENT_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    GEOMETRY_JSON_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    seq: int
    capture_time: float
    jpeg: bytes
    width: int
    height: int
    detections: _containers.RepeatedCompositeFieldContainer[BoxDetection]
    timings_ms: _containers.ScalarMap[str, float]
    app_id: str
    counts: _containers.ScalarMap[str, int]
    provider: str
    sent_time: float
    state: str
    state_reason: str
    labels: _containers.RepeatedCompositeFieldContainer[OverlayLabel]
    geometry_json: str
    def __init__(self, camera_id: _Optional[str] = ..., seq: _Optional[int] = ..., capture_time: _Optional[float] = ..., jpeg: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., detections: _Optional[_Iterable[_Union[BoxDetection, _Mapping]]] = ..., timings_ms: _Optional[_Mapping[str, float]] = ..., app_id: _Optional[str] = ..., counts: _Optional[_Mapping[str, int]] = ..., provider: _Optional[str] = ..., sent_time: _Optional[float] = ..., state: _Optional[str] = ..., state_reason: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[OverlayLabel, _Mapping]]] = ..., geometry_json: _Optional[str] = ...) -> None: ...

class OverlayLabel(_message.Message):
    __slots__ = ("text", "x", "y")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    text: str
    x: float
    y: float
    def __init__(self, text: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("camera_id", "snapshot_id", "max_width")
    CAMERA_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    camera_id: str
    snapshot_id: str
    max_width: int
    def __init__(self, camera_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., max_width: _Optional[int] = ...) -> None: ...

class ProbeCameraRequest(_message.Message):
    __slots__ = ("url", "timeout_ms")
    URL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    url: str
    timeout_ms: int
    def __init__(self, url: _Optional[str] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class TestOutputRequest(_message.Message):
    __slots__ = ("output_json", "secrets", "app_id")
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OUTPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    output_json: str
    secrets: _containers.ScalarMap[str, str]
    app_id: str
    def __init__(self, output_json: _Optional[str] = ..., secrets: _Optional[_Mapping[str, str]] = ..., app_id: _Optional[str] = ...) -> None: ...

class TestOutputResponse(_message.Message):
    __slots__ = ("ok", "answer")
    OK_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    answer: str
    def __init__(self, ok: _Optional[bool] = ..., answer: _Optional[str] = ...) -> None: ...

class ProbeCameraResponse(_message.Message):
    __slots__ = ("ok", "error", "width", "height", "fps", "codec", "jpeg", "open_ms")
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    OPEN_MS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    error: str
    width: int
    height: int
    fps: float
    codec: str
    jpeg: bytes
    open_ms: float
    def __init__(self, ok: _Optional[bool] = ..., error: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., fps: _Optional[float] = ..., codec: _Optional[str] = ..., jpeg: _Optional[bytes] = ..., open_ms: _Optional[float] = ...) -> None: ...

class WatchCameraRequest(_message.Message):
    __slots__ = ("url", "max_width", "jpeg_quality")
    URL_FIELD_NUMBER: _ClassVar[int]
    MAX_WIDTH_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    url: str
    max_width: int
    jpeg_quality: int
    def __init__(self, url: _Optional[str] = ..., max_width: _Optional[int] = ..., jpeg_quality: _Optional[int] = ...) -> None: ...

class UnpairRequest(_message.Message):
    __slots__ = ("fingerprint",)
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    fingerprint: str
    def __init__(self, fingerprint: _Optional[str] = ...) -> None: ...

class UnpairResponse(_message.Message):
    __slots__ = ("name", "fingerprint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("time", "action", "actor", "actor_fingerprint", "signing_key", "target", "outcome", "detail")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SIGNING_KEY_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    time: float
    action: str
    actor: str
    actor_fingerprint: str
    signing_key: str
    target: str
    outcome: str
    detail: str
    def __init__(self, time: _Optional[float] = ..., action: _Optional[str] = ..., actor: _Optional[str] = ..., actor_fingerprint: _Optional[str] = ..., signing_key: _Optional[str] = ..., target: _Optional[str] = ..., outcome: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("limit", "since", "action")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    limit: int
    since: float
    action: str
    def __init__(self, limit: _Optional[int] = ..., since: _Optional[float] = ..., action: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...

class WatchAuditRequest(_message.Message):
    __slots__ = ("replay",)
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    replay: int
    def __init__(self, replay: _Optional[int] = ...) -> None: ...

class GetUpdateStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateStatus(_message.Message):
    __slots__ = ("state", "version", "previous_version", "running_version", "detail", "time")
    STATE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNNING_VERSION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    state: str
    version: str
    previous_version: str
    running_version: str
    detail: str
    time: float
    def __init__(self, state: _Optional[str] = ..., version: _Optional[str] = ..., previous_version: _Optional[str] = ..., running_version: _Optional[str] = ..., detail: _Optional[str] = ..., time: _Optional[float] = ...) -> None: ...
