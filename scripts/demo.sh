#!/usr/bin/env bash
# Set up, then run the main job: annotate the sample clip with the released Gaze-LLE model.
# The model files are downloaded on first run (see README: GAZECAM_HOME, GAZECAM_MIRROR).
# Extra arguments are passed to `gazecam process` (e.g. --device cuda, --model gazelle_dinov2_vitl14_inout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
exec .venv/bin/gazecam process assets/sample.mp4 -o out/sample_annotated.mp4 --records out/sample_gaze.jsonl "$@"
