"""The Gaze-LLE/DINOv2 input transform, on the model's device: one implementation for every backend.

Official: ``Compose([ToTensor(), Normalize(IMAGENET_MEAN, IMAGENET_STD), Resize((448, 448))])`` on the
PIL RGB image: the resize runs LAST, on the normalised float tensor (bilinear, antialias=True,
align_corners=False), aspect ratio not kept.  Resizing the uint8 image instead moves results by ~1e-2.
Resizing is linear, though, so resizing the 0..255 *float* image first and normalising the S x S result
(``x * 1/(255 std) - mean/std``, one fused multiply-add) gives the official pixels up to float rounding
(~1e-6, tests/test_backends.py, tests/test_model.py) at a third of the cost: no full-resolution
normalisation pass.
gazelle-dinov3's HGNetV2 CNNs use ``Compose([ToTensor(), Resize(size)])``: ``normalize=False``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..types import check_rgb_image

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "check_rgb_image", "preprocess_fast", "preprocess_images"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SCALE = torch.tensor([1.0 / (255.0 * s) for s in IMAGENET_STD], dtype=torch.float32).view(1, 3, 1, 1)
_SHIFT = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], dtype=torch.float32).view(1, 3, 1, 1)


def preprocess_fast(image: np.ndarray, *, size: int, device: torch.device | str = "cpu", normalize: bool = True,
                    what: str = "image") -> torch.Tensor:
    """H x W x 3 uint8 RGB -> (1, 3, size, size) float32 normalised network input on ``device``.

    ``normalize=False`` (the HGNetV2 CNNs, see ``archs.backbone_normalizes``): ``ToTensor`` + resize, values in [0, 1]."""
    check_rgb_image(image, what)
    if not image.flags.writeable:  # torch.from_numpy warns on read-only arrays (e.g. decoded video frames)
        image = image.copy()
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device)  # (H, W, 3) uint8
    t = t.permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, H, W), 0..255
    if t.shape[-2:] != (size, size):  # torchvision's Resize leaves same-size inputs untouched
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if not normalize:
        return t.div_(255.0)  # (1, 3, S, S) in [0, 1]
    return torch.addcmul(_SHIFT.to(t.device), t, _SCALE.to(t.device))  # x / 255 normalised, (1, 3, S, S)


def preprocess_images(images: list[np.ndarray], *, size: int, device: torch.device | str,
                      normalize: bool = True) -> torch.Tensor:
    """List of H x W x 3 uint8 RGB arrays (any sizes) -> (B, 3, size, size) float32 on ``device``.

    ``normalize``: ImageNet mean/std (the ViTs); False keeps [0, 1] values (the HGNetV2 CNNs)."""
    return torch.cat([preprocess_fast(im, size=size, device=device, normalize=normalize, what=f"image {i}")
                      for i, im in enumerate(images)])
