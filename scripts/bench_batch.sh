#!/usr/bin/env bash
# Throughput of `gazecam batch` over short clips: the default (one process, one model) vs --workers N vs
# --ray (a local Ray instance, N actors).  Prints a Markdown table for README "Many videos".
#
# Usage: bash scripts/bench_batch.sh [CLIPS (10)] [FRAMES per clip (30)] [SIZE px (320)]
# Env:   PYTHON (default .venv/bin/python, else python3); WORKERS (default 2);
#        GAZECAM_MODEL_ARGS (default: the golden random ViT-S weights of ../shared/golden with --backend torch
#        and the offline face detector when present, else the default zoo model; e.g.
#        GAZECAM_MODEL_ARGS="--model gazelle_dinov2_vitb14_inout --detector face" for the released model).
# Run it on an otherwise idle machine: every mode uses all the CPUs.  Wall time includes starting the workers
# and loading the model(s) (and starting Ray); "in videos" is the sum of the per-video times of the manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
clips=${1:-10}
frames=${2:-30}
size=${3:-320}
workers=${WORKERS:-2}
py=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
golden="$repo/../shared/golden"
if [ -n "${GAZECAM_MODEL_ARGS:-}" ]; then
  read -r -a model <<< "$GAZECAM_MODEL_ARGS"
elif [ -f "$golden/dinov2_vits14_random.pth" ]; then
  model=(--backbone dinov2_vits14 --backbone-weights "$golden/dinov2_vits14_random.pth"
         --gaze-weights "$golden/gazelle_vits14_inout_random.pt" --backend torch --detector face)
else
  model=()
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 RAY_USAGE_STATS_ENABLED=0

work=$(mktemp -d "${TMPDIR:-/tmp}/gazecam-bench-batch.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
"$py" scripts/make_clips.py "$work/in" --count "$clips" --frames "$frames" --size "$size"

modes=("default" "workers $workers")
if "$py" -c 'import ray' 2>/dev/null; then
  modes+=("ray $workers")
else
  echo "(Ray is not installed: the --ray row is left out; pip install \"gazecam[ray]\")" >&2
fi
results="$work/results.tsv"
for mode in "${modes[@]}"; do
  case "$mode" in
    default) extra=() ;;
    workers*) extra=(--workers "$workers") ;;
    ray*) extra=(--ray --workers "$workers") ;;
  esac
  out="$work/out-${mode// /-}"
  echo "== $mode: gazecam batch ${extra[*]}" >&2
  t0=$("$py" -c 'import time; print(time.time())')
  "$py" -m gazecam batch "$work/in" -o "$out" --quiet "${extra[@]}" "${model[@]}"
  t1=$("$py" -c 'import time; print(time.time())')
  "$py" - "$mode" "$t0" "$t1" "$out/manifest.jsonl" >> "$results" <<'EOF'
import json, sys
mode, t0, t1, manifest = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rows = [json.loads(x) for x in open(manifest) if x.strip()]
frames = sum(r["frames"] for r in rows if r["status"] == "done")
in_videos = sum(r["seconds"] for r in rows)
print(f"{mode}\t{t1 - t0:.1f}\t{frames}\t{in_videos:.1f}\t{sum(r['status'] == 'done' for r in rows)}")
EOF
done

"$py" - "$results" "$clips" "$frames" "$size" "$(nproc)" <<'EOF'
import sys
path, clips, frames, size, cpus = sys.argv[1:]
rows = [line.rstrip("\n").split("\t") for line in open(path)]
base = float(rows[0][1])
print(f"\n{clips} clips x {frames} frames, {size}x{size}, {cpus} CPU(s)\n")
print("| mode | wall s | videos done | frames | frames/s (wall) | sum of per-video s | wall vs default |")
print("|---|---|---|---|---|---|---|")
for mode, wall, n, in_videos, done in rows:
    wall_f = float(wall)
    print(f"| {mode} | {wall_f:.1f} | {done} | {n} | {int(n) / wall_f:.2f} | {in_videos} | {wall_f / base:.2f}x |")
EOF
