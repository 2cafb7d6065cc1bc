"""The official Gaze-LLE / attention-target-detection metrics, value for value.

Each function reproduces the corresponding one in the official ``gazelle/utils.py`` (and the
in/out AP of ``scripts/eval_vat.py``), including its quirks:

- :func:`gazefollow_auc`: binary target on the ORIGINAL image size (``x = int(gx * W)``,
  ``y = int(gy * H)``, clamped above to ``W-1``/``H-1``; points with ``gx < 0`` skipped, only x is
  checked), the 64x64 heatmap bilinearly resized (align_corners=False) to H x W, ``roc_auc_score``.
- :func:`gazefollow_l2`: prediction = first arg-max of the 64x64 map, ``(col/64, row/64)`` (no +0.5);
  avg L2 to the MEAN of all annotator points, min L2 over points, both INCLUDING (-1, -1) entries.
- :func:`vat_auc`: 64x64 target, ones on rows ``max(0, int(gy*64 - 9)) : min(int(gy*64 + 10), 63)``
  and likewise for columns (so row/column 63 is never positive), ``roc_auc_score`` on the raw map.
- :func:`vat_l2`: same arg-max convention, one point.

Heatmaps smaller than 64x64 (gazelle-dinov3's HGNetV2 Atto 32x32, Femto 48x48) are scored as that project
does: GazeFollow on the map as it is (the AUC resizes it to the image size, the L2 arg-max is ``col / W``, as
its ``scripts/eval_gazefollow.py``); VideoAttentionTarget after a bilinear resize to 64x64
(align_corners=False, as its ``scripts/train_vat.py`` validation, which gave the published VAT figures; its
``eval_vat.py`` asserts 64x64 maps and cannot score them): see :func:`vat_heatmap`.

AUC is undefined when the target holds only one class (no valid point); the functions then return
NaN (the official code crashes or returns NaN) and the accumulators count such heads as skipped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "gazefollow_auc",
    "gazefollow_l2",
    "vat_auc",
    "vat_l2",
    "vat_heatmap",
    "inout_ap",
    "argmax_point",
    "GazeFollowScores",
    "VatScores",
    "GazeFollowAccumulator",
    "VatAccumulator",
]

HEATMAP_SIZE = 64
VAT_SIGMA = 3


def _as_heatmap(heatmap: object) -> np.ndarray:
    """(64, 64) heatmap (numpy or torch) -> float32 numpy array."""
    if hasattr(heatmap, "detach"):
        heatmap = heatmap.detach().cpu().numpy()  # type: ignore[union-attr]
    arr = np.asarray(heatmap)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D heatmap, got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


def _roc_auc(target: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    positives = int(target.sum())
    if positives == 0 or positives == target.size:
        return math.nan  # only one class: AUC undefined
    return float(roc_auc_score(target, scores))


def argmax_point(heatmap: object) -> tuple[float, float]:
    """(x, y) normalised prediction as the official code: first maximum, (col / W, row / H)."""
    hm = _as_heatmap(heatmap)
    row, col = np.unravel_index(int(np.argmax(hm)), hm.shape)  # argmax: first max in row-major order
    return col / float(hm.shape[1]), row / float(hm.shape[0])


def gazefollow_auc(heatmap: object, gaze_x: Sequence[float], gaze_y: Sequence[float], height: int, width: int
                   ) -> float:
    """GazeFollow AUC on the original image size (``height`` x ``width``)."""
    import torch
    import torch.nn.functional as F

    height, width = int(height), int(width)
    target = np.zeros((height, width))
    for gx, gy in zip(gaze_x, gaze_y):
        if gx >= 0:  # only x is checked, as the official code
            x = min(int(gx * float(width)), width - 1)
            y = min(int(gy * float(height)), height - 1)
            target[y, x] = 1  # (a negative y wraps around, as in the official code)
    hm = torch.from_numpy(np.ascontiguousarray(_as_heatmap(heatmap)))
    resized = F.interpolate(hm[None, None], (height, width), mode="bilinear", align_corners=False)  # (1,1,H,W)
    return _roc_auc(target.ravel(), resized.reshape(-1).numpy())


def gazefollow_l2(heatmap: object, gaze_x: Sequence[float], gaze_y: Sequence[float]) -> tuple[float, float]:
    """(avg L2 to the mean annotator point, min L2 over annotator points), (-1, -1) points included."""
    px, py = argmax_point(heatmap)
    gx = np.asarray(gaze_x, dtype=np.float64)
    gy = np.asarray(gaze_y, dtype=np.float64)
    if gx.size == 0 or gx.shape != gy.shape:
        raise ValueError(f"gazefollow_l2: need matching non-empty gaze lists, got {gx.shape} and {gy.shape}")
    avg_l2 = float(np.sqrt((px - gx.mean()) ** 2 + (py - gy.mean()) ** 2))
    min_l2 = float(np.sqrt((px - gx) ** 2 + (py - gy) ** 2).min())
    return avg_l2, min_l2


def vat_target(gaze_x: float, gaze_y: float, res: int = HEATMAP_SIZE, sigma: int = VAT_SIGMA) -> np.ndarray:
    """The official VideoAttentionTarget tolerance region (res x res float64 of 0/1)."""
    gx, gy = gaze_x * res, gaze_y * res
    x0, y0 = max(0, int(gx - 3 * sigma)), max(0, int(gy - 3 * sigma))
    x1, y1 = min(int(gx + 3 * sigma + 1), res - 1), min(int(gy + 3 * sigma + 1), res - 1)
    target = np.zeros((res, res))
    target[y0:y1, x0:x1] = 1
    return target


def vat_heatmap(heatmap: object) -> np.ndarray:
    """The 64x64 map the VAT metrics score: 64x64 maps as they are; others (HGNetV2 Atto 32x32, Femto 48x48)
    resized bilinearly (align_corners=False, no antialias) as gazelle-dinov3's VAT validation does."""
    hm = _as_heatmap(heatmap)
    if hm.shape == (HEATMAP_SIZE, HEATMAP_SIZE):
        return hm
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(hm, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(HEATMAP_SIZE, HEATMAP_SIZE), mode="bilinear", align_corners=False)[0, 0].numpy()


def vat_auc(heatmap: object, gaze_x: float, gaze_y: float) -> float:
    """VideoAttentionTarget AUC on the 64x64 heatmap (see :func:`vat_heatmap`), official rectangular tolerance region."""
    hm = vat_heatmap(heatmap)
    return _roc_auc(vat_target(float(gaze_x), float(gaze_y)).ravel(), hm.ravel())


def vat_l2(heatmap: object, gaze_x: float, gaze_y: float) -> float:
    px, py = argmax_point(vat_heatmap(heatmap))
    return float(np.sqrt((px - gaze_x) ** 2 + (py - gaze_y) ** 2))


def inout_ap(labels: Sequence[int], scores: Sequence[float]) -> float:
    """``sklearn.metrics.average_precision_score`` over all heads; NaN without any positive label."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(labels)
    if y.size == 0 or not np.any(y == 1):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(average_precision_score(y, np.asarray(scores, dtype=np.float64)))


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else math.nan


def _json_float(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


@dataclass(frozen=True)
class GazeFollowScores:
    auc: float  # mean AUC over heads (heads with an undefined AUC excluded, see auc_skipped)
    avg_l2: float
    min_l2: float
    num_images: int
    num_heads: int
    auc_skipped: int  # heads whose AUC is undefined (no valid annotator point)

    def to_json(self) -> dict[str, object]:
        return {"auc": _json_float(self.auc), "avg_l2": _json_float(self.avg_l2), "min_l2": _json_float(self.min_l2),
                "num_images": self.num_images, "num_heads": self.num_heads, "auc_skipped": self.auc_skipped}


@dataclass(frozen=True)
class VatScores:
    auc: float  # mean over in-frame heads
    l2: float  # mean over in-frame heads
    ap: float  # in/out average precision over all heads (NaN without in/out scores)
    num_images: int
    num_heads: int
    num_in_frame: int
    num_out_of_frame: int
    auc_skipped: int

    def to_json(self) -> dict[str, object]:
        return {"auc": _json_float(self.auc), "l2": _json_float(self.l2), "ap": _json_float(self.ap),
                "num_images": self.num_images, "num_heads": self.num_heads, "num_in_frame": self.num_in_frame,
                "num_out_of_frame": self.num_out_of_frame, "auc_skipped": self.auc_skipped}


@dataclass
class GazeFollowAccumulator:
    """Per-head GazeFollow metrics, averaged as ``scripts/eval_gazefollow.py`` does."""

    aucs: list[float] = field(default_factory=list)
    avg_l2s: list[float] = field(default_factory=list)
    min_l2s: list[float] = field(default_factory=list)
    num_images: int = 0

    def add(self, heatmap: object, gaze_x: Sequence[float], gaze_y: Sequence[float], height: int, width: int
            ) -> None:
        self.aucs.append(gazefollow_auc(heatmap, gaze_x, gaze_y, height, width))
        avg, mn = gazefollow_l2(heatmap, gaze_x, gaze_y)
        self.avg_l2s.append(avg)
        self.min_l2s.append(mn)

    def result(self) -> GazeFollowScores:
        return GazeFollowScores(auc=_mean(self.aucs), avg_l2=_mean(self.avg_l2s), min_l2=_mean(self.min_l2s),
                                num_images=self.num_images, num_heads=len(self.aucs),
                                auc_skipped=sum(math.isnan(a) for a in self.aucs))


@dataclass
class VatAccumulator:
    """Per-head VAT metrics as ``scripts/eval_vat.py``: AUC/L2 over in-frame heads, AP over all heads."""

    aucs: list[float] = field(default_factory=list)
    l2s: list[float] = field(default_factory=list)
    inout_gts: list[int] = field(default_factory=list)
    inout_preds: list[float] = field(default_factory=list)
    num_images: int = 0
    num_heads: int = 0

    def add(self, heatmap: object, gaze_x: float, gaze_y: float, inout_gt: int, inout_pred: float | None) -> None:
        self.num_heads += 1
        if inout_gt == 1:
            self.aucs.append(vat_auc(heatmap, gaze_x, gaze_y))
            self.l2s.append(vat_l2(heatmap, gaze_x, gaze_y))
        if inout_pred is not None:
            self.inout_gts.append(int(inout_gt))
            self.inout_preds.append(float(inout_pred))

    def result(self) -> VatScores:
        ap = inout_ap(self.inout_gts, self.inout_preds) if len(self.inout_preds) == self.num_heads else math.nan
        return VatScores(auc=_mean(self.aucs), l2=_mean(self.l2s), ap=ap, num_images=self.num_images,
                         num_heads=self.num_heads, num_in_frame=len(self.aucs),
                         num_out_of_frame=self.num_heads - len(self.aucs),
                         auc_skipped=sum(math.isnan(a) for a in self.aucs))
