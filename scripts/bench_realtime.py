#!/usr/bin/env python
"""Does the video path keep up with a fast model?  The whole ``gazecam process`` command vs the model alone.

One run, same machine, same clip, one after the other:

1. **model alone**: the gaze model's ``encode`` + ``decode`` on the clip's frames, nothing else: before the
   whole command with three fixed heads, after it with the heads the command found (the same people per
   frame); the two are combined (harmonic mean), as the load of a shared machine drifts;
2. **whole command**: ``gazecam process CLIP -o OUT.mp4 --records OUT.jsonl --detector offline MODEL...`` in a
   subprocess (decoding, offline head detector, tracker, gaze, rendering, H.264 encoding, records; stages
   overlapped in threads), its frames/s and per-stage times taken from its summary;
3. with ``--sequential``: the same job in this process with the stages one after the other
   (``process_source(..., overlap=False)``), to see what overlapping gains.

The clip is generated: 640x360, three stick-figure people walking over a still room (OpenCV's HOG finds
them; :func:`tests.fakes.make_walkers_video`).  The model defaults to HGNetV2 Atto in/out with the random
weights of ``../shared/golden_hgnetv2`` (timing does not depend on the weights), else the zoo's Atto.

    .venv/bin/python scripts/bench_realtime.py [--frames 200] [--model-frames 50] [--sequential]
        [--model-args "--model gazelle_hgnetv2_atto_inout --device cpu"]

Figures are only comparable within one run; say whether the machine was shared with other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

ATTO_RANDOM = REPO.parent / "shared" / "golden_hgnetv2" / "gazelle_hgnetv2_atto_inout_random.pt"


def default_model_args() -> str:
    if ATTO_RANDOM.is_file():
        return f"--gaze-weights {ATTO_RANDOM} --device cpu"
    return "--model gazelle_hgnetv2_atto_inout --device cpu"


def whole_command(clip: Path, out: Path, model_args: list[str], max_frames: int | None) -> dict:
    """Run ``gazecam process`` and read frames/s and stage times from its summary."""
    cmd = [sys.executable, "-m", "gazecam", "process", str(clip), "-o", str(out / "out.mp4"), "--records",
           str(out / "out.jsonl"), "--detector", "offline", *model_args]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    total_s = time.perf_counter() - t0
    err = proc.stderr
    if proc.returncode != 0:
        sys.exit(f"gazecam process failed ({proc.returncode}):\n{err[-3000:]}")
    done = re.search(r"done: (\d+) frame\(s\) in ([\d.]+) s \(([\d.]+) fps\)", err)
    stages = re.search(r"ms/frame: (.*?) \(encode", err)
    busy = re.search(r"busy ms/frame per stage thread: (.*?) \(they overlap: (\w+) bounds", err)
    if not done:
        sys.exit(f"no summary in the output of gazecam process:\n{err[-3000:]}")

    def pairs(text: str) -> dict[str, float]:
        return {k: float(v) for k, v in (p.rsplit(" ", 1) for p in text.split(", "))}

    return {"frames": int(done.group(1)), "wall_s": float(done.group(2)), "fps": float(done.group(3)),
            "process_s": total_s, "stage_ms": pairs(stages.group(1)) if stages else {},
            "thread_ms": pairs(busy.group(1)) if busy else {}, "bound": busy.group(2) if busy else "?"}


def load(model_args: list[str]):
    from gazecam.cli import build_parser
    from gazecam.commands.common import load_model

    args = build_parser().parse_args(["process", "CLIP", "-o", "OUT.mp4", *model_args])
    return load_model(args)


def model_alone(model, clip: Path, heads_by_frame: dict[int, np.ndarray], frames: int) -> dict:
    """encode + decode per frame (the heads the whole command found), after one warm-up frame."""
    import av

    with av.open(str(clip)) as c:
        images = [f.to_ndarray(format="rgb24") for _, f in zip(range(frames + 1), c.decode(video=0))]
    empty = np.zeros((0, 4), np.float32)
    model.decode(model.encode(images[0]), heads_by_frame.get(0, np.array([[0.4, 0.2, 0.5, 0.4]], np.float32)))
    enc = dec = 0.0
    for i, image in enumerate(images[1:], start=1):
        boxes = heads_by_frame.get(i, empty)
        t0 = time.perf_counter()
        feats = model.encode(image)
        t1 = time.perf_counter()
        if len(boxes):
            model.decode(feats, boxes)
        t2 = time.perf_counter()
        enc, dec = enc + t1 - t0, dec + t2 - t1
    n = len(images) - 1
    return {"frames": n, "fps": n / (enc + dec), "encode_ms": enc * 1e3 / n, "decode_ms": dec * 1e3 / n}


def sequential(model, clip: Path, out: Path, max_frames: int | None) -> dict:
    from gazecam.jobs import ProcessOptions, process_source

    report = process_source(clip, model=model, options=ProcessOptions(detector="offline", max_frames=max_frames),
                            video_path=out / "seq.mp4", records_path=out / "seq.jsonl", overlap=False,
                            notify=lambda msg: None)
    return {"frames": report.frames, "fps": report.frames / report.wall_s, "stage_ms": report.stage_ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200, help="frames of the generated clip (default 200)")
    ap.add_argument("--max-frames", type=int, default=None, help="process only the first N frames")
    ap.add_argument("--model-frames", type=int, default=50, help="frames for the model alone (default 50)")
    ap.add_argument("--model-args", default=None, help=f"model options of gazecam process (default: "
                                                       f"{default_model_args()!r})")
    ap.add_argument("--sequential", action="store_true", help="also the stages one after the other, in-process")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    a = ap.parse_args()
    model_args = shlex.split(a.model_args or default_model_args())

    from fakes import make_walkers_video

    with tempfile.TemporaryDirectory(prefix="gazecam-bench-rt-") as tmp:
        out = Path(tmp)
        clip = make_walkers_video(out / "walkers.mp4", n=a.frames, width=640, height=360)
        print(f"clip: {a.frames} frames 640x360, 3 people walking; model options: {' '.join(model_args)}; "
              f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at the start", flush=True)
        model = load(model_args)  # loaded (and exported, if so) before anything is timed
        n_alone = min(a.model_frames, a.frames - 1)
        three = {i: np.array([[0.07, 0.2, 0.13, 0.3], [0.47, 0.15, 0.55, 0.27], [0.77, 0.25, 0.83, 0.34]],
                             np.float32) for i in range(n_alone + 1)}
        before = model_alone(model, clip, three, n_alone)  # before and after the whole command: load drifts
        whole = whole_command(clip, out, model_args, a.max_frames)
        heads: dict[int, list] = {}
        for line in (out / "out.jsonl").read_text().splitlines():
            row = json.loads(line)
            heads.setdefault(int(row["frame"]), []).append(row["head_xyxy_norm"])
        heads_np = {k: np.asarray(v, np.float32) for k, v in heads.items()}
        after = model_alone(model, clip, heads_np, n_alone)
        alone = {"frames": n_alone, "fps": 2 / (1 / before["fps"] + 1 / after["fps"]),
                 "encode_ms": (before["encode_ms"] + after["encode_ms"]) / 2,
                 "decode_ms": (before["decode_ms"] + after["decode_ms"]) / 2,
                 "fps_before": before["fps"], "fps_after": after["fps"]}
        seq = sequential(model, clip, out, a.max_frames) if a.sequential else None
        load_end = os.getloadavg()[0]

    people = sum(len(v) for v in heads.values()) / max(1, whole["frames"])
    print(f"\nmodel alone ({model.name}, {alone['frames']} frames, {people:.1f} people/frame): "
          f"{alone['fps']:.1f} frames/s (encode {alone['encode_ms']:.1f} ms + decode {alone['decode_ms']:.1f} ms; "
          f"{alone['fps_before']:.1f} before the whole command with 3 fixed heads, {alone['fps_after']:.1f} after "
          "with the heads it found)")
    print(f"whole gazecam process:  {whole['fps']:.1f} frames/s over {whole['frames']} frames "
          f"= {100 * whole['fps'] / alone['fps']:.0f}% of the model alone (goal >= 60%)")
    print("  stage means, ms/frame: " + ", ".join(f"{k} {v:.1f}" for k, v in whole["stage_ms"].items()))
    print("  busy ms/frame per stage thread: " + ", ".join(f"{k} {v:.1f}" for k, v in whole["thread_ms"].items())
          + f" -> {whole['bound']} bounds the frame rate")
    if seq is not None:
        print(f"same job, stages one after the other (in-process): {seq['fps']:.1f} frames/s "
              f"(overlapped: {whole['fps'] / seq['fps']:.2f}x)")
    print(f"load average at the end: {load_end:.1f} ({os.cpu_count()} CPUs)")
    if a.json:
        a.json.write_text(json.dumps({"model_alone": alone, "whole": whole, "sequential": seq,
                                      "people_per_frame": people}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
