"""CPU benchmark of issue 19: gazelle-dinov3's CNN models against the official Gaze-LLE ViT-B algorithm.

One interleaved run (frame i of every configuration before frame i + 1): the reference = the official
Gaze-LLE ViT-B/14 inference algorithm (fp32 eager, ``research.bench.ReferenceGazeLLE``), then every CNN
(HGNetV2 Atto 320 px, Femto 416 px, Pico / N 640 px) with torch (fp32, BatchNorm folded), onnxruntime fp32,
onnxruntime int8 (the CNN encoder has no MatMul: int8 = the decoder's matmuls) and, on CPUs with native bf16,
torch bf16 (bf16 decoder); random weights (timing does not depend on them); model stages only (capture,
preprocess, encode, decode), 640x480 frames, 1 and 5 heads.  Speedups are frames/s against the reference
of the same run.  Then, per CNN, a short fidelity run: its onnxruntime fp32, int8 (and bf16) rows against
the reference algorithm on the same CNN (gazelle-dinov3's code path: ToTensor + Resize, BatchNorm unfused,
eager), with fidelity columns.

    .venv/bin/python scripts/bench_hgnetv2.py [--frames 10] [--heads 1,5] [--archs hgnetv2_atto,...] [--json OUT]

Run it on an otherwise idle machine (the report prints the load average and flags a busy machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from gazecam.backends import load_backend
from gazecam.model import GazeModel
from gazecam.research.bench import StageHooks, format_report, run_benchmark
from gazecam.research.bench_inputs import pyav_frames, write_synthetic_video

CONFIGS = (("torch", "torch", "fp32"), ("onnxruntime", "onnxruntime", "fp32"),
           ("onnxruntime:int8", "onnxruntime", "int8"))  # int8: encoder and decoder matmuls (a CNN: the decoder's)
BF16 = (("torch:bf16", "torch", "bf16"),)  # CPUs with native bf16 only: bf16 decoder, fp32 CNN encoder


def configs() -> tuple:
    """The configurations this CPU runs: + torch bf16 where it has native bf16 (emulated bf16 is slow)."""
    from gazecam.backends.torch import onednn_bf16_available

    return CONFIGS + BF16 if onednn_bf16_available() else CONFIGS


def _backends(model: GazeModel, prefix: str, configs: tuple) -> list:
    return [(f"{prefix}{label}", load_backend(backend, model=model, device="cpu", precision=precision,
                                              notify=lambda m: print(m, file=sys.stderr)))
            for label, backend, precision in configs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--fidelity-frames", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--heads", default="1,5")
    ap.add_argument("--archs", default="hgnetv2_atto,hgnetv2_femto,hgnetv2_pico,hgnetv2_n")
    ap.add_argument("--json", default=None, help="write every report as JSON")
    args = ap.parse_args()
    heads = [int(h) for h in args.heads.split(",")]
    archs = [a for a in args.archs.split(",") if a]
    reports = {}
    with tempfile.TemporaryDirectory(prefix="bench-hgnetv2-") as tmp:
        frames = max(args.frames, args.fidelity_frames) + args.warmup
        video = write_synthetic_video(Path(tmp) / "v.mp4", frames=frames, width=640, height=480)
        hooks = lambda: StageHooks(frames=lambda: pyav_frames(str(video)),  # noqa: E731
                                   names={"capture": "PyAV H.264 decode (synchronous)", "detect": "n/a",
                                          "render": "n/a", "write": "n/a"})
        vitb = GazeModel.from_random(backbone="dinov2_vitb14", inout=True, seed=0)
        cnns = {a: GazeModel.from_random(backbone=a, inout=True, seed=0) for a in archs}
        others = [pair for a, m in cnns.items() for pair in _backends(m, f"{a} ", configs())]
        report = run_benchmark(model=vitb, backends=[], others=others, heads=heads, frames=args.frames,
                               warmup=args.warmup, hooks=hooks())
        print("== timing: official Gaze-LLE ViT-B algorithm (reference) and the CNN models, one interleaved run")
        print(format_report(report))
        reports["timing"] = report
        for a, m in cnns.items():  # fidelity of fp32 / int8 against the reference algorithm on the same CNN (fp32, int8 and bf16 rows with fidelity columns)
            rep = run_benchmark(model=m, backends=_backends(m, "", configs()[1:]), heads=heads,
                                frames=args.fidelity_frames, warmup=args.warmup, hooks=hooks())
            print(f"\n== fidelity: {a} (reference = gazelle-dinov3's algorithm on the same weights)")
            print(format_report(rep))
            reports[a] = rep
    if args.json:
        Path(args.json).write_text(json.dumps({k: asdict(v) for k, v in reports.items()}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
