#!/usr/bin/env bash
# Regenerate assets/report.png: records of assets/sample.mp4 made with the golden RANDOM weights
# (../shared/golden; --inout-threshold 0 so that the random gaze counts as in-frame and the pictures have
# something to show), the report, and a headless-chromium screenshot of it.  The numbers mean nothing;
# the picture shows what a report looks like.  Needs Debian's chromium (apt-get install -y chromium).
# RECORDS=FILE reuses records made by that process command (it takes minutes on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PY="${PYTHON:-$REPO/.venv/bin/python}"
GOLDEN="$(cd "${GOLDEN:-../shared/golden}" && pwd)"
OUT="$(realpath -m "${1:-assets/report.png}")"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, from any folder
cd "$TMP"  # short relative paths in the report's header
ln -s "$REPO/assets" assets
if [ -n "${RECORDS:-}" ]; then
  cp "$RECORDS" sample_gaze.jsonl
  cp "$RECORDS.meta.json" sample_gaze.jsonl.meta.json
else
  "$PY" -m gazecam process assets/sample.mp4 --records sample_gaze.jsonl --backbone dinov2_vits14 \
    --backbone-weights "$GOLDEN/dinov2_vits14_random.pth" --gaze-weights "$GOLDEN/gazelle_vits14_inout_random.pt" \
    --inout-threshold 0 --quiet
fi
"$PY" -m gazecam report sample_gaze.jsonl --video assets/sample.mp4 -o report.html
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$TMP/profile" --screenshot="$TMP/full.png" \
  --window-size=1280,4000 "file://$TMP/report.html" >/dev/null 2>&1
"$PY" - "$TMP/full.png" "$OUT" <<'PYEOF'
import os, sys
import numpy as np
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
img = Image.open(src).convert("RGB")
a = np.asarray(img).astype(int)
content = np.flatnonzero((np.abs(a - a[-1, -1]).max(axis=2) > 3).any(axis=1))  # rows that are not page background
img = img.crop((0, 0, img.width, min(img.height, int(content[-1]) + 24)))
tmp = dst + ".tmp.png"
img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(tmp, optimize=True)
os.replace(tmp, dst)
print(f"{dst}: {img.width}x{img.height}, {os.path.getsize(dst) // 1024} KiB")
PYEOF
