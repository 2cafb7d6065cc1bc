"""Who looks at whom: person A looks at person B when A's gaze point lies inside B's head box.

Pure numpy, vectorised over all pairs of heads of one frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["who_looks_at_whom"]


def who_looks_at_whom(*, points_xy: np.ndarray, heads_xyxy: np.ndarray, track_ids: np.ndarray,
                      in_frame: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(looking_at (N,) int64 track id or -1, mutual (N,) bool)`` for N heads of one frame.

    * ``points_xy`` (N, 2) gaze points in pixels, ``heads_xyxy`` (N, 4) head boxes in pixels (same frame),
      ``track_ids`` (N,), ``in_frame`` (N,) bool (a gaze judged out of frame looks at nobody).
    * A's own box never counts; when the point lies in several boxes the one whose centre is nearest wins.
    * ``mutual[A]`` is True when A looks at B and B looks at A.
    * ``looking_at`` holds B's track id; B without a track id (-1) reads as -1 (nobody identifiable).
    """
    pts = np.asarray(points_xy, np.float32).reshape(-1, 2)
    boxes = np.asarray(heads_xyxy, np.float32).reshape(-1, 4)
    ids = np.asarray(track_ids, np.int64).reshape(-1)
    n = len(pts)
    if len(boxes) != n or len(ids) != n:
        raise ValueError(f"who_looks_at_whom: {n} points, {len(boxes)} boxes, {len(ids)} ids; expected equal")
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    ok = np.ones(n, bool) if in_frame is None else np.asarray(in_frame, bool).reshape(n)
    x, y = pts[:, 0:1], pts[:, 1:2]  # (N, 1): rows = looker A
    inside = ((x >= boxes[None, :, 0]) & (x <= boxes[None, :, 2])
              & (y >= boxes[None, :, 1]) & (y <= boxes[None, :, 3]))  # (N, N): [A, B]
    inside &= ~np.eye(n, dtype=bool) & ok[:, None]
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2  # (N, 2)
    dist = np.linalg.norm(pts[:, None, :] - centers[None, :, :], axis=2)  # (N, N)
    dist = np.where(inside, dist, np.inf)
    target = np.where(inside.any(axis=1), dist.argmin(axis=1), -1)  # (N,) index of B or -1
    has = target >= 0
    back = np.full(n, -1, np.int64)
    back[has] = target[target[has]]  # whom B looks at
    mutual = has & (back == np.arange(n))
    looking_at = np.where(has, ids[np.maximum(target, 0)], -1).astype(np.int64)
    return looking_at, mutual
