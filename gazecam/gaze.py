"""Gaze stage: scene encoder once per frame, decoder for all heads in one batch, per-track smoothing.

:class:`GazeStage` uses only the backend-neutral model interface
(:class:`~gazecam.backends.base.GazeBackend`: ``encode``, ``decode``, ``has_inout``, ``released``, ``note``,
``name``), so PyTorch, ONNX and TensorRT backends all work.

Stride (``stride=N``, CPU users' option): the encoder runs at most once every N frames (on a frame that has
heads); detection and tracking still run on every frame.  On the frames in between

* a track that already has a gaze keeps it (carried over; the result has ``fresh=False``),
* a track without one (new person, or an untracked box) is decoded against the **last** scene features
  (cheap: the decoder only), so nobody is left without a gaze.

Adaptive stride (``stride="auto"``): the encoder runs when the scene has changed since the last encode, and
at least every ``max_stride`` frames.  The change measures are cheap: the frame is reduced to a grey thumbnail
(:func:`scene_thumbnail`, long side :data:`THUMB_SIZE` px, area-averaged) and compared with the thumbnail
of the last encoded frame.  The scene changed when

* :func:`scene_change`, the share of thumbnail pixels whose brightness moved by more than
  :data:`PIXEL_DELTA` (of 1), exceeds ``scene_threshold`` (default :data:`DEFAULT_SCENE_THRESHOLD`: a fifth
  of the picture): a cut, the lights; people moving in front of a static camera change a small part;
* or :func:`camera_shift` finds that the camera moved (pan, tilt, shake) by a whole thumbnail pixel or
  more (1/64 of the frame: half a cell of the 32x32 feature map) - a pan over a plain wall changes few
  pixels, yet every feature moves.

Between encodes, a track whose head box moved by more than
``redecode_motion`` (default :data:`DEFAULT_REDECODE_MOTION`, a share of the frame's width/height: about
two thirds of a 32x32 head-map cell) since its last decode is decoded again against the cached features; the
others are carried over as with a fixed stride.

Smoothing (on by default): an exponential moving average per track id of the heatmap, the gaze point and the
in/out score, ``new = alpha * current + (1 - alpha) * previous``.  State of a track unseen for
``forget_after`` frames is dropped (a returning id starts afresh).  Boxes without a track id (-1) are never
smoothed.  Only fresh decodes update the average.

The stage's :class:`GazeOptions` (smoothing, in/out threshold, stride, max stride, scene threshold) may be
replaced between frames (e.g. from a GUI thread); each :meth:`process` call reads them once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .social import who_looks_at_whom
from .types import Frame, GazeResult, HeadBoxes, StageTimes

if TYPE_CHECKING:  # pragma: no cover
    from .backends.base import GazeBackend

__all__ = ["GazeStage", "GazeOptions", "GazeOptionsError",
           "scene_thumbnail", "scene_change", "camera_shift", "THUMB_SIZE", "PIXEL_DELTA",
           "DEFAULT_SCENE_THRESHOLD", "DEFAULT_MAX_STRIDE", "DEFAULT_REDECODE_MOTION"]

THUMB_SIZE = 64  # long side of the scene-change thumbnail, px
PIXEL_DELTA = 0.06  # a thumbnail pixel "changed" when its brightness (0..1) moved by more than this
DEFAULT_SCENE_THRESHOLD = 0.2  # stride="auto": encode when more than this share of the thumbnail changed
DEFAULT_MAX_STRIDE = 15  # stride="auto": encode at least every this many frames
DEFAULT_REDECODE_MOTION = 0.02  # stride="auto": decode again a head that moved more (share of width/height)


def scene_thumbnail(image: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """H x W x 3 uint8 -> grey float32 thumbnail in [0, 1], long side at most ``size`` px (subsample + area mean)."""
    h, w = image.shape[:2]
    step = max(1, max(h, w) // (4 * size))  # subsample to ~4x the target first: cheap on big frames
    sub = image[::step, ::step]
    k = max(1, -(-max(sub.shape[:2]) // size))  # then average k x k blocks (long side <= size)
    hh, ww = (sub.shape[0] // k) * k, (sub.shape[1] // k) * k
    grey = sub[:hh, :ww].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)  # (hh, ww)
    return grey.reshape(hh // k, k, ww // k, k).mean(axis=(1, 3)) / 255.0


def scene_change(thumb: np.ndarray, reference: np.ndarray | None) -> float:
    """Share of thumbnail pixels that changed by more than :data:`PIXEL_DELTA` (1.0 without a comparable reference)."""
    if reference is None or reference.shape != thumb.shape:
        return 1.0
    return float(np.mean(np.abs(thumb - reference) > PIXEL_DELTA))


SHIFT_RANGE = 4  # camera_shift searches whole-pixel shifts up to this many thumbnail pixels
SHIFT_GAIN = 0.85  # ... and reports one only if it brings the mean difference below this share of the unshifted
SHIFT_FLOOR = 0.004  # ... and the unshifted mean difference (of 1) is above this (not sensor noise)


def camera_shift(thumb: np.ndarray, reference: np.ndarray | None) -> tuple[int, int]:
    """Whole-pixel (dx, dy) that best aligns ``reference`` onto ``thumb``; (0, 0) when the camera stood still.

    Mean absolute difference over the overlap for every shift up to :data:`SHIFT_RANGE`; a shift counts only if
    it clearly beats no shift (:data:`SHIFT_GAIN`): people moving in front of a still background do not, a pan
    does.  Without a comparable reference: (0, 0) (:func:`scene_change` reports that case).
    """
    if reference is None or reference.shape != thumb.shape or min(thumb.shape) <= 2 * SHIFT_RANGE:
        return (0, 0)
    h, w = thumb.shape
    r = SHIFT_RANGE
    core = thumb[r:h - r, r:w - r]
    still = float(np.abs(core - reference[r:h - r, r:w - r]).mean())
    if still <= SHIFT_FLOOR:
        return (0, 0)
    best, best_shift = still, (0, 0)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx == 0 and dy == 0:
                continue
            d = float(np.abs(core - reference[r - dy:h - r - dy, r - dx:w - r - dx]).mean())
            if d < best:
                best, best_shift = d, (dx, dy)
    return best_shift if best < SHIFT_GAIN * still else (0, 0)



@dataclass
class _TrackGaze:
    heatmap: np.ndarray  # (64, 64) float32
    point_norm: np.ndarray  # (2,) float32
    inout: float  # NaN without an in/out head
    last_seen: int  # processed-frame counter
    box_norm: np.ndarray  # (4,) float32 head box (xyxy_norm) of the last decode


class GazeOptionsError(InputError, ValueError):
    """A :class:`GazeOptions` value out of range (an ``InputError`` and a ``ValueError``)."""


@dataclass(frozen=True, kw_only=True)
class GazeOptions:
    """How the gaze stage runs (validated here, the one place): smoothing, in/out threshold and encoder stride.

    ``stride``: the encoder every N-th frame, or ``"auto"`` (when the scene changed, at least every
    ``max_stride`` frames; ``scene_threshold``: share of the picture that must change).
    """

    smooth: bool = True  # per-track temporal smoothing
    inout_threshold: float = 0.5  # in/out score at or above which the target is inside the frame
    stride: int | str = 1
    max_stride: int = DEFAULT_MAX_STRIDE
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD

    def __post_init__(self) -> None:
        if self.stride != "auto" and not _whole(self.stride):
            raise GazeOptionsError(f"stride={self.stride!r}: expected a whole number >= 1 or 'auto'")
        if not _whole(self.max_stride):
            raise GazeOptionsError(f"max_stride={self.max_stride!r}: expected a whole number >= 1")
        for name in ("inout_threshold", "scene_threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise GazeOptionsError(f"{name}={value!r}: expected a number between 0 and 1")
        object.__setattr__(self, "smooth", bool(self.smooth))


def _whole(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def _option(name: str) -> property:
    def get(self: "GazeStage") -> Any:
        return getattr(self.options, name)

    def put(self: "GazeStage", value: Any) -> None:
        self.options = replace(self.options, **{name: value})  # validated by GazeOptions

    return property(get, put, doc=f"``options.{name}``; may be set between frames")


class GazeStage:
    """Turns (frame, tracked heads) into a :class:`~gazecam.types.GazeResult`.

    ``options`` (:class:`GazeOptions`; keyword ``settings`` such as ``stride=2`` override its fields) may be
    replaced between frames, as may each of its fields through the attribute of the same name.
    """

    smooth = _option("smooth")
    inout_threshold = _option("inout_threshold")
    stride = _option("stride")
    max_stride = _option("max_stride")
    scene_threshold = _option("scene_threshold")

    def __init__(self, *, model: "GazeBackend", options: GazeOptions | None = None, smooth_alpha: float = 0.5,
                 forget_after: int = 30, redecode_motion: float = DEFAULT_REDECODE_MOTION, **settings: Any) -> None:
        self.model = model
        self.options = replace(options or GazeOptions(), **settings)
        if not 0.0 < float(smooth_alpha) <= 1.0:
            raise ValueError(f"smooth_alpha must be in (0, 1] (1 = no smoothing), got {smooth_alpha}")
        if not 0.0 <= float(redecode_motion) <= 1.0:
            raise ValueError(f"redecode_motion must be in [0, 1] (share of the frame size), got {redecode_motion}")
        self.smooth_alpha = float(smooth_alpha)
        self.redecode_motion = float(redecode_motion)
        self.forget_after = int(forget_after)
        self._tracks: dict[int, _TrackGaze] = {}
        self._feats: Any = None
        self._thumb: np.ndarray | None = None  # scene thumbnail of the last encoded frame (stride="auto")
        self._count = 0  # frames processed
        self._last_encode = -(10**9)  # counter value of the last encode
        self.encodes = 0  # how many times the encoder ran
        self.last_scene_change = float("nan")  # stride="auto": scene_change on the last frame with heads
        self.last_camera_shift = (0, 0)  # stride="auto": camera_shift on the last frame with heads

    def reset(self) -> None:
        """Forget smoothing state and cached scene features (e.g. on a new source)."""
        self._tracks.clear()
        self._feats = None
        self._thumb = None
        self._count = 0
        self._last_encode = -(10**9)

    # -- processing ------------------------------------------------------------------------------
    def process(self, frame: Frame, heads: HeadBoxes, timings: StageTimes | None = None) -> GazeResult:
        """Gaze for every head of ``frame``; zero heads -> an empty result without running the model."""
        timings = timings if timings is not None else StageTimes()
        opts, alpha = self.options, self.smooth_alpha  # read once: the GUI may replace them between frames
        stride, smooth, threshold = opts.stride, opts.smooth, opts.inout_threshold
        count = self._count
        self._count += 1
        self._forget(count)
        n = len(heads)
        if heads.image_size != (frame.height, frame.width):
            raise ValueError(f"heads are for a {heads.image_size} frame but the frame is {(frame.height, frame.width)}")
        has_inout = bool(self.model.has_inout)
        size = int(getattr(self.model, "heatmap_size", 64))  # 64; HGNetV2 Atto 32, Femto 48
        if n == 0:
            return self._result(frame, heads, np.zeros((0, size, size), np.float32), np.zeros((0, 2), np.float32),
                                np.zeros(0, np.float32) if has_inout else None, threshold, timings, fresh=True)

        auto = stride == "auto"
        thumb = None
        if auto:
            thumb = scene_thumbnail(frame.image)
            self.last_scene_change = scene_change(thumb, self._thumb)
            self.last_camera_shift = camera_shift(thumb, self._thumb)
            encode_now = (self._feats is None or self.last_scene_change > opts.scene_threshold
                          or self.last_camera_shift != (0, 0) or count - self._last_encode >= opts.max_stride)
        else:
            encode_now = self._feats is None or count - self._last_encode >= stride  # type: ignore[operator]
        ids = heads.track_ids
        boxes_norm = heads.xyxy_norm
        if encode_now:
            t0 = time.perf_counter()
            self._feats = self.model.encode(frame.image)
            timings.encode = (time.perf_counter() - t0) * 1e3  # includes preprocessing
            self._last_encode = count
            self._thumb = thumb
            self.encodes += 1
            todo = np.ones(n, bool)
        else:  # carry over the gaze of known tracks, decode only the others (and, auto, those that moved)
            motion = self.redecode_motion
            todo = np.array([tid < 0 or tid not in self._tracks
                             or (auto and float(np.abs(boxes_norm[i] - self._tracks[tid].box_norm).max()) > motion)
                             for i, tid in enumerate(ids)], bool)

        heatmaps = np.zeros((n, size, size), np.float32)
        points = np.zeros((n, 2), np.float32)
        inout = np.full(n, np.nan, np.float32)
        if todo.any():
            t0 = time.perf_counter()
            pred = self.model.decode(self._feats, boxes_norm[todo])
            timings.decode = (time.perf_counter() - t0) * 1e3
            heatmaps[todo] = pred.heatmaps  # (K, size, size)
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
            self._tracks[tid] = _TrackGaze(heatmaps[i].copy(), points[i].copy(), float(inout[i]), count,
                                           boxes_norm[i].copy())
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

