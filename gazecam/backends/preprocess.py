"""Fast official-equivalent preprocessing for the exported-graph backends (one image -> network input).

Official transform: ToTensor, Normalize, then an antialiased bilinear resize of the float tensor to 448.
Resizing is linear, so resizing the 0..255 float image first and normalising the 448 x 448 result
(``x * 1/(255 std) - mean/std``, one fused multiply-add) gives the same pixels up to float rounding
(~1e-6) at a third of the cost: no full-resolution normalisation pass.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..models.preprocess import IMAGENET_MEAN, IMAGENET_STD, check_rgb_image

__all__ = ["preprocess_fast"]

_SCALE = torch.tensor([1.0 / (255.0 * s) for s in IMAGENET_STD], dtype=torch.float32).view(1, 3, 1, 1)
_SHIFT = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], dtype=torch.float32).view(1, 3, 1, 1)


def preprocess_fast(image: np.ndarray, *, size: int, device: torch.device | str = "cpu",
                    normalize: bool = True) -> torch.Tensor:
    """H x W x 3 uint8 RGB -> (1, 3, size, size) float32 normalised network input on ``device``.

    ``normalize=False`` (the HGNetV2 CNNs, see ``archs.backbone_normalizes``): ``ToTensor`` + resize, values in [0, 1]."""
    check_rgb_image(image)
    if not image.flags.writeable:  # torch.from_numpy warns on read-only arrays (e.g. decoded video frames)
        image = image.copy()
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device)  # (H, W, 3) uint8
    t = t.permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, H, W), 0..255
    if t.shape[-2:] != (size, size):  # torchvision's Resize leaves same-size inputs untouched
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if not normalize:
        return t.div_(255.0)  # (1, 3, S, S) in [0, 1]
    return torch.addcmul(_SHIFT.to(t.device), t, _SCALE.to(t.device))  # x / 255 normalised, (1, 3, S, S)
