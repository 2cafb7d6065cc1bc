"""``gazecam export [model options] --format onnx|engine [--fp16] [--precision int8] [--max-heads K] [-o DIR]``."""

from __future__ import annotations

import argparse

from .common import add_model_arguments

HELP = "export the model to ONNX (encoder + decoder graphs) or TensorRT engines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--format", choices=("onnx", "engine"), default="onnx",
                        help="onnx: encoder.onnx + decoder.onnx + gazecam_export.json; engine: also build TensorRT "
                             "engines (needs TensorRT and a CUDA GPU)")
    parser.add_argument("--fp16", action="store_true", help="TensorRT engines with fp16 kernels (--format engine)")
    parser.add_argument("--max-heads", type=int, default=16, metavar="K",
                        help="largest number of heads per decoder call in the TensorRT profile (default 16); "
                             "ONNX graphs take any number")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("-o", "--output", metavar="DIR", default=None,
                        help="output directory (default: ./gazecam-export-<model name>)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..backends import BackendUnavailable
    from ..backends.runtimes import require_tensorrt
    from ..backends.tensorrt_build import build_engines
    from ..errors import InputError
    from ..export import EXPORT_DEVICE, export_onnx
    from ..loading import resolve_device
    from .common import load_torch_model

    if args.max_heads < 1:
        raise InputError(f"--max-heads must be >= 1, got {args.max_heads}")
    if args.fp16 and args.format != "engine":
        raise InputError("--fp16 applies to --format engine (TensorRT builds fp16 kernels from the fp32 ONNX); "
                         "ONNX exports are fp32")
    if args.backend not in ("torch", "auto") or args.precision not in ("fp32", "int8") or args.compile:
        raise InputError("export takes the model options and --precision int8 only (--backend/--compile and other "
                         "precisions do not apply); use --fp16 for fp16 TensorRT engines")
    if args.precision == "int8" and args.format != "onnx":
        raise InputError("--precision int8 applies to --format onnx (int8 encoder and decoder matmuls for onnxruntime on the CPU)")
    if args.format == "engine":
        try:
            require_tensorrt()  # fail before the (slow) export: "TensorRT not available: ..."
        except BackendUnavailable as e:
            raise BackendUnavailable(f"{e}; `gazecam export --format onnx` needs no TensorRT") from e
        device = resolve_device(args.device if args.device != "auto" else "cuda")
        if not device.startswith("cuda"):
            raise InputError(f"--format engine builds for a CUDA GPU; --device {args.device} is not one")
    model = load_torch_model(args, device=EXPORT_DEVICE)
    out = Path(args.output or f"gazecam-export-{model.name}").expanduser()
    print(f"exporting {model.name} ({model.backbone.arch.name}, in/out head: {'yes' if model.has_inout else 'no'}) "
          f"to {out} ...")
    if args.precision == "int8":
        import os
        import shutil

        from ..quantize import Int8Recipe, quantize_export

        recipe = Int8Recipe.for_cpu()
        tmp = out.parent / f".{out.name}.fp32.{os.getpid()}.tmp"  # the fp32 graphs to quantize, removed after
        try:
            export_onnx(model, tmp, max_heads=args.max_heads, opset=args.opset)
            print(f"quantizing the encoder and decoder to int8 ({recipe.describe()}) ...")
            info = quantize_export(tmp, out, recipe=recipe)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        info = export_onnx(model, out, max_heads=args.max_heads, opset=args.opset)
    for role, name in info.files.items():
        size_mb = (out / name).stat().st_size / 1e6
        print(f"  {role}: {out / name} ({size_mb:.1f} MB, sha256 {info.file_sha256[name][:12]})")
    print(f"  sidecar: {out / 'gazecam_export.json'}")
    if not info.released:
        print(f"  note: not the released weights: {info.note or 'unknown origin'}")
    if args.format == "engine":
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        print(f"building TensorRT engines ({'fp16' if args.fp16 else 'fp32'}, 1..{args.max_heads} heads) ...")
        files = build_engines(out, fp16=args.fp16, max_heads=args.max_heads, device_index=index)
        print(f"  encoder engine: {files.encoder}\n  decoder engine: {files.decoder}")
    return 0
