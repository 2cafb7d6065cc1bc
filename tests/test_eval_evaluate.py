"""End-to-end evaluation with the golden ViT-S model on tiny generated datasets.

The expected values are recomputed here from the model's own per-image predictions and the metric
functions (no hard-coded numbers).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gazecam.research.eval import metrics as M
from gazecam.research.eval.datasets import load_dataset, load_rgb
from gazecam.research.eval.evaluate import evaluate, format_scores


def _save(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


@pytest.fixture
def gazefollow_dir(tmp_path, golden_images):
    """Three images (crops of the golden images) in the published GazeFollow test layout."""
    root = tmp_path / "gf"
    crops = {"test2/0/a.png": golden_images["astronaut"][::8, ::8], "test2/0/b.png": golden_images["chelsea"][::6, ::5],
             "test2/1/c.png": golden_images["rocket"][::7, ::9]}
    for rel, im in crops.items():
        _save(root / rel, np.ascontiguousarray(im))
    rows = []
    rng = np.random.default_rng(3)
    for rel, im in crops.items():
        h, w = im.shape[:2]
        for eye_x, box in ((0.3, (0.1 * w, 0.1 * h, 0.4 * w, 0.45 * h)), (0.7, (0.6 * w, 0.2 * h, 0.9 * w, 0.5 * h))):
            for k in range(3):  # three annotators, one of them missing (-1, -1) for the second person
                gx, gy = (-1.0, -1.0) if (eye_x == 0.7 and k == 2) else tuple(rng.random(2).round(4))
                rows.append(f"{rel},0,0,0,1,1,{eye_x},0.3,{gx},{gy},{box[0]:.2f},{box[1]:.2f},{box[2]:.2f},"
                            f"{box[3]:.2f},src,meta")
    (root / "test_annotations_release.txt").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.slow
def test_cli_eval_gazefollow_matches_independent_computation(gazefollow_dir, golden_dir, golden_model_inout, tmp_path,
                                                           capsys):
    from gazecam.cli import main

    out = tmp_path / "res.json"
    rc = main(["eval", "gazefollow", "--data", str(gazefollow_dir), "--backbone-weights",
               str(golden_dir / "dinov2_vits14_random.pth"), "--gaze-weights",
               str(golden_dir / "gazelle_vits14_inout_random.pt"), "--device", "cpu", "--batch-size", "2",
               "--json", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "AUC" in printed and "Min L2" in printed
    got = json.loads(out.read_text())

    # independent: one image at a time through model.predict, then the metric functions
    ds = load_dataset("gazefollow", gazefollow_dir, split="test")
    aucs, avgs, mins = [], [], []
    for im in ds.images:
        image = load_rgb(im.path)
        h, w = image.shape[:2]
        pred = golden_model_inout.predict(image, [hd.box_norm(w, h) for hd in im.heads])
        for hm, hd in zip(pred.heatmaps, im.heads):
            aucs.append(M.gazefollow_auc(hm, hd.gaze_x_norm, hd.gaze_y_norm, h, w))
            a, m = M.gazefollow_l2(hm, hd.gaze_x_norm, hd.gaze_y_norm)
            avgs.append(a)
            mins.append(m)
    assert got["num_images"] == 3 and got["num_heads"] == 6 == len(aucs)
    assert got["auc"] == pytest.approx(np.mean(aucs), abs=1e-6)
    assert got["avg_l2"] == pytest.approx(np.mean(avgs), abs=1e-6)
    assert got["min_l2"] == pytest.approx(np.mean(mins), abs=1e-6)
    assert got["released_weights"] is False and got["auc_skipped"] == 0


@pytest.mark.slow
def test_evaluate_vat_batches_heads_and_scores_like_the_official_script(tmp_path, golden_images, golden_model_inout):
    root = tmp_path / "vat"
    src = golden_images["chelsea"]
    for i in range(1, 4):
        _save(root / f"images/show/clip/{i:05d}.jpg", np.ascontiguousarray(src[::4, ::4][:, i:]))
    ann = root / "annotations/test/show/clip"
    ann.mkdir(parents=True)
    (ann / "p1.txt").write_text("00001.jpg,5,5,30,30,80,40\n00002.jpg,5,5,30,30,-1,-1\n00003.jpg,6,5,31,30,60,50\n")
    (ann / "p2.txt").write_text("00001.jpg,70,10,100,40,20,60\n00003.jpg,70,10,100,40,-1,-1\n")
    ds = load_dataset("vat", root)
    assert ds.num_heads == 5

    scores = evaluate(golden_model_inout, ds, batch_size=2, progress=False)
    assert isinstance(scores, M.VatScores)
    assert (scores.num_images, scores.num_heads, scores.num_in_frame, scores.num_out_of_frame) == (3, 5, 3, 2)

    # independent: per-image predictions, official aggregation (AUC/L2 over in-frame heads, AP over all)
    aucs, l2s, gts, preds = [], [], [], []
    for im in ds.images:
        image = load_rgb(im.path)
        h, w = image.shape[:2]
        pred = golden_model_inout.predict(image, [hd.box_norm(w, h) for hd in im.heads])
        for j, hd in enumerate(im.heads):
            if hd.inout == 1:
                aucs.append(M.vat_auc(pred.heatmaps[j], hd.gaze_x_norm[0], hd.gaze_y_norm[0]))
                l2s.append(M.vat_l2(pred.heatmaps[j], hd.gaze_x_norm[0], hd.gaze_y_norm[0]))
            gts.append(hd.inout)
            preds.append(float(pred.inout[j]))
    assert scores.auc == pytest.approx(np.mean(aucs), abs=1e-6)
    assert scores.l2 == pytest.approx(np.mean(l2s), abs=1e-6)
    assert scores.ap == pytest.approx(M.inout_ap(gts, preds), abs=1e-6)
    assert "In/out AP" in format_scores(scores)


def test_eval_cli_errors_are_one_line(tmp_path, capsys):
    from gazecam.cli import main

    rc = main(["eval", "vat", "--data", str(tmp_path / "nothing"), "--device", "cpu"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "dataset folder not found" in err and "Traceback" not in err
