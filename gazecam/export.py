"""Export a :class:`~gazecam.model.GazeModel` to ONNX (encoder + decoder graphs).

Layout of an export directory::

    encoder.onnx         pixels (B, 3, S, S) float32, normalised -> scene (B, 256, F, F)
                         (backbone + decoder.project: the once-per-frame part; S, F = 448, 32 for
                         Gaze-LLE and 640, 40 for gazelle-dinov3)
    decoder.onnx         scene (1, 256, F, F) + head_maps (N, F, F) -> heatmaps (N, 64, 64) [+ inout (N,)]
                         (N dynamic, 1..max_heads)
    gazecam_export.json  :class:`ExportInfo`: model name, released flag, note, in/out, sizes, opset, hashes,
                         precision (fp32, or int8: quantized encoder and decoder matmuls, see :mod:`gazecam.quantize`)

TensorRT engines are built from these ONNX files next to the TensorRT backend
(:func:`gazecam.backends.tensorrt_build.build_engines`); this module imports no backend.
No torch or onnx import at module import time.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .export_info import (DECODER_ONNX, ENCODER_ONNX, EXPORT_DEVICE, SIDECAR, ExportError,  # noqa: F401 (re-exported)
                          ExportInfo, read_export_info)
from .weights import sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import GazeModel

__all__ = ["ExportInfo", "ExportError", "export_onnx", "read_export_info", "ensure_onnx_export",
           "model_fingerprint", "source_fingerprint", "default_export_root",
           "EXPORT_DEVICE", "SIDECAR", "ENCODER_ONNX", "DECODER_ONNX", "DEFAULT_MAX_HEADS", "DEFAULT_OPSET"]

DEFAULT_MAX_HEADS = 16
DEFAULT_OPSET = 17
SCENE_DIM = 256
OUT_SIZE = 64


def default_export_root() -> Path:
    """Where automatic exports are cached: ``$GAZECAM_HOME/exports`` or the user cache dir."""
    from .hub import default_cache_dir

    return default_cache_dir() / "exports"


def model_fingerprint(model: "GazeModel") -> str:
    """SHA-256 of every tensor (name, dtype, shape, bytes) of the backbone and decoder."""
    import torch

    h = hashlib.sha256()
    for prefix, module in (("backbone.", model.backbone), ("decoder.", model.decoder)):
        for key, t in module.state_dict().items():
            arr = t.detach().to("cpu", torch.float32).contiguous().numpy()
            h.update(f"{prefix}{key}:{tuple(arr.shape)}:".encode())
            h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def source_fingerprint() -> str:
    """SHA-256 of the source files whose change would change the exported graphs."""
    root = Path(__file__).resolve().parent
    files = [root / "export.py", root / "model.py", *sorted((root / "models").glob("*.py"))]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# -- graphs ---------------------------------------------------------------------------------------------
def _encoder_module(model: "GazeModel") -> "torch.nn.Module":
    import torch

    class EncoderGraph(torch.nn.Module):
        """pixels (B, 3, S, S) -> scene (B, 256, F, F) = decoder.project(backbone(pixels))."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone = model.backbone
            self.decoder = model.decoder

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.decoder.project(self.backbone(pixels))

    return EncoderGraph().eval()


def _decoder_module(model: "GazeModel") -> "torch.nn.Module":
    import torch

    class DecoderGraph(torch.nn.Module):
        """scene (1, 256, F, F) + head_maps (N, F, F) -> heatmaps (N, 64, 64) [, inout (N,)]."""

        def __init__(self) -> None:
            super().__init__()
            self.decoder = model.decoder

        def forward(self, scene: torch.Tensor, head_maps: torch.Tensor):  # type: ignore[no-untyped-def]
            # every head belongs to the one image: image_index = zeros(N), the same GazeLLEDecoder.forward
            index = torch.zeros_like(head_maps[:, 0, 0], dtype=torch.int64)  # (N,)
            heatmaps, inout = self.decoder(scene, head_maps, index)
            return heatmaps if inout is None else (heatmaps, inout)

    return DecoderGraph().eval()


def _torch_export(module: "torch.nn.Module", args: tuple, path: Path, *, input_names: list[str],
                  output_names: list[str], dynamic_axes: dict[str, dict[int, str]], opset: int) -> None:
    import torch

    # The TorchScript-based exporter (dynamo=False) gives compact graphs with named dynamic axes and
    # was verified against the golden fixtures (tests/test_export.py); the dynamo exporter also works
    # but takes longer and splits the weights into an external-data file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, dynamo=False)
        except Exception as e:  # torch raises OnnxExporterError, RuntimeError, ... (e.g. an unsupported opset)
            raise ExportError(f"torch.onnx.export failed at opset {opset}: {type(e).__name__}: {e}; "
                              f"the default opset {DEFAULT_OPSET} is the tested one") from e


def export_onnx(model: "GazeModel", out_dir: str | Path, *, max_heads: int = DEFAULT_MAX_HEADS,
                opset: int = DEFAULT_OPSET, check: bool = True, weights_sha256: str | None = None) -> ExportInfo:
    """Write ``encoder.onnx``, ``decoder.onnx`` and the JSON sidecar into ``out_dir``; return the sidecar."""
    import onnx
    import torch

    if max_heads < 1:
        raise ExportError(f"max_heads must be >= 1, got {max_heads}")
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create export directory {out}: {e}") from e
    if model.device.type != EXPORT_DEVICE:
        raise ExportError(f"export a model on the CPU (it is on {model.device}); load it with device='cpu'")
    size = model.input_size
    enc_path, dec_path = out / ENCODER_ONNX, out / DECODER_ONNX
    # per-process temporary names: two exports into one directory never write the same file
    tmp_enc, tmp_dec = (out / f".{name}.{os.getpid()}.tmp" for name in (ENCODER_ONNX, DECODER_ONNX))
    pixels = torch.zeros(1, 3, size, size)
    heads = min(2, max_heads)
    try:
        with torch.inference_mode(False), torch.no_grad():
            _torch_export(_encoder_module(model), (pixels,), tmp_enc, input_names=["pixels"], output_names=["scene"],
                          dynamic_axes={"pixels": {0: "batch"}, "scene": {0: "batch"}}, opset=opset)
            scene = torch.zeros(1, SCENE_DIM, model.featmap, model.featmap)
            head_maps = torch.zeros(heads, model.featmap, model.featmap)
            outputs = ["heatmaps", "inout"] if model.has_inout else ["heatmaps"]
            axes = {"head_maps": {0: "heads"}, "heatmaps": {0: "heads"}}
            if model.has_inout:
                axes["inout"] = {0: "heads"}
            _torch_export(_decoder_module(model), (scene, head_maps), tmp_dec, input_names=["scene", "head_maps"],
                          output_names=outputs, dynamic_axes=axes, opset=opset)
        if check:
            for p, name in ((tmp_enc, ENCODER_ONNX), (tmp_dec, DECODER_ONNX)):
                try:
                    onnx.checker.check_model(str(p), full_check=True)
                except Exception as e:  # onnx raises its own ValidationError / InferenceError
                    raise ExportError(f"exported graph {name} failed the ONNX checker: {e}") from e
        (out / SIDECAR).unlink(missing_ok=True)  # no sidecar describing other graphs while they are replaced
        os.replace(tmp_enc, enc_path)
        os.replace(tmp_dec, dec_path)
    finally:  # an interrupted or failed export leaves no temporary files behind
        tmp_enc.unlink(missing_ok=True)
        tmp_dec.unlink(missing_ok=True)
    info = ExportInfo(
        model_name=model.name, released=bool(model.released), note=model.note, inout=model.has_inout,
        backbone=model.backbone.arch.name, input_size=size, featmap=model.featmap, out_size=model.heatmap_size,
        scene_dim=SCENE_DIM, opset=opset, max_heads=max_heads,
        weights_sha256=weights_sha256 or model_fingerprint(model), source_sha256=source_fingerprint(),
        torch_version=torch.__version__, files={"encoder": ENCODER_ONNX, "decoder": DECODER_ONNX},
        file_sha256={ENCODER_ONNX: sha256_file(enc_path), DECODER_ONNX: sha256_file(dec_path)},
    )
    tmp_info = out / f".{SIDECAR}.{os.getpid()}.tmp"
    tmp_info.write_text(info.to_json() + "\n", encoding="utf-8")
    os.replace(tmp_info, out / SIDECAR)  # written last and atomically: a sidecar always matches its graphs
    return info


def _cached(d: Path, *, fp: str, src: str, max_heads: int, precision: str, quantization: str = "") -> bool:
    try:
        info = read_export_info(d, verify_files=True)  # a damaged cached graph is exported again
    except ExportError:
        return False  # missing or stale: export again
    return (info.weights_sha256 == fp and info.source_sha256 == src and info.max_heads >= max_heads
            and info.precision == precision and info.quantization == quantization)


def ensure_onnx_export(model: "GazeModel", *, root: str | Path | None = None, max_heads: int = DEFAULT_MAX_HEADS,
                       precision: str = "fp32", notify: Callable[[str], None] | None = None) -> Path:
    """The cached ONNX export of ``model`` (exported on first use, ``notify`` is told); returns its directory.

    ``precision="int8"``: the int8 export (:func:`gazecam.quantize.quantize_export` of the cached fp32 export,
    with this CPU's :class:`~gazecam.quantize.Int8Recipe`), cached beside it; the directory name and the
    sidecar carry the precision and the recipe.
    """
    if precision not in ("fp32", "int8"):
        raise ExportError(f"ONNX exports are fp32 or int8, not precision={precision!r}")
    fp = model_fingerprint(model)
    src = source_fingerprint()
    d = Path(root).expanduser() if root is not None else default_export_root()
    d = d / f"{model.backbone.arch.name}-{'inout' if model.has_inout else 'base'}-{fp[:16]}"
    if not _cached(d, fp=fp, src=src, max_heads=max_heads, precision="fp32"):
        if notify is not None:
            notify(f"exporting {model.name} to ONNX (not cached yet or out of date; cached in {d}) ...")
        export_onnx(model, d, max_heads=max_heads, weights_sha256=fp)
    if precision == "fp32":
        return d
    from .quantize import Int8Recipe, int8_export_dir, quantize_export

    recipe = Int8Recipe.for_cpu()
    dq = int8_export_dir(d, recipe)
    if not _cached(dq, fp=fp, src=src, max_heads=max_heads, precision="int8", quantization=recipe.describe()):
        if notify is not None:
            notify(f"quantizing the {model.name} encoder and decoder to int8 ({recipe.tag}; cached in {dq}) ...")
        quantize_export(d, dq, recipe=recipe)
    return dq
