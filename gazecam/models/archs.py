"""Backbone architecture tables (torch-free, so the model zoo can be listed without importing torch).

Two families:

- DINOv2 ViTs (patch 14, run at 448 px -> 32x32 features): Gaze-LLE's backbones.
- DINOv3-family ViTs (patch 16, run at 640 px -> 40x40 features): gazelle-dinov3's backbones, i.e.
  Meta's DINOv3 ViT-S/16, ViT-S+/16, ViT-B/16 and the DEIMv2-style distilled ViT-Tiny / Tiny+.
- gazelle-dinov3's CNNs: PP-HGNetV2 Atto / Femto / Pico / B0 ("N"), distilled from its DINOv3 teacher,
  stride-16 features at 320 / 416 / 640 / 640 px, heatmaps resized to 32 / 48 / 64 / 64.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DinoV2Arch", "DINOV2_ARCHS", "get_arch", "DinoV3Arch", "DINOV3_ARCHS", "get_dinov3_arch",
           "HGNetV2Arch", "HGNETV2_ARCHS", "get_hgnetv2_arch", "BACKBONE_NAMES", "backbone_input_size",
           "heatmap_size", "backbone_normalizes"]


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


# in, mid, out channels, blocks, downsample, light block, kernel size, layers (gazelle-dinov3's stage_config)
StageSpec = tuple[int, int, int, int, bool, bool, int, int]
_STAGE1: StageSpec = (16, 16, 64, 1, False, False, 3, 3)
_STAGE2: StageSpec = (64, 32, 256, 1, True, False, 3, 3)


@dataclass(frozen=True)
class HGNetV2Arch:
    """A gazelle-dinov3 CNN backbone: PP-HGNetV2 up to its stride-16 stage (``stages``: the stages built).

    ``checkpoint_stages``: stages in the released checkpoints (B0 "N" holds a 4th, unused one).
    """

    name: str
    stages: tuple[StageSpec, ...]
    img_size: int
    out_size: int  # heatmap side after the decoder's final resize
    checkpoint_stages: int = 3

    @property
    def embed_dim(self) -> int:
        return self.stages[-1][2]


HGNETV2_ARCHS: dict[str, HGNetV2Arch] = {
    a.name: a
    for a in (
        HGNetV2Arch("hgnetv2_atto", (_STAGE1, _STAGE2, (256, 64, 256, 1, True, True, 3, 3)), 320, 32),
        HGNetV2Arch("hgnetv2_femto", (_STAGE1, _STAGE2, (256, 64, 512, 1, True, True, 5, 3)), 416, 48),
        HGNetV2Arch("hgnetv2_pico", (_STAGE1, _STAGE2, (256, 64, 512, 2, True, True, 5, 3)), 640, 64),
        HGNetV2Arch("hgnetv2_n", (_STAGE1, _STAGE2, (256, 64, 512, 2, True, True, 5, 3)), 640, 64,
                    checkpoint_stages=4),
    )
}


def get_hgnetv2_arch(name: str) -> HGNetV2Arch:
    try:
        return HGNETV2_ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(HGNETV2_ARCHS)}") from None


BACKBONE_NAMES: tuple[str, ...] = (*DINOV2_ARCHS, *DINOV3_ARCHS, *HGNETV2_ARCHS)


def backbone_input_size(name: str) -> int:
    """Network input size (px, square): 448 for DINOv2, 640 for the DINOv3 ViTs, 320-640 for the HGNetV2 CNNs."""
    if name in DINOV2_ARCHS:
        return 448
    if name in HGNETV2_ARCHS:
        return HGNETV2_ARCHS[name].img_size
    return get_dinov3_arch(name).img_size


def heatmap_size(name: str) -> int:
    """Side of the heatmaps a model with this backbone gives: 64, or 32 / 48 for HGNetV2 Atto / Femto."""
    return HGNETV2_ARCHS[name].out_size if name in HGNETV2_ARCHS else 64


def backbone_normalizes(name: str) -> bool:
    """Whether the backbone's input is ImageNet-normalised (the ViTs) or plain [0, 1] RGB (the HGNetV2 CNNs)."""
    return name not in HGNETV2_ARCHS
