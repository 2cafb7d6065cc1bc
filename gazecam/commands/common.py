"""Options shared by every command that runs a model."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..backends import GazeBackend
    from ..model import GazeModel

from ..models.archs import BACKBONE_NAMES as BACKBONES  # noqa: E402 (torch-free table)


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = "gazelle_dinov2_vitb14_inout"
                        ) -> None:
    from ..zoo import ZOO

    g = parser.add_argument_group("model", "a zoo model (--model) or local files (--backbone-weights + --gaze-weights)")
    g.add_argument("--model", default=None, metavar="NAME",
                   help=f"zoo model, downloaded on first use: {', '.join(ZOO)}, or an alias such as dinov3-x-inout "
                        f"(default: {default_model}); gazelle_dinov3_* weights are under the DINOv3 License "
                        "(see `gazecam models list`)")
    g.add_argument("--backbone", choices=BACKBONES, default=None, help="architecture of --backbone-weights")
    g.add_argument("--backbone-weights", metavar="FILE", default=None,
                   help="backbone checkpoint (official DINOv2 .pth; DINOv3 / ViT-Tiny also accepted)")
    g.add_argument("--gaze-weights", metavar="FILE", default=None,
                   help="Gaze-LLE decoder checkpoint (.pt, with --backbone-weights), or a whole gazelle-dinov3 "
                        "model file (alone)")
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
        if not args.gaze_weights:
            raise InputError("--backbone-weights needs --gaze-weights FILE (the decoder checkpoint)")
        # without --backbone-weights the gaze file must hold the backbone (gazelle-dinov3 files do)
        return GazeModel.from_files(backbone=args.backbone, backbone_weights=args.backbone_weights or None,
                                    gaze_weights=args.gaze_weights, device=device)
    name = args.model or args._default_model
    if not name:
        raise InputError("no model given: use --model NAME or --backbone-weights FILE --gaze-weights FILE")
    try:
        return GazeModel.from_pretrained(name, device=device, progress=True)  # downloads are long: always show
    except ValueError as e:
        raise InputError(str(e)) from e
