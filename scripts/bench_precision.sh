#!/usr/bin/env bash
# CPU precision benchmark of issue 13: ViT-B/14 at 448 px, 1 and 5 heads, random weights (timing does not depend
# on them; fidelity on random weights is a proxy), the reference run of the official algorithm (fp32) against
#   torch (fp32), onnxruntime (fp32), onnxruntime:int8, and torch:bf16 where the CPU has native bf16
#   (AVX512-BF16/AMX; emulated bf16 elsewhere is several times slower than fp32 and is left out),
# with the fidelity columns against the reference on the same frames: max heatmap diff, max in/out diff, mean
# argmax shift (heatmap cells), agreement.  Writes bench_precision.json and bench_precision.png here.
# Extra options are passed on (the last one wins), e.g. a tiny smoke run:
#   scripts/bench_precision.sh --backbone dinov2_vits14 --frames 1 --warmup 0 --heads 1 --width 96 --height 64
# Run it on an otherwise idle machine: other processes on the same cores distort every figure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-$ROOT/.venv/bin/python}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
BACKENDS=$("$PY" - <<'PY'
from gazecam.backends.precision import cpu_features, resolve_precision
f = cpu_features()
auto = resolve_precision("auto", backend="auto", device="cpu")
print(f"CPU: {f.describe()}; precision auto here: {auto.reason}", file=__import__("sys").stderr)
print("torch,onnxruntime,onnxruntime:int8" + (",torch:bf16" if f.native_bf16 else ""))
PY
)
exec "$PY" -m gazecam bench --backbone dinov2_vitb14 --device cpu --heads 1,5 --frames 5 \
    --backends "$BACKENDS" --json bench_precision.json --chart bench_precision.png "$@"
