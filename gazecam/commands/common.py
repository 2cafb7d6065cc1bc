"""Options shared by every command that runs a model."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import InputError
from ..loading import DEFAULT_MODEL, ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..backends import GazeBackend
    from ..gaze import GazeOptions
    from ..model import GazeModel

from ..models.archs import BACKBONE_NAMES as BACKBONES  # noqa: E402 (torch-free table)

#: Python parameter (as library messages name it: ``precision='fp16'``) -> command-line flag.
PARAMETER_FLAGS = {
    "name": "--model", "backbone": "--backbone", "backbone_weights": "--backbone-weights",
    "gaze_weights": "--gaze-weights", "device": "--device", "backend": "--backend", "precision": "--precision",
    "compile": "--compile", "video_path": "-o", "records_path": "--records", "heads_path": "--heads",
    "detector": "--detector", "detector_class": "--detector-class", "class_name_or_id": "--detector-class",
    "detector_conf": "--detector-conf", "detect_every": "--detect-every",
    "stride": "--stride", "max_stride": "--max-stride", "scene_threshold": "--scene-threshold",
    "inout_threshold": "--inout-threshold", "heatmap": "--heatmap",
    "max_frames": "--max-frames", "aois": "--aoi",
    "video": "--video", "max_gap_s": "--max-gap", "min_duration_s": "--min-duration", "joint_radius": "--joint-radius",
    "person_tiers": "--person", "value_map": "--value",
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


def number(kind: type[int] | type[float], expected: str, *, low: float | None = None, high: float | None = None,
           above: float | None = None, finite: bool = False, words: tuple[str, ...] = (), echo_text: bool = False
           ) -> Callable[[str], int | float | str]:
    """An argparse ``type`` for a number: the one place the command line parses numbers.

    ``low`` <= value <= ``high`` (``above``: value > it; ``finite``: no infinity); ``words`` are accepted as
    they are (e.g. ``auto``).  Errors read ``expected EXPECTED, got ...``: the text as typed when it is not a
    number (or with ``echo_text``), else the parsed value.
    """
    def parse(text: str) -> int | float | str:
        if text.strip().lower() in words:
            return text.strip().lower()
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if ((low is not None and not value >= low) or (high is not None and not value <= high)
                or (above is not None and not value > above) or (finite and value == float("inf"))):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {repr(text) if echo_text else value}")
        return value

    return parse


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = DEFAULT_MODEL) -> None:
    from ..zoo import ZOO

    g = parser.add_argument_group("model", "a zoo model (--model) or local files (--gaze-weights [+ --backbone-weights])")
    g.add_argument("--model", default=None, metavar="NAME",
                   help=f"zoo model, downloaded on first use: {', '.join(ZOO)}, or an alias such as dinov3-x-inout "
                        f"(default: {default_model}); gazelle_dinov3_* weights are under the DINOv3 License "
                        "(see `gazecam models list`)")
    g.add_argument("--backbone", choices=BACKBONES, default=None, help="architecture of --backbone-weights")
    g.add_argument("--backbone-weights", metavar="FILE", default=None,
                   help="backbone checkpoint (official DINOv2 .pth; DINOv3 / ViT-Tiny also accepted)")
    g.add_argument("--gaze-weights", metavar="FILE", default=None,
                   help="Gaze-LLE decoder checkpoint (.pt, with --backbone-weights); alone: a checkpoint that also "
                        "holds its backbone (a gazelle-dinov3 model file)")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto = cuda if available)")
    g.add_argument("--backend", choices=("torch", "onnxruntime", "tensorrt", "auto"), default="auto",
                   help="inference backend (default: auto = onnxruntime on the CPU, tensorrt on CUDA if installed, "
                        "else torch); onnxruntime/tensorrt export the model to ONNX on first use (cached)")
    from ..backends.precision import precision_help

    g.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8", "auto"), default="fp32",
                   help=precision_help())
    g.add_argument("--compile", action="store_true",
                   help="torch backend: torch.compile the model (CUDA graphs on GPUs; slow first frames)")
    parser.set_defaults(_default_model=default_model)


def model_spec(args: argparse.Namespace, *, progress: bool = True) -> ModelSpec:
    """The :class:`~gazecam.loading.ModelSpec` the model options (:func:`add_model_arguments`) ask for."""
    files = args.backbone_weights or args.gaze_weights
    name = args.model or (None if files else getattr(args, "_default_model", None))
    if not name and not files:
        raise InputError("no model given: use --model NAME or --gaze-weights FILE (+ --backbone-weights FILE)")
    return ModelSpec(name=name, backbone=getattr(args, "backbone", None), backbone_weights=args.backbone_weights,
                     gaze_weights=args.gaze_weights, device=getattr(args, "device", "auto") or "auto",
                     backend=getattr(args, "backend", "auto") or "auto",
                     precision=getattr(args, "precision", "fp32") or "fp32",
                     compile=bool(getattr(args, "compile", False)), progress=progress)


def load_model(args: argparse.Namespace) -> "GazeBackend":
    """The model the command-line options ask for, on the backend they ask for (see :func:`gazecam.loading.load_model`)."""
    from ..loading import load_model as load

    return load(model_spec(args), notify=lambda msg: print(msg, file=sys.stderr))


def load_torch_model(args: argparse.Namespace, *, device: str | None = None) -> "GazeModel":
    """The :class:`GazeModel` the model options name (zoo name, or local files), on ``device``."""
    from ..loading import load_gaze_model

    return load_gaze_model(model_spec(args), device=device)


def add_detect_every_argument(group: "argparse._ArgumentGroup") -> None:
    """``--detect-every N`` (:attr:`gazecam.options.ProcessOptions.detect_every`) of ``process`` and ``batch``."""
    group.add_argument("--detect-every", type=number(int, "a whole number >= 1", low=1), default=1, metavar="N",
                       help="run the head detector on every N-th frame only, the tracker predicting the heads "
                            "(same ids) in between: less detection time, less exact boxes (measured in the README's "
                            "speed section: the offline detector, which already searches every 3rd frame, saves "
                            "about 1/4 with 2; default 1: every frame)")


def gaze_options(args: argparse.Namespace) -> "GazeOptions":
    """The :class:`~gazecam.gaze.GazeOptions` of the gaze options (--stride, --max-stride, --scene-threshold,
    --no-smooth, --inout-threshold) of ``process`` and ``batch``."""
    from ..gaze import GazeOptions

    return GazeOptions(smooth=not args.no_smooth, inout_threshold=args.inout_threshold, stride=args.stride,
                       max_stride=args.max_stride, scene_threshold=args.scene_threshold)
