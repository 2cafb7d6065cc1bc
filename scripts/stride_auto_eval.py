#!/usr/bin/env python
"""How much ``--stride auto`` saves and what it costs: encoder runs and gaze-point displacement vs ``--stride 1``.

Two generated clips with known head boxes (no detector: the same boxes for every configuration):

* ``static``: a still camera over a textured room, three people walking at different speeds;
* ``pan``: the same room with the camera panning sideways (the encoder must run on nearly every frame).

Each clip runs through :class:`gazecam.gaze.GazeStage` with ``stride=1`` (the baseline), ``stride="auto"``
and a fixed stride with the same number of encoder runs as auto, smoothing off (so only the stride
differs).  Per configuration: encoder runs, mean / max gaze-point displacement from stride 1 (in % of the
frame width and in pixels), and the agreement of :mod:`gazecam.fidelity` against stride 1.

    python scripts/stride_auto_eval.py                       # random ViT-S/14 weights (a proxy), 640x360, 40 frames
    python scripts/stride_auto_eval.py --model gazelle_dinov2_vitb14_inout --frames 100   # released weights

Random weights give flat heatmaps whose argmax jumps between near-equal peaks, so their displacement is a
pessimistic proxy; the released weights give the real figure.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gazecam.fidelity import FidelityMeter  # noqa: E402
from gazecam.gaze import DEFAULT_MAX_STRIDE, DEFAULT_SCENE_THRESHOLD, GazeStage  # noqa: E402
from gazecam.types import Frame, HeadBoxes  # noqa: E402

PEOPLE = ((0.10, 3.0, 0.55), (0.45, -2.0, 0.62), (0.70, 1.5, 0.50))  # start x (share of width), speed, feet y
# speed: px per frame at 320 px width (scaled with the width): 3.0 = 6 px/frame at 640 px, a brisk walk at 25 fps


def _room(width: int, height: int) -> np.ndarray:
    """A textured still scene: patterned wallpaper over a gradient, floor, furniture and pictures."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([150 + 40 * np.sin(x / 90), 140 + 30 * np.cos(y / 70), 120 + 20 * np.sin((x + y) / 130)], -1)
    tiles = rng.integers(-30, 31, size=(height // 12 + 1, width // 12 + 1)).astype(np.float32)
    img += np.kron(tiles, np.ones((12, 12), np.float32))[:height, :width, None]  # wallpaper pattern
    img[int(0.72 * height):] = (90, 70, 55)  # floor
    for _ in range(14):  # furniture and pictures
        w, h = rng.integers(width // 20, width // 6), rng.integers(height // 12, height // 4)
        x0, y0 = rng.integers(0, width - w), rng.integers(0, int(0.8 * height) - h)
        img[y0:y0 + h, x0:x0 + w] = rng.integers(20, 235, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _people(img: np.ndarray, i: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw the walkers of frame ``i`` (camera at ``offset`` px); returns (image, (N, 4) head boxes in px)."""
    h, w = img.shape[:2]
    out = img.copy()
    heads = []
    for k, (x0, speed, y_feet) in enumerate(PEOPLE):
        cx = (x0 * w + speed * i * w / 320 - offset) % w
        head_r = 0.045 * h
        top = y_feet * h - 0.35 * h
        bx0, bx1 = int(cx - 0.035 * w), int(cx + 0.035 * w)
        out[int(top + 2 * head_r):int(y_feet * h + 0.2 * h), max(0, bx0):max(0, bx1)] = (60 + 60 * k, 90, 160 - 40 * k)
        yy, xx = np.ogrid[0:h, 0:w]
        cy = top + head_r
        out[(yy - cy) ** 2 + (xx - cx) ** 2 < head_r ** 2] = (225, 185, 155)
        heads.append([cx - head_r, cy - head_r, cx + head_r, cy + head_r])
    return out, np.clip(np.array(heads, np.float32), 0, [w, h, w, h])


def make_clip(kind: str, *, frames: int, width: int, height: int, pan_px: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, head boxes px) per frame of the ``static`` or ``pan`` clip."""
    wide = _room(width * 3, height)
    clip = []
    for i in range(frames):
        offset = pan_px * i if kind == "pan" else 0.0
        x0 = int(offset) % (2 * width)
        view = np.ascontiguousarray(wide[:, x0:x0 + width])
        clip.append(_people(view, i, 0.0))
    return clip


def run(model, clip, *, stride, max_stride: int, threshold: float):  # type: ignore[no-untyped-def]
    stage = GazeStage(model=model, smooth=False, stride=stride, max_stride=max_stride, scene_threshold=threshold)
    out = []
    t0 = time.perf_counter()
    for i, (image, boxes) in enumerate(clip):
        h, w = image.shape[:2]
        heads = HeadBoxes(xyxy=boxes, image_size=(h, w), track_ids=np.arange(len(boxes)))
        out.append(stage.process(Frame(image=image, index=i, timestamp_s=i / 25), heads))
    return out, stage.encodes, time.perf_counter() - t0


def compare(results, baseline) -> dict[str, float]:  # type: ignore[no-untyped-def]
    meter = FidelityMeter()
    shifts = []
    for r, b in zip(results, baseline):
        meter.add(r.heatmaps, b.heatmaps, r.inout, b.inout)
        shifts.extend(np.hypot(*(r.points_xy - b.points_xy).T))
    f = meter.result()
    width = baseline[0].frame.width
    return {"mean_px": float(np.mean(shifts)), "max_px": float(np.max(shifts)),
            "mean_pct": 100 * float(np.mean(shifts)) / width, "agreement": 100 * f.agreement}


def jitter(results) -> float:  # type: ignore[no-untyped-def]
    """Mean gaze-point move of the same person between consecutive frames, % of the frame width (stride 1)."""
    moves = [np.hypot(*(b.points_xy - a.points_xy).T) for a, b in zip(results, results[1:])]
    return 100 * float(np.mean(np.concatenate(moves))) / results[0].frame.width


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="zoo model (released weights); default: random weights")
    p.add_argument("--backbone", default="dinov2_vits14", help="architecture of the random weights (dinov2_vits14)")
    p.add_argument("--backend", default="auto", help="inference backend (auto = onnxruntime on the CPU)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--pan", type=float, default=8.0, help="pan speed, px per frame (8)")
    p.add_argument("--max-stride", type=int, default=DEFAULT_MAX_STRIDE)
    p.add_argument("--scene-threshold", type=float, default=DEFAULT_SCENE_THRESHOLD)
    args = p.parse_args()

    from gazecam.loading import load_runtime
    from gazecam.model import GazeModel

    torch_model = (GazeModel.from_pretrained(args.model, device="cpu") if args.model
                   else GazeModel.from_random(backbone=args.backbone, inout=True, seed=0, device="cpu"))
    model = load_runtime(lambda where: torch_model, backend=args.backend, device="cpu",
                         notify=lambda m: print(m, file=sys.stderr))
    weights = "released weights" if torch_model.released else "RANDOM weights (a proxy)"
    print(f"model {torch_model.name} ({weights}), backend {type(model).__name__}; {args.frames} frames "
          f"{args.width}x{args.height}, 3 people, smoothing off; max_stride {args.max_stride}, scene threshold "
          f"{args.scene_threshold}")
    print(f"{'clip':7s} {'config':10s} {'encodes':>8s} {'mean shift':>16s} {'max shift':>10s} {'agreement':>10s}")
    for kind in ("static", "pan"):
        clip = make_clip(kind, frames=args.frames, width=args.width, height=args.height, pan_px=args.pan)
        base, base_enc, _ = run(model, clip, stride=1, max_stride=args.max_stride, threshold=args.scene_threshold)
        auto, auto_enc, _ = run(model, clip, stride="auto", max_stride=args.max_stride,
                                threshold=args.scene_threshold)
        fixed_n = max(1, math.ceil(args.frames / auto_enc))
        rows = [("stride 1", base, base_enc), ("auto", auto, auto_enc)]
        if fixed_n > 1:
            fixed, fixed_enc, _ = run(model, clip, stride=fixed_n, max_stride=args.max_stride,
                                      threshold=args.scene_threshold)
            rows.append((f"stride {fixed_n}", fixed, fixed_enc))
        for label, res, enc in rows:
            c = compare(res, base)
            print(f"{kind:7s} {label:10s} {enc:8d} {c['mean_pct']:6.2f}% ({c['mean_px']:5.1f} px) "
                  f"{c['max_px']:7.1f} px {c['agreement']:9.1f}%")
        print(f"{kind:7s} (stride 1 itself: the gaze point moves {jitter(base):.2f}% of the width between "
              "consecutive frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
