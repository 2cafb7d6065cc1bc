"""Which reduced-precision modes this CPU runs, and what ``precision="auto"`` picks.

Modes on the CPU (fidelity against fp32 measured with :mod:`gazecam.fidelity`, figures in README.md):

* ``int8`` (onnxruntime): encoder and decoder matmuls in int8 (dynamic quantization, :mod:`gazecam.quantize`).
  Fastest on CPUs with VNNI (``avx512_vnni``, ``avx_vnni``) or AMX (``amx_int8``): Intel Cascade Lake and
  later Xeons, Ice/Tiger Lake and later Core, AMD Zen 4 and later.  Also faster than fp32 on x86-64 CPUs
  with AVX2 only (onnxruntime's u8s8 kernels; the weights use 7 bits there to avoid their 16-bit
  saturation) and on ARM64.
* ``bf16`` (torch): encoder and decoder matmuls in bfloat16 through oneDNN (with a CNN encoder, HGNetV2, the
  decoder alone: bf16 convolutions left the fidelity bound).  Only fast with native bf16
  instructions (``avx512_bf16``: Intel Cooper Lake, Sapphire Rapids and later Xeons, AMD Zen 4 and later;
  ``amx_bf16``: Sapphire Rapids and later; ARM ``bf16``); elsewhere it is emulated and slower than fp32.
* ``fp32``: exact (the default of process / batch / eval).

``auto`` = the fastest mode whose fidelity stays within :data:`FIDELITY_BOUND` on CPUs of its kind:
int8 where onnxruntime is installed and the CPU runs its int8 kernels (x86-64 with AVX2, ARM64), else bf16
where the CPU has native bf16 (torch), else fp32.  It never picks a mode the CPU lacks
(:func:`gazecam.cpu.cpu_features` reads ``/proc/cpuinfo`` flags and torch's CPU capability).  On CUDA devices
``auto`` is fp32: GPU fp16 fidelity has not been measured by gazecam (pass ``precision="fp16"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cpu import CpuFeatures, cpu_features
from ..fidelity import FIDELITY_BOUND  # the bound a mode must stay within to be picked by "auto"
from .base import BackendError
from .runtimes import onnxruntime_available

__all__ = ["CpuFeatures", "cpu_features", "FIDELITY_BOUND", "PrecisionChoice", "cpu_precision_modes",
           "resolve_precision", "precision_help"]


@dataclass(frozen=True, kw_only=True)
class PrecisionChoice:
    backend: str  # torch / onnxruntime
    precision: str  # fp32 / bf16 / int8
    reason: str  # one line for the user (status bar, notify)


def cpu_precision_modes(features: CpuFeatures | None = None, *, onnxruntime: bool | None = None
                        ) -> list[PrecisionChoice]:
    """The modes ``auto`` may pick on this CPU, fastest first (fp32 always last)."""
    f = features or cpu_features()
    ort_ok = onnxruntime_available() if onnxruntime is None else onnxruntime
    modes = []
    if ort_ok and f.int8_supported:
        how = ("int8 dot-product instructions (VNNI/AMX)" if f.vnni
               else "int8 through AVX2 (no VNNI: 7-bit weights)" if f.is_x86 else "int8 through NEON")
        modes.append(PrecisionChoice(backend="onnxruntime", precision="int8",
                                     reason=f"int8 (onnxruntime): this CPU runs {how}"))
    if f.native_bf16:
        modes.append(PrecisionChoice(backend="torch", precision="bf16",
                                     reason="bf16 (torch): this CPU has native bf16 instructions"))
    modes.append(PrecisionChoice(backend="onnxruntime" if ort_ok else "torch", precision="fp32",
                                 reason="fp32: no int8 (onnxruntime + AVX2/ARM64) or native bf16 on this machine"))
    return modes


def resolve_precision(precision: str, *, backend: str, device: str, features: CpuFeatures | None = None,
                      onnxruntime: bool | None = None) -> PrecisionChoice:
    """``precision="auto"`` -> a concrete (backend, precision) for ``backend`` on ``device``; others pass through.

    ``backend`` may be ``auto`` (any backend) or a name (``auto`` then picks among that backend's modes).
    """
    if precision != "auto":
        return PrecisionChoice(backend=backend, precision=precision, reason=f"{precision}: asked for")
    if device.startswith("cuda"):
        return PrecisionChoice(backend=backend, precision="fp32",
                               reason="fp32: precision='auto' reduces precision on CPUs only (GPU fp16 fidelity "
                                      "is not measured); ask for precision='fp16' on CUDA")
    if device != "cpu":
        raise BackendError(f"precision='auto' needs device='cpu' or a CUDA device, got device={device!r}")
    for mode in cpu_precision_modes(features, onnxruntime=onnxruntime):
        if backend in ("auto", mode.backend) or mode.precision == "fp32":  # fp32: every backend
            return PrecisionChoice(backend=backend if backend != "auto" else mode.backend, precision=mode.precision,
                                   reason=mode.reason)
    return PrecisionChoice(backend=backend, precision="fp32", reason="fp32")  # pragma: no cover - fp32 is always listed


def precision_help() -> str:
    """The --precision help text (which CPUs gain from which mode)."""
    return ("fp32 (default, exact); int8: onnxruntime on the CPU (x86-64 with AVX2, ARM64), fastest with VNNI/AMX "
            "(Intel Cascade Lake+ Xeon, Ice Lake+ Core, AMD Zen 4+); bf16: torch on CUDA or on CPUs with "
            "AVX512-BF16/AMX (Intel Cooper Lake, Sapphire Rapids+, AMD Zen 4+; emulated and slow elsewhere); fp16: torch on CUDA or tensorrt; auto: the "
            "fastest CPU mode within the measured fidelity bound on this CPU (fp32 on CUDA)")
