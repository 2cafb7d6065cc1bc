"""Training samples, the paper's augmentations and the Gaussian heatmap targets.

As the official training code (``gazelle/dataloader.py``, ``gazelle/utils.py``), every sample is one
head, and each augmentation is applied with probability 0.5, in this order:

1. random crop keeping the head box and (for in-frame gaze) the gaze target,
2. horizontal flip,
3. head-box jitter: each side moved by up to 20 % of the box size, clamped to the image.

Crop and flip change the image; jitter changes only the box prompt.  The target is a 64x64
Gaussian (sigma 3, peak 1) at ``(int(x * 64), int(y * 64))``, all zeros for out-of-frame gaze; models
with smaller heatmaps (HGNetV2 Atto 32, Femto 48) get targets of their size, sigma still 3, as
gazelle-dinov3's ``GazeDataset(heatmap_size=model.out_size)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eval.datasets import GazeDataset, HeadAnnotation, load_rgb

__all__ = [
    "TrainSample",
    "AugmentConfig",
    "PreparedSample",
    "Batch",
    "training_samples",
    "gaussian_heatmap",
    "random_crop",
    "horizontal_flip",
    "jitter_box",
    "prepare_sample",
    "collate",
    "split_dataset",
]

HEATMAP_SIZE = 64
SIGMA = 3


@dataclass(frozen=True)
class TrainSample:
    image_path: Path
    head: HeadAnnotation


@dataclass(frozen=True)
class AugmentConfig:
    crop_p: float = 0.5
    flip_p: float = 0.5
    jitter_p: float = 0.5
    jitter: float = 0.2  # fraction of the box size
    image_augment: bool = True  # crop/flip (False when backbone features come from the cache)

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(crop_p=0.0, flip_p=0.0, jitter_p=0.0, image_augment=False)


@dataclass(frozen=True)
class PreparedSample:
    image: np.ndarray  # (H, W, 3) uint8, augmented
    box_norm: tuple[float, float, float, float]
    gaze_norm: tuple[float, float] | None  # None = out of frame
    inout: int
    target: np.ndarray  # (64, 64) float32


@dataclass(frozen=True)
class Batch:
    image_paths: list[Path]
    images: list[np.ndarray]  # augmented images (un-augmented when image_augment is off)
    boxes_norm: np.ndarray  # (N, 4) float64
    targets: np.ndarray  # (N, 64, 64) float32
    inout: np.ndarray  # (N,) float32 0/1


def training_samples(dataset: GazeDataset, *, in_frame_only: bool) -> list[TrainSample]:
    """One sample per head; ``in_frame_only`` keeps heads whose gaze target is in the frame."""
    return [TrainSample(image_path=im.path, head=h) for im in dataset.images for h in im.heads
            if h.inout == 1 or not in_frame_only]


def split_dataset(dataset: GazeDataset, fraction: float, *, seed: int) -> tuple[GazeDataset, GazeDataset]:
    """(train, val): a random ``fraction`` of the IMAGES (all their heads) held out for validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    n = len(dataset.images)
    k = max(1, int(round(n * fraction)))
    if k >= n:
        raise ValueError(f"cannot hold out {fraction:.0%} of {n} images and keep some for training")
    perm = np.random.default_rng(seed).permutation(n)
    val, train = sorted(perm[:k].tolist()), sorted(perm[k:].tolist())
    return dataset.subset(train), dataset.subset(val)


def gaussian_heatmap(gaze_x_norm: float, gaze_y_norm: float, size: int = HEATMAP_SIZE, sigma: int = SIGMA
                     ) -> np.ndarray:
    """(size, size) float32 target: unnormalised Gaussian at the gaze point, rescaled to a peak of 1."""
    img = np.zeros((size, size), np.float32)
    if gaze_x_norm < 0 or gaze_y_norm < 0:
        return img
    cx, cy = int(gaze_x_norm * size), int(gaze_y_norm * size)
    x0, y0 = int(cx - 3 * sigma), int(cy - 3 * sigma)
    x1, y1 = int(cx + 3 * sigma + 1), int(cy + 3 * sigma + 1)
    if x0 >= size or y0 >= size or x1 < 0 or y1 < 0:
        return img
    k = 6 * sigma + 1
    ax = np.arange(0, k, 1, float)
    g = np.exp(-((ax[None, :] - k // 2) ** 2 + (ax[:, None] - k // 2) ** 2) / (2 * sigma ** 2))  # (k, k)
    gx0, gx1 = max(0, -x0), min(x1, size) - x0
    gy0, gy1 = max(0, -y0), min(y1, size) - y0
    img[max(0, y0):min(y1, size), max(0, x0):min(x1, size)] += g[gy0:gy1, gx0:gx1].astype(np.float32)
    peak = img.max()
    return img / peak if peak > 0 else img


def random_crop(image: np.ndarray, box: np.ndarray, gaze: np.ndarray | None, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Crop a random window that still contains the head box and the gaze point (pixel coordinates)."""
    h, w = image.shape[:2]
    lo = np.minimum(box[:2], gaze) if gaze is not None else box[:2]
    hi = np.maximum(box[2:], gaze) if gaze is not None else box[2:]
    rx0, ry0 = (int(np.clip(v, 0, lim)) for v, lim in zip(lo, (w, h)))
    rx1, ry1 = (int(np.clip(np.ceil(v), 0, lim)) for v, lim in zip(hi, (w, h)))
    if rx0 > rx1 or ry0 > ry1:
        return image, box, gaze
    x0, y0 = int(rng.integers(0, rx0 + 1)), int(rng.integers(0, ry0 + 1))
    x1, y1 = int(rng.integers(rx1, w + 1)), int(rng.integers(ry1, h + 1))
    if x1 <= x0 or y1 <= y0:
        return image, box, gaze
    offset = np.array([x0, y0], np.float64)
    new_box = box - np.concatenate([offset, offset])
    new_box = np.clip(new_box, 0, [x1 - x0, y1 - y0, x1 - x0, y1 - y0])
    return image[y0:y1, x0:x1], new_box, (gaze - offset if gaze is not None else None)


def horizontal_flip(image: np.ndarray, box: np.ndarray, gaze: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    w = image.shape[1]
    new_box = np.array([w - box[2], box[1], w - box[0], box[3]], np.float64)
    new_gaze = np.array([w - gaze[0], gaze[1]], np.float64) if gaze is not None else None
    return image[:, ::-1], new_box, new_gaze


def jitter_box(box: np.ndarray, width: int, height: int, rng: np.random.Generator, jitter: float = 0.2
               ) -> np.ndarray:
    """Move each side by U(-jitter, jitter) times the box width/height, then clamp to the image."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    d = (rng.random(4) * (2 * jitter) - jitter) * np.array([bw, bh, bw, bh])  # dxmin, dymin, dxmax, dymax
    out = np.array([max(0.0, box[0] + d[0]), max(0.0, box[1] + d[1]),
                    min(float(width), box[2] + d[2]), min(float(height), box[3] + d[3])])
    if out[2] < out[0] or out[3] < out[1]:
        return box
    return out


def prepare_sample(sample: TrainSample, image: np.ndarray, rng: np.random.Generator, aug: AugmentConfig,
                   heatmap_size: int = HEATMAP_SIZE) -> PreparedSample:
    """Augment one sample (``image`` is the full RGB image) and build its target."""
    h, w = image.shape[:2]
    box = np.array(sample.head.box_norm(w, h), np.float64) * [w, h, w, h]  # pixels
    point = sample.head.gaze_point_norm
    gaze = np.array([point[0] * w, point[1] * h], np.float64) if point is not None else None
    if aug.image_augment and rng.random() < aug.crop_p:
        image, box, gaze = random_crop(image, box, gaze, rng)
    if aug.image_augment and rng.random() < aug.flip_p:
        image, box, gaze = horizontal_flip(image, box, gaze)
    h, w = image.shape[:2]
    if rng.random() < aug.jitter_p:
        box = jitter_box(box, w, h, rng, aug.jitter)
    box_norm = (box[0] / w, box[1] / h, box[2] / w, box[3] / h)
    gaze_norm = (float(gaze[0] / w), float(gaze[1] / h)) if gaze is not None else None
    target = (gaussian_heatmap(*gaze_norm, size=heatmap_size) if gaze_norm is not None
              else np.zeros((heatmap_size,) * 2, np.float32))
    return PreparedSample(image=np.ascontiguousarray(image), box_norm=tuple(float(v) for v in box_norm),  # type: ignore[arg-type]
                          gaze_norm=gaze_norm, inout=1 if gaze_norm is not None else 0, target=target)


def collate(samples: Sequence[TrainSample], rng: np.random.Generator, aug: AugmentConfig,
            heatmap_size: int = HEATMAP_SIZE) -> Batch:
    prepared = [prepare_sample(s, load_rgb(s.image_path), rng, aug, heatmap_size) for s in samples]
    return Batch(image_paths=[s.image_path for s in samples], images=[p.image for p in prepared],
                 boxes_norm=np.array([p.box_norm for p in prepared], np.float64).reshape(-1, 4),
                 targets=(np.stack([p.target for p in prepared]) if prepared
                          else np.zeros((0, heatmap_size, heatmap_size), np.float32)),
                 inout=np.array([p.inout for p in prepared], np.float32))
