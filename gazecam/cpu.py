"""This CPU's instruction-set features (x86 VNNI/AMX/BF16, ARM dotprod/bf16), read once: a leaf module that
:mod:`gazecam.backends.precision` and :mod:`gazecam.quantize` both read.  No torch import at module level."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass

__all__ = ["CpuFeatures", "cpu_features"]


@dataclass(frozen=True, kw_only=True)
class CpuFeatures:
    """Instruction-set features that decide which precisions are fast here."""

    machine: str  # platform.machine(): x86_64, AMD64, aarch64, arm64, ...
    flags: frozenset[str]  # /proc/cpuinfo "flags" (x86) or "Features" (ARM); empty where unreadable
    torch_capability: str = ""  # torch.backends.cpu.get_cpu_capability(): DEFAULT, AVX2, AVX512, ...

    @property
    def is_x86(self) -> bool:
        return self.machine.lower() in ("x86_64", "amd64", "i686", "x86")

    @property
    def is_arm(self) -> bool:
        return self.machine.lower() in ("aarch64", "arm64")

    @property
    def avx2(self) -> bool:
        return "avx2" in self.flags or self.torch_capability.upper().startswith(("AVX2", "AVX512"))

    @property
    def vnni(self) -> bool:
        """int8 dot-product instructions (x86 VNNI / AMX-int8, ARM dotprod): int8 without saturation, fast."""
        if self.is_arm:
            return "asimddp" in self.flags
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def native_bf16(self) -> bool:
        """bfloat16 matmul instructions (AVX512-BF16, AMX-BF16, ARM BF16)."""
        if self.is_arm:
            return "bf16" in self.flags
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    @property
    def int8_supported(self) -> bool:
        """onnxruntime's int8 kernels run here (x86-64 with AVX2, or ARM64)."""
        return (self.is_x86 and self.avx2) or self.is_arm

    def describe(self) -> str:
        shown = sorted(self.flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16",
                                     "amx_int8", "asimddp", "bf16", "i8mm"})
        return f"{self.machine}, torch capability {self.torch_capability or '?'}, flags: {' '.join(shown) or 'none'}"


def _read_cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    """This machine's :class:`CpuFeatures` (read once)."""
    capability = ""
    try:
        import torch

        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - torch missing or too old: the flags alone decide
        pass
    return CpuFeatures(machine=platform.machine(), flags=_read_cpu_flags(), torch_capability=capability)
