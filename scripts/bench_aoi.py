"""Speed of the AOI labeller (gazecam.aoi.AOISet.label_index) next to a reference measured in the same run.

The reference tests every point against every AOI with AOI.contains (numpy, no ordering or prefilter) and
keeps the smallest: what the labeller computes, the straightforward way.  Short: a few seconds on a laptop.

    python scripts/bench_aoi.py [--points 1000000] [--aois 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gazecam.aoi import AOISet, parse_aois


def reference(aois: AOISet, pts: np.ndarray, times: np.ndarray) -> np.ndarray:
    best = np.full(len(pts), -1, np.int64)
    best_area = np.full(len(pts), np.inf)
    for k, a in enumerate(aois.aois):
        hit = a.valid_at(times) & a.contains(pts)
        smaller = hit & (a.area < best_area)
        best[smaller], best_area[smaller] = k, a.area
    return best


def timed(fn, repeat: int) -> tuple[float, object]:
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t0) / repeat, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--aois", type=int, default=10)
    args = ap.parse_args()
    n_rect = max(1, args.aois - 2)
    doc = {"aois": [{"name": f"box{i}", "xyxy_norm": [0.8 * i / n_rect, 0.1, 0.8 * i / n_rect + 0.2, 0.6]}
                    for i in range(n_rect)]
           + [{"name": "poly", "polygon_norm": [[0.1, 0.7], [0.5, 0.65], [0.9, 0.9], [0.3, 0.99], [0.2, 0.8]]},
              {"name": "timed", "xyxy_norm": [0.4, 0.4, 0.6, 0.6], "start_s": 10, "end_s": 20}][: args.aois]}
    aois = parse_aois(doc)
    rng = np.random.default_rng(0)
    pts, times = rng.random((args.points, 2)), rng.random(args.points) * 30
    t_ref, ref = timed(lambda: reference(aois, pts, times), 1)
    t_new, new = timed(lambda: aois.label_index(pts, times), 1)
    assert (ref == new).all(), "labeller and reference disagree"
    print(f"{args.points} points x {len(aois)} AOIs: label_index {t_new:.3f} s, reference {t_ref:.3f} s "
          f"({t_ref / t_new:.1f}x)")
    frame = pts[:4]
    t_ref, _ = timed(lambda: reference(aois, frame, times[:4]), 500)
    t_new, _ = timed(lambda: aois.label_index(frame, times[:4]), 500)
    print(f"one frame, 4 heads: label_index {t_new * 1e6:.0f} us, reference {t_ref * 1e6:.0f} us "
          f"({t_ref / t_new:.1f}x)")


if __name__ == "__main__":
    main()
