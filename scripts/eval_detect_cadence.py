#!/usr/bin/env python
"""How accurate are head boxes detected on every N-th frame (the tracker predicting between), and how fast?

    .venv/bin/python scripts/eval_detect_cadence.py [--videos walkers,vtest] [--frames 150] [--every 1,2,3]
        [--hog-pixels 691200,230400] [--search-every 1,3,6] [--detector offline] [--skip 1,5]

For each video, the reference is detection on every frame at full resolution: the detector on every frame (offline:
its full search on every frame, ``every=1``, at ``hog_pixels`` 960x720) and the tracker on its boxes.  Each variant
(``--every`` N x ``--hog-pixels`` P x ``--scale-step`` S x ``--search-every`` K; ``gazecam.cadence.CadenceDetector`` as
``--detect-every N`` builds it; the offline detector's own default is K=3: full search every 3rd frame it sees,
optical flow between) runs on the same decoded frames in the same process, one after the other.  Per variant,
against the reference boxes of each frame (matched one to one by IoU >= 0.3, Hungarian):

* ``IoU``: mean IoU of matched boxes (all frames; and on the predicted frames alone);
* ``missed`` / ``extra``: reference boxes without a match / variant boxes without one, per frame;
* ``id sw``: times the variant's id of a reference head changed (reference id -> variant id, frame to frame);
* on the walkers clip also against the true heads (the discs drawn): share of them found, IoU, extra boxes per
  frame, id switches per true person - the reference's own figures first;
* ``ms/frame``: wall-clock time of detection + tracking (``detect()``), and the process's CPU time.

Videos: ``walkers`` = the generated 640x360 clip of three walkers (``tests.fakes.make_walkers_video``, 25 fps);
``vtest`` = vtest.avi of Debian's opencv-doc package (768x576, 10 fps, pedestrians; ``apt-get install
opencv-doc``), or a path.  ``--skip K``: the detector sees only every K-th frame (with its index and time), as in
``gazecam live`` when detection is slower than the source and the newest frame wins; the reference is then the
full search on those same frames.  Times are only comparable within one run; say whether the machine was shared.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
MATCH_IOU = 0.3


@dataclass
class Run:
    label: str
    boxes: list  # HeadBoxes per frame
    detected: list[bool]  # whether the detector ran on the frame
    wall_ms: float
    cpu_ms: float


def load_frames(name: str, n: int, tmp: Path) -> tuple[list[np.ndarray], float, "Run | None"]:
    """The first ``n`` RGB frames of video ``name`` (walkers, vtest or a path), its frame rate and the true heads
    (walkers only, else None)."""
    import av

    truth = None
    if name == "walkers":
        from gazecam.types import HeadBoxes
        from tests.fakes import make_walkers_video, walkers_heads_xyxy

        path = make_walkers_video(tmp / "walkers.mp4", n=n)
        boxes = [HeadBoxes(xyxy=walkers_heads_xyxy(i), image_size=(360, 640), track_ids=np.arange(1, 4)).clipped()
                 for i in range(n)]
        truth = Run("truth", boxes, [True] * n, float("nan"), float("nan"))
    else:
        path = VTEST if name == "vtest" else Path(name)
        if not path.is_file():
            sys.exit(f"{name}: {path} not found (apt-get install opencv-doc, or give a video path)")
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate or 25)
        frames = [f.to_ndarray(format="rgb24") for f in itertools.islice(c.decode(video=0), n)]
    return frames, fps, truth


def run(label: str, frames: list[np.ndarray], fps: float, *, detector: str, every: int, hog_pixels: int,
        search_every: int, scale_step: float = 1.2, skip: int = 1) -> Run:
    from gazecam.cadence import CadenceDetector
    from gazecam.detect import make_detector
    from gazecam.detect_offline import OfflineHeadDetector
    from gazecam.options import ProcessOptions
    from gazecam.pipeline import make_tracker
    from gazecam.types import Frame

    options = ProcessOptions(detector=detector, detect_every=every)
    if detector == "offline":
        det = OfflineHeadDetector(hog_pixels=hog_pixels, every=search_every, hog_scale_step=scale_step, warn=False)
    else:
        det = make_detector(detector, device="cpu", conf=options.detector_conf)
    cadence = CadenceDetector(detector=det, tracker=make_tracker(options, fps=fps), every=every)
    boxes, detected = [], []
    wall = cpu = 0.0
    for k, image in enumerate(frames):
        i = k * skip  # the source's frame index (the detector sees every skip-th frame)
        frame = Frame(image=image, index=i, timestamp_s=i / fps)
        before = cadence.detections
        t0, c0 = time.perf_counter(), time.process_time()
        boxes.append(cadence.detect(frame))
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        detected.append(cadence.detections > before)
    n = max(1, len(frames))
    return Run(label, boxes, detected, 1e3 * wall / n, 1e3 * cpu / n)


def compare(ref: Run, var: Run) -> dict[str, float]:
    from scipy.optimize import linear_sum_assignment

    from gazecam.detect_offline import box_iou

    ious, ious_pred, missed, extra, switches = [], [], 0, 0, 0
    last_id: dict[int, int] = {}
    for r, v, det in zip(ref.boxes, var.boxes, var.detected):
        m = box_iou(r.xyxy, v.xyxy).astype(np.float64) if len(r) and len(v) else np.zeros((len(r), len(v)))
        rows, cols = linear_sum_assignment(-m) if m.size else (np.zeros(0, int), np.zeros(0, int))
        ok = m[rows, cols] >= MATCH_IOU
        rows, cols = rows[ok], cols[ok]
        ious += list(m[rows, cols])
        if not det:
            ious_pred += list(m[rows, cols])
        missed += len(r) - len(rows)
        extra += len(v) - len(cols)
        for i, j in zip(rows, cols):
            rid, vid = int(r.track_ids[i]), int(v.track_ids[j])
            if rid >= 0 and rid in last_id and last_id[rid] != vid:
                switches += 1
            if rid >= 0:
                last_id[rid] = vid
    n = max(1, len(ref.boxes))
    return {"iou": float(np.mean(ious)) if ious else float("nan"),
            "iou_pred": float(np.mean(ious_pred)) if ious_pred else float("nan"),
            "missed": missed / n, "extra": extra / n, "switches": switches,
            "ref_heads": sum(len(b) for b in ref.boxes) / n}


def _truth_columns(truth: Run, var: Run) -> str:
    c = compare(truth, var)
    found = 1 - c["missed"] / max(c["ref_heads"], 1e-9)
    return f"  | {'':>18}{100 * found:>5.0f}%{c['iou']:>7.3f}{c['extra']:>7.2f}{c['switches']:>7d}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", default="walkers,vtest", help="walkers, vtest and/or video paths (comma-separated)")
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--every", default="1,2,3", help="detection cadences to compare (comma-separated)")
    p.add_argument("--hog-pixels", default=str(960 * 720),
                   help="offline detector: pixels of the frame the pedestrian search works on (comma-separated); "
                        "the first one is the reference's (960x720, the default)")
    p.add_argument("--search-every", default="1,3",
                   help="offline detector: its own full search every K-th frame it sees, optical flow between "
                        "(comma-separated; its default is 3); the first one is the reference's (1: every frame)")
    p.add_argument("--scale-step", default="1.2",
                   help="offline detector: scale step of the pedestrian search's image pyramid (comma-separated; "
                        "its default is 1.2); the first one is the reference's")
    p.add_argument("--detector", default="offline", help="offline (default) or a YOLO head model file")
    p.add_argument("--skip", default="1", help="the detector sees every K-th frame only, as a live source whose "
                                               "newest frame wins (comma-separated; each K its own reference)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    everys = [int(x) for x in args.every.split(",")]
    pixels = [int(x) for x in args.hog_pixels.split(",")]
    searches = [int(x) for x in args.search_every.split(",")]
    steps = [float(x) for x in args.scale_step.split(",")]
    print(f"detector {args.detector}; reference: every frame, hog_pixels {pixels[0]}, scale step {steps[0]:g}, "
          f"search every {searches[0]}; match IoU >= {MATCH_IOU}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, skip in itertools.product(args.videos.split(","), [int(x) for x in args.skip.split(",")]):
            frames, fps, truth = load_frames(name, args.frames, Path(tmp))
            n_all, frames = len(frames), frames[::skip]
            if truth is not None:
                truth = Run("truth", truth.boxes[::skip], truth.detected[::skip], truth.wall_ms, truth.cpu_ms)
            h, w = frames[0].shape[:2]
            ref = run("reference", frames, fps, detector=args.detector, every=1, hog_pixels=pixels[0],
                      search_every=searches[0], scale_step=steps[0], skip=skip)
            seen = "" if skip == 1 else f" (every {skip}th seen: {len(frames)})"
            print(f"\n{name}: {n_all} frames{seen} {w}x{h} at {fps:g} fps; reference {ref.wall_ms:.1f} ms/frame "
                  f"(CPU {ref.cpu_ms:.1f}), {compare(ref, ref)['ref_heads']:.2f} heads/frame, "
                  f"{len({int(i) for b in ref.boxes for i in b.track_ids})} ids")
            vs_truth = "" if truth is None else f"  | vs the true heads: {'found':>6}{'IoU':>7}{'extra':>7}{'id sw':>7}"
            print(f"  {'variant':<26}{'ms/frame':>9}{'CPU ms':>8}{'IoU':>7}{'IoU pred':>9}{'missed':>8}{'extra':>7}"
                  f"{'id sw':>7}{'ids':>5}{vs_truth}")
            if truth is not None:
                print(f"  {'(reference)':<86}{_truth_columns(truth, ref)}")
            for px, step, k, every in itertools.product(pixels, steps, searches, everys):
                label = (f"every {every}" + ("" if px == pixels[0] else f", hog {px // 1000}k")
                         + ("" if step == steps[0] else f", step {step:g}")
                         + ("" if k == searches[0] else f", search {k}"))
                var = run(label, frames, fps, detector=args.detector, every=every, hog_pixels=px, search_every=k,
                          scale_step=step, skip=skip)
                c = compare(ref, var)
                ids = len({int(i) for b in var.boxes for i in b.track_ids})
                print(f"  {label:<26}{var.wall_ms:>9.1f}{var.cpu_ms:>8.1f}{c['iou']:>7.3f}{c['iou_pred']:>9.3f}"
                      f"{c['missed']:>8.2f}{c['extra']:>7.2f}{c['switches']:>7d}{ids:>5d}"
                      f"{'' if truth is None else _truth_columns(truth, var)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
