#!/usr/bin/env bash
# CPU benchmark of issue 4: ViT-B/14 at 448 px, 1 and 5 heads, torch (fp32 eager) and ONNX Runtime (fp32)
# against the reference run of the official algorithm, on random weights (timing does not depend on them).
# Writes bench_cpu.json and bench_cpu.png into the current directory.  Extra options are passed on, e.g.
#   scripts/bench_cpu.sh --frames 10 --backends torch,torch:compile,onnxruntime
# Run it on an otherwise idle machine: other processes on the same cores distort every figure
# (the report prints the load average and flags a busy machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-$ROOT/.venv/bin/python}
exec "$PY" -m gazecam bench --backbone dinov2_vitb14 --device cpu --heads 1,5 --frames 5 \
    --backends torch,onnxruntime --json bench_cpu.json --chart bench_cpu.png "$@"
