"""Which inference runtimes are usable here (onnxruntime, TensorRT + CUDA): a leaf module that the backend
and precision choices, the TensorRT backend and its engine builder all ask.  Nothing imported at import time."""

from __future__ import annotations

from typing import Any

from .base import BackendUnavailable

__all__ = ["onnxruntime_available", "require_tensorrt", "tensorrt_available", "gpu_name"]


def onnxruntime_available() -> bool:
    """Whether the onnxruntime package imports."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def require_tensorrt() -> Any:
    """The imported ``tensorrt`` module, or ``BackendUnavailable("TensorRT not available: ...")``."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise BackendUnavailable(
            f"TensorRT not available: cannot import the tensorrt Python package ({e}). Install TensorRT >= 10 "
            "for your CUDA version (pip install tensorrt on a machine with an NVIDIA GPU), or use "
            "backend='torch' or backend='onnxruntime'") from e
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT not available: no CUDA GPU is visible to torch "
                                 f"(torch {torch.__version__}); use backend='torch' or backend='onnxruntime'")
    version = getattr(trt, "__version__", "0")
    if int(version.split(".")[0] or 0) < 10:
        raise BackendUnavailable(f"TensorRT not available: version {version} found, gazecam needs TensorRT >= 10")
    return trt


def tensorrt_available() -> bool:
    try:
        require_tensorrt()
    except BackendUnavailable:
        return False
    return True


def gpu_name(index: int = 0) -> str:
    import torch

    props = torch.cuda.get_device_properties(index)
    return f"{props.name} sm{props.major}{props.minor}"
