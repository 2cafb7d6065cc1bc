"""GazeModel reproduces the official Gaze-LLE + DINOv2 outputs stored in ../shared/golden."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fakes import record_difference
from gazecam.model import GazeModel, SceneFeatures, normalize_heads

# Tolerances (max abs) from issue 2 / golden README.
TOL_INPUT, TOL_BACKBONE, TOL_HEATMAP, TOL_INOUT = 1e-5, 1e-4, 2e-6, 5e-7


def _cases(golden_dir):
    meta = json.loads((golden_dir / "cases.json").read_text())
    out = []
    for case in meta["cases"]:
        boxes = [[None if b is None else tuple(b) for b in blist] for blist in case["bboxes"]]
        out.append((case["id"], case["images"], boxes, dict(np.load(golden_dir / f"case_{case['id']}.npz"))))
    return meta, out


def _maxdiff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


@pytest.fixture(scope="module")
def cases(golden_dir):
    return _cases(golden_dir)


@pytest.mark.slow
def test_preprocess_and_backbone_match_official(golden_dir, golden_images, golden_model_inout):
    meta = json.loads((golden_dir / "cases.json").read_text())
    for name, info in meta["images"].items():
        ref = np.load(golden_dir / info["tensors"])
        image = golden_images[name]
        assert image.shape == (info["height"], info["width"], 3)
        pixels = golden_model_inout.preprocess([image]).numpy()
        assert pixels.shape == ref["input"].shape == (1, 3, 448, 448)
        assert record_difference("dinov2 torch input", _maxdiff(pixels, ref["input"])) <= TOL_INPUT, name
        feats = golden_model_inout.backbone_features([image]).numpy()
        assert feats.shape == ref["backbone"].shape == (1, 384, 32, 32)
        assert record_difference("dinov2 torch backbone", _maxdiff(feats, ref["backbone"])) <= TOL_BACKBONE, name


@pytest.mark.slow
def test_every_case_matches_official(cases, golden_images, golden_model_inout, golden_model_base):
    _, all_cases = cases
    for case_id, image_names, boxes, ref in all_cases:
        images = [golden_images[n] for n in image_names]
        preds_io = golden_model_inout.predict_batch(images, boxes)
        preds_base = golden_model_base.predict_batch(images, boxes)
        heat_io = np.concatenate([p.heatmaps for p in preds_io])
        inout = np.concatenate([p.inout for p in preds_io])
        heat_base = np.concatenate([p.heatmaps for p in preds_base])
        assert heat_io.shape == ref["inout_model_heatmap"].shape
        assert record_difference("dinov2 torch heatmaps", _maxdiff(heat_io, ref["inout_model_heatmap"])) <= TOL_HEATMAP, case_id
        assert record_difference("dinov2 torch inout", _maxdiff(inout, ref["inout_model_inout"])) <= TOL_INOUT, case_id
        assert record_difference("dinov2 torch heatmaps", _maxdiff(heat_base, ref["base_model_heatmap"])) <= TOL_HEATMAP, case_id
        assert all(p.inout is None for p in preds_base)
        # The decoder LayerNorm eps matters: we are closer to the eps=1e-5 arrays than to the eps=1e-6 ones.
        assert _maxdiff(heat_io, ref["inout_model_heatmap"]) < _maxdiff(heat_io, ref["inout_model_heatmap_ln1e6"])


@pytest.mark.slow
def test_single_image_predict_and_encode_decode(cases, golden_images, golden_model_inout):
    _, all_cases = cases
    for case_id, image_names, boxes, ref in all_cases:
        start = 0
        for name, heads in zip(image_names, boxes):
            n = len(heads)
            want_h = ref["inout_model_heatmap"][start:start + n]
            want_io = ref["inout_model_inout"][start:start + n]
            start += n
            pred = golden_model_inout.predict(golden_images[name], heads)
            assert _maxdiff(pred.heatmaps, want_h) <= TOL_HEATMAP, case_id
            assert _maxdiff(pred.inout, want_io) <= TOL_INOUT, case_id
            feats = golden_model_inout.encode(golden_images[name])
            assert isinstance(feats, SceneFeatures) and tuple(feats.scene.shape) == (1, 256, 32, 32)
            # encode once, decode many: one head at a time gives the same as all heads together
            for i, head in enumerate(heads):
                one = golden_model_inout.decode(feats, [head])
                assert _maxdiff(one.heatmaps, want_h[i:i + 1]) <= TOL_HEATMAP, case_id
                assert _maxdiff(one.inout, want_io[i:i + 1]) <= TOL_INOUT, case_id


@pytest.mark.slow
def test_predict_batch_mixes_all_images(cases, golden_images, golden_model_inout):
    """All images of all cases in one batch: per-image results equal the golden per-case results."""
    _, all_cases = cases
    images, heads, wants = [], [], []
    for _, image_names, boxes, ref in all_cases:
        start = 0
        for name, h in zip(image_names, boxes):
            images.append(golden_images[name])
            heads.append(h)
            wants.append((ref["inout_model_heatmap"][start:start + len(h)], ref["inout_model_inout"][start:start + len(h)]))
            start += len(h)
    preds = golden_model_inout.predict_batch(images, heads)
    assert len(preds) == len(images)
    for pred, (want_h, want_io) in zip(preds, wants):
        assert _maxdiff(pred.heatmaps, want_h) <= TOL_HEATMAP
        assert _maxdiff(pred.inout, want_io) <= TOL_INOUT


def test_prediction_fields(golden_images, golden_model_inout):
    pred = golden_model_inout.predict(golden_images["astronaut"], [(0.29, 0.03, 0.59, 0.37), None])
    assert pred.heatmaps.dtype == np.float32 and pred.heatmaps.shape == (2, 64, 64)
    assert pred.heatmaps.min() >= 0 and pred.heatmaps.max() <= 1
    assert pred.inout.shape == (2,) and pred.inout.dtype == np.float32
    # points_norm is the first argmax, official convention (col / 64, row / 64)
    for hm, pt in zip(pred.heatmaps, pred.points_norm):
        row, col = np.unravel_index(int(np.argmax(hm)), hm.shape)
        assert tuple(pt) == (col / 64, row / 64)


def test_none_box_equals_empty_rounded_box(golden_images, golden_model_inout):
    """The golden astronaut_tiny case: a box that rounds to an empty head map behaves like None."""
    feats = golden_model_inout.encode(golden_images["astronaut"])
    a = golden_model_inout.decode(feats, [None])
    b = golden_model_inout.decode(feats, [(0.5, 0.5, 0.51, 0.51)])
    np.testing.assert_array_equal(a.heatmaps, b.heatmaps)


# -- bad input ------------------------------------------------------------------------------------------

def test_grayscale_and_rgba_are_clear_errors(golden_model_inout):
    gray = np.zeros((40, 50), np.uint8)
    with pytest.raises(ValueError, match="grayscale"):
        golden_model_inout.predict(gray, [None])
    with pytest.raises(ValueError, match="RGBA"):
        golden_model_inout.predict(np.zeros((40, 50, 4), np.uint8), [None])
    with pytest.raises(ValueError, match="uint8"):
        golden_model_inout.predict(np.zeros((40, 50, 3), np.float32), [None])
    with pytest.raises(TypeError, match="numpy"):
        golden_model_inout.predict([[1, 2, 3]], [None])


@pytest.mark.slow
def test_empty_head_list_gives_empty_prediction(golden_model_inout, golden_model_base):
    image = np.zeros((30, 40, 3), np.uint8)
    pred = golden_model_inout.predict(image, [])
    assert pred.heatmaps.shape == (0, 64, 64) and pred.inout.shape == (0,) and pred.points_norm.shape == (0, 2)
    assert golden_model_base.predict(image, []).inout is None
    preds = golden_model_inout.predict_batch([image, image], [[], [None]])
    assert len(preds[0]) == 0 and len(preds[1]) == 1


def test_boxes_outside_unit_square_are_clipped(golden_images, golden_model_inout):
    feats = golden_model_inout.encode(golden_images["rocket"])
    outside = golden_model_inout.decode(feats, [(-0.3, -0.2, 1.4, 1.7), (0.86, -0.5, 1.2, 0.3)])
    inside = golden_model_inout.decode(feats, [(0.0, 0.0, 1.0, 1.0), (0.86, 0.0, 1.0, 0.3)])
    np.testing.assert_array_equal(outside.heatmaps, inside.heatmaps)
    np.testing.assert_array_equal(outside.inout, inside.inout)


@pytest.mark.parametrize("box, match", [
    ((0.6, 0.1, 0.4, 0.3), "inverted"),
    ((0.1, 0.5, 0.3, 0.2), "inverted"),
    ((0.1, float("nan"), 0.3, 0.2), "non-finite"),
    ((0.1, 0.2, 0.3), "4 values"),
    ("abcd", "numbers"),
])
def test_bad_boxes_are_clear_errors(box, match):
    with pytest.raises(ValueError, match=match):
        normalize_heads([box])


def test_single_box_instead_of_list_is_a_clear_error(golden_model_inout):
    with pytest.raises(TypeError, match="list of boxes"):
        golden_model_inout.predict(np.zeros((20, 20, 3), np.uint8), (0.1, 0.1, 0.2, 0.2))


def test_decode_before_encode_is_a_clear_error(golden_model_inout):
    with pytest.raises(TypeError, match="encode"):
        golden_model_inout.decode(torch.zeros(1, 256, 32, 32), [None])


def test_mismatched_backbone_and_decoder(golden_dir):
    from gazecam.models.gazelle import GazeLLEDecoder
    from gazecam.weights import WeightsError

    bad_decoder = GazeLLEDecoder(in_dim=768, inout=False).official_state_dict()
    backbone = torch.load(golden_dir / "dinov2_vits14_random.pth", weights_only=True)
    with pytest.raises(ValueError, match="768-dim"):
        GazeModel.from_state_dicts(backbone_state=backbone, gaze_state=bad_decoder)
    with pytest.raises(WeightsError, match="backbone='dinov2_vitb14' was asked for"):
        GazeModel.from_files(backbone="dinov2_vitb14", backbone_weights=golden_dir / "dinov2_vits14_random.pth",
                             gaze_weights=golden_dir / "gazelle_vits14_random.pt")


def test_random_model_is_flagged_untrained():
    model = GazeModel.from_random(backbone="dinov2_vits14", inout=False, seed=1)
    assert not model.released and "random" in model.note
    pred = model.predict(np.full((64, 48, 3), 128, np.uint8), [(0.1, 0.1, 0.4, 0.4)])
    assert pred.heatmaps.shape == (1, 64, 64) and pred.inout is None
