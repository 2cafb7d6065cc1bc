#!/usr/bin/env bash
# CPU benchmark of issue 19: gazelle-dinov3's CNN models (HGNetV2 Atto 320 px, Femto 416 px, Pico and N 640 px)
# against the reference run of the official Gaze-LLE ViT-B algorithm (fp32 eager), all in ONE interleaved run,
# so every speedup is relative to the same reference measured under the same conditions; random weights
# (timing does not depend on them).  Configurations per CNN: torch (fp32, BatchNorm folded), onnxruntime fp32
# and onnxruntime:int8.  Then, per CNN, a short fidelity run: int8 (and fp32) against the reference algorithm
# on the same CNN (gazelle-dinov3's code path: BatchNorm unfused, eager), for the fidelity columns.
# Model stages only (capture, preprocess, encode, decode); 640x480 frames, 1 and 5 heads.
# Writes bench_hgnetv2.json / .png and bench_hgnetv2_<arch>.json into the current directory.
# Extra options go to the timing run, e.g.  scripts/bench_hgnetv2.sh --frames 20 --threads 2
# Run it on an otherwise idle machine (the report prints the load average and flags a busy machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-$ROOT/.venv/bin/python}
CNNS=hgnetv2_atto,hgnetv2_femto,hgnetv2_pico,hgnetv2_n
COMMON=(--device cpu --heads 1,5 --warmup 1 --width 640 --height 480 --no-detect --no-render)
"$PY" -m gazecam bench --backbone dinov2_vitb14 --compare "$CNNS" --backends torch,onnxruntime,onnxruntime:int8 \
    --frames 10 "${COMMON[@]}" --json bench_hgnetv2.json --chart bench_hgnetv2.png "$@"
for arch in ${CNNS//,/ }; do
  "$PY" -m gazecam bench --backbone "$arch" --backends onnxruntime,onnxruntime:int8 --frames "${FIDELITY_FRAMES:-3}" \
      "${COMMON[@]}" --json "bench_hgnetv2_$arch.json"
done
