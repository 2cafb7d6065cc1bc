"""Export a :class:`~gazecam.model.GazeModel` to ONNX (encoder + decoder graphs) and build TensorRT engines.

Layout of an export directory::

    encoder.onnx         pixels (B, 3, S, S) float32, normalised -> scene (B, 256, F, F)
                         (backbone + decoder.project: the once-per-frame part; S, F = 448, 32 for
                         Gaze-LLE and 640, 40 for gazelle-dinov3)
    decoder.onnx         scene (1, 256, F, F) + head_maps (N, F, F) -> heatmaps (N, 64, 64) [+ inout (N,)]
                         (N dynamic, 1..max_heads)
    gazecam_export.json  :class:`ExportInfo`: model name, released flag, note, in/out, sizes, opset, hashes

Engines (``*.engine``) are built from these ONNX files with the TensorRT Python API and cached by
ONNX hash + GPU name + TensorRT version + precision + head range (:func:`build_engines`).
No torch or onnx import at module import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GazecamError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .model import GazeModel

__all__ = ["ExportInfo", "ExportError", "export_onnx", "read_export_info", "ensure_onnx_export",
           "model_fingerprint", "source_fingerprint", "build_engines", "EngineFiles", "default_export_root",
           "SIDECAR", "ENCODER_ONNX", "DECODER_ONNX", "DEFAULT_MAX_HEADS", "DEFAULT_OPSET"]

SIDECAR = "gazecam_export.json"
ENCODER_ONNX = "encoder.onnx"
DECODER_ONNX = "decoder.onnx"
FORMAT_VERSION = 1
DEFAULT_MAX_HEADS = 16
DEFAULT_OPSET = 17
SCENE_DIM = 256
OUT_SIZE = 64


class ExportError(GazecamError):
    """An export could not be written, or an export directory is missing/stale/corrupt."""


@dataclass(frozen=True)
class ExportInfo:
    """The JSON sidecar of an export directory: what the graphs hold, so backends can check and label it."""

    model_name: str
    released: bool
    note: str
    inout: bool
    backbone: str  # backbone architecture, e.g. dinov2_vitb14, dinov3_vit_tiny
    input_size: int  # 448 (DINOv2) or 640 (DINOv3 family)
    featmap: int  # 32 or 40
    out_size: int  # 64
    scene_dim: int  # 256
    opset: int
    max_heads: int
    weights_sha256: str  # of the model's tensors (see model_fingerprint)
    source_sha256: str  # of the gazecam model/export code that produced the graphs
    torch_version: str
    files: dict[str, str] = field(default_factory=dict)  # role -> file name in the export dir
    file_sha256: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def default_export_root() -> Path:
    """Where automatic exports are cached: ``$GAZECAM_HOME/exports`` or the user cache dir."""
    from .hub import default_cache_dir

    return default_cache_dir() / "exports"


def _sha256_path(path: Path) -> str:
    from .weights import sha256_file

    return sha256_file(path)


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
    model_cpu_device = model.device
    if model_cpu_device.type != "cpu":
        raise ExportError(f"export a model on the CPU (it is on {model_cpu_device}); load it with --device cpu")
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
        backbone=model.backbone.arch.name, input_size=size, featmap=model.featmap, out_size=OUT_SIZE,
        scene_dim=SCENE_DIM, opset=opset, max_heads=max_heads,
        weights_sha256=weights_sha256 or model_fingerprint(model), source_sha256=source_fingerprint(),
        torch_version=torch.__version__, files={"encoder": ENCODER_ONNX, "decoder": DECODER_ONNX},
        file_sha256={ENCODER_ONNX: _sha256_path(enc_path), DECODER_ONNX: _sha256_path(dec_path)},
    )
    tmp_info = out / f".{SIDECAR}.{os.getpid()}.tmp"
    tmp_info.write_text(info.to_json() + "\n", encoding="utf-8")
    os.replace(tmp_info, out / SIDECAR)  # written last and atomically: a sidecar always matches its graphs
    return info


def read_export_info(export_dir: str | Path, *, verify_files: bool = False) -> ExportInfo:
    """Read and check the sidecar of an export directory (clear errors for missing or foreign dirs)."""
    d = Path(export_dir).expanduser()
    path = d / SIDECAR
    if not path.is_file():
        raise ExportError(f"{d} is not a gazecam export directory (no {SIDECAR}); "
                          "create one with `gazecam export --format onnx -o DIR`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
        info = ExportInfo(**data)
    except (ValueError, TypeError) as e:
        raise ExportError(f"{path} is corrupt or from another gazecam version ({e}); export again") from e
    for role in ("encoder", "decoder"):
        name = info.files.get(role)
        if not name or not (d / name).is_file():
            raise ExportError(f"{d}: the {role} graph {name or '(none)'} is missing; export again")
        if verify_files and _sha256_path(d / name) != info.file_sha256.get(name):
            raise ExportError(f"{d / name} does not match the SHA-256 in {SIDECAR} (modified or truncated); "
                              "export again")
    return info


def ensure_onnx_export(model: "GazeModel", *, root: str | Path | None = None, max_heads: int = DEFAULT_MAX_HEADS,
                       notify: Callable[[str], None] | None = None) -> Path:
    """The cached ONNX export of ``model`` (exported on first use, ``notify`` is told); returns its directory."""
    fp = model_fingerprint(model)
    src = source_fingerprint()
    d = Path(root).expanduser() if root is not None else default_export_root()
    d = d / f"{model.backbone.arch.name}-{'inout' if model.has_inout else 'base'}-{fp[:16]}"
    try:
        info = read_export_info(d, verify_files=True)  # a damaged cached graph is exported again
        if info.weights_sha256 == fp and info.source_sha256 == src and info.max_heads >= max_heads:
            return d
    except ExportError:
        pass  # missing or stale: export again
    if notify is not None:
        notify(f"exporting {model.name} to ONNX (not cached yet or out of date; cached in {d}) ...")
    export_onnx(model, d, max_heads=max_heads, weights_sha256=fp)
    return d


# -- TensorRT -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineFiles:
    encoder: Path
    decoder: Path
    info: ExportInfo
    fp16: bool
    max_heads: int


def _engine_cache_key(info: ExportInfo, *, fp16: bool, max_heads: int, gpu: str, trt_version: str) -> str:
    parts = [info.file_sha256.get(info.files["encoder"], ""), info.file_sha256.get(info.files["decoder"], ""),
             gpu, trt_version, "fp16" if fp16 else "fp32", str(max_heads)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def build_engines(export_dir: str | Path, *, fp16: bool = True, max_heads: int | None = None,
                  cache_root: str | Path | None = None, device_index: int = 0,
                  workspace_gib: float = 4.0) -> EngineFiles:
    """TensorRT engines for an ONNX export dir, cached by model + GPU + TensorRT version + precision.

    Raises :class:`~gazecam.backends.base.BackendUnavailable` ("TensorRT not available: ...") without
    ``tensorrt`` or a CUDA GPU.
    """
    from .backends.tensorrt import gpu_name, require_tensorrt

    trt = require_tensorrt()
    info = read_export_info(export_dir, verify_files=True)
    k = int(max_heads or info.max_heads)
    if k < 1:
        raise ExportError(f"max_heads must be >= 1, got {k}")
    gpu = gpu_name(device_index)
    key = _engine_cache_key(info, fp16=fp16, max_heads=k, gpu=gpu, trt_version=trt.__version__)
    root = Path(cache_root).expanduser() if cache_root is not None else Path(export_dir).expanduser() / "engines"
    d = root / key
    d.mkdir(parents=True, exist_ok=True)
    src = Path(export_dir).expanduser()
    enc, dec = d / "encoder.engine", d / "decoder.engine"
    if not enc.is_file():
        _build_one(trt, src / info.files["encoder"], enc, fp16=fp16, workspace_gib=workspace_gib,
                   profiles={"pixels": ((1, 3, info.input_size, info.input_size),) * 3})
    if not dec.is_file():
        f = info.featmap
        _build_one(trt, src / info.files["decoder"], dec, fp16=fp16, workspace_gib=workspace_gib,
                   profiles={"scene": ((1, info.scene_dim, f, f),) * 3,
                             "head_maps": ((1, f, f), (max(1, min(4, k)), f, f), (k, f, f))})
    meta = {"gpu": gpu, "tensorrt": trt.__version__, "fp16": fp16, "max_heads": k, "model_name": info.model_name,
            "weights_sha256": info.weights_sha256}
    (d / "engine.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return EngineFiles(encoder=enc, decoder=dec, info=info, fp16=fp16, max_heads=k)


def _build_one(trt: Any, onnx_path: Path, engine_path: Path, *, fp16: bool, workspace_gib: float,
               profiles: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]) -> None:
    """Parse ``onnx_path`` and serialise an engine with one optimisation profile (min, opt, max per input)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # TensorRT < 10 needs it; 10 ignores it
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if fp16:
        if not getattr(builder, "platform_has_fast_fp16", True):  # deprecated in newer TensorRT
            warnings.warn("this GPU has no fast fp16; building the TensorRT engine in fp16 anyway", stacklevel=2)
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profiles.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    tmp = engine_path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(serialized)  # IHostMemory supports the buffer protocol
    os.replace(tmp, engine_path)
