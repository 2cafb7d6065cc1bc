"""Benchmark gazecam.render at 1080p: ms per frame for the full renderer (no torch, no model).

Synthetic result: 4 people, smooth random heatmaps, all looking in frame.  Prints mean/median ms per mode.
Usage: python scripts/bench_render.py [--width 1920 --height 1080 --people 4 --repeats 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gazecam.render import GazeRenderer
from gazecam.types import Frame, GazeResult, HeadBoxes


def synthetic_result(width: int, height: int, people: int, seed: int = 0) -> GazeResult:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    size = min(width, height) / 6
    cx = rng.uniform(size, width - size, people)
    cy = rng.uniform(size, height - size, people)
    xyxy = np.stack([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], axis=1)
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    pts = rng.uniform(0.1, 0.9, (people, 2)).astype(np.float32)
    heat = np.exp(-((xx[None] - pts[:, 0, None, None]) ** 2 + (yy[None] - pts[:, 1, None, None]) ** 2) / 0.02)
    heads = HeadBoxes(xyxy=xyxy, image_size=(height, width), track_ids=np.arange(1, people + 1))
    return GazeResult(frame=Frame(image=image, index=0, timestamp_s=0.0), heads=heads,
                      heatmaps=heat.astype(np.float32), points_norm=pts, inout=np.full(people, 0.9, np.float32),
                      in_frame=np.ones(people, bool), looking_at=np.full(people, -1), mutual=np.zeros(people, bool))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--people", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args()
    result = synthetic_result(a.width, a.height, a.people)
    for label, kw in (("combined heatmap + all", dict(heatmap_mode="combined")),
                      ("per-person heatmap + all", dict(heatmap_mode="per_person")),
                      ("no heatmap (arrows, boxes, labels)", dict(heatmaps=False))):
        r = GazeRenderer(banner="UNTRAINED WEIGHTS - benchmark", **kw)
        r.render(result)  # warm-up
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            r.render(result)
            times.append((time.perf_counter() - t0) * 1e3)
        print(f"{a.width}x{a.height}, {a.people} people, {label}: mean {np.mean(times):.1f} ms, "
              f"median {np.median(times):.1f} ms per frame ({a.repeats} frames)")


if __name__ == "__main__":
    main()
