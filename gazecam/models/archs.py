"""Backbone architecture tables (torch-free, so the model zoo can be listed without importing torch).

Two families:

- DINOv2 ViTs (patch 14, run at 448 px -> 32x32 features): Gaze-LLE's backbones.
- DINOv3-family ViTs (patch 16, run at 640 px -> 40x40 features): gazelle-dinov3's backbones, i.e.
  Meta's DINOv3 ViT-S/16, ViT-S+/16, ViT-B/16 and the DEIMv2-style distilled ViT-Tiny / Tiny+.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DinoV2Arch", "DINOV2_ARCHS", "get_arch", "DinoV3Arch", "DINOV3_ARCHS", "get_dinov3_arch",
           "BACKBONE_NAMES", "backbone_input_size"]


@dataclass(frozen=True)
class DinoV2Arch:
    name: str
    embed_dim: int
    depth: int
    num_heads: int
    checkpoint_file: str
    url: str


def _arch(name: str, dim: int, depth: int, heads: int) -> DinoV2Arch:
    file = f"{name}_pretrain.pth"
    return DinoV2Arch(name, dim, depth, heads, file, f"https://dl.fbaipublicfiles.com/dinov2/{name}/{file}")


DINOV2_ARCHS: dict[str, DinoV2Arch] = {
    a.name: a
    for a in (
        _arch("dinov2_vits14", 384, 12, 6),
        _arch("dinov2_vitb14", 768, 12, 12),
        _arch("dinov2_vitl14", 1024, 24, 16),
    )
}


def get_arch(name: str) -> DinoV2Arch:
    try:
        return DINOV2_ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(DINOV2_ARCHS)}") from None


@dataclass(frozen=True)
class DinoV3Arch:
    """A gazelle-dinov3 backbone.

    ``kind``: ``"dinov3"`` = Meta's DINOv3 ViT (4 storage tokens, LayerScale, masked k-bias, final
    LayerNorm eps 1e-5; built with timm's ``timm_name``), ``"vit_tiny"`` = the DEIMv2-style distilled
    ViT (cls token only, plain MLP, LayerNorm eps 1e-6, no final norm).  Both use DINOv3's 2-D RoPE.
    """

    name: str
    kind: str  # "dinov3" | "vit_tiny"
    embed_dim: int
    depth: int
    num_heads: int
    ffn: str = "mlp"  # "mlp" | "swiglu"
    timm_name: str | None = None
    patch_size: int = 16
    img_size: int = 640


DINOV3_ARCHS: dict[str, DinoV3Arch] = {
    a.name: a
    for a in (
        DinoV3Arch("dinov3_vit_tiny", "vit_tiny", 192, 12, 3),
        DinoV3Arch("dinov3_vit_tinyplus", "vit_tiny", 256, 12, 4),
        DinoV3Arch("dinov3_vits16", "dinov3", 384, 12, 6, timm_name="vit_small_patch16_dinov3_qkvb"),
        DinoV3Arch("dinov3_vits16plus", "dinov3", 384, 12, 6, ffn="swiglu",
                   timm_name="vit_small_plus_patch16_dinov3_qkvb"),
        DinoV3Arch("dinov3_vitb16", "dinov3", 768, 12, 12, timm_name="vit_base_patch16_dinov3_qkvb"),
    )
}


def get_dinov3_arch(name: str) -> DinoV3Arch:
    try:
        return DINOV3_ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(DINOV3_ARCHS)}") from None


BACKBONE_NAMES: tuple[str, ...] = (*DINOV2_ARCHS, *DINOV3_ARCHS)


def backbone_input_size(name: str) -> int:
    """Network input size (px, square) of a backbone architecture: 448 for DINOv2, 640 for the DINOv3 family."""
    if name in DINOV2_ARCHS:
        return 448
    return get_dinov3_arch(name).img_size
