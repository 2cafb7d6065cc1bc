"""gazelle-dinov3's CNN backbones (PP-HGNetV2 Atto / Femto / Pico / B0 "N"), in plain torch.

Layout as gazelle-dinov3's ``HGNetv2Backbone`` (the D-FINE / DEIMv2 PP-HGNetV2 with ``use_lab=True``,
ReLU, ``agg="se"`` aggregation): a stem (3 -> 16 -> 16, stride 4) and 3 stages (stride 4, 8, 16); the
stride-16 stage output is the feature map.  B0 ("N") has a 4th stage in its checkpoints whose output the
reference computes but never uses: it is not built here and its weights are dropped by the converter.

Every ``ConvBNAct`` is conv -> BatchNorm -> [ReLU -> learnable affine ``scale * x + bias``].  At inference
(eval mode, no gradients) BatchNorm is folded into the convolution's weights and bias (computed once and
cached until the weights change), so each layer is one convolution; the state dict keeps the reference's
keys (``stem.*``, ``stages.*`` with BatchNorm statistics), so files load and save in either code.

Input: RGB in [0, 1] (``ToTensor`` then ``Resize``, **no** ImageNet normalisation).  No I/O here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .archs import HGNETV2_ARCHS, HGNetV2Arch, get_hgnetv2_arch

__all__ = ["HGNetV2Backbone", "convert_hgnetv2_state_dict", "expected_hgnetv2_shapes", "infer_hgnetv2_arch"]

BN_EPS = 1e-5
STEM = (3, 16, 16)


class _LearnableAffine(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))


class _ConvBNAct(nn.Module):
    """conv (no bias, padding (k-1)//2) -> BatchNorm -> [ReLU -> learnable affine]; BN folded at inference."""

    def __init__(self, cin: int, cout: int, kernel: int, *, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.use_act = act
        self.fold = True  # False: conv -> BatchNorm as the reference code runs it (see HGNetV2Backbone.unfolded)
        if act:
            self.lab = _LearnableAffine()
        self._fold_key: tuple | None = None
        self._folded: tuple[torch.Tensor, torch.Tensor] | None = None

    def _folded_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        tensors = (self.conv.weight, self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var)
        key = tuple((t.data_ptr(), t._version, t.dtype) for t in tensors)
        if key != self._fold_key or self._folded is None:
            with torch.no_grad():
                scale = self.bn.weight.float() * torch.rsqrt(self.bn.running_var.float() + self.bn.eps)
                w = (self.conv.weight.float() * scale[:, None, None, None]).to(self.conv.weight.dtype)
                b = (self.bn.bias.float() - self.bn.running_mean.float() * scale).to(self.conv.weight.dtype)
            self._folded, self._fold_key = (w.contiguous(), b.contiguous()), key
        return self._folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.fold or (torch.is_grad_enabled() and self.conv.weight.requires_grad):
            x = self.bn(self.conv(x))
        else:
            w, b = self._folded_weights()
            x = F.conv2d(x, w, b, self.conv.stride, self.conv.padding, 1, self.conv.groups)
        if self.use_act:
            x = torch.relu(x) * self.lab.scale + self.lab.bias
        return x


class _LightConvBNAct(nn.Module):
    """1x1 conv (no activation) then a depthwise k x k conv with activation."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv1 = _ConvBNAct(cin, cout, 1, act=False)
        self.conv2 = _ConvBNAct(cout, cout, kernel, groups=cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class _Stem(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.stem1 = _ConvBNAct(cin, mid, 3, stride=2)
        self.stem2a = _ConvBNAct(mid, mid // 2, 2)
        self.stem2b = _ConvBNAct(mid // 2, mid, 2)
        self.stem3 = _ConvBNAct(mid * 2, mid, 3, stride=2)
        self.stem4 = _ConvBNAct(mid, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(self.stem1(x), (0, 1, 0, 1))
        x2 = self.stem2b(F.pad(self.stem2a(x), (0, 1, 0, 1)))
        x1 = F.max_pool2d(x, kernel_size=2, stride=1, ceil_mode=True)
        return self.stem4(self.stem3(torch.cat([x1, x2], dim=1)))


class _HGBlock(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, layers: int, kernel: int, *, residual: bool, light: bool) -> None:
        super().__init__()
        self.residual = residual
        self.layers = nn.ModuleList([
            _LightConvBNAct(cin if i == 0 else mid, mid, kernel) if light
            else _ConvBNAct(cin if i == 0 else mid, mid, kernel)
            for i in range(layers)])
        total = cin + layers * mid
        self.aggregation = nn.Sequential(_ConvBNAct(total, cout // 2, 1), _ConvBNAct(cout // 2, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        y = x
        for layer in self.layers:
            y = layer(y)
            outs.append(y)
        y = self.aggregation(torch.cat(outs, dim=1))
        return y + x if self.residual else y


class _HGStage(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, blocks: int, downsample: bool, light: bool, kernel: int,
                 layers: int) -> None:
        super().__init__()
        self.downsample = _ConvBNAct(cin, cin, 3, stride=2, groups=cin, act=False) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[
            _HGBlock(cin if i == 0 else cout, mid, cout, layers, kernel, residual=i > 0, light=light)
            for i in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


@functools.lru_cache(maxsize=None)
def _module_shapes(arch: HGNetV2Arch) -> tuple[tuple[str, tuple[int, ...]], ...]:
    with torch.device("meta"):
        m = _Body(arch)
    return tuple((k, tuple(v.shape)) for k, v in m.state_dict().items())


class _Body(nn.Module):
    def __init__(self, arch: HGNetV2Arch) -> None:
        super().__init__()
        self.stem = _Stem(*STEM)
        self.stages = nn.ModuleList([_HGStage(*spec) for spec in arch.stages])


def expected_hgnetv2_shapes(arch: HGNetV2Arch) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the backbone (keys as gazelle-dinov3's ``backbone.*`` without the prefix), used stages only."""
    return dict(_module_shapes(arch))


def _unused_stage_keys(state: dict[str, torch.Tensor], arch: HGNetV2Arch) -> list[str]:
    return [k for k in state if k.startswith("stages.") and int(k.split(".")[1]) >= len(arch.stages)]


def infer_hgnetv2_arch(state_dict: dict[str, torch.Tensor]) -> HGNetV2Arch:
    """The HGNetV2 layout whose key set and shapes ``state_dict`` has exactly (keys without ``backbone.``).

    B0 ("N") checkpoints hold a 4th stage (``stages.3.*``) that the model never uses; it is accepted here.
    """
    from .dinov2 import check_state_dict

    if "stem.stem1.conv.weight" not in state_dict:
        raise ValueError("not an HGNetV2 backbone: expected 'stem.stem1.conv.weight' "
                         f"(first keys: {sorted(state_dict)[:8]})")
    stage_ids = {k.split(".")[1] for k in state_dict if k.startswith("stages.")}
    if not all(i.isdigit() for i in stage_ids):
        raise ValueError(f"HGNetV2 backbone with unexpected stage keys: {sorted(stage_ids)[:6]}")
    n_stages = 1 + max((int(i) for i in stage_ids), default=-1)
    out3 = state_dict.get("stages.2.blocks.0.aggregation.1.conv.weight")
    blocks3 = len({k.split(".")[3] for k in state_dict if k.startswith("stages.2.blocks.")})
    for arch in HGNETV2_ARCHS.values():
        spec = arch.stages[2]
        if (arch.checkpoint_stages == n_stages and out3 is not None and int(out3.shape[0]) == spec[2]
                and blocks3 == spec[3]):
            used = {k: v for k, v in state_dict.items() if k not in set(_unused_stage_keys(state_dict, arch))}
            check_state_dict(used, expected_hgnetv2_shapes(arch), what=f"{arch.name} backbone",
                             optional=frozenset(k for k in expected_hgnetv2_shapes(arch)
                                                if k.endswith("num_batches_tracked")))
            return arch
    raise ValueError(f"HGNetV2 backbone with {n_stages} stages, stage-3 out channels "
                     f"{None if out3 is None else int(out3.shape[0])} and {blocks3} stage-3 block(s) matches none of "
                     + ", ".join(HGNETV2_ARCHS))


def convert_hgnetv2_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """gazelle-dinov3 backbone state -> :class:`HGNetV2Backbone` state (validated, float32 except counters).

    Drops B0's unused 4th stage; adds missing ``num_batches_tracked`` counters (they do not affect inference).
    """
    arch = infer_hgnetv2_arch(state_dict)
    unused = set(_unused_stage_keys(state_dict, arch))
    out = {k: (v if k.endswith("num_batches_tracked") else v.float()) for k, v in state_dict.items() if k not in unused}
    for k in expected_hgnetv2_shapes(arch):
        if k.endswith("num_batches_tracked") and k not in out:
            out[k] = torch.tensor(0, dtype=torch.long)
    return out


class HGNetV2Backbone(nn.Module):
    """PP-HGNetV2 up to its stride-16 stage at a fixed input size; ``forward`` gives (B, C, S/16, S/16)."""

    def __init__(self, *, arch: str = "hgnetv2_atto", img_size: int | None = None) -> None:
        super().__init__()
        a = get_hgnetv2_arch(arch)
        img_size = a.img_size if img_size is None else img_size
        if img_size % 16:
            raise ValueError(f"img_size must be a multiple of 16, got {img_size}")
        self.arch = a
        self.img_size = img_size
        self.grid = img_size // 16
        self.stem = _Stem(*STEM)
        self.stages = nn.ModuleList([_HGStage(*spec) for spec in a.stages])

    @property
    def embed_dim(self) -> int:
        return self.arch.embed_dim

    @property
    def normalize(self) -> bool:
        """Whether inputs are ImageNet-normalised: never for these backbones (inputs in [0, 1])."""
        return False

    def load_official(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a gazelle-dinov3 HGNetV2 state dict (keys as ``backbone.*`` without the prefix); strict."""
        arch = infer_hgnetv2_arch(state_dict)
        if arch.name != self.arch.name:
            raise ValueError(f"backbone weights are {arch.name}, but the model is {self.arch.name}")
        self.load_state_dict(convert_hgnetv2_state_dict(state_dict), strict=True)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict in gazelle-dinov3's layout (the keys under ``backbone.``; B0's unused 4th stage absent)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    @contextlib.contextmanager
    def unfolded(self) -> Iterator[None]:
        """Within the block, run conv -> BatchNorm unfused, as the reference code (for reference timings)."""
        layers = [m for m in self.modules() if isinstance(m, _ConvBNAct)]
        for m in layers:
            m.fold = False
        try:
            yield
        finally:
            for m in layers:
                m.fold = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if (h, w) != (self.img_size, self.img_size):
            raise ValueError(f"backbone expects {self.img_size}x{self.img_size} inputs, got {h}x{w}")
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x
