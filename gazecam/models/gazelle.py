"""Gaze-LLE decoder (Ryan et al., CVPR 2025), state-dict compatible with fkryan/gazelle.

The decoder turns one scene feature map (B, C, 32, 32) plus one head prompt per person
into a 64x64 heatmap and, for ``inout`` checkpoints, an in-frame probability.

Checkpoint keys are those of the official ``GazeLLE.get_gazelle_state_dict()``: the released
``gazelle_dinov2_vit{b,l}14[_inout].pt`` files load strictly, and checkpoints saved from here
load in the official code.  No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

from .dinov2 import check_state_dict

__all__ = [
    "GazeLLEDecoder",
    "DecoderConfig",
    "build_head_maps",
    "head_map_bounds",
    "convert_gazelle_state_dict",
    "decoder_config_from_state_dict",
    "expected_decoder_shapes",
    "positional_encoding_2d",
]

FEATMAP = 32  # 448 / 14
OUT_SIZE = 64
DIM = 256
NUM_LAYERS = 3
NUM_HEADS = 8
# The released checkpoints were trained with timm <= 1.0.15, whose Block used nn.LayerNorm (eps=1e-5).
# timm >= 1.0.16 defaults to eps=1e-6, so the eps is set explicitly.
DECODER_LN_EPS = 1e-5


@dataclass(frozen=True)
class DecoderConfig:
    in_dim: int  # backbone feature channels (384 ViT-S, 768 ViT-B, 1024 ViT-L)
    inout: bool  # has the in/out-of-frame head


def positional_encoding_2d(d_model: int, height: int, width: int) -> torch.Tensor:
    """Sin/cos 2D encoding (d_model, height, width): first half encodes the column, second half the row."""
    if d_model % 4:
        raise ValueError(f"d_model must be a multiple of 4, got {d_model}")
    pe = torch.zeros(d_model, height, width)
    half = d_model // 2
    div_term = torch.exp(torch.arange(0.0, half, 2) * -(math.log(10000.0) / half))  # (half/2,)
    pos_w = torch.arange(0.0, width).unsqueeze(1)  # (W, 1)
    pos_h = torch.arange(0.0, height).unsqueeze(1)  # (H, 1)
    pe[0:half:2] = torch.sin(pos_w * div_term).transpose(0, 1).unsqueeze(1).repeat(1, height, 1)
    pe[1:half:2] = torch.cos(pos_w * div_term).transpose(0, 1).unsqueeze(1).repeat(1, height, 1)
    pe[half::2] = torch.sin(pos_h * div_term).transpose(0, 1).unsqueeze(2).repeat(1, 1, width)
    pe[half + 1::2] = torch.cos(pos_h * div_term).transpose(0, 1).unsqueeze(2).repeat(1, 1, width)
    return pe


def expected_decoder_shapes(cfg: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official decoder checkpoint for ``cfg``."""
    d = DIM
    shapes: dict[str, tuple[int, ...]] = {
        "pos_embed": (d, FEATMAP, FEATMAP),
        "linear.weight": (d, cfg.in_dim, 1, 1),
        "linear.bias": (d,),
        "head_token.weight": (1, d),
    }
    for i in range(NUM_LAYERS):
        p = f"transformer.{i}."
        shapes.update({
            p + "norm1.weight": (d,), p + "norm1.bias": (d,),
            p + "attn.qkv.weight": (3 * d, d),
            p + "attn.proj.weight": (d, d), p + "attn.proj.bias": (d,),
            p + "norm2.weight": (d,), p + "norm2.bias": (d,),
            p + "mlp.fc1.weight": (4 * d, d), p + "mlp.fc1.bias": (4 * d,),
            p + "mlp.fc2.weight": (d, 4 * d), p + "mlp.fc2.bias": (d,),
        })
    shapes.update({
        "heatmap_head.0.weight": (d, d, 2, 2),
        "heatmap_head.0.bias": (d,),
        "heatmap_head.1.weight": (1, d, 1, 1),
    })
    if cfg.inout:
        shapes.update({
            "inout_token.weight": (1, d),
            "inout_head.0.weight": (128, d),
            "inout_head.0.bias": (128,),
            "inout_head.3.weight": (1, 128),
            "inout_head.3.bias": (1,),
        })
    return shapes


def decoder_config_from_state_dict(state_dict: dict[str, torch.Tensor]) -> DecoderConfig:
    """Infer (backbone dim, in/out head) from a decoder checkpoint and validate it strictly."""
    if "linear.weight" not in state_dict:
        keys = sorted(state_dict)
        hint = " (it looks like a DINOv2 backbone file)" if "cls_token" in state_dict else ""
        raise ValueError(
            f"not a Gaze-LLE decoder checkpoint{hint}: no 'linear.weight' key; keys: {', '.join(keys[:10])}"
            + (" ..." if len(keys) > 10 else "")
        )
    cfg = DecoderConfig(in_dim=int(state_dict["linear.weight"].shape[1]),
                        inout=any(k.startswith(("inout_token.", "inout_head.")) for k in state_dict))
    # pos_embed is a deterministic buffer: the official code saves it, but a checkpoint without it is accepted.
    check_state_dict(state_dict, expected_decoder_shapes(cfg), what="Gaze-LLE decoder checkpoint",
                     optional=frozenset({"pos_embed"}))
    return cfg


def convert_gazelle_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official decoder checkpoint -> :class:`GazeLLEDecoder` state dict (validated, float32)."""
    decoder_config_from_state_dict(state_dict)
    out = {k: v.float() for k, v in state_dict.items()}
    if "pos_embed" not in out:
        out["pos_embed"] = positional_encoding_2d(DIM, FEATMAP, FEATMAP)
    return out


def head_map_bounds(boxes_norm: np.ndarray, size: int = FEATMAP) -> np.ndarray:
    """(N, 4) normalised boxes (NaN row = no box) -> (N, 4) int64 grid bounds x0, y0, x1, y1 (end-exclusive).

    Python/NumPy round-half-to-even in float64, as the official ``round(v * 32)``.  Rows of NaN
    (``None`` boxes) give empty bounds, i.e. an all-zero map.
    """
    boxes = np.asarray(boxes_norm, dtype=np.float64).reshape(-1, 4)
    missing = np.isnan(boxes).any(axis=1)
    bounds = np.round(np.where(missing[:, None], 0.0, boxes) * size)  # np.round: half to even
    return np.clip(bounds, 0, size).astype(np.int64)


def build_head_maps(bounds: torch.Tensor, size: int = FEATMAP) -> torch.Tensor:
    """(N, 4) int grid bounds (on the target device) -> (N, size, size) float32 binary head maps."""
    ar = torch.arange(size, device=bounds.device)
    x0, y0, x1, y1 = bounds.unbind(dim=1)  # each (N,)
    rows = (ar >= y0[:, None]) & (ar < y1[:, None])  # (N, size)
    cols = (ar >= x0[:, None]) & (ar < x1[:, None])  # (N, size)
    return (rows[:, :, None] & cols[:, None, :]).float()  # (N, size, size)


class GazeLLEDecoder(nn.Module):
    """The Gaze-LLE head: 1x1 projection, head prompt, 3 transformer blocks, heatmap (+ in/out) heads."""

    def __init__(self, *, in_dim: int, inout: bool) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        self.config = DecoderConfig(in_dim=in_dim, inout=inout)
        self.linear = nn.Conv2d(in_dim, DIM, 1)
        self.register_buffer("pos_embed", positional_encoding_2d(DIM, FEATMAP, FEATMAP))
        self.transformer = nn.Sequential(*[
            Block(dim=DIM, num_heads=NUM_HEADS, mlp_ratio=4, drop_path=0.1,
                  norm_layer=partial(nn.LayerNorm, eps=DECODER_LN_EPS))
            for _ in range(NUM_LAYERS)
        ])
        self.heatmap_head = nn.Sequential(
            nn.ConvTranspose2d(DIM, DIM, kernel_size=2, stride=2),
            nn.Conv2d(DIM, 1, kernel_size=1, bias=False),
            nn.Sigmoid(),
        )
        self.head_token = nn.Embedding(1, DIM)
        if inout:
            self.inout_head = nn.Sequential(
                nn.Linear(DIM, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 1), nn.Sigmoid()
            )
            self.inout_token = nn.Embedding(1, DIM)

    @property
    def inout(self) -> bool:
        return self.config.inout

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        converted = convert_gazelle_state_dict(state_dict)
        cfg = decoder_config_from_state_dict(converted)
        if cfg != self.config:
            raise ValueError(f"decoder checkpoint is {cfg}, model was built as {self.config}")
        self.load_state_dict(converted, strict=True)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in the official checkpoint format (``get_gazelle_state_dict()``)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features (B, C, 32, 32) -> projected scene tokens (B, 256, 32, 32), per image."""
        return self.linear(features) + self.pos_embed

    def forward(
        self, scene: torch.Tensor, head_maps: torch.Tensor, image_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode all heads at once.

        scene: (B, 256, 32, 32) from :meth:`project`; head_maps: (N, 32, 32) binary;
        image_index: (N,) int64, which image each head belongs to.
        Returns heatmaps (N, 64, 64) and in/out (N,) or None.
        """
        x = scene.index_select(0, image_index)  # (N, 256, 32, 32): features shared per image
        x = x + head_maps.to(x.dtype).unsqueeze(1) * self.head_token.weight[:, :, None, None]
        x = x.flatten(start_dim=2).permute(0, 2, 1)  # (N, 1024, 256) tokens, row-major h*32+w
        n = x.shape[0]
        if self.inout:
            x = torch.cat([self.inout_token.weight.unsqueeze(0).expand(n, -1, -1), x], dim=1)  # (N, 1025, 256)
        x = self.transformer(x)
        inout = None
        if self.inout:
            inout = self.inout_head(x[:, 0]).squeeze(-1)  # (N,)
            x = x[:, 1:]
        x = x.reshape(n, FEATMAP, FEATMAP, DIM).permute(0, 3, 1, 2)  # (N, 256, 32, 32)
        heatmaps = self.heatmap_head(x).squeeze(1)  # (N, 64, 64)
        return heatmaps, inout
