"""Which backbone a checkpoint holds, and gazelle-dinov3's whole-model checkpoints (backbone + decoder).

- A separate backbone file is DINOv2 (``pos_embed``, no RoPE), DINOv3 (``storage_tokens``), or the
  DEIMv2 ViT-Tiny (``rope_embed.periods`` without storage tokens; keys with or without ``_model.``), or
  gazelle-dinov3's PP-HGNetV2 CNN (``stem.stem1.conv.weight``).
- gazelle-dinov3 stores ``GazeLLE.state_dict()`` whole: the decoder keys plus the backbone under
  ``backbone.dinov3.*`` (DINOv3 hub ViTs), ``backbone.dinov3._model.*`` (ViT-Tiny/Tiny+) or ``backbone.*``
  (HGNetV2: ``backbone.stem.*``, ``backbone.stages.*``).
  :func:`split_model_state` takes it apart; :func:`join_model_state` puts it back together, so models
  trained here save files that load in gazelle-dinov3 and here alike.

Pure functions on state dicts; no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import torch

from .archs import DINOV2_ARCHS, DINOV3_ARCHS, HGNETV2_ARCHS, backbone_input_size

__all__ = ["Backbone", "build_backbone", "backbone_from_state", "infer_backbone_arch", "family_of_backbone", "is_model_state",
           "split_model_state", "join_model_state", "BACKBONE_PREFIX", "TINY_PREFIX", "HGNET_PREFIX"]

BACKBONE_PREFIX = "backbone.dinov3."
TINY_PREFIX = "backbone.dinov3._model."
HGNET_PREFIX = "backbone."

if TYPE_CHECKING:  # pragma: no cover
    from .dinov2 import DinoV2Backbone
    from .dinov3 import DinoV3Backbone
    from .hgnetv2 import HGNetV2Backbone
    from .vit_tiny import ViTTinyBackbone
Backbone = Union["DinoV2Backbone", "DinoV3Backbone", "ViTTinyBackbone", "HGNetV2Backbone"]


def family_of_backbone(name: str) -> str:
    """The decoder family that goes with a backbone architecture: ``gazelle`` or ``gazelle_dinov3``."""
    if name in DINOV2_ARCHS:
        return "gazelle"
    if name in DINOV3_ARCHS or name in HGNETV2_ARCHS:
        return "gazelle_dinov3"
    raise ValueError(f"unknown backbone {name!r}; expected one of {[*DINOV2_ARCHS, *DINOV3_ARCHS, *HGNETV2_ARCHS]}")


def build_backbone(name: str) -> "Backbone":
    """A randomly initialised backbone of architecture ``name`` at its native input size."""
    size = backbone_input_size(name)
    if name in DINOV2_ARCHS:
        from .dinov2 import DinoV2Backbone

        return DinoV2Backbone(arch=name, img_size=size)
    if name in HGNETV2_ARCHS:
        from .hgnetv2 import HGNetV2Backbone

        return HGNetV2Backbone(arch=name, img_size=size)
    if DINOV3_ARCHS[name].kind == "vit_tiny":
        from .vit_tiny import ViTTinyBackbone

        return ViTTinyBackbone(arch=name, img_size=size)
    from .dinov3 import DinoV3Backbone

    return DinoV3Backbone(arch=name, img_size=size)


def _backbone_kind(state: dict[str, torch.Tensor]) -> str:
    if "stem.stem1.conv.weight" in state:
        return "hgnetv2"
    if "storage_tokens" in state:
        return "dinov3"
    if "rope_embed.periods" in state or "_model.rope_embed.periods" in state:
        return "vit_tiny"
    if "cls_token" in state and "pos_embed" in state:
        return "dinov2"
    hint = " (it looks like a decoder file)" if "linear.weight" in state else ""
    raise ValueError(f"not a DINOv2 backbone checkpoint (nor a DINOv3 / ViT-Tiny one){hint}: expected DINOv2 keys "
                     "(cls_token, pos_embed, blocks.*), DINOv3 keys (storage_tokens, rope_embed.periods, ...) or "
                     f"ViT-Tiny keys (cls_token, rope_embed.periods); first keys: {sorted(state)[:8]}")


def _unwrap_tiny(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if "_model.rope_embed.periods" in state:  # the DEIMv2 wrapper's state dict (keys under ``_model.``)
        return {k[len("_model."):]: v for k, v in state.items() if k.startswith("_model.")}
    return state


def infer_backbone_arch(state: dict[str, torch.Tensor]) -> str:
    """The backbone architecture whose exact key set and shapes ``state`` has (``ValueError`` listing mismatches)."""
    kind = _backbone_kind(state)
    if kind == "hgnetv2":
        from .hgnetv2 import infer_hgnetv2_arch

        return infer_hgnetv2_arch(state).name
    if kind == "dinov2":
        from .dinov2 import infer_dinov2_arch

        return infer_dinov2_arch(state).name
    if kind == "vit_tiny":
        from .vit_tiny import infer_vit_tiny_arch

        return infer_vit_tiny_arch(_unwrap_tiny(state)).name
    from .dinov3 import infer_dinov3_arch

    return infer_dinov3_arch(state).name


def backbone_from_state(state: dict[str, torch.Tensor]) -> "Backbone":
    """A backbone built for the architecture ``state`` holds and loaded from it (strict; errors list mismatches)."""
    bb = build_backbone(infer_backbone_arch(state))
    bb.load_official(_unwrap_tiny(state) if _backbone_kind(state) == "vit_tiny" else state)
    return bb


def is_model_state(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict holds a whole model (backbone + decoder), as gazelle-dinov3's files do."""
    return any(k.startswith("backbone.") for k in state)


def split_model_state(state: dict[str, torch.Tensor]
                      ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Whole-model state dict -> (backbone state in its own layout, decoder state)."""
    backbone = {k: v for k, v in state.items() if k.startswith("backbone.")}
    decoder = {k: v for k, v in state.items() if not k.startswith("backbone.")}
    if any(k.startswith(("backbone.stem.", "backbone.stages.")) for k in backbone):  # HGNetV2 CNN
        stray = sorted(k for k in backbone if not k.startswith(("backbone.stem.", "backbone.stages.")))
        if stray:
            raise ValueError(f"unexpected backbone keys beside the HGNetV2 ones: {', '.join(stray[:6])}")
        return {k[len(HGNET_PREFIX):]: v for k, v in backbone.items()}, decoder
    other = sorted(k for k in backbone if not k.startswith(BACKBONE_PREFIX))
    if other:
        raise ValueError(f"unsupported backbone in this model file: keys {', '.join(other[:4])} ... are not "
                         "DINOv3 / ViT-Tiny / HGNetV2 weights")
    if any(k.startswith(TINY_PREFIX) for k in backbone):
        prefix = TINY_PREFIX
        stray = sorted(k for k in backbone if not k.startswith(TINY_PREFIX))
        if stray:
            raise ValueError(f"unexpected backbone keys beside the ViT-Tiny ones: {', '.join(stray[:6])}")
    else:
        prefix = BACKBONE_PREFIX
    return {k[len(prefix):]: v for k, v in backbone.items()}, decoder


def join_model_state(backbone: "Backbone", decoder_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Backbone + decoder state -> one gazelle-dinov3 ``GazeLLE.state_dict()`` (float32, CPU)."""
    arch = backbone.arch.name
    if arch not in DINOV3_ARCHS and arch not in HGNETV2_ARCHS:
        raise ValueError(f"whole-model files are gazelle-dinov3's format; {arch} models save the decoder alone")
    if arch in HGNETV2_ARCHS:
        prefix = HGNET_PREFIX
    else:
        prefix = TINY_PREFIX if DINOV3_ARCHS[arch].kind == "vit_tiny" else BACKBONE_PREFIX
    out = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in decoder_state.items()
           if k == "pos_embed"}
    out.update({prefix + k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
                .clone() for k, v in backbone.official_state_dict().items()})
    out.update({k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in decoder_state.items()
                if k != "pos_embed"})
    return out
