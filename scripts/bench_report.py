"""How long `gazecam report` (the whole command: read, analyse, draw, write HTML + JSON + CSV) takes at scale.

Generates gazecam records (JSONL, with a sidecar) and times ``python -m gazecam report`` on them, in a child
process, wall clock.  Scenarios (``--scenario``, repeatable; default: all):

* ``crowd-N``: 3 frames in which N tracked people are all visible at once (issue 18 case 12: 50 / 100 / 200);
* ``video``: a 10-minute 30-fps video whose tracker hands out 300 ids: people come and go, about 8 are
  visible at a time, each looks at another person, at a shared scene point or out of frame, switching every
  half second or so (many mutual-gaze and joint-attention episodes).

Prints one line per scenario: records, people, seconds; and, as the reference measured in the same run, the
seconds to merely parse the same records file with :func:`json.loads` (what any reader of the file must pay),
so the figures can be compared across machines.  Usage::

    .venv/bin/python scripts/bench_report.py                     # all scenarios
    .venv/bin/python scripts/bench_report.py --scenario video --minutes 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

W, H = 1280, 720


def _row(frame: int, fps: float, tid: int, head: np.ndarray, look: str, target: int | None, point, mutual: bool):
    x1, y1, x2, y2 = (float(v) for v in head)
    gx, gy = point
    return {"frame": frame, "time": round(frame / fps, 4), "track_id": tid,
            "head_xyxy": [round(x1 * W, 2), round(y1 * H, 2), round(x2 * W, 2), round(y2 * H, 2)],
            "head_xyxy_norm": [round(x1, 5), round(y1, 5), round(x2, 5), round(y2, 5)],
            "gaze_xy": [round(gx * W, 2), round(gy * H, 2)], "gaze_xy_norm": [round(gx, 5), round(gy, 5)],
            "peak": 0.5, "inout": 0.9, "in_frame": look != "out", "looking_at": target, "mutual": mutual,
            "fresh": True}


def generate(path: Path, *, frames: int, fps: float, ids: int, visible: int, seed: int = 0) -> int:
    """Write records of ``frames`` frames; ``ids`` track ids over the video, ``visible`` at a time; returns records."""
    rng = np.random.default_rng(seed)
    if frames <= 3:  # a crowd: everyone in every frame
        spans = np.array([[0, frames]] * ids)
    else:  # each id lives one contiguous span; about `visible` overlap at any time
        life = max(2, int(frames * visible / ids))
        starts = rng.integers(0, max(1, frames - life), ids)
        spans = np.stack([starts, np.minimum(frames, starts + rng.integers(life // 2, 2 * life, ids))], axis=1)
    heads = rng.uniform(0.05, 0.85, (ids, 2))
    scene = np.array([[0.3, 0.6], [0.7, 0.7], [0.5, 0.8]])  # shared points: joint attention
    switch = max(1, int(fps / 2))
    n = 0
    with open(path, "w") as f:
        for fr in range(frames):
            alive = np.flatnonzero((spans[:, 0] <= fr) & (fr < spans[:, 1]))
            if len(alive) == 0:
                continue
            phase = fr // switch
            choice: dict[int, tuple[str, int | None, tuple[float, float]]] = {}
            for tid in alive:
                r = np.random.default_rng((seed, int(tid), phase)).random(3)  # stable for half a second
                if r[0] < 0.5 and len(alive) > 1:
                    other = int(alive[(np.searchsorted(alive, tid) + 1 + int(r[1] * (len(alive) - 1))) % len(alive)])
                    hx, hy = heads[other]
                    choice[int(tid)] = ("person", other, (hx + 0.03, hy + 0.05))
                elif r[0] < 0.9:
                    p = scene[int(r[1] * len(scene))] + (r[2] - 0.5) * 0.04
                    choice[int(tid)] = ("scene", None, (float(p[0]), float(p[1])))
                else:
                    choice[int(tid)] = ("out", None, (1.2, 0.5))
            for tid, (look, target, point) in choice.items():
                mutual = target is not None and choice[target][1] == tid
                hx, hy = heads[tid]
                f.write(json.dumps(_row(fr, fps, tid, np.array([hx, hy, hx + 0.06, hy + 0.1]), look, target, point,
                                        mutual)) + "\n")
                n += 1
    meta = {"source": "bench.mp4", "model": "bench", "released": False, "weights_note": "generated records",
            "width": W, "height": H, "fps": fps}
    path.with_name(path.name + ".meta.json").write_text(json.dumps(meta))
    return n


def parse_only(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path) as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - t0


def run_report(path: Path, out: Path) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "gazecam", "report", str(path), "-o", str(out / "r.html"), "--json",
           str(out / "r.json"), "--csv-dir", str(out / "tables")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"gazecam report failed ({proc.returncode}): {proc.stderr.strip()}")
    return dt, proc.stderr.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append", default=None,
                    help="crowd-50, crowd-100, crowd-200, video (repeatable; default: all)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the `video` scenario (default 10)")
    ap.add_argument("--ids", type=int, default=300, help="track ids of the `video` scenario (default 300)")
    ap.add_argument("--keep", metavar="DIR", default=None, help="keep the records and the report in DIR")
    args = ap.parse_args()
    scenarios = args.scenario or ["crowd-50", "crowd-100", "crowd-200", "video"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"{'scenario':<12} {'frames':>7} {'records':>8} {'people':>6} {'report s':>9} {'json.loads s':>13}")
        for name in scenarios:
            if name.startswith("crowd-"):
                frames, fps, ids, visible = 3, 30.0, int(name.split("-")[1]), int(name.split("-")[1])
            elif name == "video":
                frames, fps, ids, visible = int(args.minutes * 60 * 30), 30.0, args.ids, 8
            else:
                raise SystemExit(f"unknown scenario {name!r}")
            folder = root / name
            folder.mkdir(exist_ok=True)
            rec = folder / "records.jsonl"
            n = generate(rec, frames=frames, fps=fps, ids=ids, visible=visible)
            with open(rec) as f:
                people = len({json.loads(line)["track_id"] for line in f})
            ref = parse_only(rec)
            seconds, summary = run_report(rec, folder)
            print(f"{name:<12} {frames:>7} {n:>8} {people:>6} {seconds:>9.1f} {ref:>13.2f}   ({summary})", flush=True)


if __name__ == "__main__":
    main()
