"""The official metrics against the golden metric fixtures (official gazelle/utils.py outputs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gazecam.research.eval import metrics as M

TOL = 1e-12


@pytest.fixture(scope="module")
def cases(golden_dir):
    with open(golden_dir / "metrics_cases.json") as f:
        js = json.load(f)
    return js, np.load(golden_dir / "metrics_cases.npz")


def _gf_points(npz, i):
    n = int(npz["gf_num_points"][i])
    return npz["gf_gazex"][i, :n], npz["gf_gazey"][i, :n]


def test_fixture_files_agree(cases):
    js, npz = cases
    assert len(js["gazefollow"]) == len(npz["gf_heatmaps"]) > 0
    for i, c in enumerate(js["gazefollow"]):
        gx, gy = _gf_points(npz, i)
        assert list(gx) == c["gazex"] and list(gy) == c["gazey"]
        assert np.isnan(npz["gf_gazex"][i, len(gx):]).all()
        assert (c["height"], c["width"]) == (npz["gf_height"][i], npz["gf_width"][i])
    assert np.array_equal(npz["vat_gazex"], [c["gazex"] for c in js["vat"]])


def test_gazefollow_auc_and_l2(cases):
    js, npz = cases
    checked_missing = checked_quantized = 0
    for i, c in enumerate(js["gazefollow"]):
        gx, gy = _gf_points(npz, i)
        hm = npz["gf_heatmaps"][i]
        auc = M.gazefollow_auc(hm, gx, gy, c["height"], c["width"])
        avg_l2, min_l2 = M.gazefollow_l2(hm, gx, gy)
        assert auc == pytest.approx(c["auc"], abs=TOL), f"case {i}"
        assert auc == pytest.approx(npz["gf_auc"][i], abs=TOL)
        assert avg_l2 == pytest.approx(c["avg_l2"], abs=TOL), f"case {i}"
        assert min_l2 == pytest.approx(c["min_l2"], abs=TOL), f"case {i}"
        checked_missing += c["has_missing"]
        checked_quantized += c["quantized_heatmap"]
    assert checked_missing and checked_quantized  # the tricky cases are covered


def test_gazefollow_accepts_torch_heatmaps(cases):
    torch = pytest.importorskip("torch")
    js, npz = cases
    gx, gy = _gf_points(npz, 0)
    c = js["gazefollow"][0]
    assert M.gazefollow_auc(torch.from_numpy(npz["gf_heatmaps"][0]), gx, gy, c["height"], c["width"]) == \
        pytest.approx(c["auc"], abs=TOL)


def test_vat_auc_and_l2(cases):
    js, npz = cases
    for i, c in enumerate(js["vat"]):
        hm = npz["vat_heatmaps"][i]
        assert M.vat_auc(hm, c["gazex"], c["gazey"]) == pytest.approx(c["auc"], abs=TOL), f"case {i}"
        assert M.vat_l2(hm, c["gazex"], c["gazey"]) == pytest.approx(c["l2"], abs=TOL), f"case {i}"
        assert M.vat_auc(hm, c["gazex"], c["gazey"]) == pytest.approx(npz["vat_auc"][i], abs=TOL)


def test_inout_ap(cases):
    js, npz = cases
    for k, c in enumerate(js["inout_ap"]):
        assert M.inout_ap(c["labels"], c["preds"]) == pytest.approx(c["ap"], abs=TOL)
        assert M.inout_ap(npz[f"ap{k}_labels"], npz[f"ap{k}_preds"]) == pytest.approx(float(npz[f"ap{k}_ap"]), abs=TOL)


def test_aggregates_as_the_official_scripts(cases):
    js, npz = cases
    gf = M.GazeFollowAccumulator()
    for i, c in enumerate(js["gazefollow"]):
        gx, gy = _gf_points(npz, i)
        gf.add(npz["gf_heatmaps"][i], gx, gy, c["height"], c["width"])
    r = gf.result()
    agg = js["aggregate_gazefollow"]
    assert (r.auc, r.avg_l2, r.min_l2) == pytest.approx((agg["auc"], agg["avg_l2"], agg["min_l2"]), abs=TOL)
    assert r.num_heads == len(js["gazefollow"]) and r.auc_skipped == 0

    vat = M.VatAccumulator()
    for i, c in enumerate(js["vat"]):
        vat.add(npz["vat_heatmaps"][i], c["gazex"], c["gazey"], c["inout_gt"], c["inout_pred"])
    v = vat.result()
    agg = js["aggregate_vat"]
    assert (v.auc, v.l2, v.ap) == pytest.approx((agg["auc"], agg["l2"], agg["inout_ap"]), abs=TOL)
    assert v.num_in_frame == sum(c["inout_gt"] == 1 for c in js["vat"]) < v.num_heads == len(js["vat"])


def test_vat_tolerance_region_bounds():
    t = M.vat_target(1.0, 1.0)  # gaze at the bottom-right corner: rows/cols 55..62 (63 is clipped out)
    rows, cols = np.nonzero(t)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (55, 62, 55, 62)
    t = M.vat_target(0.0, 0.5)  # cols 0..9, rows int(32-9)=23 .. int(32+10)-1=41
    rows, cols = np.nonzero(t)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (23, 41, 0, 9)


def test_argmax_takes_the_first_maximum_without_half_pixel_offset():
    hm = np.zeros((64, 64), np.float32)
    hm[10, 20] = hm[10, 30] = hm[40, 5] = 1.0
    assert M.argmax_point(hm) == (20 / 64, 10 / 64)


def test_undefined_auc_is_nan_and_skipped_in_means():
    hm = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    assert math.isnan(M.gazefollow_auc(hm, [-1.0], [-1.0], 32, 48))  # no valid point: only one class
    acc = M.GazeFollowAccumulator()
    acc.add(hm, [-1.0], [-1.0], 32, 48)
    acc.add(hm, [0.5], [0.5], 32, 48)
    r = acc.result()
    assert r.auc_skipped == 1 and r.num_heads == 2
    assert r.auc == pytest.approx(M.gazefollow_auc(hm, [0.5], [0.5], 32, 48))
    assert math.isnan(M.inout_ap([0, 0], [0.1, 0.2]))
