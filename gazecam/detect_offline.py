"""Offline head detectors: OpenCV only, nothing to download.

* :class:`OfflineHeadDetector` (``offline``; what ``auto`` falls back to) - OpenCV's HOG pedestrian
  detector finds whole people (standing/walking, seen from any side, at least about 1/7 of the frame
  height: it works on the frame resized to ~960 x 720); the head box is estimated from the top of the body box
  (:func:`heads_from_person_boxes`) and refined by a face the Haar cascades find inside it.  Faces found
  anywhere in the frame (close-ups, people whose body is out of view) are heads too.  Duplicates are
  merged by non-maximum suppression (:func:`nms_xyxy`).  The full search runs every ``every``-th frame;
  the frames in between move the last boxes with sparse optical flow (Lucas-Kanade), so the cost per
  frame stays bounded.
* :class:`~gazecam.detect_faces.CascadeHeadDetector` (``face``, in :mod:`gazecam.detect_faces`, re-exported
  here) - the Haar frontal + profile face cascades alone.

Both are fallbacks: the pose model and YOLO head models (:mod:`gazecam.detect`) find more heads, and
more precisely.  All boxes are frame pixels (``xyxy``), clipped to the frame, ``track_ids`` -1.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .detect_faces import (
    CASCADE_WARNING,
    CascadeHeadDetector,
    HaarFaces,
    box_iou,
    expand_faces_to_heads,
    nms_xyxy,
    resize_gray,
)
from .types import Frame, HeadBoxes

__all__ = [
    "OfflineHeadDetector",
    "CascadeHeadDetector",
    "HaarFaces",
    "nms_xyxy",
    "box_iou",
    "expand_faces_to_heads",
    "heads_from_person_boxes",
    "OFFLINE_WARNING",
    "CASCADE_WARNING",
]

log = logging.getLogger(__name__)

OFFLINE_WARNING = ("head detector: using the OFFLINE fallback (OpenCV pedestrian detector + face cascade): it "
                   "finds people whose whole body is in view and clear faces, and estimates head boxes from them; "
                   "seated or partly hidden people are missed. For better heads use the pose detector "
                   "(yolo11n-pose.pt in the model cache) or a YOLO head model file.")

# Head box inside a HOG person box (64 x 128 window, the person ~96 px tall in it).  Measured on vtest.avi
# (opencv-doc): the mean of 129 detections, resized to the window, has its head between 12 % and 23 % of
# the box height, centred, about 20 % of the box width wide.  A square a little larger than the head:
HEAD_CENTER_X = 0.5  # of the box width
HEAD_CENTER_Y = 0.175  # of the box height, from its top
HEAD_SIDE = 0.13  # of the box height


# -- geometry (pure) ----------------------------------------------------------------------------------
def heads_from_person_boxes(person_xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) HOG person boxes ``xyxy`` -> (N, 4) square head boxes ``xyxy`` (not clipped).

    The head is a square of side ``HEAD_SIDE`` x the box height, centred at ``HEAD_CENTER_X`` of its
    width and ``HEAD_CENTER_Y`` of its height from the top.
    """
    p = np.asarray(person_xyxy, np.float32).reshape(-1, 4)
    h = p[:, 3] - p[:, 1]
    cx = p[:, 0] + HEAD_CENTER_X * (p[:, 2] - p[:, 0])
    cy = p[:, 1] + HEAD_CENTER_Y * h
    half = HEAD_SIDE * h / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


# -- HOG people + faces, tracked between searches ---------------------------------------------------------
@dataclass(frozen=True)
class _Found:
    """What one search (or one tracking step) gives: head boxes, their scores and the regions to track."""

    heads_xyxy: np.ndarray  # (N, 4) float32 frame pixels
    confidence: np.ndarray  # (N,) float32 in (0, 1]
    regions_xyxy: np.ndarray  # (N, 4) float32: body box (or the head box for face-only heads) to follow
    face_only: np.ndarray  # (N,) bool: found by the full-frame face search (no body box)
    missed: np.ndarray  # (N,) int: searches since it was last found (0: found by the latest one)

    def __post_init__(self) -> None:
        n = len(self.heads_xyxy)
        if (self.heads_xyxy.shape != (n, 4) or self.confidence.shape != (n,) or self.regions_xyxy.shape != (n, 4)
                or self.face_only.shape != (n,) or self.missed.shape != (n,)):
            raise ValueError(f"_Found: {self.heads_xyxy.shape} heads, {self.confidence.shape} scores, "
                             f"{self.regions_xyxy.shape} regions, {self.face_only.shape} and {self.missed.shape} flags")

    def __len__(self) -> int:
        return len(self.heads_xyxy)

    _FIELDS = ("heads_xyxy", "confidence", "regions_xyxy", "face_only", "missed")

    @classmethod
    def new(cls, heads_xyxy: np.ndarray, confidence: np.ndarray, regions_xyxy: np.ndarray, *, face_only: bool
            ) -> "_Found":
        n = len(heads_xyxy)
        return cls(np.asarray(heads_xyxy, np.float32).reshape(-1, 4), np.asarray(confidence, np.float32),
                   np.asarray(regions_xyxy, np.float32).reshape(-1, 4), np.full(n, face_only), np.zeros(n, np.int64))

    @classmethod
    def empty(cls) -> "_Found":
        return cls.new(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)), face_only=False)

    @classmethod
    def concat(cls, parts: "list[_Found]") -> "_Found":
        parts = [p for p in parts if len(p)] or [cls.empty()]
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in cls._FIELDS))

    def select(self, index: np.ndarray) -> "_Found":
        return _Found(*(getattr(self, k)[index] for k in self._FIELDS))

    def shifted(self, dxy: np.ndarray) -> "_Found":
        d = np.tile(np.asarray(dxy, np.float32).reshape(-1, 2), (1, 2))  # (N, 4)
        return _Found(self.heads_xyxy + d, self.confidence, self.regions_xyxy + d, self.face_only, self.missed)

    def carried(self, decay: float) -> "_Found":
        """These boxes kept by a search that did not find them again: one more miss, lower confidence."""
        return _Found(self.heads_xyxy, self.confidence * decay, self.regions_xyxy, self.face_only, self.missed + 1)


def hog_confidence(score: np.ndarray) -> np.ndarray:
    """HOG SVM margin (0 = on the boundary, ~1-3 = clear person) -> a confidence in (0, 1)."""
    return (1.0 - np.exp(-np.clip(np.asarray(score, np.float32), 0, None))).astype(np.float32)


class OfflineHeadDetector:
    """HOG pedestrians (head from the top of the body box) + Haar faces, searched every ``every``-th frame.

    Cost is bounded by design: the pedestrian search works on the frame resized to ``hog_pixels`` pixels
    (upscaled when smaller, downscaled when larger; people ~96 px tall at that size, about 1/7 of the
    frame height, are found); faces are searched in the top of each body box and, on every
    ``faces_every``-th search, in the whole frame at ``face_max_side`` pixels (face-only heads are
    followed in between); only every ``every``-th frame is searched.  The frames in between move the last
    boxes by the median optical flow of the points inside each person (a few ms).  A frame that does not
    follow the previous one (index gap larger than ``every``, another size, a scene cut, or most points
    lost) is searched afresh, faces included.  Frames that arrive with larger gaps (a live source whose newest
    frame wins over a detector slower than it) are followed too when at most ``follow_s`` seconds apart, and
    then every ``every``-th frame *seen* is searched (``follow_s=0``: search every such frame, as before).
    Deterministic: the same frames give the same boxes.
    """

    is_fallback = True
    name = "offline (HOG people + face cascade)"
    warning = OFFLINE_WARNING

    def __init__(self, *, every: int = 3, faces_every: int = 3, keep_missed: int = 1, hog_pixels: int = 960 * 720,
                 hog_scale_step: float = 1.2, hog_stride: int = 8, min_score: float = 0.3, face_max_side: int = 480,
                 min_face: int = 20, steady: float = 0.5, follow_s: float = 0.35, warn: bool = True) -> None:
        import cv2

        if every < 1 or faces_every < 1 or keep_missed < 0:
            raise ValueError(f"every and faces_every must be >= 1 and keep_missed >= 0, got {every}, {faces_every} "
                             f"and {keep_missed}")
        if not follow_s >= 0.0:
            raise ValueError(f"follow_s must be >= 0 seconds, got {follow_s}")
        if not hog_scale_step > 1.0:
            raise ValueError(f"hog_scale_step must be > 1, got {hog_scale_step}")
        self._faces = HaarFaces(min_neighbors=5, scale_factor=1.25)
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.every = int(every)
        self.faces_every = int(faces_every)
        self.keep_missed = int(keep_missed)
        self.steady = float(steady)
        self.hog_pixels = int(hog_pixels)
        self.hog_scale_step = float(hog_scale_step)
        self.hog_stride = int(hog_stride)
        self.min_score = float(min_score)
        self.face_max_side = int(face_max_side)
        self.min_face = int(min_face)
        self.follow_s = float(follow_s)
        self.searches = 0  # full searches run (the other frames were tracked)
        self.refine_tries = self.refined = 0  # body boxes searched for a face / head boxes a face refined
        self._prev_gray: np.ndarray | None = None
        self._prev_index = -1
        self._prev_time_s = 0.0
        self._last_search_index = -1
        self._tracked_in_row = 0  # frames followed since the last search
        self._searches_without_faces = 0
        self._found = _Found.empty()
        if warn:
            log.warning(OFFLINE_WARNING)

    # -- per frame ----------------------------------------------------------------------------------
    def detect(self, frame: Frame) -> HeadBoxes:
        import cv2

        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        gap = frame.index - self._prev_index
        tracked = self._track(gray) if self._follows(gap, frame.timestamp_s, gray) else None
        due = (frame.index - self._last_search_index >= self.every if gap <= self.every
               else self._tracked_in_row + 1 >= self.every)  # gaps: count the frames seen
        if tracked is not None and not due:
            found = tracked
            self._tracked_in_row += 1
        else:
            with_faces = tracked is None or self._searches_without_faces + 1 >= self.faces_every
            found = self._search(gray, faces=with_faces, previous=tracked)
            self._last_search_index = frame.index
            self._searches_without_faces = 0 if with_faces else self._searches_without_faces + 1
            self.searches += 1
            self._tracked_in_row = 0
        self._found, self._prev_gray, self._prev_index = found, gray, frame.index
        self._prev_time_s = frame.timestamp_s
        return HeadBoxes.detected(found.heads_xyxy, found.confidence, (frame.height, frame.width))

    def reset(self) -> None:
        """Forget the last frame: the next one is searched afresh."""
        self._prev_gray, self._prev_index, self._last_search_index, self._tracked_in_row = None, -1, -1, 0
        self._searches_without_faces = 0
        self._found = _Found.empty()

    # -- the full search ------------------------------------------------------------------------------
    def search(self, gray: np.ndarray) -> HeadBoxes:
        """People + faces in one gray frame, no tracking state used or changed."""
        found = self._search(gray, faces=True, previous=None)
        return HeadBoxes.detected(found.heads_xyxy, found.confidence, gray.shape[:2])

    def _search(self, gray: np.ndarray, *, faces: bool, previous: _Found | None) -> _Found:
        """People (heads refined by faces in their box) + faces in the whole frame, NMS.

        ``previous``: the last boxes moved onto this frame.  Without the face search its face-only heads
        are kept as they are; any box of it not found again is kept for ``keep_missed`` searches, with
        less confidence (a person the pedestrian detector misses on one frame does not vanish).
        """
        import cv2

        people, score = self.people(gray)
        heads = heads_from_person_boxes(people)
        conf = hog_confidence(score)
        eq = cv2.equalizeHist(gray) if len(people) else None
        refined = np.zeros(len(people), bool)
        for i, body in enumerate(people):  # a face in the top of a body box gives its head box
            face_head = self._face_in_body(eq, body, heads[i])
            if face_head is not None:
                heads[i], conf[i], refined[i] = face_head, max(float(conf[i]), 0.9), True
        if previous is not None and len(previous) and len(people):
            heads = _steady_heads(heads, people, refined, previous, self.steady)
        parts = [_Found.new(heads, conf, people, face_only=False)]
        if faces:
            fh = self._faces.heads(gray, max_side=self.face_max_side, min_face=self.min_face)
            parts.append(_Found.new(fh, np.full(len(fh), 0.8, np.float32), fh, face_only=True))
        old = _Found.empty()
        if previous is not None and len(previous):
            searched = ~previous.face_only | faces  # face-only heads were not looked for without the face search
            parts.append(previous.select(~searched))
            old = previous.select(searched & (previous.missed < self.keep_missed)).carried(decay=0.7)
        current = _Found.concat(parts)
        if len(old) and len(current):  # a kept box goes as soon as the same person is found again
            again = (box_iou(old.heads_xyxy, current.heads_xyxy).max(axis=1) > 0.05) | (
                box_iou(old.regions_xyxy, current.regions_xyxy).max(axis=1) > 0.3)
            old = old.select(~again)
        found = _Found.concat([current, old])
        if len(found) == 0:
            return found
        rank = found.confidence + np.r_[np.full(len(current), 2.0), np.zeros(len(old))]  # a box found now wins
        return found.select(nms_xyxy(found.heads_xyxy, rank, iou=0.3, contain=0.6))

    def people(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """HOG person boxes ``xyxy`` (frame pixels, NMS applied) and their SVM scores."""
        h, w = gray.shape[:2]
        scale = math.sqrt(self.hog_pixels / float(h * w))
        scale = min(2.0, max(0.25, scale))
        small = resize_gray(gray, scale)
        if min(small.shape[:2]) < 128:  # smaller than one 64 x 128 window: nobody to find
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects, weights = self._hog.detectMultiScale(small, winStride=(self.hog_stride, self.hog_stride),
                                                    padding=(8, 8), scale=self.hog_scale_step)
        rects = np.asarray(rects, np.float32).reshape(-1, 4)
        score = np.asarray(weights, np.float32).reshape(-1)
        ok = (score >= self.min_score) & (rects[:, 3] <= 0.9 * small.shape[0])  # a person filling the frame: no
        rects, score = rects[ok] / scale, score[ok]
        xyxy = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        keep = nms_xyxy(xyxy, score, iou=0.4, contain=0.7)
        return xyxy[keep], score[keep]

    def _face_in_body(self, eq: np.ndarray, body: np.ndarray, head: np.ndarray) -> np.ndarray | None:
        """The head box of a face found in the top of ``body`` (nearest the estimated ``head``), or None."""
        x0, y0, x1, y1 = (float(v) for v in body)
        bw, bh = x1 - x0, y1 - y0
        rx0, ry0 = max(0, int(x0 + 0.1 * bw)), max(0, int(y0))
        rx1, ry1 = min(eq.shape[1], int(x1 - 0.1 * bw)), min(eq.shape[0], int(y0 + 0.4 * bh))
        if rx1 - rx0 < 8 or ry1 - ry0 < 8:
            return None
        side = float(head[2] - head[0])  # the head size expected from the body; a face is ~0.6 of it
        up = min(4.0, max(1.0, 40.0 / max(side, 1.0)))  # the head >= ~40 px: its face fills the 24 px window
        roi = resize_gray(eq[ry0:ry1, rx0:rx1], up)
        faces = self._faces.find(roi, min_size=max(20, int(0.3 * side * up)), max_size=int(1.2 * side * up) + 1,
                                 min_neighbors=3)
        self.refine_tries += 1
        if len(faces) == 0:
            return None
        faces = faces / up + np.array([rx0, ry0, 0, 0], np.float32)
        cand = expand_faces_to_heads(faces)
        centre = np.array([(head[0] + head[2]) / 2, (head[1] + head[3]) / 2], np.float32)
        dist = np.linalg.norm((cand[:, :2] + cand[:, 2:]) / 2 - centre, axis=1)
        best = int(np.argmin(dist))
        if dist[best] > side or not 0.5 * side <= cand[best, 2] - cand[best, 0] <= 2.0 * side:
            return None  # not where (or not the size) a head of this body would be
        self.refined += 1
        return cand[best]

    # -- between searches -----------------------------------------------------------------------------
    def _follows(self, gap: int, time_s: float, gray: np.ndarray) -> bool:
        """Whether this frame (``gap`` frames and ``time_s`` after the previous one) continues it: tracking the
        last boxes onto it makes sense."""
        prev = self._prev_gray
        near = 1 <= gap <= self.every or (gap > self.every and 0.0 <= time_s - self._prev_time_s <= self.follow_s)
        return prev is not None and prev.shape == gray.shape and near and not _scene_cut(prev, gray)

    def _track(self, gray: np.ndarray) -> _Found | None:
        """The last boxes moved onto this frame by optical flow, or None when most of them were lost."""
        if len(self._found) == 0 or self._prev_gray is None:
            return self._found
        dxy = _region_flow(self._prev_gray, gray, self._found.regions_xyxy)
        return None if dxy is None else self._found.shifted(dxy)


def _steady_heads(heads: np.ndarray, people: np.ndarray, refined: np.ndarray, previous: _Found,
                  weight: float) -> np.ndarray:
    """Heads estimated from body boxes, moved ``weight`` of the way back to the followed head of the same person.

    The pedestrian detector places its boxes on an 8-pixel grid at several scales, so a head estimated
    from a body box jumps by several pixels from one search to the next; the followed box does not.
    Each body is matched to the followed body it overlaps most (IoU > 0.3, greedy); heads refined by a
    face are kept as they are.
    """
    prev_people = ~previous.face_only
    if weight <= 0 or not prev_people.any():
        return heads
    pidx = np.flatnonzero(prev_people)
    iou = box_iou(people, previous.regions_xyxy[pidx])  # (N, M)
    out = heads.copy()
    taken: set[int] = set()
    for i in np.argsort(-iou.max(axis=1), kind="stable"):
        j = next((int(j) for j in np.argsort(-iou[i], kind="stable") if iou[i, j] > 0.3 and int(j) not in taken), None)
        if j is None or refined[i]:
            continue
        taken.add(j)
        out[i] = weight * previous.heads_xyxy[pidx[j]] + (1 - weight) * heads[i]
    return out


def _scene_cut(a: np.ndarray, b: np.ndarray, *, threshold: float = 40.0) -> bool:
    """Whether two gray frames look unrelated (mean absolute difference of 64 x 48 thumbnails)."""
    import cv2

    ta = cv2.resize(a, (64, 48), interpolation=cv2.INTER_AREA).astype(np.int16)
    tb = cv2.resize(b, (64, 48), interpolation=cv2.INTER_AREA).astype(np.int16)
    return float(np.mean(np.abs(ta - tb))) > threshold


def _region_flow(prev: np.ndarray, cur: np.ndarray, regions_xyxy: np.ndarray, *, max_points: int = 24,
                 max_fb_px: float = 1.0) -> np.ndarray | None:
    """(N, 2) median Lucas-Kanade motion of each region, or None when most regions cannot be followed.

    Points with a forward-backward error above ``max_fb_px`` are dropped; a region with fewer than 3
    good points keeps its place (motion 0).
    """
    import cv2

    h, w = prev.shape[:2]
    pts, owner = [], []
    for i, (x0, y0, x1, y1) in enumerate(regions_xyxy):
        ix0, iy0 = max(0, int(x0)), max(0, int(y0))
        ix1, iy1 = min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1)))
        if ix1 - ix0 < 4 or iy1 - iy0 < 4:
            continue
        corners = cv2.goodFeaturesToTrack(prev[iy0:iy1, ix0:ix1], maxCorners=max_points, qualityLevel=0.01,
                                          minDistance=3)
        if corners is None:
            continue
        c = corners.reshape(-1, 2) + np.array([ix0, iy0], np.float32)
        pts.append(c)
        owner.append(np.full(len(c), i))
    n = len(regions_xyxy)
    if not pts:
        return np.zeros((n, 2), np.float32)
    p0 = np.concatenate(pts).astype(np.float32).reshape(-1, 1, 2)
    who = np.concatenate(owner)
    lk: dict[str, Any] = dict(winSize=(15, 15), maxLevel=2,
                              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **lk)
    fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
    good = (st1.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (fb <= max_fb_px)
    if good.mean() < 0.3:
        return None  # most points lost: the scene changed more than tracking can follow
    motion = (p1 - p0).reshape(-1, 2)
    out = np.zeros((n, 2), np.float32)
    for i in range(n):
        m = good & (who == i)
        if m.sum() >= 3:
            out[i] = np.median(motion[m], axis=0)
    return out
