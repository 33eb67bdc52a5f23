#!/usr/bin/env bash
# The proxy trainer on one GPU, in at most ~8 minutes: the GPU's matmul roofline, one configs/real.yaml-sized
# proxy trained alone, and PROXIES proxies of that size (STEPS steps each) through the real sweep code sharing
# the GPU; prints tokens/s and the fraction of the roofline (benchmarks/gpu_check.py).
#
#   benchmarks/gpu_check.sh                 PYTHON=... (default .venv/bin/python), PROXIES=4, STEPS=128
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PROXIES=${PROXIES:-4}
STEPS=${STEPS:-128}
export RAY_worker_niceness=${RAY_worker_niceness:-0}
trap 'echo "gpu_check: FAILED (exit $?) after ${SECONDS} s; a timeout (exit 124) means it ran past 8 minutes" >&2' ERR

echo "== gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $PROXIES proxies x $STEPS steps" >&2
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2
else
    echo "gpu_check: nvidia-smi not found" >&2
fi
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: torch ' + torch.__version__ + ' sees no CUDA device (a CPU-only build?)')"
SECONDS=0
timeout 480 "$PY" benchmarks/gpu_check.py --proxies "$PROXIES" --steps "$STEPS"
echo "== gpu_check: done in ${SECONDS} s" >&2
