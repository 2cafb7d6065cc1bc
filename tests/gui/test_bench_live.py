"""scripts/bench_live.py end to end: both phases run in real windows and the summary line is printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ATTO = REPO.parent / "shared" / "golden_hgnetv2" / "gazelle_hgnetv2_atto_inout_random.pt"


@pytest.mark.slow
def test_bench_live_prints_both_rates(tmp_path):
    if not ATTO.is_file():
        pytest.skip(f"fixture missing: {ATTO}")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0",
           "GAZECAM_HOME": os.environ.get("GAZECAM_HOME", str(tmp_path / "home"))}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(REPO / "scripts" / "bench_live.py"),
                           "--offscreen", "--seconds", "2", "--warmup", "2", "--frames", "50", "--timeout", "240"],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    errors = "\n".join(line for line in proc.stderr.splitlines() if "propagateSizeHints" not in line)
    assert proc.returncode == 0, f"exit {proc.returncode}: {errors[-3000:]}"
    out = proc.stdout
    summary = re.search(r"gazecam live inference: overlapped ([\d.]+) fps \(status bar [\d.]+\), "
                        r"one thread ([\d.]+) fps \(status bar [\d.]+\) -> [\d.]+x", out)
    assert summary, out
    assert float(summary.group(1)) > 0 and float(summary.group(2)) > 0
    assert re.search(r"overlapped: status bar .* \((detect|gaze) thread bounds: \d+ ms/frame\)", out), out
    assert re.search(r"one thread: status bar .* \(one thread: \d+ ms/frame\)", out), out
