#!/usr/bin/env bash
# The GPU checks of issue 13, in one run on a machine with an NVIDIA GPU (about 5 minutes):
#
#   scripts/gpu-check.sh            # from the repository root
#
# 1. says what is there: GPU, driver, onnxruntime and the providers that really load (and why not);
# 2. runs the GPU-marked tests (pytest -m gpu): the pre/post-processing graphs on CUDA next to
#    the model, a TensorRT engine built on the first load and reused on the second;
# 3. runs the pipeline benchmark on the CUDA and TensorRT providers with 1, 4 and 16 streams of
#    1280x720 H.264, the demo model with a dynamic batch dimension (cross-stream batching), and
#    writes benchmarks/results/pipeline-gpu.json (each run names the GPU and the provider that
#    actually ran: a TensorRT that cannot load falls back to CUDA and says why);
# 4. where GStreamer has a hardware decoder: the decode benchmark (benchmarks/results/decode-gpu.json).
#
# Copies of the logs and the JSON go to $OUT (default /tmp/gpu-check). Every step runs even if
# an earlier one failed; the exit status is 1 if any failed.
#
# Python: $PYTHON, else .venv/bin/python, else python3. It needs the project's device
# dependencies with onnxruntime-gpu (not onnxruntime) built for the machine's CUDA, plus pytest
# and onnx. Wheels in $GPU_CHECK_WHEELS (default .whl/) are installed first into /tmp/site
# (offline, no dependencies), for a machine that has the rest. CUDA libraries installed by pip
# (nvidia-* packages, e.g. PyTorch's) are put on LD_LIBRARY_PATH for onnxruntime's CUDA provider.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
if [[ -n ${PYTHON:-} ]]; then py=$PYTHON
elif [[ -x .venv/bin/python ]]; then py=.venv/bin/python
else py=python3; fi
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
failed=()

wheels=${GPU_CHECK_WHEELS:-.whl}
if compgen -G "$wheels/*.whl" >/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$wheels"/*.whl || failed+=("wheels")
  export PYTHONPATH=/tmp/site:$PYTHONPATH
fi

nvidia_libs=$("$py" - <<'EOF'
import glob, os, site, sys
roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
dirs = sorted({d for r in roots if r for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))})
print(":".join(dirs))
EOF
)
[[ -n $nvidia_libs ]] && export LD_LIBRARY_PATH=$nvidia_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

{
  echo "== $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
  "$py" - <<'EOF'
import onnxruntime as ort
from device_runtime.inference.engine_cache import device_precision, gpu_compute_capability, tensorrt_version
from device_runtime.inference.providers import CUDA, TENSORRT, probe_provider
print("onnxruntime", ort.__version__, "compiled providers:", ort.get_available_providers())
for name in (TENSORRT, CUDA):
    ok, why = probe_provider(name)
    print(f"{name}: {'loads' if ok else 'does not load: ' + why}")
print("TensorRT", tensorrt_version() or "absent", "| compute capability", gpu_compute_capability(),
      "| engine precision", device_precision())
EOF
} 2>&1 | tee "$OUT/environment.txt" || failed+=("environment")

"$py" -m pytest -m gpu -q -p no:cacheprovider tests/device_runtime 2>&1 | tee "$OUT/gpu-tests.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failed+=("gpu tests")

"$py" -m benchmarks.pipeline --quick --rounds 2 --providers cuda tensorrt --streams 1 4 16 \
  --size 1280x720 --dynamic-batch --output benchmarks/results/pipeline-gpu.json 2>&1 | tee "$OUT/pipeline.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failed+=("pipeline benchmark")
cp benchmarks/results/pipeline-gpu.json "$OUT/" 2>/dev/null || true

# Hardware video decoding, where this machine has GStreamer with an NVIDIA decoder (a Jetson, a
# desktop with gst-plugins-bad's nvcodec): CPU per 1080p stream, software and hardware side by side.
if "$py" -c 'import sys; from device_runtime.sources.gst_support import hardware_decoder_present as h; sys.exit(0 if h() else 1)' 2>/dev/null; then
  "$py" -m benchmarks.decode --quick --output benchmarks/results/decode-gpu.json 2>&1 | tee "$OUT/decode.txt"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || failed+=("decode benchmark")
  cp benchmarks/results/decode-gpu.json "$OUT/" 2>/dev/null || true
else
  echo "no GStreamer hardware decoder here: decode benchmark skipped" | tee "$OUT/decode.txt"
fi

if ((${#failed[@]})); then
  echo "gpu-check: failed: ${failed[*]}" | tee -a "$OUT/environment.txt"
  exit 1
fi
echo "gpu-check: all steps passed; results in benchmarks/results/pipeline-gpu.json and $OUT"
