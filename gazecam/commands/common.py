"""Options shared by every command that runs a model."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..backends import GazeBackend
    from ..model import GazeModel

BACKBONES = ("dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14")

#: Python parameter (as library messages name it: ``precision='fp16'``) -> command-line flag.
PARAMETER_FLAGS = {
    "name": "--model", "backbone": "--backbone", "backbone_weights": "--backbone-weights",
    "gaze_weights": "--gaze-weights", "device": "--device", "backend": "--backend", "precision": "--precision",
    "compile": "--compile", "video_path": "-o", "records_path": "--records", "heads_path": "--heads",
    "detector": "--detector", "detector_class": "--detector-class", "detector_conf": "--detector-conf",
    "stride": "--stride", "inout_threshold": "--inout-threshold", "heatmap": "--heatmap",
    "max_frames": "--max-frames",
}
_PARAMETER = re.compile(r"(?<![\w.-])(" + "|".join(sorted(PARAMETER_FLAGS, key=len, reverse=True))
                        + r")=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)")


def flag_wording(message: str) -> str:
    """A library message in command-line words: ``precision='fp16'`` -> ``--precision fp16``.

    The one place where Python parameter names become flags (library errors name parameters, so that GUI and
    Python users can act on them too).
    """
    def flag(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        if name == "compile":
            return "--compile" if value == "True" else "no --compile"
        return f"{PARAMETER_FLAGS[name]} {value}"

    return _PARAMETER.sub(flag, message)


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = "gazelle_dinov2_vitb14_inout"
                        ) -> None:
    from ..zoo import ZOO

    g = parser.add_argument_group("model", "a zoo model (--model) or local files (--backbone-weights + --gaze-weights)")
    g.add_argument("--model", default=None, metavar="NAME",
                   help=f"zoo model, downloaded on first use: {', '.join(ZOO)} (default: {default_model})")
    g.add_argument("--backbone", choices=BACKBONES, default=None, help="DINOv2 architecture of --backbone-weights")
    g.add_argument("--backbone-weights", metavar="FILE", default=None, help="official DINOv2 checkpoint (.pth)")
    g.add_argument("--gaze-weights", metavar="FILE", default=None, help="Gaze-LLE decoder checkpoint (.pt)")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto = cuda if available)")
    g.add_argument("--backend", choices=("torch", "onnxruntime", "tensorrt", "auto"), default="auto",
                   help="inference backend (default: auto = onnxruntime on the CPU, tensorrt on CUDA if installed, "
                        "else torch); onnxruntime/tensorrt export the model to ONNX on first use (cached)")
    g.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                   help="fp32 (default); fp16: torch on CUDA or tensorrt; bf16: torch (CUDA, or CPUs with bf16)")
    g.add_argument("--compile", action="store_true",
                   help="torch backend: torch.compile the model (CUDA graphs on GPUs; slow first frames)")
    parser.set_defaults(_default_model=default_model)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available on this machine (torch {torch.__version__}); "
                         "use --device cpu")
    try:
        torch.device(name)
    except RuntimeError as e:
        raise InputError(f"--device {name!r} is not a valid device: {e}") from e
    return name


def load_model(args: argparse.Namespace) -> "GazeBackend":
    """The model the command-line options ask for, on the backend they ask for (clear errors for bad options).

    ``--backend torch`` with fp32 and no ``--compile`` gives the :class:`GazeModel` itself.
    """
    from ..backends import BackendError, check_backend_options, load_backend, resolve_backend_name

    device = resolve_device(args.device)
    backend = getattr(args, "backend", "auto") or "auto"
    precision = getattr(args, "precision", "fp32") or "fp32"
    compiled = bool(getattr(args, "compile", False))
    try:
        resolved = resolve_backend_name(backend, device, precision=precision, compile=compiled)
        check_backend_options(resolved, precision=precision, compile=compiled)  # before the (slow) model load
        if resolved == "torch" and precision == "fp32" and not compiled:
            return load_torch_model(args, device=device)
        model = load_torch_model(args, device=device if resolved == "torch" else "cpu")
        return load_backend(resolved, model=model, device=device, precision=precision, compile=compiled,
                            notify=lambda msg: print(msg, file=sys.stderr))
    except BackendError as e:
        raise InputError(f"--backend {backend}: {e}") from e


def load_torch_model(args: argparse.Namespace, *, device: str | None = None) -> "GazeModel":
    """The :class:`GazeModel` the model options name (zoo name, or local files), on ``device``."""
    from ..model import GazeModel

    files = (args.backbone_weights, args.gaze_weights)
    device = device or resolve_device(args.device)
    if any(files):
        if args.model:
            raise InputError("give either --model or --backbone-weights/--gaze-weights, not both")
        if not all(files):
            raise InputError("local weights need both --backbone-weights FILE and --gaze-weights FILE")
        return GazeModel.from_files(backbone=args.backbone, backbone_weights=args.backbone_weights,
                                    gaze_weights=args.gaze_weights, device=device)
    name = args.model or args._default_model
    if not name:
        raise InputError("no model given: use --model NAME or --backbone-weights FILE --gaze-weights FILE")
    try:
        return GazeModel.from_pretrained(name, device=device, progress=True)  # downloads are long: always show
    except ValueError as e:
        raise InputError(str(e)) from e
