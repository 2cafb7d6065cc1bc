"""Offline head detectors: geometry, NMS, face cascade, HOG people + tracking, and real pedestrian footage."""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from gazecam.detect import HeadDetector
from gazecam.detect_offline import (
    CASCADE_WARNING,
    HEAD_CENTER_Y,
    HEAD_SIDE,
    OFFLINE_WARNING,
    CascadeHeadDetector,
    OfflineHeadDetector,
    expand_faces_to_heads,
    heads_from_person_boxes,
    nms_xyxy,
)
from gazecam.errors import GazecamError
from gazecam.types import Frame

REPO = Path(__file__).resolve().parents[1]
# Debian's opencv-doc package (scripts/test.sh installs it where it can); Debian may gzip examples
VTEST = [Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
         Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi.gz")]


def _frame(image: np.ndarray, index: int = 0) -> Frame:
    return Frame(image=image, index=index, timestamp_s=index / 10)


# -- geometry and NMS (generated) -------------------------------------------------------------------------
def test_head_box_sits_centred_in_the_top_of_the_body_box():
    bodies = np.array([[100, 50, 164, 178], [0, 0, 32, 64]], np.float32)  # a 64 x 128 window, a half-size one
    heads = heads_from_person_boxes(bodies)
    for body, head in zip(bodies, heads):
        h = body[3] - body[1]
        assert head[2] - head[0] == pytest.approx(HEAD_SIDE * h) and head[3] - head[1] == pytest.approx(HEAD_SIDE * h)
        assert (head[0] + head[2]) / 2 == pytest.approx((body[0] + body[2]) / 2)
        assert (head[1] + head[3]) / 2 == pytest.approx(body[1] + HEAD_CENTER_Y * h)
        assert body[0] <= head[0] and head[2] <= body[2] and body[1] <= head[1] and head[3] <= body[1] + 0.3 * h
    assert heads_from_person_boxes(np.zeros((0, 4))).shape == (0, 4)


def test_face_box_expands_to_a_head_box_containing_it():
    faces = np.array([[50, 40, 20, 24]], np.float32)  # x, y, w, h
    head = expand_faces_to_heads(faces)[0]
    assert head[0] < 50 and head[1] < 40 and head[2] > 70 and head[3] > 64
    assert head[2] - head[0] == pytest.approx(1.6 * 20)
    assert head[3] - head[1] == pytest.approx(1.8 * 24)


def test_nms_keeps_the_best_of_overlapping_boxes_and_drops_contained_ones():
    boxes = np.array([[0, 0, 10, 10],     # 0
                      [1, 1, 11, 11],     # 1: IoU 0.68 with 0
                      [20, 20, 30, 30],   # 2
                      [22, 22, 26, 26],   # 3: all of it inside 2 (IoU only 0.16)
                      [9, 0, 19, 10]],    # 4: touches 0 (IoU 0.05)
                     np.float32)
    # 2 outranks 3: the box inside it goes; 0 outranks 1: the overlapping one goes; 4 stays
    keep = nms_xyxy(boxes, np.array([0.9, 0.8, 0.95, 0.5, 0.4], np.float32), iou=0.3, contain=0.7)
    assert keep.tolist() == [2, 0, 4]  # best first
    # the inner box outranks its container: only a lower-scored box inside a kept one is dropped
    keep = nms_xyxy(boxes, np.array([0.9, 0.8, 0.5, 0.95, 0.4], np.float32), iou=0.3, contain=0.7)
    assert sorted(keep.tolist()) == [0, 2, 3, 4]
    assert nms_xyxy(np.zeros((0, 4)), np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        nms_xyxy(boxes[:2], np.ones(1))


def test_a_body_head_is_steadied_towards_the_followed_head_of_the_same_person():
    from gazecam.detect_offline import _Found, _steady_heads

    prev_body = np.array([[100, 100, 150, 200]], np.float32)
    prev = _Found.new(heads_from_person_boxes(prev_body), np.ones(1), prev_body, face_only=False)
    bodies = np.array([[104, 100, 154, 200],    # the same person, 4 px further (IoU 0.85)
                       [300, 100, 350, 200]],   # someone else
                      np.float32)
    heads = heads_from_person_boxes(bodies)
    out = _steady_heads(heads, bodies, np.zeros(2, bool), prev, 0.5)
    np.testing.assert_allclose(out[0], (heads[0] + prev.heads_xyxy[0]) / 2)  # half way back
    np.testing.assert_allclose(out[1], heads[1])  # no match: unchanged
    refined = _steady_heads(heads, bodies, np.array([True, False]), prev, 0.5)
    np.testing.assert_allclose(refined, heads)  # a head from a face is kept as found
    np.testing.assert_allclose(_steady_heads(heads, bodies, np.zeros(2, bool), prev, 0.0), heads)


def test_search_refines_a_body_head_with_the_face_found_in_it(monkeypatch):
    """A face in the top of a body box replaces the estimated head; a face far from it does not."""
    det = OfflineHeadDetector(warn=False)
    body = np.array([[100, 100, 200, 300]], np.float32)  # 200 px tall: head ~26 px at (150, 135)
    monkeypatch.setattr(det, "people", lambda gray: (body, np.array([1.0], np.float32)))
    monkeypatch.setattr(det._faces, "heads", lambda gray, **kw: np.zeros((0, 4), np.float32))
    estimated = heads_from_person_boxes(body)[0]
    side = estimated[2] - estimated[0]
    calls = []

    def find_face(roi, **kw):  # roi: the top of the body, upscaled; return one face at the head, roi pixels
        calls.append(roi.shape)
        up = roi.shape[1] / 80.0  # the ROI is 80 % of the body width
        fx, fy, fw = (150 - 110 - 0.3 * side) * up, (133 - 100 - 0.3 * side) * up, 0.6 * side * up
        return np.array([[fx, fy, fw, fw]], np.float32)

    monkeypatch.setattr(det._faces, "find", find_face)
    heads = det.search(np.zeros((400, 400), np.uint8))
    assert len(calls) == 1 and len(heads) == 1
    refined = heads.xyxy[0]
    assert not np.allclose(refined, estimated)  # the face decided the box
    np.testing.assert_allclose((refined[0] + refined[2]) / 2, 150, atol=1.0)
    assert heads.confidence[0] >= 0.9 and det.refined == 1
    # a face far from where this body's head would be is ignored
    monkeypatch.setattr(det._faces, "find", lambda roi, **kw: np.array([[0, roi.shape[0] - 12, 10, 10]], np.float32))
    np.testing.assert_allclose(det.search(np.zeros((400, 400), np.uint8)).xyxy[0], estimated, atol=1e-3)


# -- face cascade alone -----------------------------------------------------------------------------------
def test_cascade_finds_the_astronaut_head_and_warns(golden_images, caplog):
    image = golden_images["astronaut"]
    with caplog.at_level(logging.WARNING, logger="gazecam"):
        det = CascadeHeadDetector()
    assert det.is_fallback and isinstance(det, HeadDetector) and det.warning == CASCADE_WARNING
    assert any("FALLBACK" in r.getMessage() for r in caplog.records)
    heads = det.detect(_frame(image))
    assert len(heads) >= 1
    assert np.all(heads.track_ids == -1)
    h, w = image.shape[:2]
    assert np.all(heads.xyxy >= 0) and np.all(heads.xyxy[:, [0, 2]] <= w) and np.all(heads.xyxy[:, [1, 3]] <= h)
    # the face of the astronaut photo is around x 200-300, y 60-190: one head box must cover its centre
    cx, cy = 245, 120
    assert any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in heads.xyxy)


def _sample_frames(step: int = 16, n: int = 80) -> list[np.ndarray]:
    import av

    with av.open(str(REPO / "assets" / "sample.mp4")) as c:
        return [f.to_ndarray(format="rgb24") for i, f in zip(range(n), c.decode(video=0)) if i % step == 0]


def test_cascade_finds_both_people_of_the_sample_clip():
    """The default (faster) pyramid step still finds the two people of assets/sample.mp4 (mirrored halves)."""
    det = CascadeHeadDetector()
    for i, image in enumerate(_sample_frames()):
        heads = det.detect(_frame(image, i))
        cx = (heads.xyxy[:, 0] + heads.xyxy[:, 2]) / 2
        w = image.shape[1]
        assert np.any(cx < w / 2) and np.any(cx > w / 2), (i, heads.xyxy)  # one head in each half


def test_cascade_on_an_empty_frame_finds_nothing():
    heads = CascadeHeadDetector().detect(_frame(np.zeros((120, 160, 3), np.uint8)))
    assert len(heads) == 0 and heads.image_size == (120, 160)


def test_cascade_without_haar_files_is_a_clear_error(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2.data, "haarcascades")
    with pytest.raises(GazecamError, match="Haar cascades"):
        CascadeHeadDetector()
    with pytest.raises(GazecamError, match="Haar cascades"):
        OfflineHeadDetector()


# -- the combined offline detector --------------------------------------------------------------------------
def test_offline_detector_finds_the_close_up_faces_of_the_sample_clip(caplog):
    """No whole bodies in view: the face search still finds both people (every frame searched here)."""
    with caplog.at_level(logging.WARNING, logger="gazecam"):
        det = OfflineHeadDetector(every=1, faces_every=1)
    assert any(r.getMessage() == OFFLINE_WARNING for r in caplog.records) and det.is_fallback
    for i, image in enumerate(_sample_frames()):
        heads = det.detect(_frame(image, i))
        cx = (heads.xyxy[:, 0] + heads.xyxy[:, 2]) / 2
        assert np.any(cx < image.shape[1] / 2) and np.any(cx > image.shape[1] / 2), (i, heads.xyxy)


def test_offline_detector_tracks_between_searches_and_searches_unrelated_frames():
    """Between searches the boxes follow the picture; an unrelated frame (image folders) is searched afresh."""
    frames = _sample_frames(step=1, n=7)
    det = OfflineHeadDetector(every=3, faces_every=1, warn=False)
    out = [det.detect(_frame(im, i)) for i, im in enumerate(frames)]
    assert det.searches == 3  # frames 0, 3 and 6; 1, 2, 4, 5 tracked
    assert all(len(h) >= 2 for h in out)
    # a shifted copy of the last frame: tracked boxes move with the picture
    det2 = OfflineHeadDetector(every=3, faces_every=1, warn=False)
    base = frames[0]
    first = det2.detect(_frame(base, 0))
    moved = np.zeros_like(base)
    moved[:, 6:] = base[:, :-6]  # everything 6 px to the right
    second = det2.detect(_frame(moved, 1))
    assert det2.searches == 1 and len(second) == len(first)
    np.testing.assert_allclose(second.xyxy[:, [0, 2]] - first.xyxy[:, [0, 2]], 6.0, atol=1.0)
    # an unrelated picture with the next index is searched, not tracked
    det2.detect(_frame(np.full_like(base, 200), 2))
    assert det2.searches == 2
    # a jump back (seek, another source) is searched too
    det2.detect(_frame(base, 0))
    assert det2.searches == 3


def test_frames_seen_with_gaps_are_followed_when_close_in_time():
    """A live source whose newest frame wins: the detector sees every 5th frame of 25 frames/s (0.2 s apart).
    Within ``follow_s`` they are followed by optical flow and every 3rd frame *seen* is searched; farther apart
    in time, or with ``follow_s=0``, each one is searched afresh."""
    frames = _sample_frames(step=1, n=7)

    def seen(det: OfflineHeadDetector, step: int = 5, fps: float = 25.0) -> list:
        return [det.detect(Frame(image=im, index=step * i, timestamp_s=step * i / fps)) for i, im in enumerate(frames)]

    det = OfflineHeadDetector(every=3, faces_every=1, warn=False)
    out = seen(det)
    assert det.searches == 3  # seen frames 0, 3 and 6 (indices 0, 15, 30); the others followed
    assert all(len(h) >= 2 for h in out)
    det = OfflineHeadDetector(every=3, faces_every=1, follow_s=0.0, warn=False)
    seen(det)
    assert det.searches == 7
    det = OfflineHeadDetector(every=3, faces_every=1, follow_s=0.35, warn=False)
    seen(det, fps=10.0)  # 0.5 s apart
    assert det.searches == 7


def test_a_person_missed_by_one_search_is_kept_once_and_unsearched_faces_are_kept(monkeypatch):
    """Searches every 3rd frame on a still picture: what each search 'finds' is scripted."""
    rng = np.random.default_rng(0)
    image = np.repeat(rng.integers(0, 255, (240, 320, 1), np.uint8), 3, axis=2)  # texture: points to follow
    det = OfflineHeadDetector(every=3, faces_every=3, keep_missed=1, warn=False)
    body = np.array([[100, 40, 150, 140]], np.float32)
    face_head = np.array([[220, 60, 260, 100]], np.float32)
    people = iter([(body, np.array([2.0], np.float32))] + [(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))] * 9)
    faces = iter([face_head] + [np.zeros((0, 4), np.float32)] * 9)
    monkeypatch.setattr(det, "people", lambda gray: next(people))
    monkeypatch.setattr(det._faces, "heads", lambda gray, **kw: next(faces))
    out = [det.detect(_frame(image, i)) for i in range(10)]
    assert det.searches == 4  # frames 0, 3, 6, 9; face search on 0 and 9
    body_head = heads_from_person_boxes(body)[0]

    def has(heads, box):
        return any(np.allclose(b, box, atol=0.5) for b in heads.xyxy)

    assert all(has(h, body_head) and has(h, face_head[0]) for h in out[:3])
    conf0 = out[0].confidence[[np.allclose(b, body_head, atol=0.5) for b in out[0].xyxy]][0]
    # frame 3: the person was not found again: kept once, less confident; the face was not searched: kept
    assert has(out[3], body_head) and has(out[3], face_head[0])
    assert out[3].confidence[[np.allclose(b, body_head, atol=0.5) for b in out[3].xyxy]][0] < conf0
    # frame 6: missed twice: gone; the face (still not searched) stays
    assert not has(out[6], body_head) and has(out[6], face_head[0])
    # frame 9: the face search does not find it: kept once more (a miss), less confident
    assert not has(out[9], body_head) and has(out[9], face_head[0]) and out[9].confidence.max() < 0.8


def test_offline_detector_arguments_are_checked():
    with pytest.raises(ValueError, match="every"):
        OfflineHeadDetector(every=0, warn=False)
    with pytest.raises(ValueError, match="keep_missed"):
        OfflineHeadDetector(keep_missed=-1, warn=False)
    with pytest.raises(ValueError, match="hog_scale_step"):
        OfflineHeadDetector(hog_scale_step=1.0, warn=False)
    with pytest.raises(ValueError, match="follow_s"):
        OfflineHeadDetector(follow_s=-1.0, warn=False)
    tiny = OfflineHeadDetector(warn=False).detect(_frame(np.zeros((20, 30, 3), np.uint8)))
    assert len(tiny) == 0 and tiny.image_size == (20, 30)


@pytest.fixture(scope="module")
def vtest(tmp_path_factory) -> Path:
    for p in VTEST:
        if p.is_file():
            if p.suffix == ".gz":
                out = tmp_path_factory.mktemp("vtest") / "vtest.avi"
                with gzip.open(p, "rb") as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                return out
            return p
    pytest.skip("real pedestrian footage not available: vtest.avi of Debian's opencv-doc package is not installed "
                "(scripts/test.sh installs it as root on Debian: apt-get install opencv-doc)")


@pytest.mark.slow
def test_offline_detector_finds_the_pedestrians_of_vtest(vtest):
    """Real footage (people walking, seen from above and behind): >= 2 heads per frame on average and
    someone in >= 80 % of the frames, over the first 150 frames processed in order (searches + tracking).
    The old face-cascade detector found nobody there."""
    import av

    det = OfflineHeadDetector(warn=False)
    counts, heights = [], []
    with av.open(str(vtest)) as c:
        for i, f in zip(range(150), c.decode(video=0)):
            image = f.to_ndarray(format="rgb24")
            assert image.shape[:2] == (576, 768)
            heads = det.detect(_frame(image, i))
            counts.append(len(heads))
            heights += list(heads.xyxy[:, 3] - heads.xyxy[:, 1])
    counts_a = np.array(counts)
    assert counts_a.mean() >= 2.0, counts
    assert (counts_a > 0).mean() >= 0.8, counts
    assert det.searches == 50
    # head boxes of people ~80-150 px tall, not body boxes: about 10-25 px
    assert 8 <= np.median(heights) <= 30, np.median(heights)
