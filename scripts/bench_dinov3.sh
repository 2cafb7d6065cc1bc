#!/usr/bin/env bash
# CPU benchmark of issue 14: Gaze-LLE ViT-B/14 (448 px) against gazelle-dinov3 S (ViT-Tiny), M (ViT-Tiny+) and
# X (DINOv3 ViT-S+/16) at 640 px, random weights (timing does not depend on them), all in ONE interleaved run
# against the reference run of the official Gaze-LLE ViT-B algorithm (fp32 eager), so every speedup is
# relative to the same reference measured under the same conditions.
#
# Configurations per model: torch (fp32 eager; oneDNN linears on the CPU) and onnxruntime (fp32), then the
# faster reduced-precision modes: onnxruntime:int8 (dynamically quantized encoder and decoder) and torch:bf16 when this
# CPU has native bf16 (AVX512-BF16 / AMX).  Model stages only (capture, preprocess,
# encode, decode; no detector, renderer or video writer, whose cost is the same for every model);
# 640x480 frames, 1 and 5 heads.  Writes bench_dinov3.json and bench_dinov3.png into the current directory.
# Extra options are passed on, e.g.  scripts/bench_dinov3.sh --frames 20 --threads 2
# Run it on an otherwise idle machine (the report prints the load average and flags a busy machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-$ROOT/.venv/bin/python}
BACKENDS=torch,onnxruntime,onnxruntime:int8
if "$PY" -c 'import sys, torch; sys.exit(0 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else 1)' 2>/dev/null; then
  BACKENDS=$BACKENDS,torch:bf16
fi
exec "$PY" -m gazecam bench --backbone dinov2_vitb14 --compare dinov3_vit_tiny,dinov3_vit_tinyplus,dinov3_vits16plus \
    --device cpu --heads 1,5 --frames 10 --warmup 1 --width 640 --height 480 --no-detect --no-render \
    --backends "$BACKENDS" --json bench_dinov3.json --chart bench_dinov3.png "$@"
