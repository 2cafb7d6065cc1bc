"""GazeStage: encoder once per frame, batched decode, smoothing, stride, in/out threshold."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.gaze import GazeStage
from gazecam.types import Frame, GazePrediction, HeadBoxes

H, W = 120, 160


class FakeModel:
    """Counts calls; the heatmap of a head peaks at a cell given by its box and the encode count."""

    name = "fake"
    released = False
    note = "fake weights"

    def __init__(self, inout: bool = True) -> None:
        self.encode_calls = 0
        self.decode_calls: list[int] = []  # number of heads per decode call
        self._inout = inout

    @property
    def has_inout(self) -> bool:
        return self._inout

    def encode(self, image):
        self.encode_calls += 1
        return ("feats", self.encode_calls)

    def decode(self, feats, heads):
        boxes = np.asarray(heads, np.float32).reshape(-1, 4)
        self.decode_calls.append(len(boxes))
        n = len(boxes)
        hm = np.zeros((n, 64, 64), np.float32)
        version = feats[1]
        for i, b in enumerate(boxes):
            col = int(b[0] * 63) % 64
            row = (10 * version) % 64
            hm[i, row, col] = 1.0
        inout = np.full(n, 0.25 * version % 1.0, np.float32) if self._inout else None
        return GazePrediction(heatmaps=hm, inout=inout)


def _frame(i: int) -> Frame:
    return Frame(image=np.zeros((H, W, 3), np.uint8), index=i, timestamp_s=i / 10)


def _heads(*boxes, ids) -> HeadBoxes:
    return HeadBoxes(xyxy=np.array(boxes, np.float32).reshape(-1, 4), image_size=(H, W), track_ids=np.array(ids))


def test_zero_heads_do_not_run_the_model():
    m = FakeModel()
    r = GazeStage(model=m).process(_frame(0), HeadBoxes.empty((H, W)))
    assert len(r) == 0 and m.encode_calls == 0 and m.decode_calls == []
    assert r.inout is not None and r.inout.shape == (0,) and r.heatmaps.shape == (0, 64, 64)


def test_encoder_once_per_frame_decoder_once_for_all_heads():
    m = FakeModel()
    st = GazeStage(model=m, smooth=False)
    for i in range(3):
        r = st.process(_frame(i), _heads([0, 0, 20, 20], [40, 0, 60, 20], [80, 0, 100, 20], ids=[1, 2, 3]))
        assert len(r) == 3 and r.fresh
        assert r.timings.encode >= 0 and r.timings.decode >= 0
    assert m.encode_calls == 3 and m.decode_calls == [3, 3, 3]


@pytest.mark.slow
def test_matches_model_predict_on_the_golden_model(golden_model_inout, golden_images):
    image = golden_images["astronaut"]
    h, w = image.shape[:2]
    heads = HeadBoxes(xyxy=np.array([[180, 20, 330, 200], [10, 300, 80, 380]], np.float32), image_size=(h, w),
                      track_ids=np.array([1, 2]))
    r = GazeStage(model=golden_model_inout).process(Frame(image=image, index=0, timestamp_s=0.0), heads)
    ref = golden_model_inout.predict(image, [tuple(b) for b in heads.xyxy_norm])
    np.testing.assert_allclose(r.heatmaps, ref.heatmaps, atol=1e-6)
    np.testing.assert_allclose(r.points_norm, ref.points_norm)
    np.testing.assert_allclose(r.inout, ref.inout, atol=1e-6)
    np.testing.assert_array_equal(r.in_frame, ref.inout >= 0.5)


def test_smoothing_is_an_ema_per_track_and_can_be_switched_off():
    m = FakeModel()
    st = GazeStage(model=m, smooth=True, smooth_alpha=0.5)
    heads = _heads([0, 0, 20, 20], ids=[4])
    r0 = st.process(_frame(0), heads)
    raw1 = m.decode(("feats", 2), heads.xyxy_norm)  # what the model says on the next frame
    m.decode_calls.clear()
    r1 = st.process(_frame(1), heads)
    np.testing.assert_allclose(r1.heatmaps[0], 0.5 * raw1.heatmaps[0] + 0.5 * r0.heatmaps[0])
    np.testing.assert_allclose(r1.points_norm[0], 0.5 * raw1.points_norm[0] + 0.5 * r0.points_norm[0])
    np.testing.assert_allclose(r1.inout[0], 0.5 * raw1.inout[0] + 0.5 * r0.inout[0])
    st.smooth = False  # live toggle
    r2 = st.process(_frame(2), heads)
    raw3 = m.decode(("feats", 3), heads.xyxy_norm)
    np.testing.assert_allclose(r2.heatmaps, raw3.heatmaps)


def test_untracked_heads_are_not_smoothed_and_state_is_forgotten():
    m = FakeModel()
    st = GazeStage(model=m, smooth=True, smooth_alpha=0.5, forget_after=2)
    st.process(_frame(0), _heads([0, 0, 20, 20], ids=[-1]))
    r = st.process(_frame(1), _heads([0, 0, 20, 20], ids=[-1]))
    assert r.heatmaps[0].max() == 1.0  # raw, not averaged
    st.process(_frame(2), _heads([0, 0, 20, 20], ids=[5]))
    for i in range(3, 6):  # track 5 unseen for 3 frames > forget_after
        st.process(_frame(i), HeadBoxes.empty((H, W)))
    r = st.process(_frame(6), _heads([0, 0, 20, 20], ids=[5]))
    assert r.heatmaps[0].max() == 1.0  # started afresh


def test_stride_reuses_gaze_and_decodes_new_tracks_against_last_features():
    m = FakeModel()
    st = GazeStage(model=m, smooth=False, stride=3)
    a = [0, 0, 20, 20]
    b = [80, 0, 100, 20]
    r0 = st.process(_frame(0), _heads(a, ids=[1]))
    assert r0.fresh and m.encode_calls == 1
    r1 = st.process(_frame(1), _heads(a, ids=[1]))
    assert not r1.fresh and m.encode_calls == 1 and m.decode_calls == [1]
    np.testing.assert_array_equal(r1.heatmaps, r0.heatmaps)
    np.testing.assert_array_equal(r1.points_norm, r0.points_norm)
    r2 = st.process(_frame(2), _heads(a, b, ids=[1, 2]))  # new track 2: decoded against frame 0's features
    assert not r2.fresh and m.encode_calls == 1 and m.decode_calls == [1, 1]
    np.testing.assert_array_equal(r2.heatmaps[0], r0.heatmaps[0])
    assert r2.heatmaps[1].max() == 1.0
    r3 = st.process(_frame(3), _heads(a, b, ids=[1, 2]))
    assert r3.fresh and m.encode_calls == 2 and m.decode_calls == [1, 1, 2]
    st.stride = 1  # live change
    st.process(_frame(4), _heads(a, ids=[1]))
    assert m.encode_calls == 3


def test_stride_encodes_on_the_first_frame_with_heads():
    m = FakeModel()
    st = GazeStage(model=m, stride=4)
    st.process(_frame(0), HeadBoxes.empty((H, W)))
    r = st.process(_frame(1), _heads([0, 0, 20, 20], ids=[1]))
    assert r.fresh and m.encode_calls == 1


def test_inout_threshold_and_models_without_inout():
    m = FakeModel()  # first encode -> inout 0.25
    st = GazeStage(model=m, inout_threshold=0.2)
    assert st.process(_frame(0), _heads([0, 0, 20, 20], ids=[1])).in_frame.tolist() == [True]
    st.inout_threshold = 0.9
    st.smooth = False
    assert st.process(_frame(1), _heads([0, 0, 20, 20], ids=[1])).in_frame.tolist() == [False]
    r = GazeStage(model=FakeModel(inout=False)).process(_frame(0), _heads([0, 0, 20, 20], ids=[1]))
    assert r.inout is None and r.in_frame.tolist() == [True]


def test_looking_at_is_filled():
    class CornerModel(FakeModel):  # everyone looks at the top-left corner
        def decode(self, feats, heads):
            n = len(np.asarray(heads).reshape(-1, 4))
            hm = np.zeros((n, 64, 64), np.float32)
            hm[:, 2, 2] = 1.0
            return GazePrediction(heatmaps=hm, inout=None)

    r = GazeStage(model=CornerModel(inout=False)).process(_frame(0), _heads([60, 0, 80, 20], [0, 0, 40, 40],
                                                                              ids=[1, 2]))
    assert r.looking_at.tolist() == [2, -1]  # B's own box holds its gaze point: not counted
    assert r.mutual.tolist() == [False, False]


@pytest.mark.parametrize("kw, match", [({"stride": 0}, "stride"), ({"smooth_alpha": 0.0}, "smooth_alpha"),
                                       ({"inout_threshold": 1.5}, "inout_threshold")])
def test_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        GazeStage(model=FakeModel(), **kw)


def test_heads_of_another_frame_size_are_rejected():
    with pytest.raises(ValueError, match="frame"):
        GazeStage(model=FakeModel()).process(_frame(0), HeadBoxes(xyxy=np.zeros((1, 4)), image_size=(10, 10)))
