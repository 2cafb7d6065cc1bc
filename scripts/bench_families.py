#!/usr/bin/env python
"""Which model for a CPU?  The WHOLE ``gazecam process`` command for one model of every family, in one run.

For every model (default: the official Gaze-LLE ViT-B/14 as the reference row, gazelle-dinov3 ViT S, and the
four gazelle-dinov3 CNNs HGNetV2 Atto / Femto / Pico / N), one after the other on the same generated clip
(640x360, three people walking, :func:`tests.fakes.make_walkers_video`):

1. **whole command**: ``gazecam process CLIP -o OUT.mp4 --records OUT.jsonl --detector offline --device cpu
   MODEL...`` in a subprocess (:func:`bench_realtime.whole_command`): decoding, offline head detector, tracker,
   gaze, rendering, H.264 encoding, records, stages overlapped; frames/s and the busiest stage thread from its
   summary;
2. **model alone**: ``encode`` + ``decode`` on the same frames with the heads the command found
   (:func:`bench_realtime.model_alone`), in this process, the model loaded exactly as the command loads it.

Then one table, in README markdown: model, family, input size, licence (the zoo's), backend/precision used,
both frame rates, the stage thread that bounds the whole command, and the ratio to the ViT-B row.

**Weights are random** (no download here): each row runs ``GazeModel.from_random`` with the exact architecture
of its zoo entry, saved in the released file formats and passed as ``--gaze-weights`` (+ ``--backbone-weights``
for Gaze-LLE).  Timing does not depend on the weights; the gaze itself is meaningless.

    .venv/bin/python scripts/bench_families.py [--frames 120] [--vit-frames 12] [--model-frames 20]
        [--families gazelle_dinov2_vitb14_inout,dinov3-s-inout,hgnet-atto-inout,...] [--json OUT]

Defaults took 5.4 minutes on a lightly loaded 2-core CPU, 15 at load average ~10 (the ONNX export of each
model, once, on top: cached in ``$GAZECAM_HOME/exports``).  Figures are only comparable within one run; say whether the machine was shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "tests", REPO / "scripts"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from bench_realtime import (  # the same measurement, not a copy
    load,
    model_alone,
    whole_command,
)

from gazecam.zoo import ZooModel, get_zoo_model

REFERENCE = "gazelle_dinov2_vitb14_inout"  # the official Gaze-LLE ViT-B/14: the row every ratio refers to
DEFAULT_FAMILIES = (REFERENCE, "dinov3-s-inout", "hgnet-atto-inout", "hgnet-femto-inout", "hgnet-pico-inout",
                    "hgnet-n-inout")
WEIGHTS_NOTE = ("weights: random (untrained), GazeModel.from_random with each zoo entry's exact architecture; "
                "timing does not depend on the weights")


@dataclass(frozen=True, kw_only=True)
class Row:
    """One model's figures (``*_fps`` None when that part failed; ``error`` then says why)."""

    model: str  # zoo name
    family: str
    input_px: int
    licence: str
    backend: str  # "onnxruntime fp32", "torch fp32", ...
    frames: int  # frames the whole command processed
    whole_fps: float | None
    alone_fps: float | None
    encode_ms: float | None = None  # model alone, per frame
    decode_ms: float | None = None  # model alone, per frame (all the frame's people)
    bound: str  # the stage thread that bounds the whole command ("gaze", "detect", ...)
    bound_ms: float | None  # its busy ms/frame
    people_per_frame: float = 0.0
    load_avg: float = 0.0  # 1-minute load average when the row started
    error: str = ""


def family_label(entry: ZooModel) -> str:
    """The family as a user reads it: Gaze-LLE (DINOv2 ViT), gazelle-dinov3 ViT or gazelle-dinov3 CNN."""
    if entry.family == "gazelle":
        return "Gaze-LLE DINOv2 ViT"
    return "gazelle-dinov3 CNN (HGNetV2)" if entry.backbone.startswith("hgnetv2") else "gazelle-dinov3 ViT"


def is_vit(entry: ZooModel) -> bool:
    return not entry.backbone.startswith("hgnetv2")


def random_weight_files(entry: ZooModel, folder: Path) -> list[str]:
    """Random weights of ``entry``'s exact architecture saved in its released format; the model options of
    ``gazecam process`` that load them.  Seeded, so a rerun reuses the cached ONNX export."""
    import torch

    from gazecam.model import GazeModel
    from gazecam.models.dinov2 import expected_dinov2_shapes

    model = GazeModel.from_random(backbone=entry.backbone, inout=entry.inout, seed=0)
    gaze = folder / f"{entry.name}_random.pt"
    if entry.family != "gazelle":  # gazelle-dinov3: one whole-model training checkpoint
        torch.save({"model": model.official_checkpoint()}, gaze)
        return ["--gaze-weights", str(gaze)]
    # Gaze-LLE: the decoder file + an official DINOv2 backbone file (its 518 px position table, mask token)
    torch.save(model.official_checkpoint(), gaze)
    have = model.backbone.vit.state_dict()
    g = torch.Generator().manual_seed(0)
    backbone = {k: have[k] if k in have and tuple(have[k].shape) == tuple(shape)
                else 0.02 * torch.randn(shape, generator=g)
                for k, shape in expected_dinov2_shapes(model.backbone.arch).items()}
    bb = folder / f"{entry.backbone}_random.pth"
    torch.save(backbone, bb)
    return ["--backbone", entry.backbone, "--backbone-weights", str(bb), "--gaze-weights", str(gaze)]


def heads_by_frame(records: Path) -> dict[int, object]:
    """Normalised head boxes per frame from the command's records (gazecam.records reader)."""
    import numpy as np

    from gazecam.records.reader import read_records

    heads: dict[int, list] = {}
    for r in read_records(records):
        if r.head_xyxy_norm is not None:
            heads.setdefault(r.frame, []).append(r.head_xyxy_norm)
    return {k: np.asarray(v, np.float32) for k, v in heads.items()}


def measure(entry: ZooModel, *, clip: Path, folder: Path, frames: int, model_frames: int,
            runtime: list[str]) -> Row:
    """The whole command, then the model alone on the same frames with the heads it found."""
    load_avg = os.getloadavg()[0]
    common = {"model": entry.name, "family": family_label(entry), "input_px": _input_px(entry),
              "licence": entry.license, "load_avg": load_avg}
    model_args = [*random_weight_files(entry, folder), "--device", "cpu", *runtime]
    model = load(model_args)  # exported (if so) before anything is timed; the subprocess reuses the export
    backend = f"{getattr(model, 'backend', type(model).__name__)} {getattr(model, 'precision', '?')}"
    out = folder / entry.name
    out.mkdir()
    try:
        whole = whole_command(clip, out, model_args, frames)
    except SystemExit as e:  # whole_command exits with the command's error output: one failed row, not the run
        return Row(**common, backend=backend, frames=0, whole_fps=None, alone_fps=None, bound="?", bound_ms=None,
                   error=str(e.code).strip().splitlines()[-1][:200])
    heads = heads_by_frame(out / "out.jsonl")
    alone = model_alone(model, clip, heads, max(1, min(model_frames, whole["frames"] - 1)))
    del model
    gc.collect()
    people = sum(len(v) for v in heads.values()) / max(1, whole["frames"])
    return Row(**common, backend=backend, frames=whole["frames"], whole_fps=whole["fps"], alone_fps=alone["fps"],
               encode_ms=alone["encode_ms"], decode_ms=alone["decode_ms"],
               bound=whole["bound"], bound_ms=whole["thread_ms"].get(whole["bound"]), people_per_frame=people)


def _input_px(entry: ZooModel) -> int:
    from gazecam.models.archs import backbone_input_size

    return backbone_input_size(entry.backbone)


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "failed" if value is None else format(value, spec)


def _ratio(value: float | None, ref: float | None) -> str:
    return "-" if value is None or not ref else f"{value / ref:.1f}x"


def markdown_table(rows: list[Row], *, reference: str = REFERENCE) -> str:
    """The README table: one line per row, ratios to the ``reference`` row of the same run."""
    ref = next((r for r in rows if r.model == reference), None)
    ref_whole, ref_alone = (ref.whole_fps, ref.alone_fps) if ref else (None, None)
    lines = [("| model | family | input | licence | backend | frames | whole command frames/s | model alone frames/s "
              "| model ms/frame (encode + decode) | people/frame | bounded by (busy ms/frame) "
              "| x ViT-B (whole / model) |"),
             "|---|---|---:|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        bound = f"{r.bound} ({r.bound_ms:.0f})" if r.bound_ms is not None else (r.error or r.bound)
        split = "-" if r.encode_ms is None or r.decode_ms is None else f"{r.encode_ms:.0f} + {r.decode_ms:.0f}"
        lines.append(f"| {r.model} | {r.family} | {r.input_px} | {r.licence} | {r.backend} | {r.frames} "
                     f"| {_fmt(r.whole_fps)} | {_fmt(r.alone_fps)} | {split} | {r.people_per_frame:.1f} | {bound} "
                     f"| {_ratio(r.whole_fps, ref_whole)} / {_ratio(r.alone_fps, ref_alone)} |")
    return "\n".join(lines)


def parse_families(text: str) -> list[ZooModel]:
    """Zoo names or aliases, comma-separated -> zoo entries, the reference first (added when missing)."""
    entries = [get_zoo_model(t.strip()) for t in text.split(",") if t.strip()]
    names = [e.name for e in entries]
    if REFERENCE not in names:
        entries.insert(0, get_zoo_model(REFERENCE))
    seen: set[str] = set()
    return [e for e in sorted(entries, key=lambda e: e.name != REFERENCE) if not (e.name in seen or seen.add(e.name))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120,
                    help="frames of the clip, processed by the CNN rows (default 120)")
    ap.add_argument("--vit-frames", type=int, default=12,
                    help="frames processed by the ViT rows, ~0.5-3 frames/s on 2 cores (default 12)")
    ap.add_argument("--model-frames", type=int, default=20,
                    help="frames for the model alone (at most the frames the row processed; default 20)")
    ap.add_argument("--families", default=",".join(DEFAULT_FAMILIES),
                    help="zoo models (names or aliases), one row each; the reference "
                         f"{REFERENCE} is always measured (default: {','.join(DEFAULT_FAMILIES)})")
    ap.add_argument("--backend", default="auto", help="gazecam process --backend (default auto: ONNX Runtime)")
    ap.add_argument("--precision", default="fp32", help="gazecam process --precision (default fp32)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    a = ap.parse_args(argv)
    try:
        entries = parse_families(a.families)
    except ValueError as e:
        ap.error(str(e))
    if a.frames < 2 or a.vit_frames < 2:
        ap.error(f"--frames and --vit-frames must be >= 2, got {a.frames} and {a.vit_frames}")

    from fakes import make_walkers_video

    runtime = ["--backend", a.backend, "--precision", a.precision]
    rows: list[Row] = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gazecam-bench-families-") as tmp:
        folder = Path(tmp)
        clip = make_walkers_video(folder / "walkers.mp4", n=a.frames, width=640, height=360)
        print(f"clip: {a.frames} frames 640x360, 3 people walking; gazecam process --detector offline --device cpu "
              f"{' '.join(runtime)}; {os.cpu_count()} CPU(s), load average {load_start:.1f} at the start\n"
              f"{WEIGHTS_NOTE}", flush=True)
        for entry in entries:
            frames = min(a.frames, a.vit_frames) if is_vit(entry) else a.frames
            print(f"{entry.name}: {frames} frames ...", flush=True)
            row = measure(entry, clip=clip, folder=folder, frames=frames, model_frames=a.model_frames,
                          runtime=runtime)
            rows.append(row)
            print(f"  whole command {_fmt(row.whole_fps)} frames/s, model alone {_fmt(row.alone_fps)} frames/s, "
                  f"bounded by {row.bound}" + (f"; FAILED: {row.error}" if row.error else ""), flush=True)
    load_end = os.getloadavg()[0]
    loads = [r.load_avg for r in rows] + [load_end]
    print(f"\n{markdown_table(rows)}\n\nOne run, one model after the other, {os.cpu_count()} CPU(s), load average "
          f"{min(loads):.1f}-{max(loads):.1f} during the run; {WEIGHTS_NOTE}.  ViT rows processed "
          f"{min(a.frames, a.vit_frames)} frames, CNN rows {a.frames}; model alone on up to {a.model_frames} of "
          "the same frames with the heads the command found.")
    if a.json:
        a.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "reference": REFERENCE,
                                      "weights": WEIGHTS_NOTE, "clip_frames": a.frames, "vit_frames": a.vit_frames,
                                      "model_frames": a.model_frames, "runtime": runtime, "cpus": os.cpu_count(),
                                      "load_start": load_start, "load_end": load_end}, indent=2))
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
