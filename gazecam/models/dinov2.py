"""DINOv2 ViT backbones (ViT-S/B/L, patch 14) built with timm, loading official DINOv2 checkpoints.

The official checkpoints (``dinov2_vit{s,b,l}14_pretrain.pth``) hold a 37x37 position
embedding (518 px input).  Gaze-LLE runs the backbone at 448 px (32x32 patches), and the
official DINOv2 code resizes the position embedding on every forward with
``F.interpolate(mode="bicubic", antialias=False, scale_factor=(32.1/37, 32.1/37))``.
:func:`convert_dinov2_state_dict` does that resize once, when the checkpoint is converted,
so the timm model is built directly for the 448 px grid and gives the same numbers.

No I/O here: callers pass state dicts (see :mod:`gazecam.weights`).
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .archs import DINOV2_ARCHS, DinoV2Arch, get_arch

__all__ = [
    "DINOV2_ARCHS",
    "DinoV2Arch",
    "DinoV2Backbone",
    "get_arch",
    "convert_dinov2_state_dict",
    "expected_dinov2_shapes",
    "infer_dinov2_arch",
    "interpolate_pos_embed_official",
]

PATCH_SIZE = 14
PRETRAIN_GRID = 37  # 518 / 14
INTERPOLATE_OFFSET = 0.1  # DINOv2's historical kludge, see interpolate_pos_encoding


def expected_dinov2_shapes(arch: DinoV2Arch) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official ``DinoVisionTransformer.state_dict()`` for ``arch``."""
    d, hidden = arch.embed_dim, 4 * arch.embed_dim
    shapes: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d),
        "pos_embed": (1, PRETRAIN_GRID * PRETRAIN_GRID + 1, d),
        "mask_token": (1, d),
        "patch_embed.proj.weight": (d, 3, PATCH_SIZE, PATCH_SIZE),
        "patch_embed.proj.bias": (d,),
    }
    for i in range(arch.depth):
        p = f"blocks.{i}."
        shapes.update({
            p + "norm1.weight": (d,), p + "norm1.bias": (d,),
            p + "attn.qkv.weight": (3 * d, d), p + "attn.qkv.bias": (3 * d,),
            p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,),
            p + "ls1.gamma": (d,),
            p + "norm2.weight": (d,), p + "norm2.bias": (d,),
            p + "mlp.fc1.weight": (hidden, d), p + "mlp.fc1.bias": (hidden,),
            p + "mlp.fc2.weight": (d, hidden), p + "mlp.fc2.bias": (d,),
            p + "ls2.gamma": (d,),
        })
    shapes["norm.weight"] = (d,)
    shapes["norm.bias"] = (d,)
    return shapes


def infer_dinov2_arch(state_dict: dict[str, torch.Tensor]) -> DinoV2Arch:
    """The architecture whose official key set and shapes ``state_dict`` has exactly."""
    if "cls_token" not in state_dict:
        raise ValueError(
            "not a DINOv2 backbone checkpoint: no 'cls_token' key "
            f"(first keys: {sorted(state_dict)[:8]}); expected an official dinov2_vit*14_pretrain.pth file"
        )
    dim = int(state_dict["cls_token"].shape[-1])
    for arch in DINOV2_ARCHS.values():
        if arch.embed_dim == dim:
            check_state_dict(state_dict, expected_dinov2_shapes(arch), what=f"{arch.name} backbone checkpoint")
            return arch
    raise ValueError(f"DINOv2 checkpoint has embed dim {dim}; supported: "
                     + ", ".join(f"{a.name} ({a.embed_dim})" for a in DINOV2_ARCHS.values()))


def check_state_dict(state_dict: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], *, what: str,
                     optional: frozenset[str] = frozenset()) -> None:
    """Raise ``ValueError`` listing missing/unexpected keys and wrong shapes (never just a warning)."""
    have, want = set(state_dict), set(expected)
    missing = sorted(want - have - optional)
    unexpected = sorted(have - want)
    bad_shape = sorted(
        f"{k}: expected {tuple(expected[k])}, got {tuple(state_dict[k].shape)}"
        for k in have & want
        if tuple(state_dict[k].shape) != tuple(expected[k])
    )
    not_tensor = sorted(k for k, v in state_dict.items() if not isinstance(v, torch.Tensor))
    if missing or unexpected or bad_shape or not_tensor:
        lines = [f"{what} does not match the expected layout:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {', '.join(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
        if bad_shape:
            lines.append(f"  wrong shapes ({len(bad_shape)}): " + "; ".join(bad_shape))
        if not_tensor:
            lines.append(f"  values that are not tensors: {', '.join(not_tensor)}")
        raise ValueError("\n".join(lines))


def interpolate_pos_embed_official(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """DINOv2's ``interpolate_pos_encoding`` for a square ``grid`` x ``grid`` patch grid.

    (1, 1 + M*M, C) -> (1, 1 + grid*grid, C), computed in float32 exactly as the official code.
    """
    n = pos_embed.shape[1] - 1
    m = int(math.sqrt(n))
    if m * m != n:
        raise ValueError(f"pos_embed has {n} patch positions, not a square grid")
    pos_embed = pos_embed.float()
    if grid == m:
        return pos_embed
    dim = pos_embed.shape[-1]
    cls_pos = pos_embed[:, :1]
    patch_pos = pos_embed[:, 1:].reshape(1, m, m, dim).permute(0, 3, 1, 2)  # (1, C, M, M)
    scale = float(grid + INTERPOLATE_OFFSET) / m
    patch_pos = F.interpolate(patch_pos, mode="bicubic", antialias=False, scale_factor=(scale, scale))
    if patch_pos.shape[-2:] != (grid, grid):
        raise RuntimeError(f"position-embedding resize gave {tuple(patch_pos.shape[-2:])}, expected {(grid, grid)}")
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid * grid, dim)  # (1, grid*grid, C)
    return torch.cat([cls_pos, patch_pos], dim=1)


def convert_dinov2_state_dict(state_dict: dict[str, torch.Tensor], *, img_size: int = 448) -> dict[str, torch.Tensor]:
    """Official DINOv2 state dict -> state dict of :class:`DinoV2Backbone` at ``img_size``.

    Pure function: validates the exact key set/shapes, drops ``mask_token`` (training only),
    casts to float32 and resizes the position embedding the way the official code does.
    """
    infer_dinov2_arch(state_dict)  # validates the exact key set and shapes
    grid = img_size // PATCH_SIZE
    out = {k: v.float() for k, v in state_dict.items() if k != "mask_token"}
    out["pos_embed"] = interpolate_pos_embed_official(state_dict["pos_embed"], grid)
    return out


class DinoV2Backbone(nn.Module):
    """DINOv2 ViT at a fixed input size; ``forward`` gives patch features (B, C, H/14, W/14)."""

    def __init__(self, *, arch: str, img_size: int = 448) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        if img_size % PATCH_SIZE:
            raise ValueError(f"img_size must be a multiple of {PATCH_SIZE}, got {img_size}")
        self.arch = get_arch(arch)
        self.img_size = img_size
        self.grid = img_size // PATCH_SIZE
        self.vit = VisionTransformer(
            img_size=img_size,
            patch_size=PATCH_SIZE,
            embed_dim=self.arch.embed_dim,
            depth=self.arch.depth,
            num_heads=self.arch.num_heads,
            mlp_ratio=4.0,
            qkv_bias=True,
            init_values=1.0,  # LayerScale
            num_classes=0,
            global_pool="",
            class_token=True,
            norm_layer=partial(nn.LayerNorm, eps=1e-6),
            act_layer=nn.GELU,  # exact (erf) GELU as DINOv2
        )

    @property
    def embed_dim(self) -> int:
        return self.arch.embed_dim

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load an official DINOv2 checkpoint (converted here); strict."""
        converted = convert_dinov2_state_dict(state_dict, img_size=self.img_size)
        if self.arch.embed_dim != int(converted["cls_token"].shape[-1]):
            raise ValueError(
                f"backbone weights are for embed dim {int(converted['cls_token'].shape[-1])}, "
                f"but the model is {self.arch.name} (embed dim {self.arch.embed_dim})"
            )
        self.vit.load_state_dict(converted, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if (h, w) != (self.img_size, self.img_size):
            raise ValueError(f"backbone expects {self.img_size}x{self.img_size} inputs, got {h}x{w}")
        tokens = self.vit.forward_features(x)  # (B, 1 + grid*grid, C), final norm applied
        patches = tokens[:, 1:]  # drop the class token
        return patches.reshape(b, self.grid, self.grid, -1).permute(0, 3, 1, 2)  # (B, C, grid, grid)
