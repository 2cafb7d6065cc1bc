#!/usr/bin/env python
"""Offline head detectors side by side on one video: heads/frame, % frames with someone, ms/frame.

    python scripts/bench_offline_detector.py [VIDEO] [--max-frames N] [--sheet OUT.png]

VIDEO defaults to vtest.avi of Debian's opencv-doc package (pedestrians seen from above, 768x576,
795 frames; ``apt-get install opencv-doc``).  Both detectors run in the same process on the same frames,
decoded afresh for each (decoding is not timed): the combined ``offline`` detector (HOG people + face
cascade, searched every k-th frame and tracked in between) and the old cascade-only ``face`` detector.
ms/frame is the wall-clock time of ``detect()`` alone; CPU ms/frame sums the process's threads (less
sensitive to other load).  Run it on an idle machine for figures worth quoting.
``--sheet`` writes a contact sheet of a few frames with both detectors' boxes, to look at.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CANDIDATES = [Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
              Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi.gz")]


def find_video(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    for p in CANDIDATES:
        if p.is_file():
            return p
    sys.exit("no VIDEO given and vtest.avi not found (apt-get install opencv-doc, or pass a video path)")


def decode(path: Path, max_frames: int | None):
    """The frames of ``path`` as RGB arrays, one at a time (the clip is not held in memory)."""
    import av

    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if max_frames and i >= max_frames:
                break
            yield f.to_ndarray(format="rgb24")


def run(detector, frames) -> tuple[list, float, float, int]:
    """Boxes per frame, wall-clock ms/frame and CPU ms/frame of ``detector.detect`` alone, frame count."""
    from gazecam.types import Frame

    out, wall, cpu = [], 0.0, 0.0
    for i, image in enumerate(frames):
        frame = Frame(image=image, index=i, timestamp_s=i / 10.0)
        t0, c0 = time.perf_counter(), time.process_time()
        out.append(detector.detect(frame))
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    n = max(1, len(out))
    return out, wall * 1e3 / n, cpu * 1e3 / n, len(out)


def sheet(path: Path, video: Path, n: int, results: dict[str, list]) -> None:
    import cv2

    colours = [(0, 255, 0), (255, 0, 0)]
    picks = set(np.linspace(0, n - 1, 4).astype(int).tolist())
    tiles = []
    for i, image in enumerate(decode(video, n)):
        if i not in picks:
            continue
        img = image[..., ::-1].copy()
        for c, boxes in zip(colours, results.values()):
            for x0, y0, x1, y1 in boxes[i].xyxy.astype(int):
                cv2.rectangle(img, (x0, y0), (x1, y1), c, 2)
        cv2.putText(img, f"frame {i}: " + ", ".join(f"{k} {len(v[i])}" for k, v in results.items()),
                    (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        tiles.append(img)
    grid = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    cv2.imwrite(str(path), grid)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("video", nargs="?")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--every", type=int, default=3, help="offline detector: full search every k-th frame")
    ap.add_argument("--sheet", default=None, metavar="OUT.png")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the detectors' fallback warnings are not results

    import cv2

    from gazecam.detect_offline import CascadeHeadDetector, OfflineHeadDetector

    path = find_video(args.video)
    if path.suffix == ".gz":  # Debian compresses some examples
        tmp = Path(tempfile.mkdtemp()) / path.stem
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = tmp
    h, w = next(iter(decode(path, 1))).shape[:2]
    offline = OfflineHeadDetector(every=args.every)
    results: dict[str, list] = {}
    rows = []
    for name, det in ((f"offline (HOG+faces, every {args.every})", offline), ("face (cascade only, old)",
                                                                                CascadeHeadDetector())):
        boxes, ms, cpu_ms, n = run(det, decode(path, args.max_frames))
        counts = np.array([len(b) for b in boxes])
        results[name] = boxes
        rows.append((name, counts.mean(), 100.0 * (counts > 0).mean(), ms, cpu_ms))
    print(f"{path.name}: {n} frames, {w}x{h}, OpenCV {cv2.__version__} with {cv2.getNumThreads()} thread(s)")
    print(f"{'detector':<34} {'heads/frame':>11} {'% frames w/ people':>19} {'ms/frame':>9} {'CPU ms/frame':>13}")
    for name, hpf, pct, ms, cpu_ms in rows:
        print(f"{name:<34} {hpf:>11.2f} {pct:>18.1f}% {ms:>9.1f} {cpu_ms:>13.1f}")
    print(f"(offline: {offline.searches} full searches in {n} frames, {offline.refined} of "
          f"{offline.refine_tries} head boxes refined by a face; ms/frame is wall-clock in one "
          "process, CPU ms/frame sums its threads)")
    if args.sheet:
        sheet(Path(args.sheet), path, n, results)
        print(f"contact sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
