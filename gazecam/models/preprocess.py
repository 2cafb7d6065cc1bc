"""The official Gaze-LLE/DINOv2 input transform, on the model's device.

Official: ``Compose([ToTensor(), Normalize(IMAGENET_MEAN, IMAGENET_STD), Resize((448, 448))])`` on the
PIL RGB image: the resize runs LAST, on the normalised float tensor (bilinear, antialias=True,
align_corners=False), aspect ratio not kept.  Resizing the uint8 image instead moves results by ~1e-2.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "check_rgb_image", "preprocess_images"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_rgb_image(image: object, what: str = "image") -> np.ndarray:
    """Return ``image`` if it is an H x W x 3 uint8 array, else raise a ``ValueError`` saying what to do."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected an H x W x 3 uint8 RGB numpy array, got {type(image).__name__}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise ValueError(f"{what}: got a grayscale image of shape {image.shape}; expected H x W x 3 RGB "
                         "(convert with gazecam.imageio.to_rgb or np.repeat(gray[..., None], 3, axis=2))")
    if image.ndim == 3 and image.shape[2] == 4:
        raise ValueError(f"{what}: got a 4-channel (RGBA) image of shape {image.shape}; expected H x W x 3 RGB "
                         "(drop alpha with image[..., :3] or gazecam.imageio.to_rgb)")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: expected an H x W x 3 RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8 (0..255), got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what}: empty image of shape {image.shape}")
    return image


def preprocess_images(images: list[np.ndarray], *, size: int, device: torch.device | str) -> torch.Tensor:
    """List of H x W x 3 uint8 RGB arrays (any sizes) -> (B, 3, size, size) float32 on ``device``."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=device).view(3, 1, 1)
    out = []
    for i, image in enumerate(images):
        check_rgb_image(image, f"image {i}")
        t = torch.tensor(image, device=device)  # copies: caller's array may be read-only
        t = t.permute(2, 0, 1).float().div(255)  # (3, H, W) in [0, 1], as ToTensor
        t = t.sub(mean).div(std)  # Normalize
        if t.shape[-2:] != (size, size):  # torchvision's Resize returns same-size inputs untouched
            t = F.interpolate(t.unsqueeze(0), size=(size, size), mode="bilinear",
                              align_corners=False, antialias=True).squeeze(0)
        out.append(t)
    return torch.stack(out)
