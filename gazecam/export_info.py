"""The JSON sidecar of an ONNX export directory (:class:`ExportInfo`) and its checks, without torch or onnx:
a leaf module that the exporter, the int8 quantizer and the exported-graph backends all read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import GazecamError
from .weights import sha256_file

__all__ = ["ExportInfo", "ExportError", "read_export_info", "EXPORT_DEVICE", "SIDECAR", "ENCODER_ONNX",
           "DECODER_ONNX", "FORMAT_VERSION"]

EXPORT_DEVICE = "cpu"  # ONNX graphs are traced from a model on the CPU (whatever device runs them later)
SIDECAR = "gazecam_export.json"
ENCODER_ONNX = "encoder.onnx"
DECODER_ONNX = "decoder.onnx"
FORMAT_VERSION = 1


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
    out_size: int  # 64 (32 / 48 for the HGNetV2 Atto / Femto)
    scene_dim: int  # 256
    opset: int
    max_heads: int
    weights_sha256: str  # of the model's tensors (see model_fingerprint)
    source_sha256: str  # of the gazecam model/export code that produced the graphs
    torch_version: str
    files: dict[str, str] = field(default_factory=dict)  # role -> file name in the export dir
    file_sha256: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    format_version: int = FORMAT_VERSION
    precision: str = "fp32"  # fp32, or int8 (encoder quantized by gazecam.quantize)
    quantization: str = ""  # the int8 recipe (Int8Recipe.describe()); empty for fp32

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def read_export_info(export_dir: str | Path, *, verify_files: bool = False) -> ExportInfo:
    """Read and check the sidecar of an export directory (clear errors for missing or foreign dirs)."""
    d = Path(export_dir).expanduser()
    path = d / SIDECAR
    if not path.is_file():
        raise ExportError(f"{d} is not a gazecam export directory (no {SIDECAR}); "
                          "create one with gazecam.export.export_onnx(model, DIR) (command line: gazecam export -o DIR)")
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
        if verify_files and sha256_file(d / name) != info.file_sha256.get(name):
            raise ExportError(f"{d / name} does not match the SHA-256 in {SIDECAR} (modified or truncated); "
                              "export again")
    return info
