"""who_looks_at_whom: gaze point in another person's head box, mutual gaze."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.social import who_looks_at_whom

BOXES = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float32)
IDS = np.array([7, 8, 9])


def test_a_looks_at_b_and_c_looks_nowhere():
    pts = np.array([[25, 5], [100, 100], [45, 5]], np.float32)  # A -> B, B -> nowhere, C -> own box
    la, mu = who_looks_at_whom(points_xy=pts, heads_xyxy=BOXES, track_ids=IDS)
    assert la.tolist() == [8, -1, -1]
    assert mu.tolist() == [False, False, False]


def test_mutual_gaze():
    pts = np.array([[25, 5], [5, 5], [25, 5]], np.float32)  # A <-> B, C -> B
    la, mu = who_looks_at_whom(points_xy=pts, heads_xyxy=BOXES, track_ids=IDS)
    assert la.tolist() == [8, 7, 8]
    assert mu.tolist() == [True, True, False]


def test_out_of_frame_gaze_looks_at_nobody():
    pts = np.array([[25, 5], [5, 5], [0, 0]], np.float32)
    la, mu = who_looks_at_whom(points_xy=pts, heads_xyxy=BOXES, track_ids=IDS,
                               in_frame=np.array([True, False, True]))
    assert la.tolist() == [8, -1, 7]
    assert not mu.any()


def test_overlapping_boxes_pick_the_nearest_centre_and_untracked_targets():
    boxes = np.array([[0, 0, 10, 10], [20, 0, 60, 40], [30, 10, 40, 20]], np.float32)
    pts = np.array([[36, 16], [5, 5], [5, 5]], np.float32)  # A's point is in B and C; C is nearer
    la, _ = who_looks_at_whom(points_xy=pts, heads_xyxy=boxes, track_ids=np.array([1, 2, -1]))
    assert la.tolist() == [-1, 1, 1]  # A looks at C, who has no track id -> -1


def test_empty_and_mismatched():
    la, mu = who_looks_at_whom(points_xy=np.zeros((0, 2)), heads_xyxy=np.zeros((0, 4)), track_ids=np.zeros(0))
    assert la.shape == (0,) and mu.shape == (0,)
    with pytest.raises(ValueError, match="expected equal"):
        who_looks_at_whom(points_xy=np.zeros((2, 2)), heads_xyxy=np.zeros((1, 4)), track_ids=np.zeros(2))
