"""What every gaze model offers, whatever runs it: head-box checks and the predict/decode conveniences.

A backend implements ``preprocess_batch(images)``, ``encode_pixels(pixels, image_sizes)``,
``decode_batch(feats, heads_per_image)`` and ``has_inout``; :class:`BatchPredictor` derives
``encode_batch``, ``encode``, ``decode``, ``predict`` and ``predict_batch`` from them, identically for
the torch model and the exported-graph backends.  numpy only (no torch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .types import GazePrediction, check_rgb_image

__all__ = ["HeadBox", "normalize_heads", "empty_prediction", "split_predictions", "BatchPredictor"]

HeadBox = tuple[float, float, float, float] | None


def normalize_heads(heads: Sequence[HeadBox] | np.ndarray, what: str = "heads") -> np.ndarray:
    """Head boxes -> (N, 4) float64 array clipped to [0, 1]; NaN rows stand for ``None``."""
    if isinstance(heads, np.ndarray):
        arr = np.asarray(heads, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"{what}: expected an (N, 4) array of normalised boxes, got shape {arr.shape}")
        rows = list(arr)
    else:
        if isinstance(heads, tuple) and len(heads) == 4 and all(isinstance(v, (int, float)) for v in heads):
            raise TypeError(f"{what}: expected a list of boxes, got a single box {heads}; wrap it: [box]")
        rows = list(heads)
    out = np.full((len(rows), 4), np.nan)
    for i, box in enumerate(rows):
        if box is None:
            continue
        try:
            vals = [float(v) for v in box]
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}]: expected (xmin, ymin, xmax, ymax) numbers or None, got {box!r}") from None
        if len(vals) != 4:
            raise ValueError(f"{what}[{i}]: expected 4 values (xmin, ymin, xmax, ymax), got {len(vals)}")
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"{what}[{i}]: box has non-finite values {vals}")
        xmin, ymin, xmax, ymax = vals
        if xmax < xmin or ymax < ymin:
            raise ValueError(f"{what}[{i}]: inverted box {vals}: need xmin <= xmax and ymin <= ymax "
                             "(normalised xyxy order)")
        out[i] = np.clip(vals, 0.0, 1.0)
    return out


def empty_prediction(has_inout: bool, size: int = 64) -> GazePrediction:
    """No heads: (0, size, size) heatmaps (size 64; the HGNetV2 Atto / Femto models 32 / 48)."""
    return GazePrediction(heatmaps=np.zeros((0, size, size), np.float32),
                          inout=np.zeros(0, np.float32) if has_inout else None)


def split_predictions(heatmaps: np.ndarray, inout: np.ndarray | None, counts: Sequence[int]) -> list[GazePrediction]:
    """Concatenated (N, 64, 64) heatmaps / (N,) in-out -> one :class:`GazePrediction` per image."""
    out, start = [], 0
    for n in counts:
        sl = slice(start, start + n)
        out.append(GazePrediction(heatmaps=heatmaps[sl], inout=None if inout is None else inout[sl]))
        start += n
    return out


class BatchPredictor:
    """Mixin: single-image and one-shot calls on top of ``encode_batch`` / ``decode_batch``."""

    has_inout: bool

    def preprocess_batch(self, images: Sequence[np.ndarray]) -> Any:  # pragma: no cover - implemented by backends
        raise NotImplementedError

    def encode_pixels(self, pixels: Any, image_sizes: Sequence[tuple[int, int]]) -> Any:  # pragma: no cover - ditto
        raise NotImplementedError

    def encode_batch(self, images: Sequence[np.ndarray]) -> Any:
        """Encode H x W x 3 uint8 RGB images in one batch: the one preprocessing
        (:func:`gazecam.models.preprocess.preprocess_images`), then the encoder."""
        images = list(images)
        if not images:
            raise ValueError("encode_batch: got no images")
        return self.encode_pixels(self.preprocess_batch(images), [im.shape[:2] for im in images])  # checks them

    def decode_batch(self, feats: Any, heads_per_image: Sequence[Sequence[HeadBox]]
                     ) -> list[GazePrediction]:  # pragma: no cover - implemented by backends
        raise NotImplementedError

    def _decode_boxes(self, feats: Any, heads_per_image: Sequence[Sequence[HeadBox]], *, own_features: bool
                      ) -> list[np.ndarray]:
        """Check ``decode_batch``'s arguments; (N_i, 4) normalised boxes per image (NaN rows = ``None``)."""
        if not own_features:
            raise TypeError("decode: expected the features returned by this model's encode()/encode_batch(), "
                            f"got {type(feats).__name__}; call encode(image) first")
        if len(heads_per_image) != len(feats):
            raise ValueError(f"decode: {len(feats)} encoded images but {len(heads_per_image)} head lists")
        return [normalize_heads(h, f"heads of image {i}") for i, h in enumerate(heads_per_image)]

    def encode(self, image: np.ndarray) -> Any:
        """Encode one H x W x 3 uint8 RGB image (run once per frame)."""
        return self.encode_batch([image])

    def decode(self, feats: Any, heads: Sequence[HeadBox]) -> GazePrediction:
        """Decode the heads of one encoded image."""
        if hasattr(feats, "image_sizes") and len(feats) != 1:
            raise ValueError(f"decode: features hold {len(feats)} images; use decode_batch")
        return self.decode_batch(feats, [heads])[0]

    def predict(self, image: np.ndarray, heads: Sequence[HeadBox]) -> GazePrediction:
        """Heatmaps (and in/out) for ``heads`` in ``image``; an empty head list skips the model."""
        check_rgb_image(image)
        if len(normalize_heads(heads)) == 0:
            return empty_prediction(self.has_inout, int(getattr(self, "heatmap_size", 64)))
        return self.decode(self.encode(image), list(heads))

    def predict_batch(self, images: Sequence[np.ndarray], heads_per_image: Sequence[Sequence[HeadBox]]
                      ) -> list[GazePrediction]:
        if len(images) != len(heads_per_image):
            raise ValueError(f"predict_batch: {len(images)} images but {len(heads_per_image)} head lists")
        if not images:
            return []
        return self.decode_batch(self.encode_batch(images), heads_per_image)
