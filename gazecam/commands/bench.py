"""``gazecam bench [model options] [--heads 1,5,10] [--backends torch,onnxruntime] [--frames N] [--json OUT]``."""

from __future__ import annotations

import argparse
import functools

from .common import add_model_arguments

HELP = "time every pipeline stage and the backends against a reference run of the official algorithm"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--heads", default="1,5", help="comma-separated head counts (default 1,5)")
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help="comma-separated configurations: torch, torch:compile, torch:bf16, torch:fp16, "
                             "onnxruntime, onnxruntime:int8 (encoder and decoder matmuls), tensorrt, tensorrt:fp16 "
                             "(default torch,onnxruntime); reduced precisions get fidelity columns")
    parser.add_argument("--frames", type=int, default=5, help="timed frames per configuration and head count (5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed warm-up frames per configuration (1)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference run (no speedup line)")
    parser.add_argument("--compare", default=None, metavar="ARCH[,ARCH]",
                        help="also time these backbones (random weights, e.g. dinov3_vit_tiny,dinov3_vits16plus) "
                             "with the same --backends in the same run, against the same reference (their "
                             "heatmaps are not compared: other models)")
    parser.add_argument("--no-detect", action="store_true", help="skip the detect stage")
    parser.add_argument("--no-render", action="store_true", help="skip the render and write stages")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and onnxruntime (default: the CPUs this process may use)")
    parser.add_argument("--json", metavar="OUT", default=None, help="write all figures as JSON")
    parser.add_argument("--chart", metavar="OUT.png", default=None, help="write a PNG chart of the stage times")
    parser.add_argument("--width", type=int, default=1280, help="synthetic video width (1280)")
    parser.add_argument("--height", type=int, default=720, help="synthetic video height (720)")


def _load_bench_model(args: argparse.Namespace, device: str):  # type: ignore[no-untyped-def]
    """Weights from the model options; ``--backbone ARCH`` alone means random weights (timing only)."""
    from ..model import GazeModel
    from .common import load_torch_model

    if args.backbone and not (args.backbone_weights or args.gaze_weights or args.model):
        return GazeModel.from_random(backbone=args.backbone, inout=True, seed=0, device=device)
    return load_torch_model(args, device=device)


def _compare_backends(args: argparse.Namespace, specs, device: str) -> list:  # type: ignore[no-untyped-def]
    """(label, backend) for every --compare backbone x --backends configuration (random weights)."""
    from ..backends import BackendError
    from ..errors import InputError
    from ..model import GazeModel
    from .common import BACKBONES

    out = []
    for arch in (a.strip() for a in (args.compare or "").split(",") if a.strip()):
        if arch not in BACKBONES:
            raise InputError(f"--compare {arch}: unknown backbone; expected one of {', '.join(BACKBONES)}")
        models = functools.cache(lambda where, arch=arch: GazeModel.from_random(backbone=arch, inout=True, seed=0,
                                                                              device=where))  # once per device
        for spec in specs:
            try:
                backend = _load_spec(models, spec, args, device)
            except BackendError as e:
                raise InputError(f"--compare {arch} --backends {spec.label}: {e}") from e
            out.append((f"{arch} {spec.label}", backend))
    return out


def _load_spec(models, spec, args: argparse.Namespace, device: str):  # type: ignore[no-untyped-def]
    """One --backends configuration on ``models(device)`` (through the library's one loading path)."""
    import sys

    from ..loading import load_runtime

    return load_runtime(models, backend=spec.backend, device=device, precision=spec.precision,
                        compile=spec.compile and spec.backend == "torch", threads=args.threads,
                        notify=lambda msg: print(msg, file=sys.stderr))


def _build_hooks(*, video: str, width: int, height: int, banner: str, out_dir: str, detect: bool, render: bool):  # type: ignore[no-untyped-def]
    """Stage hooks from the repo's own modules where they load; n/a (with the reason) otherwise."""
    from ..research.bench import StageHooks
    from ..research.bench_inputs import pyav_frames
    from ..types import Frame

    hooks = StageHooks(frames=lambda: pyav_frames(video), names={"capture": "PyAV H.264 decode (synchronous)"})
    if detect:
        try:
            from ..detect import CascadeHeadDetector

            detector = CascadeHeadDetector()
            hooks.detect = lambda image, i: detector.detect(Frame(image=image, index=i, timestamp_s=i / 25.0))
            hooks.names["detect"] = "gazecam.detect.CascadeHeadDetector (offline fallback; a YOLO model is slower)"
        except Exception as e:  # noqa: BLE001 - a stage that cannot run is reported, not fatal
            hooks.names["detect"] = f"n/a ({type(e).__name__}: {e})"
    else:
        hooks.names["detect"] = "n/a (--no-detect)"
    if render:
        try:
            from ..render import GazeRenderer
            from ..sinks import VideoSink

            renderer = GazeRenderer(banner=banner)
            sink = VideoSink(f"{out_dir}/bench_out.mp4", width=width, height=height, fps=25)
            hooks.render, hooks.write, hooks.close = renderer.render, sink.write, sink.close
            hooks.names["render"] = "gazecam.render.GazeRenderer"
            hooks.names["write"] = "gazecam.sinks.VideoSink (libx264 veryfast)"
        except Exception as e:  # noqa: BLE001
            hooks.names["render"] = hooks.names["write"] = f"n/a ({type(e).__name__}: {e})"
    else:
        hooks.names["render"] = hooks.names["write"] = "n/a (--no-render)"
    return hooks


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    import tempfile
    from pathlib import Path

    import torch
    from tqdm import tqdm

    from ..backends import BackendError
    from ..research.bench import format_report, run_benchmark, save_chart
    from ..research.bench_inputs import parse_backend_specs, parse_heads, write_synthetic_video
    from ..errors import InputError
    from ..loading import resolve_device

    try:
        heads = parse_heads(args.heads)
    except ValueError as e:
        raise InputError(f"--heads: {e}") from e
    try:
        specs = parse_backend_specs(args.backends)
    except ValueError as e:
        raise InputError(f"--backends: {e}") from e
    if args.frames < 1 or args.warmup < 0:
        raise InputError(f"--frames must be >= 1 and --warmup >= 0, got {args.frames} and {args.warmup}")
    if args.backend != "auto" or args.precision != "fp32" or args.compile:
        raise InputError("bench compares configurations given with --backends (e.g. torch,torch:compile,"
                         "onnxruntime,tensorrt:fp16); --backend/--precision/--compile do not apply")
    if args.width < 16 or args.height < 16:
        raise InputError(f"--width/--height must be >= 16, got {args.width}x{args.height}")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    models = functools.cache(lambda where: _load_bench_model(args, where))  # weights(device), once per device
    model = models(device)
    print(f"model: {model!r}" + ("" if model.released else f"\nnote: {model.note or 'not the released weights'}"
                                 " - timings do not depend on weight values"), file=sys.stderr)
    backends = []
    for spec in specs:
        try:
            backends.append((spec.label, _load_spec(models, spec, args, device)))
        except BackendError as e:
            raise InputError(f"--backends {spec.label}: {e}") from e
    others = _compare_backends(args, specs, device)
    try:
        from ..render import untrained_banner_text

        banner = untrained_banner_text(released=model.released, note=model.note)
    except ImportError:  # render stage unavailable: reported as n/a below
        banner = ""
    with tempfile.TemporaryDirectory(prefix="gazecam-bench-") as tmp:
        video = write_synthetic_video(Path(tmp) / "synthetic.mp4", frames=args.frames + args.warmup,
                                      width=args.width, height=args.height)
        hooks = _build_hooks(video=str(video), width=args.width, height=args.height, out_dir=tmp,
                             banner=banner,
                             detect=not args.no_detect, render=not args.no_render)
        n_runs = len(heads) * (len(backends) + len(others) + (0 if args.no_reference else 1)) * (
            args.frames + args.warmup)
        with tqdm(total=n_runs, desc="bench", unit="frame", file=sys.stderr, leave=False) as bar:
            def progress(msg: str) -> None:
                bar.set_postfix_str(msg, refresh=False)
                bar.update(1)

            report = run_benchmark(model=model, backends=backends, heads=heads, frames=args.frames,
                                   warmup=args.warmup, hooks=hooks, reference=not args.no_reference,
                                   progress=progress, others=others)
    print(format_report(report))
    if args.json:
        from ..outputs import atomic_output

        out = Path(args.json).expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"figures: {out}")
    if args.chart:
        print(f"chart: {save_chart(report, Path(args.chart).expanduser())}")
    return 0
