"""The released Gaze-LLE models: names, files and official download URLs."""

from __future__ import annotations

from dataclasses import dataclass

from .models.archs import DINOV2_ARCHS

__all__ = ["RemoteFile", "ZooModel", "ZOO", "get_zoo_model", "DEFAULT_MODEL"]

GAZELLE_RELEASE = "https://github.com/fkryan/gazelle/releases/download/v1.0.0"


@dataclass(frozen=True)
class RemoteFile:
    filename: str  # name in the cache directory and on a mirror
    url: str  # official URL
    kind: str  # "backbone" or "decoder"
    sha256: str | None = None  # pinned digest when known; otherwise recorded on first download


@dataclass(frozen=True)
class ZooModel:
    name: str
    backbone: str  # DINOv2 architecture name
    inout: bool
    decoder: RemoteFile
    backbone_file: RemoteFile
    description: str

    @property
    def files(self) -> tuple[RemoteFile, RemoteFile]:
        return (self.backbone_file, self.decoder)


def _entry(name: str, backbone: str, inout: bool, description: str) -> ZooModel:
    arch = DINOV2_ARCHS[backbone]
    return ZooModel(
        name=name,
        backbone=backbone,
        inout=inout,
        decoder=RemoteFile(f"{name}.pt", f"{GAZELLE_RELEASE}/{name}.pt", "decoder"),
        backbone_file=RemoteFile(arch.checkpoint_file, arch.url, "backbone"),
        description=description,
    )


ZOO: dict[str, ZooModel] = {
    m.name: m
    for m in (
        _entry("gazelle_dinov2_vitb14", "dinov2_vitb14", False, "ViT-B/14, GazeFollow, heatmap only"),
        _entry("gazelle_dinov2_vitl14", "dinov2_vitl14", False, "ViT-L/14, GazeFollow, heatmap only"),
        _entry("gazelle_dinov2_vitb14_inout", "dinov2_vitb14", True,
               "ViT-B/14, GazeFollow + VideoAttentionTarget, heatmap + in/out"),
        _entry("gazelle_dinov2_vitl14_inout", "dinov2_vitl14", True,
               "ViT-L/14, GazeFollow + VideoAttentionTarget, heatmap + in/out"),
    )
}

DEFAULT_MODEL = "gazelle_dinov2_vitb14_inout"


def get_zoo_model(name: str) -> ZooModel:
    try:
        return ZOO[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(ZOO)} (see `gazecam models list`)") from None
