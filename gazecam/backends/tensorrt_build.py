"""TensorRT engines from an ONNX export directory (:mod:`gazecam.export_info`), cached per model, GPU and settings.

Engines (``*.engine``) are built with the TensorRT Python API and cached by ONNX hash + GPU name + TensorRT
version + precision + head range.  Used by :class:`~gazecam.backends.tensorrt.TensorRTBackend` and
``gazecam export --format engine``.  No tensorrt/torch import at module import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..export_info import ExportError, ExportInfo, read_export_info
from .runtimes import gpu_name, require_tensorrt

__all__ = ["EngineFiles", "build_engines"]


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
