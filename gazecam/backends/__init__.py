"""Interchangeable inference backends with one interface (:class:`~gazecam.backends.base.GazeBackend`).

    backend = load_backend("onnxruntime", model=GazeModel.from_random(...))   # exports to ONNX on first use
    feats = backend.encode(image); pred = backend.decode(feats, heads)

Models come loaded (zoo names and weight files: :func:`gazecam.loading.load_model`, which uses this package).

- ``torch``: :class:`~gazecam.backends.torch.TorchBackend` (GazeModel + fp16/bf16 autocast, torch.compile/CUDA graphs)
- ``onnxruntime``: :class:`~gazecam.backends.onnxruntime.OrtBackend` (CPU EP; CUDA EP when installed)
- ``tensorrt``: :class:`~gazecam.backends.tensorrt.TensorRTBackend` (needs TensorRT >= 10 and a CUDA GPU)
- ``auto``: tensorrt on CUDA when available, else torch on CUDA; on the CPU onnxruntime (faster than eager
  torch in fp32), else torch.

Precisions: ``fp32``; ``fp16`` (CUDA); ``bf16`` (torch: CUDA, CPUs with native bf16); ``int8`` (onnxruntime on
the CPU: quantized encoder and decoder matmuls, :mod:`gazecam.quantize`); ``auto`` (the fastest CPU mode within the measured
fidelity bound on this CPU, :mod:`gazecam.backends.precision`).

Importing this package imports no torch/onnxruntime/tensorrt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..export_info import EXPORT_DEVICE
from .base import BACKEND_NAMES, PRECISIONS, BackendError, BackendUnavailable, GazeBackend
from .runtimes import onnxruntime_available, require_tensorrt, tensorrt_available

if TYPE_CHECKING:  # pragma: no cover
    from ..model import GazeModel

__all__ = ["load_backend", "open_backend", "model_device", "available_backends", "resolve_backend_name",
           "resolve_backend_precision", "check_backend_options", "GazeBackend", "BackendError", "BackendUnavailable",
           "BACKEND_NAMES", "PRECISIONS"]


def available_backends() -> list[str]:
    """Backends that can run on this machine (torch always; the others if their runtime is usable)."""
    names = ["torch"]
    if onnxruntime_available():
        names.append("onnxruntime")
    if tensorrt_available():
        names.append("tensorrt")
    return names


def resolve_backend_name(name: str, device: str, *, precision: str = "fp32", compile: bool = False) -> str:
    """``auto`` -> the fastest backend available for ``device`` that runs ``precision``/``compile`` (CUDA: tensorrt
    when installed, else torch; CPU: onnxruntime for plain fp32, else torch).  Other names are checked."""
    if name == "auto":
        if compile or precision == "bf16":
            return "torch"
        if precision == "int8":
            return "onnxruntime"
        if device.startswith("cuda"):
            return "tensorrt" if tensorrt_available() else "torch"
        return "onnxruntime" if precision == "fp32" and onnxruntime_available() else "torch"
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)} or auto")
    return name


def check_backend_options(backend: str, *, precision: str = "fp32", compile: bool = False) -> None:
    """Reject option combinations a (resolved) backend cannot run, before anything slow is loaded."""
    if precision not in PRECISIONS:
        raise BackendError(f"precision must be one of {', '.join(PRECISIONS)} or auto, got {precision!r}")
    if backend != "torch" and compile:
        raise BackendError(f"compile=True applies to the torch backend, not {backend}")
    if backend == "onnxruntime" and precision not in ("fp32", "int8"):
        raise BackendError(f"the onnxruntime backend runs fp32 or int8 exports, not {precision}; use "
                           "backend='tensorrt' with precision='fp16', or backend='torch' for fp16/bf16")
    if precision == "int8" and backend != "onnxruntime":
        raise BackendError(f"precision='int8' runs on the onnxruntime backend (CPU), not {backend}")
    if backend == "tensorrt" and precision == "bf16":
        raise BackendError("the tensorrt backend builds fp32 or fp16 engines; use precision='fp16'")
    if backend == "tensorrt":
        require_tensorrt()  # "TensorRT not available: ..." before an export that would be useless
    if backend == "onnxruntime" and not onnxruntime_available():
        raise BackendUnavailable("onnxruntime is not installed; pip install onnxruntime (or onnxruntime-gpu)")


def resolve_backend_precision(name: str, device: str, *, precision: str = "fp32", compile: bool = False
                              ) -> tuple[str, str, str]:
    """(backend, precision, reason): ``auto`` backend and ``auto`` precision made concrete for ``device``, checked.

    ``reason`` says why ``precision="auto"`` chose what it did (empty for an explicit precision).
    """
    reason = ""
    if precision == "auto":
        from .precision import resolve_precision

        choice = resolve_precision("auto", backend="torch" if compile and name == "auto" else name, device=device)
        name, precision, reason = choice.backend, choice.precision, choice.reason
    resolved = resolve_backend_name(name, device, precision=precision, compile=compile)
    check_backend_options(resolved, precision=precision, compile=compile)
    if precision == "int8" and device != "cpu":
        raise BackendError(f"precision='int8' runs on the CPU (device='cpu'), not device={device!r}")
    return resolved, precision, reason


def model_device(backend: str, device: str) -> str:
    """Where the torch model must be for a (resolved) ``backend`` running on ``device``: there for torch; on
    the CPU for the exported-graph backends, whose ONNX export is traced on the CPU."""
    return device if backend == "torch" else EXPORT_DEVICE


def load_backend(name: str = "auto", *, model: "GazeModel | None" = None, export_dir: str | Path | None = None,
                 device: str = "cpu", precision: str = "fp32", compile: bool = False, max_heads: int = 16,
                 threads: int | None = None, export_root: str | Path | None = None,
                 notify: Callable[[str], None] | None = None) -> GazeBackend:
    """:func:`open_backend` after :func:`resolve_backend_precision`: ``name`` and ``precision`` may be ``auto``
    (``notify`` is told what auto precision chose).  ``model``: a loaded GazeModel, on :func:`model_device`."""
    resolved, precision, reason = resolve_backend_precision(name, device, precision=precision, compile=compile)
    if reason and notify is not None:
        notify(f"precision auto: {reason}")
    return open_backend(resolved, model=model, export_dir=export_dir, device=device, precision=precision,
                        compile=compile, max_heads=max_heads, threads=threads, export_root=export_root, notify=notify)


def open_backend(backend: str, *, model: "GazeModel | None" = None, export_dir: str | Path | None = None,
                 device: str = "cpu", precision: str = "fp32", compile: bool = False, max_heads: int = 16,
                 threads: int | None = None, export_root: str | Path | None = None,
                 notify: Callable[[str], None] | None = None) -> GazeBackend:
    """``backend`` running ``model`` (exported to ONNX on first use, cached) or ``export_dir``, with ``backend`` and
    ``precision`` as :func:`resolve_backend_precision` made them (nothing is resolved again).

    ``precision``: fp32 everywhere; fp16 for torch on CUDA and tensorrt; bf16 for torch (CUDA, or CPUs
    with bf16 support); int8 for onnxruntime on the CPU (quantized encoder and decoder matmuls, exported and cached on
    first use).  ``compile``: torch.compile (torch backend only).  ``max_heads``: largest decoder batch of the
    TensorRT profile / compiled torch decoder (more heads run in chunks).  ``threads``: onnxruntime's CPU
    threads.  ``notify``: told (one line) when a slow first-use export starts.
    """
    if isinstance(model, (str, Path)):
        raise BackendError(f"model={str(model)!r}: expected a loaded GazeModel, got a name or file; load zoo "
                           "models and weight files with gazecam.loading.load_model(ModelSpec(...))")
    if backend == "torch":
        if model is None:
            raise BackendError("the torch backend needs a model (an ONNX export directory cannot run on torch)")
        from .torch import TorchBackend

        model_dev = str(model.device)
        if model_dev != device and not (device == "cuda" and model_dev.startswith("cuda")):
            raise BackendError(f"the model is on {model_dev} but device {device!r} was asked for")
        return TorchBackend(model=model, precision=precision, compile=compile, max_heads=max_heads)
    if export_dir is None:
        if model is None:
            raise BackendError(f"the {backend} backend needs a model or an export directory")
        from ..export import ensure_onnx_export

        export_dir = ensure_onnx_export(model, root=export_root, max_heads=max_heads, notify=notify,
                                        precision="int8" if precision == "int8" else "fp32")
    if backend == "onnxruntime":
        from .onnxruntime import OrtBackend

        opened: GazeBackend = OrtBackend(export_dir=export_dir, device=device, threads=threads)
        if precision == "int8" and opened.precision != "int8":
            raise BackendError(f"precision='int8' but {export_dir} holds an {opened.precision} export; make an "
                               "int8 export with gazecam.quantize.quantize_export")
    else:
        from .tensorrt import TensorRTBackend

        opened = TensorRTBackend(export_dir=export_dir, device=device, fp16=precision == "fp16", max_heads=max_heads)
    if model is not None:  # exports are cached by weights: whether they are the released ones is the model's say
        opened.name, opened.released, opened.note = model.name, model.released, model.note
    return opened
