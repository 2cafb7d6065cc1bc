"""Run a :class:`~gazecam.model.GazeModel` over a :class:`GazeDataset` and score it officially.

Images are batched: each image is encoded once and all its heads are decoded together
(``model.predict_batch``).  The next batch's images are read in a helper thread while the model
runs.  Metrics: :mod:`gazecam.research.eval.metrics` (GazeFollow for ``gazefollow`` datasets, VAT-style
AUC/L2/AP for ``vat`` and ``jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .datasets import GazeDataset, ImageAnnotation, load_rgb
from .metrics import GazeFollowAccumulator, GazeFollowScores, VatAccumulator, VatScores

if TYPE_CHECKING:  # pragma: no cover
    from ...model import GazeModel
    from ..train.features import FeatureCache
    from ...types import GazePrediction

__all__ = ["evaluate", "predict_dataset", "HeadResult", "format_scores"]


@dataclass(frozen=True)
class HeadResult:
    """The model's output for one annotated head, with its annotation."""

    image_index: int  # index in dataset.images
    head_index: int
    image_size: tuple[int, int]  # (height, width)
    box_norm: tuple[float, float, float, float]
    gaze_x_norm: tuple[float, ...]
    gaze_y_norm: tuple[float, ...]
    inout_gt: int
    heatmap: np.ndarray  # (64, 64) float32
    inout_pred: float | None


def _load_batch(items: Sequence[ImageAnnotation]) -> list[np.ndarray]:
    return [load_rgb(it.path) for it in items]


def _batches(dataset: GazeDataset, batch_size: int) -> Iterator[tuple[int, list[ImageAnnotation], list[np.ndarray]]]:
    """(start index, annotations, images) per batch; images of batch k+1 load while k is processed."""
    items = [im for im in dataset.images]
    starts = list(range(0, len(items), batch_size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gazecam-eval-io") as pool:
        pending: Future | None = pool.submit(_load_batch, items[0:batch_size]) if starts else None
        for k, start in enumerate(starts):
            images = pending.result() if pending is not None else []  # re-raises a loader exception here, in the caller's thread
            nxt = starts[k + 1] if k + 1 < len(starts) else None
            pending = pool.submit(_load_batch, items[nxt:nxt + batch_size]) if nxt is not None else None
            yield start, items[start:start + batch_size], images


def _predict(model: "GazeModel", images: list[np.ndarray], items: list[ImageAnnotation],
             boxes: list[list[tuple[float, float, float, float]]], cache: "FeatureCache | None"
             ) -> list["GazePrediction"]:
    if cache is None:
        return model.predict_batch(images, boxes)
    if not (hasattr(model, "backbone_features") and hasattr(model, "decoder")):
        raise TypeError(f"a feature cache needs the torch GazeModel (raw backbone features), got {type(model).__name__}; "
                        "evaluate without the cache or with backend='torch'")
    import torch

    from ...model import SceneFeatures

    def encode(idx: list[int]) -> torch.Tensor:
        return model.backbone_features([images[i] for i in idx])

    with torch.inference_mode():
        feats = cache.features([it.path for it in items], encode, model.device)  # (B, C, 32, 32)
        scene = model.decoder.project(feats)
    return model.decode_batch(SceneFeatures(scene=scene, image_sizes=tuple(im.shape[:2] for im in images)), boxes)


def predict_dataset(model: "GazeModel", dataset: GazeDataset, *, batch_size: int = 8, progress: bool = True,
                    feature_cache: "FeatureCache | None" = None) -> Iterator[HeadResult]:
    """Yield one :class:`HeadResult` per annotated head (images without heads are skipped)."""
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    bar = tqdm(total=len(dataset.images), desc=f"eval {dataset.kind}", unit="img", disable=not progress,
               dynamic_ncols=True)
    try:
        for start, items, images in _batches(dataset, batch_size):
            keep = [i for i, it in enumerate(items) if it.heads]
            sizes = [images[i].shape[:2] for i in keep]
            boxes = [[h.box_norm(w, hgt) for h in items[i].heads] for i, (hgt, w) in zip(keep, sizes)]
            preds = _predict(model, [images[i] for i in keep], [items[i] for i in keep], boxes, feature_cache) \
                if keep else []
            for i, (hgt, w), bx, pred in zip(keep, sizes, boxes, preds):
                for j, head in enumerate(items[i].heads):
                    yield HeadResult(image_index=start + i, head_index=j, image_size=(int(hgt), int(w)),
                                     box_norm=bx[j], gaze_x_norm=head.gaze_x_norm, gaze_y_norm=head.gaze_y_norm,
                                     inout_gt=head.inout, heatmap=pred.heatmaps[j],
                                     inout_pred=None if pred.inout is None else float(pred.inout[j]))
            bar.update(len(items))
    finally:
        bar.close()


def evaluate(model: "GazeModel", dataset: GazeDataset, *, batch_size: int = 8, progress: bool = True,
             feature_cache: "FeatureCache | None" = None) -> GazeFollowScores | VatScores:
    """Official metrics of ``model`` on ``dataset``."""
    acc: GazeFollowAccumulator | VatAccumulator
    acc = GazeFollowAccumulator() if dataset.kind == "gazefollow" else VatAccumulator()
    images_seen: set[int] = set()
    for r in predict_dataset(model, dataset, batch_size=batch_size, progress=progress, feature_cache=feature_cache):
        images_seen.add(r.image_index)
        if isinstance(acc, GazeFollowAccumulator):
            acc.add(r.heatmap, r.gaze_x_norm, r.gaze_y_norm, r.image_size[0], r.image_size[1])
        else:
            acc.add(r.heatmap, r.gaze_x_norm[0], r.gaze_y_norm[0], r.inout_gt, r.inout_pred)
    acc.num_images = len(images_seen)
    return acc.result()


def format_scores(scores: GazeFollowScores | VatScores, *, title: str = "") -> str:
    """A small results table."""
    def f(v: float) -> str:
        return "n/a" if v != v else f"{v:.4f}"

    if isinstance(scores, GazeFollowScores):
        rows = [("AUC", f(scores.auc)), ("Avg L2", f(scores.avg_l2)), ("Min L2", f(scores.min_l2)),
                ("images", str(scores.num_images)), ("heads", str(scores.num_heads))]
        if scores.auc_skipped:
            rows.append(("AUC undefined (skipped)", str(scores.auc_skipped)))
    else:
        rows = [("AUC", f(scores.auc)), ("L2", f(scores.l2)),
                ("In/out AP", f(scores.ap) + ("" if scores.ap == scores.ap else " (no in/out scores, or no in-frame head)")),
                ("images", str(scores.num_images)), ("heads", str(scores.num_heads)),
                ("  in frame", str(scores.num_in_frame)), ("  out of frame", str(scores.num_out_of_frame))]
        if scores.auc_skipped:
            rows.append(("AUC undefined (skipped)", str(scores.auc_skipped)))
    width = max(len(k) for k, _ in rows)
    lines = [title] if title else []
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)
