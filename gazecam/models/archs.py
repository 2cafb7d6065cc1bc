"""DINOv2 architecture table (torch-free, so the model zoo can be listed without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DinoV2Arch", "DINOV2_ARCHS", "get_arch"]


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
