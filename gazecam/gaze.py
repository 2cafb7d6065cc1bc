"""Gaze stage: scene encoder once per frame, decoder for all heads in one batch, per-track smoothing.

:class:`GazeStage` uses only the backend-neutral model interface
(:class:`~gazecam.backends.base.GazeBackend`: ``encode``, ``decode``, ``has_inout``, ``released``, ``note``,
``name``), so PyTorch, ONNX and TensorRT backends all work.

Stride (``stride=N``, CPU users' option): the encoder runs at most once every N frames (on a frame that has
heads); detection and tracking still run on every frame.  On the frames in between

* a track that already has a gaze keeps it (carried over; the result has ``fresh=False``),
* a track without one (new person, or an untracked box) is decoded against the **last** scene features
  (cheap: the decoder only), so nobody is left without a gaze.

Smoothing (on by default): an exponential moving average per track id of the heatmap, the gaze point and the
in/out score, ``new = alpha * current + (1 - alpha) * previous``.  State of a track unseen for
``forget_after`` frames is dropped (a returning id starts afresh).  Boxes without a track id (-1) are never
smoothed.  Only fresh decodes update the average.

The attributes ``smooth``, ``smooth_alpha``, ``inout_threshold`` and ``stride`` may be changed between
frames (e.g. from a GUI thread); each :meth:`process` call reads them once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .social import who_looks_at_whom
from .types import Frame, GazeResult, HeadBoxes, StageTimes

if TYPE_CHECKING:  # pragma: no cover
    from .backends.base import GazeBackend

__all__ = ["GazeStage"]


@dataclass
class _TrackGaze:
    heatmap: np.ndarray  # (64, 64) float32
    point_norm: np.ndarray  # (2,) float32
    inout: float  # NaN without an in/out head
    last_seen: int  # processed-frame counter


class GazeStage:
    """Turns (frame, tracked heads) into a :class:`~gazecam.types.GazeResult`."""

    def __init__(self, *, model: "GazeBackend", smooth: bool = True, smooth_alpha: float = 0.5,
                 inout_threshold: float = 0.5, stride: int = 1, forget_after: int = 30) -> None:
        self.model = model
        self.smooth = bool(smooth)
        self.smooth_alpha = smooth_alpha
        self.inout_threshold = inout_threshold
        self.stride = stride
        self.forget_after = int(forget_after)
        self._tracks: dict[int, _TrackGaze] = {}
        self._feats: Any = None
        self._count = 0  # frames processed
        self._last_encode = -(10**9)  # counter value of the last encode
        self.encodes = 0  # how many times the encoder ran

    # -- live-tunable settings (validated) -------------------------------------------------------
    @property
    def smooth_alpha(self) -> float:
        return self._alpha

    @smooth_alpha.setter
    def smooth_alpha(self, value: float) -> None:
        if not 0.0 < float(value) <= 1.0:
            raise ValueError(f"smooth_alpha must be in (0, 1] (1 = no smoothing), got {value}")
        self._alpha = float(value)

    @property
    def inout_threshold(self) -> float:
        return self._threshold

    @inout_threshold.setter
    def inout_threshold(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"inout_threshold must be in [0, 1], got {value}")
        self._threshold = float(value)

    @property
    def stride(self) -> int:
        return self._stride

    @stride.setter
    def stride(self, value: int) -> None:
        if int(value) != value or int(value) < 1:
            raise ValueError(f"stride must be an integer >= 1 (encoder every N-th frame), got {value}")
        self._stride = int(value)

    def reset(self) -> None:
        """Forget smoothing state and cached scene features (e.g. on a new source)."""
        self._tracks.clear()
        self._feats = None
        self._count = 0
        self._last_encode = -(10**9)

    # -- processing ------------------------------------------------------------------------------
    def process(self, frame: Frame, heads: HeadBoxes, timings: StageTimes | None = None) -> GazeResult:
        """Gaze for every head of ``frame``; zero heads -> an empty result without running the model."""
        timings = timings if timings is not None else StageTimes()
        stride, smooth, alpha, threshold = self.stride, self.smooth, self.smooth_alpha, self.inout_threshold
        count = self._count
        self._count += 1
        self._forget(count)
        n = len(heads)
        if heads.image_size != (frame.height, frame.width):
            raise ValueError(f"heads are for a {heads.image_size} frame but the frame is {(frame.height, frame.width)}")
        has_inout = bool(self.model.has_inout)
        if n == 0:
            return self._result(frame, heads, np.zeros((0, 64, 64), np.float32), np.zeros((0, 2), np.float32),
                                np.zeros(0, np.float32) if has_inout else None, threshold, timings, fresh=True)

        encode_now = self._feats is None or count - self._last_encode >= stride
        ids = heads.track_ids
        if encode_now:
            t0 = time.perf_counter()
            self._feats = self.model.encode(frame.image)
            timings.encode = (time.perf_counter() - t0) * 1e3  # includes preprocessing
            self._last_encode = count
            self.encodes += 1
            todo = np.ones(n, bool)
        else:  # carry over the gaze of known tracks, decode only the others
            todo = np.array([tid < 0 or tid not in self._tracks for tid in ids], bool)

        heatmaps = np.zeros((n, 64, 64), np.float32)
        points = np.zeros((n, 2), np.float32)
        inout = np.full(n, np.nan, np.float32)
        if todo.any():
            t0 = time.perf_counter()
            pred = self.model.decode(self._feats, heads.xyxy_norm[todo])
            timings.decode = (time.perf_counter() - t0) * 1e3
            heatmaps[todo] = pred.heatmaps  # (K, 64, 64)
            points[todo] = pred.points_norm
            if pred.inout is not None:
                inout[todo] = pred.inout
        for i in np.flatnonzero(~todo):  # carried over (stride): last gaze of the track, not re-smoothed
            st = self._tracks[int(ids[i])]
            heatmaps[i], points[i], inout[i] = st.heatmap, st.point_norm, st.inout
            st.last_seen = count
        for i in np.flatnonzero(todo):
            tid = int(ids[i])
            if tid < 0:
                continue
            st = self._tracks.get(tid)
            if smooth and st is not None:
                heatmaps[i] = alpha * heatmaps[i] + (1 - alpha) * st.heatmap
                points[i] = alpha * points[i] + (1 - alpha) * st.point_norm
                if np.isfinite(inout[i]) and np.isfinite(st.inout):
                    inout[i] = alpha * inout[i] + (1 - alpha) * st.inout
            self._tracks[tid] = _TrackGaze(heatmaps[i].copy(), points[i].copy(), float(inout[i]), count)
        return self._result(frame, heads, heatmaps, points, inout if has_inout else None, threshold, timings,
                            fresh=encode_now)

    def _forget(self, count: int) -> None:
        stale = [tid for tid, st in self._tracks.items() if count - st.last_seen > self.forget_after]
        for tid in stale:
            del self._tracks[tid]

    @staticmethod
    def _result(frame: Frame, heads: HeadBoxes, heatmaps: np.ndarray, points: np.ndarray,
                inout: np.ndarray | None, threshold: float, timings: StageTimes, *, fresh: bool) -> GazeResult:
        n = len(heads)
        in_frame = np.ones(n, bool) if inout is None else np.asarray(inout >= threshold, bool)
        points_xy = points * np.array([frame.width, frame.height], np.float32)
        looking_at, mutual = who_looks_at_whom(points_xy=points_xy, heads_xyxy=heads.xyxy,
                                               track_ids=heads.track_ids, in_frame=in_frame)
        return GazeResult(frame=frame, heads=heads, heatmaps=heatmaps, points_norm=points, inout=inout,
                          in_frame=in_frame, looking_at=looking_at, mutual=mutual, timings=timings, fresh=fresh)

