"""Torch backend: a :class:`~gazecam.model.GazeModel` with optional reduced precision and ``torch.compile``.

- ``precision``: ``fp32``; ``fp16``/``bf16`` run under ``torch.autocast`` (CUDA: fp16 or bf16 tensor cores with
  SDPA flash/memory-efficient attention; CPU: bf16 only, ~1e-3..1e-2 away from fp32 heatmaps).  CPU bf16
  is only fast with native bf16 instructions (AVX512-BF16 / AMX: Intel Cooper Lake, Sapphire Rapids and
  later, AMD Zen 4 and later): there the ``nn.Linear`` layers run as oneDNN bf16 inner products on
  bf16 copies of the weights made once (contiguous; autocast would cast every weight on every call),
  LayerNorm and softmax stay fp32 under autocast.  Elsewhere bf16 is emulated, several times slower than
  fp32 (a warning says so); ``precision="auto"`` never picks it there.  CPU bf16 with a CNN backbone
  (gazelle-dinov3's HGNetV2): the decoder runs in bf16, the encoder in fp32 (bf16 convolutions moved the
  golden heatmaps by up to 0.03, beyond the fidelity bound; the bf16 decoder alone by 0.011 at most).
- ``compile=True``: ``torch.compile`` of the encoder and decoder (inductor; on CUDA ``mode="reduce-overhead"``,
  i.e. CUDA graphs).  Decoder batches are padded to a power of two so at most log2(max_heads)+1 graphs
  are compiled; heads are independent, padding rows are dropped.

- ``onednn`` (CPU, fp32, eager; on by default there): ``nn.Linear`` layers run through oneDNN
  (``torch.ops.mkldnn._linear_pointwise``) instead of the BLAS ``addmm``.  Measured on the 2-core AMD EPYC
  dev machine: ViT-B/14 encoder 1.12 s -> 0.73 s (MKL takes a slower code path on AMD CPUs); outputs move
  by float rounding only (~5e-6 on backbone features).  Parameters are shared with the model, which
  itself is left untouched.

:func:`gazecam.loading.load_model` gives this backend for every torch mode, fp32 included.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..model import GazeModel, SceneFeatures, decode_heads
from ..models.archs import HGNetV2Arch
from ..predictor import BatchPredictor
from ..types import GazePrediction
from .base import BackendError, HeadBox

__all__ = ["TorchBackend", "OneDnnLinear", "onednn_linear_available", "onednn_bf16_available", "with_onednn_linears"]

log = logging.getLogger("gazecam")

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class OneDnnLinear(nn.Module):
    """``nn.Linear`` computed by oneDNN on the CPU (same parameters, any leading dims).

    ``dtype=torch.bfloat16``: a contiguous bf16 copy of the weights, made once; inputs are cast to bf16 and
    the output is bf16 (for CPUs with native bf16, see :func:`onednn_bf16_available`).
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if dtype is None or dtype == linear.weight.dtype:
            self.weight = linear.weight  # shared, not copied
            self.bias = linear.bias
            self._cast: torch.dtype | None = None
        else:
            self.weight = nn.Parameter(linear.weight.detach().to(dtype).contiguous(), requires_grad=False)
            self.bias = (None if linear.bias is None
                         else nn.Parameter(linear.bias.detach().to(dtype).contiguous(), requires_grad=False))
            self._cast = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._cast is not None and x.dtype != self._cast:
            x = x.to(self._cast)
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")


@functools.cache
def onednn_linear_available() -> bool:
    """Whether this torch build has the oneDNN linear op and it agrees with ``F.linear`` (checked once)."""
    try:
        if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
            return False
        lin = nn.Linear(8, 4)
        x = torch.randn(2, 3, 8)
        with torch.inference_mode():
            return bool(torch.allclose(OneDnnLinear(lin)(x), lin(x), atol=1e-5))
    except Exception:  # noqa: BLE001 - any failure means: use the standard path
        return False


@functools.cache
def onednn_bf16_available() -> bool:
    """Whether oneDNN runs bf16 inner products natively here (AVX512-BF16/AMX CPUs), checked once on numbers."""
    try:
        if not (onednn_linear_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return False
        lin = nn.Linear(64, 32)
        x = torch.randn(2, 5, 64)
        with torch.inference_mode():
            out = OneDnnLinear(lin, torch.bfloat16)(x)
            return bool(out.dtype == torch.bfloat16 and torch.allclose(out.float(), lin(x), atol=5e-2))
    except Exception:  # noqa: BLE001 - "could not create a primitive descriptor" etc.: use autocast
        return False


def with_onednn_linears(module: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``module`` (sharing its parameters and buffers) whose ``nn.Linear`` layers run on oneDNN.

    ``dtype=torch.bfloat16``: those layers hold bf16 copies of their weights instead (see :class:`OneDnnLinear`).
    """
    memo = {id(t): t for t in [*module.parameters(), *module.buffers()]}
    fast = copy.deepcopy(module, memo)
    for parent in list(fast.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, child_name, OneDnnLinear(child, dtype))
    return fast


class TorchBackend(BatchPredictor):
    """GazeModel + precision/compile options, with the :class:`~gazecam.backends.base.GazeBackend` interface."""

    backend = "torch"

    def __init__(self, *, model: GazeModel, precision: str = "fp32", compile: bool = False,
                 max_heads: int = 16, onednn: bool | None = None) -> None:
        if precision not in _DTYPES:
            raise BackendError(f"precision must be one of {', '.join(_DTYPES)}, got {precision!r}")
        dev = model.device
        if precision == "fp16" and dev.type != "cuda":
            raise BackendError("precision='fp16' needs a CUDA device with the torch backend "
                               "(CPU fp16 matmuls are slow); use precision='bf16' or precision='fp32' on the CPU")
        if precision == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise BackendError(f"this GPU ({torch.cuda.get_device_name(dev)}) has no bf16 support; "
                               "use precision='fp16'")
        self.model = model
        self.precision = precision
        self.compiled = bool(compile)
        self.max_heads = max(1, int(max_heads))
        self.name, self.released, self.note = model.name, model.released, model.note
        self._dtype = _DTYPES[precision]
        decoder, backbone = model.decoder, model.backbone
        cpu_bf16 = dev.type == "cpu" and precision == "bf16"
        if onednn is None:  # default: on for fp32 eager on the CPU (measurably faster), and native CPU bf16
            onednn = dev.type == "cpu" and not compile and (
                (precision == "fp32" and onednn_linear_available()) or (cpu_bf16 and onednn_bf16_available()))
        elif onednn and not (dev.type == "cpu" and precision in ("fp32", "bf16") and onednn_linear_available()
                             and (precision == "fp32" or onednn_bf16_available())):
            raise BackendError("oneDNN linears are for the CPU in fp32 (or bf16 on CPUs with native bf16) and need "
                               "a torch build with oneDNN")
        self.onednn = bool(onednn)
        # CPU bf16: a CNN encoder stays fp32 (its bf16 convolutions leave the fidelity bound; see the docstring)
        self._encoder_bf16 = not (cpu_bf16 and isinstance(model.backbone.arch, HGNetV2Arch))
        if self.onednn:
            dtype = torch.bfloat16 if cpu_bf16 else None
            decoder, backbone = with_onednn_linears(decoder, dtype), with_onednn_linears(backbone, dtype)
        if cpu_bf16 and not onednn_bf16_available():
            log.warning("bf16 on this CPU is emulated (no AVX512-BF16/AMX support found): expect it to be several "
                        "times slower than fp32; precision='auto' picks the fastest mode this CPU has")

        def encoder_fn(pixels: torch.Tensor) -> torch.Tensor:
            return decoder.project(backbone(pixels))  # (B, 256, 32, 32)

        def decoder_fn(scene: torch.Tensor, head_maps: torch.Tensor, index: torch.Tensor):  # type: ignore[no-untyped-def]
            return decoder(scene, head_maps, index)

        self._encoder: Callable = encoder_fn
        self._decoder: Callable = decoder_fn
        if self.compiled:
            mode = "reduce-overhead" if dev.type == "cuda" else None  # CUDA graphs on GPUs
            self._encoder = torch.compile(encoder_fn, mode=mode, dynamic=False)
            self._decoder = torch.compile(decoder_fn, mode=mode, dynamic=False)

    # -- interface properties ---------------------------------------------------------------------------
    @property
    def has_inout(self) -> bool:
        return self.model.has_inout

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def heatmap_size(self) -> int:
        """Side of the heatmaps: 64, or 32 / 48 for the HGNetV2 Atto / Femto models."""
        return self.model.heatmap_size

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._dtype)

    # -- inference -------------------------------------------------------------------------------------
    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """H x W x 3 uint8 RGB -> (1, 3, S, S) float32 on the device (the model's one preprocessing)."""
        return self.model.preprocess([image])

    def preprocess_batch(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        return self.model.preprocess(images)

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor, image_sizes: Sequence[tuple[int, int]]) -> SceneFeatures:
        with self._autocast() if self._encoder_bf16 else contextlib.nullcontext():
            scene = self._encoder(pixels.to(self.device))
        if self.compiled and self.device.type == "cuda":
            scene = scene.clone()  # CUDA-graph outputs are overwritten by the next replay
        return SceneFeatures(scene=scene.float(), image_sizes=tuple((int(h), int(w)) for h, w in image_sizes))

    @torch.inference_mode()
    def decode_batch(self, feats: SceneFeatures, heads_per_image: Sequence[Sequence[HeadBox]]
                     ) -> list[GazePrediction]:
        boxes = self._decode_boxes(feats, heads_per_image, own_features=isinstance(feats, SceneFeatures))
        return decode_heads(self._run_decoder, feats.scene, boxes, featmap=self.model.featmap,
                            has_inout=self.has_inout, heatmap_size=self.heatmap_size,
                            chunk=self.max_heads if self.compiled else None, pad=self.compiled)  # compiled: few shapes

    def _run_decoder(self, scene: torch.Tensor, head_maps: torch.Tensor, index: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor | None]:
        with self._autocast():
            return self._decoder(scene, head_maps, index)

    def __repr__(self) -> str:
        return (f"TorchBackend(name={self.name!r}, device={self.device}, precision={self.precision}, "
                f"compiled={self.compiled}, onednn={self.onednn}, released={self.released})")
