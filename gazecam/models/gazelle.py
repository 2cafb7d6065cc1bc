"""Gaze-LLE decoder (Ryan et al., CVPR 2025), state-dict compatible with fkryan/gazelle and gazelle-dinov3.

The decoder turns one scene feature map (B, C, F, F) plus one head prompt per person into a 64x64
heatmap and, for ``inout`` checkpoints, an in-frame probability.  Two flavours share the module:

- Gaze-LLE (``family="gazelle"``): F = 32 (DINOv2 at 448 px), block LayerNorm eps 1e-5, heatmap made
  at 64x64, in/out head ``Linear(256,128)-ReLU-Dropout-Linear(128,1)``.
- gazelle-dinov3 (``family="gazelle_dinov3"``): F = 40 (patch-16 backbones at 640 px), eps 1e-6,
  heatmap made at 80x80 and resized to 64x64 (bilinear, no antialias), in/out head a single
  ``Linear(256,1)`` (gazelle-dinov3 since 2025-10-23) or ``Linear(256,128)-GELU-Dropout-Linear(128,1)``
  (before), told apart by the checkpoint's keys.  Its CNN (HGNetV2) members run the same decoder on
  other grids (``grid`` 20 / 26 / 40 at 320 / 416 / 640 px) and resize the 2F x 2F map to ``out_size``
  32 / 48 / 64.

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
import torch.nn.functional as F
from torch import nn

from .dinov2 import check_state_dict

__all__ = [
    "GazeLLEDecoder",
    "DecoderConfig",
    "FAMILIES",
    "decoder_config_for",
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
# gazelle-dinov3 was trained with timm 1.0.20, whose Block defaults to LayerNorm eps 1e-6.
DINOV3_FEATMAP = 40  # 640 / 16
DINOV3_LN_EPS = 1e-6
FAMILIES = ("gazelle", "gazelle_dinov3")
INOUT_HEADS = ("mlp_relu", "mlp_gelu", "linear")


@dataclass(frozen=True)
class DecoderConfig:
    in_dim: int  # backbone feature channels (384 ViT-S, 768 ViT-B, 1024 ViT-L, 192 ViT-Tiny, ...)
    inout: bool  # has the in/out-of-frame head
    family: str = "gazelle"  # "gazelle" (Gaze-LLE) | "gazelle_dinov3"
    inout_head: str | None = None  # "mlp_relu" | "mlp_gelu" | "linear"; None: the family's current form
    grid: int | None = None  # feature-map side; None: the family's (32 or 40)
    out_size: int = OUT_SIZE  # heatmap side after the final resize (HGNetV2 Atto 32, Femto 48)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; expected one of {FAMILIES}")
        head = self.inout_head or ("mlp_relu" if self.family == "gazelle" else "linear")
        if not self.inout:
            head = "none"
        elif head not in INOUT_HEADS:
            raise ValueError(f"inout_head must be one of {INOUT_HEADS}, got {head!r}")
        object.__setattr__(self, "inout_head", head)

    @property
    def featmap(self) -> int:
        """Feature-map side: 32 (Gaze-LLE, 448 / 14), 40 (gazelle-dinov3, 640 / 16) or the configured ``grid``."""
        if self.grid is not None:
            return self.grid
        return FEATMAP if self.family == "gazelle" else DINOV3_FEATMAP

    @property
    def ln_eps(self) -> float:
        """LayerNorm eps of the transformer blocks (the timm default each family was trained with)."""
        return DECODER_LN_EPS if self.family == "gazelle" else DINOV3_LN_EPS


def decoder_config_for(family: str, *, in_dim: int, inout: bool, inout_head: str | None = None,
                       grid: int | None = None, out_size: int = OUT_SIZE) -> DecoderConfig:
    """The decoder of a model family: ``"gazelle"`` (Gaze-LLE) or ``"gazelle_dinov3"`` (``grid``/``out_size``:
    the HGNetV2 members' feature grid and heatmap side)."""
    return DecoderConfig(in_dim=in_dim, inout=inout, family=family, inout_head=inout_head, grid=grid,
                         out_size=out_size)


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
        "pos_embed": (d, cfg.featmap, cfg.featmap),
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
        shapes["inout_token.weight"] = (1, d)
        if cfg.inout_head == "linear":
            shapes.update({"inout_head.0.weight": (1, d), "inout_head.0.bias": (1,)})
        else:
            shapes.update({
                "inout_head.0.weight": (128, d),
                "inout_head.0.bias": (128,),
                "inout_head.3.weight": (1, 128),
                "inout_head.3.bias": (1,),
            })
    return shapes


def decoder_config_from_state_dict(state_dict: dict[str, torch.Tensor], *, family: str = "gazelle",
                                   grid: int | None = None, out_size: int = OUT_SIZE) -> DecoderConfig:
    """Infer (backbone dim, in/out head) from a decoder checkpoint of ``family`` and validate it strictly.

    For gazelle-dinov3 the in/out head form follows the keys: ``inout_head.0.weight`` of shape (1, 256)
    is the single Linear, (128, 256) with ``inout_head.3.*`` the earlier GELU MLP.
    """
    if "linear.weight" not in state_dict:
        keys = sorted(state_dict)
        hint = " (it looks like a DINOv2 backbone file)" if "cls_token" in state_dict else ""
        raise ValueError(
            f"not a Gaze-LLE decoder checkpoint{hint}: no 'linear.weight' key; keys: {', '.join(keys[:10])}"
            + (" ..." if len(keys) > 10 else "")
        )
    inout = any(k.startswith(("inout_token.", "inout_head.")) for k in state_dict)
    head = None
    if family == "gazelle_dinov3" and inout:
        w = state_dict.get("inout_head.0.weight")
        head = "linear" if w is not None and w.ndim == 2 and int(w.shape[0]) == 1 else "mlp_gelu"
    cfg = decoder_config_for(family, in_dim=int(state_dict["linear.weight"].shape[1]), inout=inout, inout_head=head,
                             grid=grid, out_size=out_size)
    # pos_embed is a deterministic buffer: the official code saves it, but a checkpoint without it is accepted.
    what = "Gaze-LLE decoder checkpoint" if family == "gazelle" else "gazelle-dinov3 decoder weights"
    check_state_dict(state_dict, expected_decoder_shapes(cfg), what=what, optional=frozenset({"pos_embed"}))
    return cfg


def convert_gazelle_state_dict(state_dict: dict[str, torch.Tensor], *, family: str = "gazelle",
                               grid: int | None = None, out_size: int = OUT_SIZE) -> dict[str, torch.Tensor]:
    """Official decoder checkpoint -> :class:`GazeLLEDecoder` state dict (validated, float32)."""
    cfg = decoder_config_from_state_dict(state_dict, family=family, grid=grid, out_size=out_size)
    out = {k: v.float() for k, v in state_dict.items()}
    if "pos_embed" not in out:
        out["pos_embed"] = positional_encoding_2d(DIM, cfg.featmap, cfg.featmap)
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
    """The Gaze-LLE head: 1x1 projection, head prompt, 3 transformer blocks, heatmap (+ in/out) heads.

    ``GazeLLEDecoder(in_dim=..., inout=...)`` is Gaze-LLE's; pass ``config`` (see :func:`decoder_config_for`)
    for gazelle-dinov3's.
    """

    def __init__(self, *, in_dim: int | None = None, inout: bool | None = None,
                 config: DecoderConfig | None = None) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        if config is None:
            if in_dim is None or inout is None:
                raise ValueError("GazeLLEDecoder needs in_dim and inout, or a config")
            config = DecoderConfig(in_dim=in_dim, inout=inout)
        elif (in_dim is not None and in_dim != config.in_dim) or (inout is not None and inout != config.inout):
            raise ValueError(f"in_dim/inout ({in_dim}, {inout}) disagree with config {config}")
        self.config = config
        f = config.featmap
        self.linear = nn.Conv2d(config.in_dim, DIM, 1)
        self.register_buffer("pos_embed", positional_encoding_2d(DIM, f, f))
        self.transformer = nn.Sequential(*[
            Block(dim=DIM, num_heads=NUM_HEADS, mlp_ratio=4, drop_path=0.1,
                  norm_layer=partial(nn.LayerNorm, eps=config.ln_eps))
            for _ in range(NUM_LAYERS)
        ])
        self.heatmap_head = nn.Sequential(
            nn.ConvTranspose2d(DIM, DIM, kernel_size=2, stride=2),
            nn.Conv2d(DIM, 1, kernel_size=1, bias=False),
            nn.Sigmoid(),
        )
        self.head_token = nn.Embedding(1, DIM)
        if config.inout:
            if config.inout_head == "linear":
                self.inout_head = nn.Sequential(nn.Linear(DIM, 1), nn.Sigmoid())
            else:
                act = nn.ReLU() if config.inout_head == "mlp_relu" else nn.GELU()
                self.inout_head = nn.Sequential(nn.Linear(DIM, 128), act, nn.Dropout(0.1), nn.Linear(128, 1),
                                                nn.Sigmoid())
            self.inout_token = nn.Embedding(1, DIM)

    @property
    def inout(self) -> bool:
        return self.config.inout

    @property
    def featmap(self) -> int:
        return self.config.featmap

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        c = self.config
        converted = convert_gazelle_state_dict(state_dict, family=c.family, grid=c.grid, out_size=c.out_size)
        cfg = decoder_config_from_state_dict(converted, family=c.family, grid=c.grid, out_size=c.out_size)
        if cfg != self.config:
            raise ValueError(f"decoder checkpoint is {cfg}, model was built as {self.config}")
        self.load_state_dict(converted, strict=True)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in the official checkpoint format (``get_gazelle_state_dict()``)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features (B, C, F, F) -> projected scene tokens (B, 256, F, F), per image."""
        return self.linear(features) + self.pos_embed

    def finish_heatmaps(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """(N, 2F, 2F) sigmoid maps -> (N, S, S), S = ``out_size`` (64; HGNetV2 Atto 32, Femto 48):
        gazelle-dinov3's final resize (bilinear, no antialias)."""
        size = self.config.out_size
        if heatmaps.shape[-1] == size:
            return heatmaps
        return F.interpolate(heatmaps.unsqueeze(1), size=(size, size), mode="bilinear",
                             align_corners=False, antialias=False).squeeze(1)

    def forward(
        self, scene: torch.Tensor, head_maps: torch.Tensor, image_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode all heads at once.

        scene: (B, 256, F, F) from :meth:`project`; head_maps: (N, F, F) binary;
        image_index: (N,) int64, which image each head belongs to.
        Returns heatmaps (N, S, S) (S = ``config.out_size``, 64 but for HGNetV2 Atto / Femto) and in/out (N,) or None.
        """
        f = self.config.featmap
        x = scene.index_select(0, image_index)  # (N, 256, F, F): features shared per image
        x = x + head_maps.to(x.dtype).unsqueeze(1) * self.head_token.weight[:, :, None, None]
        x = x.flatten(start_dim=2).permute(0, 2, 1)  # (N, F*F, 256) tokens, row-major h*F+w
        n = x.shape[0]
        if self.inout:
            x = torch.cat([self.inout_token.weight.unsqueeze(0).expand(n, -1, -1), x], dim=1)  # (N, 1+F*F, 256)
        x = self.transformer(x)
        inout = None
        if self.inout:
            inout = self.inout_head(x[:, 0]).squeeze(-1)  # (N,)
            x = x[:, 1:]
        x = x.reshape(n, f, f, DIM).permute(0, 3, 1, 2)  # (N, 256, F, F)
        heatmaps = self.finish_heatmaps(self.heatmap_logits(x).sigmoid())  # (N, S, S)
        return heatmaps, inout

    def heatmap_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (N, 256, F, F) -> heatmap logits (N, 2F, 2F): ``heatmap_head`` without its sigmoid, folded.

        ``ConvTranspose2d(256, 256, 2, 2)`` followed by the bias-free ``Conv2d(256, 1, 1)`` is linear, so the
        two are one ``ConvTranspose2d(256, 1, 2, 2)`` whose weight is the 1x1 conv applied to the transposed
        conv's kernel: 1 output channel instead of 256 (~8% of the decoder's FLOPs per head).  The fold is
        elementwise products and sums in the weights' dtype (no autocast), and a constant in ONNX exports.
        """
        up, proj = self.heatmap_head[0], self.heatmap_head[1]
        w_proj = proj.weight.reshape(1, -1, 1, 1)  # (1, 256, 1, 1): out channel o of the transposed conv
        weight = (up.weight * w_proj).sum(dim=1, keepdim=True)  # (256 in, 1 out, 2, 2)
        bias = (up.bias * w_proj.reshape(-1)).sum().reshape(1)  # (1,)
        return F.conv_transpose2d(x, weight.to(x.dtype), bias.to(x.dtype), stride=2).squeeze(1)
