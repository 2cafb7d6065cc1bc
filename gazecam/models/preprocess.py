"""The official Gaze-LLE/DINOv2 input transform, on the model's device.

Official: ``Compose([ToTensor(), Normalize(IMAGENET_MEAN, IMAGENET_STD), Resize((448, 448))])`` on the
PIL RGB image: the resize runs LAST, on the normalised float tensor (bilinear, antialias=True,
align_corners=False), aspect ratio not kept.  Resizing the uint8 image instead moves results by ~1e-2.
gazelle-dinov3's HGNetV2 CNNs use ``Compose([ToTensor(), Resize(size)])``: ``normalize=False``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..types import check_rgb_image

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "check_rgb_image", "preprocess_images"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess_images(images: list[np.ndarray], *, size: int, device: torch.device | str,
                      normalize: bool = True) -> torch.Tensor:
    """List of H x W x 3 uint8 RGB arrays (any sizes) -> (B, 3, size, size) float32 on ``device``.

    ``normalize``: ImageNet mean/std (the ViTs); False keeps [0, 1] values (the HGNetV2 CNNs)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=device).view(3, 1, 1)
    out = []
    for i, image in enumerate(images):
        check_rgb_image(image, f"image {i}")
        t = torch.tensor(image, device=device)  # copies: caller's array may be read-only
        t = t.permute(2, 0, 1).float().div(255)  # (3, H, W) in [0, 1], as ToTensor
        if normalize:
            t = t.sub(mean).div(std)  # Normalize
        if t.shape[-2:] != (size, size):  # torchvision's Resize returns same-size inputs untouched
            t = F.interpolate(t.unsqueeze(0), size=(size, size), mode="bilinear",
                              align_corners=False, antialias=True).squeeze(0)
        out.append(t)
    return torch.stack(out)
