"""The DEIMv2-style distilled ViT-Tiny / Tiny+ of gazelle-dinov3 (the S and M models), in plain torch.

Architecture (state-dict compatible with gazelle-dinov3's ``backbone.dinov3._model.*`` keys): 16x16 patch
embedding, one class token (no storage tokens, no absolute position embedding), 12 pre-norm blocks
(LayerNorm eps 1e-6, qkv with a full bias, exact GELU MLP of ratio 4, no LayerScale), DINOv3's 2-D
RoPE on the patch tokens of q and k (base 100, coordinates normalised per axis, ``periods`` read from
the checkpoint), and **no final norm**: the features are the last block's patch tokens.

Written for speed on CPUs: ``F.scaled_dot_product_attention``, RoPE applied to q and k together over
all tokens (the class token gets the identity rotation, cos 1 / sin 0, so nothing is split off and
concatenated back; rotate_half's sign folded into the sin table), sin/cos tables computed once per forward.

No I/O here: callers pass state dicts (see :mod:`gazecam.weights`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .archs import DINOV3_ARCHS, DinoV3Arch, get_dinov3_arch

__all__ = ["ViTTinyBackbone", "convert_vit_tiny_state_dict", "expected_vit_tiny_shapes", "infer_vit_tiny_arch",
           "rope_sin_cos"]

LN_EPS = 1e-6
MLP_RATIO = 4


def expected_vit_tiny_shapes(arch: DinoV3Arch) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the DEIMv2 ViT's ``_model.state_dict()`` (gazelle-dinov3's ``backbone.dinov3._model.*``)."""
    d, p, hidden = arch.embed_dim, arch.patch_size, MLP_RATIO * arch.embed_dim
    shapes: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d),
        "patch_embed.proj.weight": (d, 3, p, p),
        "patch_embed.proj.bias": (d,),
        "rope_embed.periods": (d // arch.num_heads // 4,),
    }
    for i in range(arch.depth):
        b = f"blocks.{i}."
        shapes.update({
            b + "norm1.weight": (d,), b + "norm1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
            b + "norm2.weight": (d,), b + "norm2.bias": (d,),
            b + "mlp.fc1.weight": (hidden, d), b + "mlp.fc1.bias": (hidden,),
            b + "mlp.fc2.weight": (d, hidden), b + "mlp.fc2.bias": (d,),
        })
    return shapes


def infer_vit_tiny_arch(state_dict: dict[str, torch.Tensor]) -> DinoV3Arch:
    """The ViT-Tiny/Tiny+ whose key set and shapes ``state_dict`` has exactly (keys without ``_model.``)."""
    from .dinov2 import check_state_dict

    if "cls_token" not in state_dict or "rope_embed.periods" not in state_dict:
        raise ValueError("not a DEIMv2 ViT-Tiny backbone: expected 'cls_token' and 'rope_embed.periods' keys "
                         f"(first keys: {sorted(state_dict)[:8]})")
    dim = int(state_dict["cls_token"].shape[-1])
    for arch in DINOV3_ARCHS.values():
        if arch.kind == "vit_tiny" and arch.embed_dim == dim:
            check_state_dict(state_dict, expected_vit_tiny_shapes(arch), what=f"{arch.name} backbone")
            return arch
    raise ValueError(f"ViT-Tiny backbone has embed dim {dim}; supported: " + ", ".join(
        f"{a.name} ({a.embed_dim})" for a in DINOV3_ARCHS.values() if a.kind == "vit_tiny"))


def convert_vit_tiny_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DEIMv2 ViT state dict -> :class:`ViTTinyBackbone` state dict (validated, float32; same key names)."""
    infer_vit_tiny_arch(state_dict)
    return {k: v.float() for k, v in state_dict.items()}


def rope_sin_cos(periods: torch.Tensor, grid_h: int, grid_w: int, *, prefix_tokens: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """DINOv3 RoPE tables for a ``grid_h`` x ``grid_w`` patch grid: sin, cos of shape (P + H*W, head_dim).

    Same arithmetic as DINOv3's ``RopePositionEmbedding`` (``normalize_coords="separate"``, eval mode):
    patch-centre coordinates in [-1, 1] per axis, angles ``2 pi coord / period`` for y then x, the
    (y, x) angle block repeated twice.  ``prefix_tokens`` leading rows are the identity (sin 0, cos 1).
    """
    dd = {"device": periods.device, "dtype": torch.float32}
    coords_h = torch.arange(0.5, grid_h, **dd) / grid_h
    coords_w = torch.arange(0.5, grid_w, **dd) / grid_w
    coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"), dim=-1).flatten(0, 1)  # (HW, 2)
    coords = 2.0 * coords - 1.0
    angles = 2 * math.pi * coords[:, :, None] / periods.float()[None, None, :]  # (HW, 2, head_dim/4)
    angles = angles.flatten(1, 2).repeat(1, 2)  # (HW, head_dim)
    sin, cos = torch.sin(angles), torch.cos(angles)
    if prefix_tokens:
        sin = torch.cat([sin.new_zeros(prefix_tokens, sin.shape[1]), sin])
        cos = torch.cat([cos.new_ones(prefix_tokens, cos.shape[1]), cos])
    return sin, cos


class _PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)


class _RopePeriods(nn.Module):
    """Holds the checkpoint's RoPE ``periods`` (key ``rope_embed.periods``)."""

    def __init__(self, head_dim: int, base: float = 100.0) -> None:
        super().__init__()
        n = head_dim // 4
        self.register_buffer("periods", base ** (2 * torch.arange(n, dtype=torch.float32) / (head_dim // 2)))


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
        """``sin`` is the *signed* table (see :meth:`ViTTinyBackbone.forward`): rotate_half(x) * sin ==
        swap_halves(x) * signed_sin, so the rotation is 3 passes (swap, mul, addcmul) without a negation."""
        b, n, c = x.shape
        h = self.num_heads
        qkv = self.qkv(x).view(b, n, 3, h, c // h)  # (B, N, 3, H, Dh)
        qk = qkv[:, :, :2]  # q and k together: one rotation pass
        half = qk.shape[-1] // 2
        swapped = torch.cat([qk[..., half:], qk[..., :half]], dim=-1)
        qk = (qk * cos.to(qk.dtype)).addcmul_(swapped, sin.to(qk.dtype))  # (N,1,1,Dh) tables; class token: identity
        q, k = qk.unbind(2)  # (B, N, H, Dh)
        v = qkv[:, :, 2]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # (B,H,N,Dh)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = _Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = _Mlp(dim, MLP_RATIO * dim)

    def forward(self, x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), sin, cos)
        return x + self.mlp(self.norm2(x))


class ViTTinyBackbone(nn.Module):
    """DEIMv2 ViT-Tiny/Tiny+ at a fixed input size; ``forward`` gives patch features (B, C, H/16, W/16)."""

    def __init__(self, *, arch: str = "dinov3_vit_tiny", img_size: int = 640) -> None:
        super().__init__()
        a = get_dinov3_arch(arch)
        if a.kind != "vit_tiny":
            raise ValueError(f"{arch} is not a ViT-Tiny architecture (use DinoV3Backbone)")
        if img_size % a.patch_size:
            raise ValueError(f"img_size must be a multiple of {a.patch_size}, got {img_size}")
        self.arch = a
        self.img_size = img_size
        self.grid = img_size // a.patch_size
        d = a.embed_dim
        self.patch_embed = _PatchEmbed(d, a.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks = nn.ModuleList([_Block(d, a.num_heads) for _ in range(a.depth)])
        self.rope_embed = _RopePeriods(d // a.num_heads)
        with torch.no_grad():  # random init for timing runs (weights are normally loaded)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    @property
    def embed_dim(self) -> int:
        return self.arch.embed_dim

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a DEIMv2 ViT state dict (keys as ``_model.state_dict()``); strict."""
        converted = convert_vit_tiny_state_dict(state_dict)
        dim = int(converted["cls_token"].shape[-1])
        if dim != self.embed_dim:
            raise ValueError(f"backbone weights are for embed dim {dim}, but the model is {self.arch.name} "
                             f"(embed dim {self.embed_dim})")
        self.load_state_dict(converted, strict=True)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in the DEIMv2 / gazelle-dinov3 layout (the keys under ``backbone.dinov3._model.``)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if (h, w) != (self.img_size, self.img_size):
            raise ValueError(f"backbone expects {self.img_size}x{self.img_size} inputs, got {h}x{w}")
        tokens = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1).to(tokens.dtype), tokens], dim=1)  # (B, 1 + HW, C)
        sin, cos = rope_sin_cos(self.rope_embed.periods, self.grid, self.grid, prefix_tokens=1)
        half = sin.shape[-1] // 2
        sin = torch.cat([-sin[:, :half], sin[:, half:]], dim=-1)  # signed: rotate_half's minus moved here
        sin, cos = sin[:, None, None, :], cos[:, None, None, :]  # (N, 1, 1, Dh): broadcast over q/k and heads
        for blk in self.blocks:
            tokens = blk(tokens, sin, cos)
        patches = tokens[:, 1:]  # no final norm
        return patches.transpose(1, 2).reshape(b, -1, self.grid, self.grid)  # (B, C, grid, grid)
