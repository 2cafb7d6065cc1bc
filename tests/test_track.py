"""HeadTracker (ByteTrack): stable ids, leaving and returning, untracked boxes."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.track import HeadTracker
from gazecam.types import HeadBoxes

SIZE = (240, 320)


def _heads(*boxes, conf=None) -> HeadBoxes:
    return HeadBoxes(xyxy=np.array(boxes, np.float32).reshape(-1, 4), image_size=SIZE,
                     confidence=None if conf is None else np.array(conf, np.float32))


def test_moving_box_keeps_its_id_and_boxes_are_unchanged():
    t = HeadTracker()
    ids = []
    for f in range(25):
        h = _heads([20 + 4 * f, 30 + f, 60 + 4 * f, 70 + f])
        out = t.update(h)
        np.testing.assert_array_equal(out.xyxy, h.xyxy)  # detector boxes, not Kalman-smoothed
        ids.append(int(out.track_ids[0]))
    assert ids[0] >= 1 and len(set(ids)) == 1  # an id from the first frame on, never changing


def test_two_people_get_distinct_stable_ids_regardless_of_detection_order():
    t = HeadTracker()
    a, b = [10, 10, 50, 50], [200, 100, 240, 140]
    first = t.update(_heads(a, b)).track_ids
    assert first[0] != first[1] and np.all(first >= 1)
    for _ in range(5):
        swapped = t.update(_heads(b, a)).track_ids
        assert swapped.tolist() == [first[1], first[0]]


@pytest.mark.parametrize("gap, same_id", [(5, True), (12, False)])
def test_person_leaving_and_returning(gap, same_id):
    """Back within ``track_buffer`` frames -> old id; later -> a new id (documented in gazecam.track)."""
    t = HeadTracker(track_buffer=8)
    box = [100, 80, 140, 120]
    for _ in range(5):
        before = int(t.update(_heads(box)).track_ids[0])
    for _ in range(gap):
        assert len(t.update(HeadBoxes.empty(SIZE))) == 0
    after = int(t.update(_heads(box)).track_ids[0])
    assert after >= 1
    assert (after == before) is same_id


def test_low_confidence_boxes_stay_untracked_and_reset_restarts_ids():
    t = HeadTracker(high_thresh=0.5, low_thresh=0.1, new_track_thresh=0.5)
    out = t.update(_heads([10, 10, 40, 40], [100, 100, 140, 140], conf=[0.9, 0.05]))
    assert out.track_ids[0] >= 1 and out.track_ids[1] == -1
    t.reset()
    assert t.update(_heads([10, 10, 40, 40])).track_ids.tolist() == [1]


def test_bad_track_buffer():
    with pytest.raises(ValueError, match="track_buffer"):
        HeadTracker(track_buffer=-1)


def test_small_fast_heads_keep_their_id():
    """A 15 px head moving 8 px per frame (a pedestrian at 10 fps) keeps one id; with plain IoU matching it
    would not (match_scale=1 shows the difference)."""
    def run(scale: float) -> set[int]:
        t = HeadTracker(match_scale=scale)
        ids = set()
        for f in range(30):
            ids |= set(t.update(_heads([20 + 8 * f, 100, 35 + 8 * f, 115], conf=[0.6])).track_ids.tolist())
        return ids

    assert len(run(2.0)) == 1
    assert len(run(1.0)) > 1
    with pytest.raises(ValueError, match="match_scale"):
        HeadTracker(match_scale=0.5)


def test_predict_carries_the_last_heads_with_their_ids_along_their_motion():
    t = HeadTracker()
    for f in range(10):  # moving 4 px right per frame; a second head seen only on the first frames
        out = t.update(_heads([20 + 4 * f, 30, 60 + 4 * f, 70], *([[200, 100, 240, 140]] if f < 8 else [])))
    mover = int(out.track_ids[0])
    for f in range(10, 14):
        pred = t.predict(SIZE)
        assert pred.track_ids.tolist() == [mover]  # the head the last update missed is not predicted
        assert pred.image_size == SIZE and pred.confidence[0] == pytest.approx(out.confidence[0])
        np.testing.assert_allclose(pred.xyxy[0], [20 + 4 * f, 30, 60 + 4 * f, 70], atol=2.0)  # Kalman velocity
    back = t.update(_heads([20 + 4 * 14, 30, 60 + 4 * 14, 70]))
    assert back.track_ids.tolist() == [mover]  # found again after the predicted frames: same id


def test_predict_counts_frames_and_clips_to_the_frame():
    """A predicted frame counts for ``track_buffer`` as a frame without detections does."""
    box = [300, 10, 330, 40]
    for gap in (2, 6):
        t, u = HeadTracker(track_buffer=3), HeadTracker(track_buffer=3)
        t.update(_heads(box)), u.update(_heads(box))
        for f in range(1, gap + 1):  # a still head: predicted in place, clipped at the right edge (320 px)
            pred = t.predict(SIZE)
            u.update(HeadBoxes.empty(SIZE))
            if f <= 3:
                assert pred.xyxy.tolist() == [[300, 10, 320, 40]] and pred.track_ids.tolist() == [1]
            else:
                assert len(pred) == 0  # unseen for more than track_buffer frames: no longer carried
        again = t.update(_heads(box)).track_ids.tolist()
        assert again == u.update(_heads(box)).track_ids.tolist() == ([1] if gap == 2 else [2])
    assert len(HeadTracker().predict(SIZE)) == 0  # nothing tracked: nothing predicted
