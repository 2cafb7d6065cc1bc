"""One model-loading path: a :class:`ModelSpec` (zoo name or local files + runtime) -> a ready model.

Every consumer builds a ``ModelSpec`` from its own controls (the CLI from its options, the GUI from its
model picker, train/export from theirs) and calls :func:`load_model` (inference: always a
:class:`~gazecam.backends.base.GazeBackend`) or :func:`load_gaze_model` (the torch GazeModel itself, e.g. to
export or fine-tune).  :func:`load_runtime` (bench's random weights too) resolves backend and precision once::

    model = load_model(ModelSpec(name="gazelle_dinov2_vitb14_inout", device="cuda", precision="fp16"))

Errors are :class:`~gazecam.errors.InputError`\\ s naming the Python parameters (``device='cuda'``), so that
GUI and Python users can act on them; the CLI words them as flags.  No torch import at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from .backends import GazeBackend
    from .model import GazeModel

__all__ = ["ModelSpec", "DEFAULT_MODEL", "resolve_device", "load_model", "load_runtime", "load_gaze_model",
           "new_decoder_model"]

DEFAULT_MODEL = "gazelle_dinov2_vitb14_inout"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Which weights to run, and how.

    ``name``: a zoo model (None without files: :data:`DEFAULT_MODEL`).  Local files instead: ``gaze_weights``
    (official Gaze-LLE decoder checkpoint) + ``backbone_weights`` (official DINOv2 checkpoint of architecture
    ``backbone``, inferred when None); ``backbone_weights=None`` with ``gaze_weights`` set means the gaze file
    holds the backbone too.  ``device``: auto | cpu | cuda | cuda:N.  ``backend``: auto | torch | onnxruntime |
    tensorrt.  ``precision``: fp32 | fp16 | bf16 | int8 (onnxruntime, CPU) | auto (the fastest mode within the
    fidelity bound on this CPU, :mod:`gazecam.backends.precision`; fp32 on CUDA).  ``compile``: torch.compile
    (torch backend).  ``progress``: a progress bar while zoo files download.
    """

    name: str | None = None
    backbone: str | None = None
    backbone_weights: Path | None = None
    gaze_weights: Path | None = None
    device: str = "auto"
    backend: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for field_name in ("backbone_weights", "gaze_weights"):
            value = getattr(self, field_name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, field_name, Path(value).expanduser())
        if self.name and self.is_files:
            raise InputError(f"name={self.name!r} and local weight files: give either a zoo model name or "
                             "gaze_weights (+ backbone_weights), not both")
        if self.backbone_weights is not None and self.gaze_weights is None:
            raise InputError(f"backbone_weights={str(self.backbone_weights)!r} needs gaze_weights=FILE too "
                             "(the Gaze-LLE decoder checkpoint)")

    @property
    def is_files(self) -> bool:
        """True when the weights are local files rather than a zoo model."""
        return self.backbone_weights is not None or self.gaze_weights is not None

    @property
    def zoo_name(self) -> str | None:
        """The zoo model to load (the default one when neither a name nor files are given)."""
        return None if self.is_files else (self.name or DEFAULT_MODEL)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; other names are checked (InputError if unusable)."""
    import torch

    name = (name or "auto").strip()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={name!r}: CUDA is not available on this machine (torch {torch.__version__}); "
                         "use device='cpu'")
    try:
        torch.device(name)
    except RuntimeError as e:
        raise InputError(f"device={name!r} is not a valid device: {e}") from e
    return name


def load_gaze_model(spec: ModelSpec, *, device: str | None = None) -> "GazeModel":
    """The torch :class:`~gazecam.model.GazeModel` ``spec`` names, on ``device`` (default: ``spec.device``).

    The runtime fields (backend, precision, compile) are not applied here: see :func:`load_model`.
    """
    from .model import GazeModel

    device = resolve_device(device or spec.device)
    if spec.is_files:
        return GazeModel.from_files(backbone=spec.backbone, backbone_weights=spec.backbone_weights,  # type: ignore[arg-type]
                                    gaze_weights=spec.gaze_weights, device=device)  # type: ignore[arg-type]
    try:
        return GazeModel.from_pretrained(str(spec.zoo_name), device=device, progress=spec.progress)
    except ValueError as e:  # unknown zoo name
        raise InputError(f"name={spec.zoo_name!r}: {e}") from e


def new_decoder_model(*, backbone_weights: str | Path, backbone: str | None = None, inout: bool = True,
                      seed: int = 0, device: str = "auto") -> "GazeModel":
    """A backbone (from ``backbone_weights``) with a freshly initialised decoder, to train.

    The backbone file is an official DINOv2 checkpoint (Gaze-LLE's decoder) or a DINOv3 / DEIMv2 ViT-Tiny
    one (gazelle-dinov3's decoder).  ``backbone``: the architecture the file must hold (None: inferred).
    ``seed`` fixes the decoder's initial weights without touching the global random state.
    """
    import torch

    from .model import GazeModel
    from .models.archs import BACKBONE_NAMES
    from .models.families import backbone_from_state, family_of_backbone, infer_backbone_arch
    from .models.gazelle import GazeLLEDecoder, decoder_config_for
    from .weights import load_state_dict_file

    device = resolve_device(device)
    if backbone is not None and backbone not in BACKBONE_NAMES:
        raise InputError(f"backbone={backbone!r}: unknown backbone; expected one of {', '.join(BACKBONE_NAMES)}")
    state = load_state_dict_file(backbone_weights, what="backbone")
    try:
        arch = infer_backbone_arch(state)
    except ValueError as e:
        raise InputError(f"backbone_weights={str(backbone_weights)!r}: {e}") from e
    if backbone is not None and backbone != arch:
        raise InputError(f"backbone={backbone!r}: but backbone_weights={str(backbone_weights)!r} holds {arch}")
    bb = backbone_from_state(state)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dec = GazeLLEDecoder(config=decoder_config_for(family_of_backbone(arch), in_dim=bb.embed_dim, inout=inout))
    return GazeModel(backbone=bb, decoder=dec, device=device, name=f"random-decoder-{arch}",
                     note="decoder trained from scratch")


def _cpu_hint(model: "GazeModel", device: str, notify: Callable[[str], None] | None) -> "GazeModel":
    """Tell once (one line) which model runs in real time when a ViT model is to run on a CPU."""
    from .zoo import cpu_realtime_hint

    hint = cpu_realtime_hint(model.backbone.arch.name) if notify is not None and device == "cpu" else None
    if hint:
        notify(hint)
    return model


def load_model(spec: ModelSpec, *, notify: Callable[[str], None] | None = None) -> "GazeBackend":
    """The model ``spec`` names on the backend it asks for (torch fp32 included: one runtime interface).

    Option combinations a backend cannot run fail before the (slow) weights load.  onnxruntime/tensorrt
    export the model to ONNX on first use (cached; ``notify`` is told, in one line, when that slow step
    starts, and what ``precision="auto"`` chose).
    """
    from .backends import BackendError

    try:
        device = resolve_device(spec.device)  # where it runs: a ViT on the CPU gets the one-line real-time hint
        return load_runtime(lambda where: _cpu_hint(load_gaze_model(spec, device=where), device, notify),
                            backend=spec.backend, device=device, precision=spec.precision, compile=spec.compile,
                            notify=notify)
    except BackendError as e:
        raise InputError(f"backend={spec.backend!r}: {e}") from e


def load_runtime(weights: Callable[[str], "GazeModel"], *, backend: str = "auto", device: str = "auto",
                 precision: str = "fp32", compile: bool = False, threads: int | None = None,
                 notify: Callable[[str], None] | None = None) -> "GazeBackend":
    """``weights(where)`` (the GazeModel loaded on device ``where``) on ``backend``, run on ``device``.

    Backend and precision (``auto`` too) are resolved and checked once, before ``weights`` is called; ``where``
    is :func:`~gazecam.backends.model_device` (the CPU for the exported-graph backends).  ``threads``:
    onnxruntime's CPU threads.  Raises :class:`~gazecam.backends.base.BackendError` (the caller words it).
    """
    from .backends import model_device, open_backend, resolve_backend_precision

    device = resolve_device(device)
    resolved, precision, reason = resolve_backend_precision(backend, device, precision=precision, compile=compile)
    if reason and notify is not None:
        notify(f"precision auto: {reason}")
    return open_backend(resolved, model=weights(model_device(resolved, device)), device=device, precision=precision,
                        compile=compile, threads=threads, notify=notify)
