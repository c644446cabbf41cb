"""Settings shared by every model session on a device, and the measurements behind them."""

from __future__ import annotations

import os
from dataclasses import dataclass


def physical_cores() -> int:
    """Physical CPU cores (hyper-threads share a core's arithmetic units)."""
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


# Runs at once on the CPU provider. Measured on the 2-core x86 dev machine
# (6-layer conv net at 320×320, intra-op threads = both cores, two stream
# threads calling back to back, median of 5 interleaved 2 s runs): serialised
# 104 frames/s at 19.2 ms, two at once 132 frames/s at 15.0 ms. One run's
# serial parts leave cores idle that the other run fills.
CPU_CONCURRENT_RUNS = 2

# onnxruntime's intra-op threads spin-wait between operators by default. In a
# bare loop that is worth about 10 % (demo model, 2-core dev machine: 230 vs
# 208 runs/s), but on a device the same cores also decode video and run app
# logic, and a spinning thread takes the core from them. Measured with the
# pipeline of ``benchmarks/pipeline.py`` (same machine, quiet, medians of 3-8
# runs, spinning on -> off): one H.264 file stream decoded flat out 74 -> 108
# results/s; four such streams 59 -> 62; one stream whose file waits for its
# consumer 131 -> 128 (no difference) and four 132 -> 141. Off also means
# fewer CPU-seconds per result (72 vs 64 results per CPU-second, one paced stream).
CPU_SPINNING = False


@dataclass(frozen=True)
class SessionSettings:
    """Settings shared by every model session on a device.

    ``concurrent_runs`` (None: automatic) is how many onnxruntime runs of one
    session may overlap. On a GPU it is 1, so frames that arrive while the
    GPU is busy queue up and go in as one batch (the point of batching). On
    the CPU it is :data:`CPU_CONCURRENT_RUNS`, measured to be faster there;
    batching still happens when more frames wait than runs may overlap, but
    it gains nothing on a CPU (same measurement, dynamic batch: 97 frames/s
    with opportunistic batching, 107 without).

    ``batch_wait_ms`` makes a run that is not full wait that long for frames
    of other active streams. Off by default: at 25 frames/s per stream on the
    CPU a 3 ms wait raised latency from 11.6 ms to 19.7 ms for the same
    throughput. Batching without a wait already combines the frames that
    arrive while a run is busy; on a GPU a wait of a few ms may pay off,
    which is why it is a setting.

    ``cpu_spinning`` lets onnxruntime's idle intra-op threads busy-wait for
    the next operator. Off: on a device the cores are shared with decoders
    and app logic (see :data:`CPU_SPINNING` for the measurement).
    """

    providers: tuple[str, ...] | None = None  # preference, e.g. ("cuda", "cpu"); None: GPU first
    intra_op_threads: int | None = None  # None: all physical cores
    trt_cache_dir: str | None = None  # TensorRT engine + timing cache; None: no cache
    fp16: bool = True  # let TensorRT use FP16 kernels where the GPU has them
    max_batch: int = 8  # images per run for models with a dynamic batch dimension
    batch_wait_ms: float = 0.0  # wait this long for other streams' frames before a run
    concurrent_runs: int | None = None  # runs at once; None: 1 on a GPU, CPU_CONCURRENT_RUNS on CPU
    cpu_spinning: bool = CPU_SPINNING  # let idle onnxruntime threads spin (see CPU_SPINNING)
    iou_threshold: float = 0.45
    max_detections: int = 300
    top_k: int = 5  # classes reported per image by classification models
    default_input_size: tuple[int, int] = (640, 640)  # for inputs with dynamic H and W
    timeout_s: float = 60.0  # longest a caller waits for its inference
    # Letterbox and YOLO decode+NMS as ONNX graphs (graph_processing.py): "auto" on CUDA/TensorRT.
    graph_processing: str = "auto"
