"""The released models: names, aliases, files, official download URLs and licences.

Two families:

- Gaze-LLE (fkryan/gazelle release v1.0.0): a decoder file + the official DINOv2 backbone file.
- gazelle-dinov3 (PINTO0309/gazelle-dinov3, GitHub release ``weights``): one file per model holding
  backbone **and** decoder (a training checkpoint: ``{"model": ..., "optimizer": ..., "rng_state": ...}``).
  The code is MIT; the weights derive from Meta's DINOv3 and fall under the DINOv3 License.  Its CNN members
  (PP-HGNetV2 Atto / Femto / Pico / N, distilled from its DINOv3 ViT-B teacher; files ``*_distill.pt``)
  carry the same licence note: the project states nothing else for them.

No SHA-256 is published for any of these files: the digest of each is recorded on first download and
re-checked on every load (see :mod:`gazecam.hub`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .models.archs import DINOV2_ARCHS

__all__ = ["RemoteFile", "ZooModel", "PublishedMetrics", "ZOO", "ALIASES", "get_zoo_model", "resolve_model_name", "DEFAULT_MODEL",
           "LICENSE_GAZELLE", "LICENSE_DINOV3", "CPU_REALTIME_MODEL", "cpu_realtime_hint"]

GAZELLE_RELEASE = "https://github.com/fkryan/gazelle/releases/download/v1.0.0"
GAZELLE_DINOV3_RELEASE = "https://github.com/PINTO0309/gazelle-dinov3/releases/download/weights"
LICENSE_GAZELLE = "MIT (Gaze-LLE) + Apache-2.0 (DINOv2)"
LICENSE_DINOV3 = "code MIT; weights DINOv3 License"
DINOV3_LICENSE_URL = "https://ai.meta.com/resources/models-and-libraries/dinov3-license/"


@dataclass(frozen=True)
class RemoteFile:
    filename: str  # name in the cache directory and on a mirror
    url: str  # official URL
    kind: str  # "backbone", "decoder" or "model" (backbone + decoder in one file)
    sha256: str | None = None  # pinned digest when known; otherwise recorded on first download


@dataclass(frozen=True)
class PublishedMetrics:
    """Figures the model's authors published: GazeFollow (AUC, Min L2, Avg L2) or VideoAttentionTarget
    (AUC, Avg L2, in/out AP)."""

    dataset: str  # "GazeFollow" | "VideoAttentionTarget"
    auc: float
    avg_l2: float
    min_l2: float | None = None  # GazeFollow only
    inout_ap: float | None = None  # VideoAttentionTarget only

    def __str__(self) -> str:
        if self.inout_ap is not None:
            return f"{self.dataset} AUC {self.auc:.4f} / Avg L2 {self.avg_l2:.4f} / in-out AP {self.inout_ap:.4f}"
        return f"{self.dataset} AUC {self.auc:.4f} / Min L2 {self.min_l2:.4f} / Avg L2 {self.avg_l2:.4f}"


@dataclass(frozen=True)
class ZooModel:
    name: str
    backbone: str  # backbone architecture name (gazecam.models.archs)
    inout: bool
    decoder: RemoteFile  # the gaze weights: a decoder file, or the whole model (kind "model")
    description: str
    backbone_file: RemoteFile | None = None  # separate backbone file (Gaze-LLE); None when ``decoder`` holds it
    family: str = "gazelle"  # "gazelle" | "gazelle_dinov3"
    license: str = LICENSE_GAZELLE
    aliases: tuple[str, ...] = ()
    published: PublishedMetrics | None = None  # the authors' figures, where the zoo records them

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        """The files to download, backbone first: two for Gaze-LLE, one for gazelle-dinov3."""
        return (self.decoder,) if self.backbone_file is None else (self.backbone_file, self.decoder)


def _entry(name: str, backbone: str, inout: bool, description: str, aliases: tuple[str, ...] = ()) -> ZooModel:
    arch = DINOV2_ARCHS[backbone]
    return ZooModel(
        name=name,
        backbone=backbone,
        inout=inout,
        decoder=RemoteFile(f"{name}.pt", f"{GAZELLE_RELEASE}/{name}.pt", "decoder"),
        backbone_file=RemoteFile(arch.checkpoint_file, arch.url, "backbone"),
        description=description,
        aliases=aliases,
    )


def _dinov3_entry(variant: str, size: str, inout: bool, description: str) -> ZooModel:
    name = f"gazelle_dinov3_{variant}{'_inout' if inout else ''}"
    backbone = "dinov3_" + variant
    data = "GazeFollow + VideoAttentionTarget, heatmap + in/out" if inout else "GazeFollow, heatmap only"
    return ZooModel(
        name=name,
        backbone=backbone,
        inout=inout,
        decoder=RemoteFile(f"{name}.pt", f"{GAZELLE_DINOV3_RELEASE}/{name}.pt", "model"),
        description=f"{description} at 640 px, {data}",
        family="gazelle_dinov3",
        license=LICENSE_DINOV3,
        aliases=(f"dinov3-{size}" + ("-inout" if inout else ""),),
    )


def _dinov3_entries() -> list[ZooModel]:
    variants = (("vit_tiny", "s", "S: distilled ViT-Tiny (8.2 M)"),
                ("vit_tinyplus", "m", "M: distilled ViT-Tiny+ (12.4 M)"),
                ("vits16", "l", "L: DINOv3 ViT-S/16 (24.3 M)"),
                ("vits16plus", "x", "X: DINOv3 ViT-S+/16 (31.4 M)"),
                ("vitb16", "xl", "XL: DINOv3 ViT-B/16 (88.5 M)"))
    return [_dinov3_entry(v, size, inout, desc) for inout in (False, True) for v, size, desc in variants]


# variant, params, input px, GazeFollow (AUC, Min L2, Avg L2), VAT (AUC, Avg L2, in/out AP): gazelle-dinov3's README
_HGNETV2_PUBLISHED = (
    ("atto", "2.93 M", 320, (0.9267, 0.0826, 0.1482), (0.9055, 0.1523, 0.8749)),
    ("femto", "3.15 M", 416, (0.9391, 0.0656, 0.1289), (0.9166, 0.1372, 0.8779)),
    ("pico", "3.51 M", 640, (0.9491, 0.0544, 0.1149), (0.9247, 0.1245, 0.8861)),
    ("n", "4.61 M", 640, (0.9481, 0.0549, 0.1158), (0.9218, 0.1258, 0.9012)),
)


def _hgnetv2_entries() -> list[ZooModel]:
    """gazelle-dinov3's CNN models: HGNetV2 backbone + the same decoder, one ``*_distill.pt`` file each."""
    out = []
    for inout in (False, True):
        for variant, params, size, gf, vat in _HGNETV2_PUBLISHED:
            name = f"gazelle_hgnetv2_{variant}{'_inout' if inout else ''}"
            file = f"{name}_distill.pt"
            metrics = (PublishedMetrics("VideoAttentionTarget", auc=vat[0], avg_l2=vat[1], inout_ap=vat[2]) if inout
                       else PublishedMetrics("GazeFollow", auc=gf[0], min_l2=gf[1], avg_l2=gf[2]))
            data = "GazeFollow + VideoAttentionTarget, heatmap + in/out" if inout else "GazeFollow, heatmap only"
            out.append(ZooModel(
                name=name,
                backbone=f"hgnetv2_{variant}",
                inout=inout,
                decoder=RemoteFile(file, f"{GAZELLE_DINOV3_RELEASE}/{file}", "model"),
                description=(f"{variant.capitalize() if variant != 'n' else 'N'}: CNN PP-HGNetV2 distilled from "
                             f"DINOv3 ({params}) at {size} px; {data}; published {metrics}"),
                family="gazelle_dinov3",
                license=LICENSE_DINOV3,
                aliases=(f"hgnet-{variant}" + ("-inout" if inout else ""),),
                published=metrics,
            ))
    return out


ZOO: dict[str, ZooModel] = {
    m.name: m
    for m in (
        _entry("gazelle_dinov2_vitb14", "dinov2_vitb14", False, "Gaze-LLE ViT-B/14, GazeFollow, heatmap only"),
        _entry("gazelle_dinov2_vitl14", "dinov2_vitl14", False, "Gaze-LLE ViT-L/14, GazeFollow, heatmap only"),
        _entry("gazelle_dinov2_vitb14_inout", "dinov2_vitb14", True,
               "Gaze-LLE ViT-B/14, GazeFollow + VideoAttentionTarget, heatmap + in/out"),
        _entry("gazelle_dinov2_vitl14_inout", "dinov2_vitl14", True,
               "Gaze-LLE ViT-L/14, GazeFollow + VideoAttentionTarget, heatmap + in/out"),
        *_dinov3_entries(),
        *_hgnetv2_entries(),
    )
}

ALIASES: dict[str, str] = {alias: m.name for m in ZOO.values() for alias in m.aliases}

DEFAULT_MODEL = "gazelle_dinov2_vitb14_inout"


CPU_REALTIME_MODEL = "gazelle_hgnetv2_atto_inout"  # the model that keeps up with video on a 2-core CPU


def cpu_realtime_hint(backbone: str) -> str | None:
    """One line for a ViT model about to run on a CPU: which zoo model runs in real time there, and its licence.

    None for the CNN (HGNetV2) models, which are the real-time ones.
    """
    if backbone.startswith("hgnetv2"):
        return None
    m = ZOO[CPU_REALTIME_MODEL]
    return (f"note: {backbone} is a ViT, slow on a CPU (about 0.5-3 frames/s on 2 cores); for real time on a CPU "
            f"use the model {m.aliases[0]} ({m.name}: CNN, 320 px, ~35x the official ViT-B's speed; "
            f"licence: {m.license})")


def resolve_model_name(name: str) -> str:
    """A zoo name or alias -> the zoo name (unknown names are returned unchanged)."""
    return ALIASES.get(name, name)


def get_zoo_model(name: str) -> ZooModel:
    """A zoo entry by name or alias (e.g. ``dinov3-x-inout``)."""
    try:
        return ZOO[resolve_model_name(name)]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(ZOO)} "
                         f"(aliases: {', '.join(ALIASES)}; see `gazecam models list`)") from None
