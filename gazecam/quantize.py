"""int8 exports for the onnxruntime backend: dynamic quantization of an fp32 export's encoder and decoder.

:func:`quantize_export` reads an fp32 export directory (:mod:`gazecam.export`) and writes another one with
the same layout whose ``encoder.onnx`` and ``decoder.onnx`` run their matmuls in int8 (onnxruntime's ``MatMulInteger`` /
``DynamicQuantizeMatMul`` kernels, VNNI/AMX where the CPU has them); the sidecar says
``precision="int8"`` and the recipe.  The recipe (:class:`Int8Recipe`):

* only ``MatMul`` nodes with constant weights: the ViT's and the decoder's qkv / proj / fc1 / fc2 linears
  (~all a ViT's FLOPs, ~80% of the decoder's).  Convolutions (the patch embedding, CNN backbones,
  ``decoder.project``, the heatmap head), LayerNorm, softmax, GELU and the attention products of two
  activations stay fp32;
* weights int8, symmetric, per output channel; activations uint8, scale per tensor computed on every run
  (dynamic: no calibration data, nothing tuned to particular frames);
* the decoder too (``decoder=True``, recipe 2): it runs once per person, so with several people it bounds
  the frame rate of the small CNN models.  Its fidelity against fp32 on the golden fixtures is in
  README.md ("Faster on CPUs") and tests/test_quantize.py; ``Int8Recipe(decoder=False)`` keeps it fp32;
* on x86 CPUs without VNNI the weights use 7 bits (``reduce_range``): onnxruntime's AVX2 u8s8 kernel sums
  pairs of products in 16 bits and saturates with full-range weights.  The recipe is part of the cache
  key, so a cache shared between machines keeps one export per recipe.

Fidelity against fp32 is measured by ``gazecam bench --backends onnxruntime,onnxruntime:int8``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .cpu import CpuFeatures, cpu_features
from .export_info import SIDECAR, ExportError, ExportInfo, read_export_info

__all__ = ["Int8Recipe", "quantize_export", "int8_export_dir", "RECIPE_VERSION"]

RECIPE_VERSION = 2  # bump when the quantization recipe changes: cached int8 exports are then made again


@dataclass(frozen=True, kw_only=True)
class Int8Recipe:
    """How the encoder is quantized (part of the int8 export's cache key)."""

    per_channel: bool = True
    reduce_range: bool = False  # 7-bit weights: x86 CPUs without VNNI (no 16-bit saturation)
    decoder: bool = True  # the decoder's matmuls too (False: encoder only, decoder fp32)

    @classmethod
    def for_cpu(cls, features: CpuFeatures | None = None) -> "Int8Recipe":
        """The recipe for this CPU (``features``, default: this machine's): 7-bit weights on x86 without VNNI."""
        f = features if features is not None else cpu_features()
        return cls(reduce_range=bool(f.is_x86 and not f.vnni))

    @property
    def tag(self) -> str:
        """Short name for directory names: ``pc8`` = per-channel 8-bit weights, ``pt7`` = per-tensor 7-bit;
        ``-enc``: the encoder alone quantized."""
        return f"{'pc' if self.per_channel else 'pt'}{7 if self.reduce_range else 8}{'' if self.decoder else '-enc'}"

    def describe(self) -> str:
        import onnxruntime

        what = "encoder and decoder" if self.decoder else "encoder"
        return (f"gazecam int8 recipe {RECIPE_VERSION} ({self.tag}): dynamic, {what} MatMul weights int8 "
                f"{'per channel' if self.per_channel else 'per tensor'} {7 if self.reduce_range else 8}-bit, "
                f"activations uint8 per tensor{'' if self.decoder else '; decoder fp32'}; "
                f"onnxruntime {onnxruntime.__version__}")


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Silence onnxruntime.quantization's root-logger advice (and keep it from configuring the root logger)."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)  # logging.warning() calls basicConfig() only when root has no handler
    previous = root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
        root.removeHandler(guard)


def _quantize_graph(src: Path, dst: Path, recipe: Int8Recipe) -> None:
    """Dynamic int8 quantization of the constant-weight MatMuls of the graph ``src`` into ``dst``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    try:
        with _quiet_quantizer():
            quantize_dynamic(model, str(dst), op_types_to_quantize=["MatMul"], per_channel=recipe.per_channel,
                             reduce_range=recipe.reduce_range, weight_type=QuantType.QInt8)
    except Exception as e:  # the quantizer raises assorted types (ValueError, onnx errors, ...)
        raise ExportError(f"int8 quantization of {src} failed: {type(e).__name__}: {e}") from e


def quantize_export(src_dir: str | Path, out_dir: str | Path, *, recipe: Int8Recipe | None = None) -> ExportInfo:
    """Write an int8 export of the fp32 export ``src_dir`` into ``out_dir``; return its sidecar."""
    from .weights import sha256_file

    recipe = recipe or Int8Recipe.for_cpu()
    src = Path(src_dir).expanduser()
    info = read_export_info(src, verify_files=True)
    if info.precision != "fp32":
        raise ExportError(f"{src} holds a {info.precision} export; quantize an fp32 export")
    out = Path(out_dir).expanduser()
    if out.exists() and out.resolve() == src.resolve():
        raise ExportError(f"the int8 export must go to another directory than its fp32 source {src}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create export directory {out}: {e}") from e
    enc_name, dec_name = info.files["encoder"], info.files["decoder"]
    tmp_enc, tmp_dec = (out / f".{name}.{os.getpid()}.tmp" for name in (enc_name, dec_name))
    try:
        _quantize_graph(src / enc_name, tmp_enc, recipe)
        if recipe.decoder:
            _quantize_graph(src / dec_name, tmp_dec, recipe)
        else:
            shutil.copyfile(src / dec_name, tmp_dec)
        (out / SIDECAR).unlink(missing_ok=True)  # no sidecar describing other graphs while they are replaced
        os.replace(tmp_enc, out / enc_name)
        os.replace(tmp_dec, out / dec_name)
    finally:  # an interrupted or failed quantization leaves no temporary files behind
        tmp_enc.unlink(missing_ok=True)
        tmp_dec.unlink(missing_ok=True)
    qinfo = replace(info, precision="int8", quantization=recipe.describe(),
                    file_sha256={enc_name: sha256_file(out / enc_name), dec_name: sha256_file(out / dec_name)})
    tmp_info = out / f".{SIDECAR}.{os.getpid()}.tmp"
    tmp_info.write_text(qinfo.to_json() + "\n", encoding="utf-8")
    os.replace(tmp_info, out / SIDECAR)  # written last and atomically: a sidecar always matches its graphs
    return qinfo


def int8_export_dir(fp32_dir: Path, recipe: Int8Recipe) -> Path:
    """The cached int8 export beside the cached fp32 export ``fp32_dir``."""
    return fp32_dir.with_name(f"{fp32_dir.name}-int8-{recipe.tag}")

