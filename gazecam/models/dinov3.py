"""Meta's DINOv3 ViT-S/16, ViT-S+/16, ViT-B/16 built with timm (``vit_*_patch16_dinov3_qkvb``).

Checkpoints come in DINOv3's own layout (``DinoVisionTransformer.state_dict()``: what the DINOv3 hub
models hold and what gazelle-dinov3 stores under ``backbone.dinov3.*``).  :func:`convert_dinov3_state_dict`
maps it to timm's ``Eva`` layout, as timm's own ``eva.checkpoint_filter_fn`` does for DINOv3 weights
(``storage_tokens`` -> ``reg_token``, ``ls1/ls2.gamma`` -> ``gamma_1/2``, SwiGLU ``w1/w2/w3`` -> ``fc1_g/fc1_x/fc2``,
qkv bias -> ``q_bias`` + ``v_bias``), with two differences: the k-bias mask (``bias_mask``) is applied,
not assumed, and the RoPE ``periods`` of the checkpoint are kept (timm recomputes them in float32; the
DINOv3 release stores rounded ones and gazelle-dinov3 ran with whatever the checkpoint held).
:func:`dinov3_state_dict_from_timm` is the inverse, for saving whole models in gazelle-dinov3's format.

Features are DINOv3's ``x_norm_patchtokens`` (final LayerNorm applied) as (B, C, H/16, W/16).
No I/O here.
"""

from __future__ import annotations

import torch
from torch import nn

from .archs import DINOV3_ARCHS, DinoV3Arch, get_dinov3_arch

__all__ = ["DinoV3Backbone", "convert_dinov3_state_dict", "dinov3_state_dict_from_timm", "expected_dinov3_shapes",
           "infer_dinov3_arch", "swiglu_hidden", "NUM_STORAGE_TOKENS"]

NUM_STORAGE_TOKENS = 4
ROPE_PERIODS_KEY = "rope.periods"  # extra key of the converted dict (timm keeps periods non-persistent)
_FFN_RATIO = {"mlp": 4.0, "swiglu": 6.0}
# optional in DINOv3-layout files: training-only / recomputable tensors
_OPTIONAL = ("mask_token", "rope_embed.periods")


def swiglu_hidden(dim: int, ratio: float = 6.0, align_to: int = 8) -> int:
    """Hidden width of DINOv3's SwiGLU FFN (2/3 of ``dim * ratio``, rounded up to ``align_to``)."""
    hidden = int(dim * ratio)
    return (int(hidden * 2 / 3) + align_to - 1) // align_to * align_to


def expected_dinov3_shapes(arch: DinoV3Arch) -> dict[str, tuple[int, ...]]:
    """Key -> shape of DINOv3's ``DinoVisionTransformer.state_dict()`` (head removed) for ``arch``."""
    d, p = arch.embed_dim, arch.patch_size
    shapes: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d),
        "storage_tokens": (1, NUM_STORAGE_TOKENS, d),
        "mask_token": (1, d),
        "patch_embed.proj.weight": (d, 3, p, p),
        "patch_embed.proj.bias": (d,),
        "rope_embed.periods": (d // arch.num_heads // 4,),
    }
    for i in range(arch.depth):
        b = f"blocks.{i}."
        shapes.update({
            b + "norm1.weight": (d,), b + "norm1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,), b + "attn.qkv.bias_mask": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
            b + "ls1.gamma": (d,),
            b + "norm2.weight": (d,), b + "norm2.bias": (d,),
            b + "ls2.gamma": (d,),
        })
        if arch.ffn == "swiglu":
            h = swiglu_hidden(d, _FFN_RATIO["swiglu"])
            shapes.update({b + "mlp.w1.weight": (h, d), b + "mlp.w1.bias": (h,), b + "mlp.w2.weight": (h, d),
                           b + "mlp.w2.bias": (h,), b + "mlp.w3.weight": (d, h), b + "mlp.w3.bias": (d,)})
        else:
            h = int(d * _FFN_RATIO["mlp"])
            shapes.update({b + "mlp.fc1.weight": (h, d), b + "mlp.fc1.bias": (h,), b + "mlp.fc2.weight": (d, h),
                           b + "mlp.fc2.bias": (d,)})
    shapes["norm.weight"] = (d,)
    shapes["norm.bias"] = (d,)
    return shapes


def _optional_keys(arch: DinoV3Arch) -> frozenset[str]:
    return frozenset([*_OPTIONAL, *(f"blocks.{i}.attn.qkv.bias_mask" for i in range(arch.depth))])


def infer_dinov3_arch(state_dict: dict[str, torch.Tensor]) -> DinoV3Arch:
    """The DINOv3 ViT whose key set and shapes ``state_dict`` (DINOv3 layout) has exactly."""
    from .dinov2 import check_state_dict

    if "storage_tokens" not in state_dict or "cls_token" not in state_dict:
        raise ValueError("not a DINOv3 ViT backbone: expected 'cls_token' and 'storage_tokens' keys "
                         f"(first keys: {sorted(state_dict)[:8]})")
    dim = int(state_dict["cls_token"].shape[-1])
    ffn = "swiglu" if "blocks.0.mlp.w1.weight" in state_dict else "mlp"
    for arch in DINOV3_ARCHS.values():
        if arch.kind == "dinov3" and arch.embed_dim == dim and arch.ffn == ffn:
            check_state_dict(state_dict, expected_dinov3_shapes(arch), what=f"{arch.name} backbone",
                             optional=_optional_keys(arch))
            return arch
    raise ValueError(f"DINOv3 backbone with embed dim {dim} and a {ffn} FFN is not supported; supported: "
                     + ", ".join(f"{a.name} ({a.embed_dim}, {a.ffn})" for a in DINOV3_ARCHS.values()
                                 if a.kind == "dinov3"))


def convert_dinov3_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DINOv3-layout state dict -> timm ``Eva`` state dict (float32) plus ``"rope.periods"``.

    Pure function.  Validates the exact key set and shapes; fails when the effective k bias
    (``qkv.bias * bias_mask`` on the k third) is not zero, which timm's qkvb models cannot hold.
    """
    arch = infer_dinov3_arch(state_dict)
    d = arch.embed_dim
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        v = v.float()
        if k in ("mask_token", "rope_embed.periods") or k.endswith(".bias_mask"):
            continue
        if k.endswith("attn.qkv.bias"):
            mask = state_dict.get(k + "_mask")
            bias = v * mask.float() if mask is not None else v
            if not torch.isfinite(bias).all():
                raise ValueError(f"{k}: the masked qkv bias is not finite (bias_mask {k}_mask uninitialised?)")
            if bool((bias[d:2 * d] != 0).any()):
                raise ValueError(f"{k}: the k bias is not masked to zero; DINOv3 models have no k bias")
            out[k.replace("qkv.bias", "q_bias")] = bias[:d].clone()
            out[k.replace("qkv.bias", "v_bias")] = bias[2 * d:].clone()
            continue
        k = k.replace("storage_tokens", "reg_token").replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2")
        k = k.replace("mlp.w1.", "mlp.fc1_g.").replace("mlp.w2.", "mlp.fc1_x.").replace("mlp.w3.", "mlp.fc2.")
        out[k] = v
    periods = state_dict.get("rope_embed.periods")
    if periods is None:
        head_dim = d // arch.num_heads
        periods = 100.0 ** (2 * torch.arange(head_dim // 4, dtype=torch.float32) / (head_dim // 2))
    out[ROPE_PERIODS_KEY] = periods.float().clone()
    return out


def dinov3_state_dict_from_timm(state_dict: dict[str, torch.Tensor], *, arch: str) -> dict[str, torch.Tensor]:
    """Inverse of :func:`convert_dinov3_state_dict`: timm ``Eva`` keys (+ ``"rope.periods"``) -> DINOv3 layout.

    ``mask_token`` (training only, never used at inference) is written as zeros; ``bias_mask`` as DINOv3
    initialises it (ones, zeros on the k third).
    """
    a = get_dinov3_arch(arch)
    d = a.embed_dim
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        v = v.detach().float().cpu()
        if k == ROPE_PERIODS_KEY:
            out["rope_embed.periods"] = v.clone()
            continue
        if k.endswith("attn.q_bias"):
            v_bias = state_dict[k.replace("q_bias", "v_bias")].detach().float().cpu()
            base = k[: -len("q_bias")]
            out[base + "qkv.bias"] = torch.cat([v, torch.zeros(d), v_bias])
            mask = torch.ones(3 * d)
            mask[d:2 * d] = 0
            out[base + "qkv.bias_mask"] = mask
            continue
        if k.endswith("attn.v_bias"):
            continue
        k = k.replace("reg_token", "storage_tokens").replace("gamma_1", "ls1.gamma").replace("gamma_2", "ls2.gamma")
        k = k.replace("mlp.fc1_g.", "mlp.w1.").replace("mlp.fc1_x.", "mlp.w2.")
        if a.ffn == "swiglu":
            k = k.replace("mlp.fc2.", "mlp.w3.")
        out[k] = v.clone()
    out["mask_token"] = torch.zeros(1, d)
    return out


class DinoV3Backbone(nn.Module):
    """DINOv3 ViT (timm ``Eva``) at a fixed input size; ``forward`` gives patch features (B, C, H/16, W/16)."""

    def __init__(self, *, arch: str = "dinov3_vits16plus", img_size: int = 640) -> None:
        super().__init__()
        import timm

        a = get_dinov3_arch(arch)
        if a.kind != "dinov3" or a.timm_name is None:
            raise ValueError(f"{arch} is not a DINOv3 hub architecture (use ViTTinyBackbone)")
        if img_size % a.patch_size:
            raise ValueError(f"img_size must be a multiple of {a.patch_size}, got {img_size}")
        self.arch = a
        self.img_size = img_size
        self.grid = img_size // a.patch_size
        self.vit = timm.create_model(a.timm_name, pretrained=False, img_size=img_size, num_classes=0,
                                     global_pool="", dynamic_img_size=False)
        rope = getattr(self.vit, "rope", None)
        if rope is None or not hasattr(rope, "periods") or getattr(rope, "feat_shape", None) is None:
            raise RuntimeError(f"timm {timm.__version__}: {a.timm_name} has no cached DINOv3 RoPE; "
                               "gazecam needs timm 1.0.31")
        # persistent copy of the RoPE periods in use (timm's own buffer is not saved)
        self.register_buffer("rope_periods", rope.periods.detach().clone())

    @property
    def embed_dim(self) -> int:
        return self.arch.embed_dim

    @property
    def num_prefix_tokens(self) -> int:
        return int(self.vit.num_prefix_tokens)  # class token + storage tokens

    def _set_rope_periods(self, periods: torch.Tensor) -> None:
        """Use ``periods`` for RoPE: timm's buffer and its cached sin/cos table are rebuilt from them."""
        rope = self.vit.rope
        with torch.no_grad():
            self.rope_periods.copy_(periods)
            rope.periods.copy_(periods)
            cached = getattr(rope, "pos_embed_cached", None)
            if cached is not None:
                cached.copy_(rope._create_embed(list(rope.feat_shape), no_aug=True))

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a DINOv3-layout state dict (converted here); strict."""
        converted = convert_dinov3_state_dict(state_dict)
        dim = int(converted["cls_token"].shape[-1])
        if dim != self.embed_dim:
            raise ValueError(f"backbone weights are for embed dim {dim}, but the model is {self.arch.name} "
                             f"(embed dim {self.embed_dim})")
        periods = converted.pop(ROPE_PERIODS_KEY)
        self.vit.load_state_dict(converted, strict=True)
        self._set_rope_periods(periods)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in DINOv3's layout (the keys gazelle-dinov3 stores under ``backbone.dinov3.``)."""
        state = dict(self.vit.state_dict())
        state[ROPE_PERIODS_KEY] = self.rope_periods
        return dinov3_state_dict_from_timm(state, arch=self.arch.name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if (h, w) != (self.img_size, self.img_size):
            raise ValueError(f"backbone expects {self.img_size}x{self.img_size} inputs, got {h}x{w}")
        tokens = self.vit.forward_features(x)  # (B, 5 + HW, C), final norm applied
        patches = tokens[:, self.num_prefix_tokens:]
        return patches.transpose(1, 2).reshape(b, -1, self.grid, self.grid)  # (B, C, grid, grid)
