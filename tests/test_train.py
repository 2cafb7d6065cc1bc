"""Decoder fine-tuning: targets, augmentations, a short CPU training run, checkpoints and resume."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gazecam import GazeModel
from gazecam.research.eval.datasets import HeadAnnotation, read_jsonl
from gazecam.research.train.data import (
    AugmentConfig,
    TrainSample,
    gaussian_heatmap,
    horizontal_flip,
    jitter_box,
    prepare_sample,
    random_crop,
    split_dataset,
    training_samples,
)
from gazecam.research.train.features import FeatureCache
from gazecam.research.train.loop import Trainer, TrainConfig, log_path_for, state_path_for


def make_blob_dataset(root: Path, n: int, *, seed: int = 0, size: int = 64) -> Path:
    """``n`` small images: a skin-coloured square "head" and a bright blob it looks at (every 4th: no blob,
    gaze out of frame), written as gazecam JSONL."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        im = (rng.random((size, size, 3)) * 40).astype(np.uint8)
        hx, hy = (int(v) for v in rng.integers(2, size - 14, 2))
        im[hy:hy + 10, hx:hx + 10] = (200, 150, 120)
        rec: dict[str, object] = {"image": f"img/{i:03d}.png",
                                  "head_xyxy_norm": [hx / size, hy / size, (hx + 10) / size, (hy + 10) / size]}
        if i % 4 == 3:
            rec["gaze_xy_norm"] = None
        else:
            tx, ty = (int(v) for v in rng.integers(6, size - 6, 2))
            im[ty - 4:ty + 4, tx - 4:tx + 4] = 255
            rec["gaze_xy_norm"] = [tx / size, ty / size]
        (root / "img").mkdir(exist_ok=True)
        Image.fromarray(im).save(root / str(rec["image"]))
        lines.append(json.dumps(rec))
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    return root / "train.jsonl"


def fresh_model(golden: GazeModel) -> GazeModel:
    """The golden model with its own copy of the decoder (the session fixture must stay untouched)."""
    return GazeModel(backbone=golden.backbone, decoder=copy.deepcopy(golden.decoder), device="cpu", name="ft")


# -- targets and augmentations -----------------------------------------------------------------
def test_gaussian_heatmap_target():
    t = gaussian_heatmap(0.3, 0.7)
    assert t.shape == (64, 64) and t.dtype == np.float32
    r, c = np.unravel_index(np.argmax(t), t.shape)
    assert (r, c) == (int(0.7 * 64), int(0.3 * 64)) and t.max() == 1.0
    assert t[r, c + 1] == pytest.approx(math.exp(-1 / 18), rel=1e-6)  # sigma 3
    assert t[r, c + 9] > 0 and t[r, c + 10] == 0 and t[r + 10, c] == 0  # 19x19 support (3 sigma)
    assert not gaussian_heatmap(-1, -1).any()
    edge = gaussian_heatmap(1.0, 1.0)  # centre just outside the map: visible part rescaled to a peak of 1
    assert edge.max() == 1.0 and edge[63, 63] == 1.0 and edge[:54].sum() == 0


def test_random_crop_keeps_head_and_target():
    rng = np.random.default_rng(0)
    image = np.zeros((50, 80, 3), np.uint8)
    box, gaze = np.array([10.0, 5, 20, 15]), np.array([70.0, 40])
    sizes = set()
    for _ in range(50):
        im, b, g = random_crop(image, box, gaze, rng)
        h, w = im.shape[:2]
        sizes.add((h, w))
        assert 0 <= b[0] <= b[2] <= w and 0 <= b[1] <= b[3] <= h
        assert 0 <= g[0] <= w and 0 <= g[1] <= h
        assert np.allclose(b[2:] - b[:2], box[2:] - box[:2]) and np.allclose(g - b[:2], gaze - box[:2])
    assert len(sizes) > 10  # really random


def test_flip_and_jitter():
    image = np.arange(2 * 10 * 3, dtype=np.uint8).reshape(2, 10, 3)
    im, b, g = horizontal_flip(image, np.array([1.0, 0, 3, 2]), np.array([2.0, 1]))
    assert np.array_equal(im, image[:, ::-1]) and list(b) == [7, 0, 9, 2] and list(g) == [8, 1]
    rng = np.random.default_rng(1)
    box = np.array([20.0, 20, 40, 30])
    for _ in range(100):
        j = jitter_box(box, 50, 35, rng)
        assert np.all(np.abs(j - box) <= 0.2 * np.array([20, 10, 20, 10]) + 1e-9)
        assert j[0] >= 0 and j[1] >= 0 and j[2] <= 50 and j[3] <= 35


def test_prepare_sample_target_follows_the_augmented_gaze():
    rng = np.random.default_rng(5)
    head = HeadAnnotation(head_xyxy=(10, 10, 20, 20), gaze_x_norm=(0.8,), gaze_y_norm=(0.5,), inout=1)
    image = np.zeros((40, 60, 3), np.uint8)
    flipped = 0
    for _ in range(30):
        p = prepare_sample(TrainSample(image_path=Path("x.png"), head=head), image, rng, AugmentConfig())
        h, w = p.image.shape[:2]
        r, c = np.unravel_index(np.argmax(p.target), p.target.shape)
        assert (r, c) == (min(int(p.gaze_norm[1] * 64), 63), min(int(p.gaze_norm[0] * 64), 63))
        flipped += p.gaze_norm[0] * w < p.box_norm[0] * w  # gaze left of the head only after a flip
    assert 0 < flipped < 30
    out = HeadAnnotation(head_xyxy_norm=(0.1, 0.1, 0.2, 0.2), gaze_x_norm=(-1.0,), gaze_y_norm=(-1.0,), inout=0)
    p = prepare_sample(TrainSample(image_path=Path("x.png"), head=out), image, rng, AugmentConfig.none())
    assert p.inout == 0 and p.gaze_norm is None and not p.target.any() and p.image.shape == image.shape


def test_split_and_samples(tmp_path):
    ds = read_jsonl(make_blob_dataset(tmp_path / "d", 8))
    train, val = split_dataset(ds, 0.25, seed=0)
    assert len(train.images) == 6 and len(val.images) == 2
    assert not {im.path for im in train.images} & {im.path for im in val.images}
    assert len(training_samples(ds, in_frame_only=True)) == 6 and len(training_samples(ds, in_frame_only=False)) == 8


# -- training ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_training_lowers_the_loss_and_checkpoint_round_trips(tmp_path, golden_dir, golden_model_inout):
    ds = read_jsonl(make_blob_dataset(tmp_path / "data", 8))
    model = fresh_model(golden_model_inout)
    before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    steps = []
    cache = FeatureCache(root=tmp_path / "cache", backbone=model.backbone)
    out = tmp_path / "ckpt" / "ft.pt"
    trainer = Trainer(model=model, samples=training_samples(ds, in_frame_only=False),
                      config=TrainConfig(epochs=3, batch_size=4, lr=1e-4, seed=0), feature_cache=cache, out=out,
                      progress=False, on_step=steps.append)
    assert trainer.use_inout_loss and not trainer.aug.image_augment  # cache on: crop/flip off, jitter kept
    records = trainer.fit()
    assert len(steps) == 6 and [r.epoch for r in records] == [1, 2, 3]
    first = np.mean([s.loss for s in steps[:2]])
    last = np.mean([s.loss for s in steps[-2:]])
    assert last < first, [s.loss for s in steps]
    assert np.mean([s.heatmap_loss for s in steps[-2:]]) < 0.5 * np.mean([s.heatmap_loss for s in steps[:2]])
    assert records[0].cache_misses == 8 and records[1].cache_hits == 8 and records[1].cache_misses == 0
    assert model.decoder.pos_embed.equal(before["pos_embed"])  # buffer, not trained
    assert not model.decoder.linear.weight.equal(before["linear.weight"])

    # the checkpoint: official key set and shapes, float32, loads back with identical outputs
    ckpt = torch.load(out, weights_only=True)
    official = torch.load(golden_dir / "gazelle_vits14_inout_random.pt", weights_only=True)
    assert list(ckpt) == list(official)
    assert all(ckpt[k].shape == official[k].shape and ckpt[k].dtype == torch.float32 for k in ckpt)
    loaded = GazeModel.from_files(backbone_weights=golden_dir / "dinov2_vits14_random.pth", gaze_weights=out)
    image = np.asarray(Image.open(ds.images[0].path).convert("RGB"))
    heads = [ds.images[0].heads[0].head_xyxy_norm, (0.5, 0.5, 0.7, 0.7), None]
    a, b = model.predict(image, heads), loaded.predict(image, heads)
    assert np.array_equal(a.heatmaps, b.heatmaps) and np.array_equal(a.inout, b.inout)
    assert not np.array_equal(a.heatmaps, golden_model_inout.predict(image, heads).heatmaps)

    log = [json.loads(x) for x in log_path_for(out).read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3] and all(r["loss"] > 0 for r in log)
    assert state_path_for(out).is_file()


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, golden_model_inout):
    ds = read_jsonl(make_blob_dataset(tmp_path / "data", 4, seed=1))
    samples = training_samples(ds, in_frame_only=False)
    cache_dir = tmp_path / "cache"
    cfg = TrainConfig(epochs=2, batch_size=2, lr=1e-4, seed=3, max_steps_per_epoch=1)

    def trainer(out: Path, model: GazeModel, config: TrainConfig = cfg) -> Trainer:
        cache = FeatureCache(root=cache_dir, backbone=model.backbone)
        return Trainer(model=model, samples=samples, config=config, feature_cache=cache, out=out, progress=False)

    straight = trainer(tmp_path / "a.pt", fresh_model(golden_model_inout))
    straight.fit()

    class Interrupted(Exception):
        pass

    def interrupt(record):
        raise Interrupted  # e.g. Ctrl-C or a crash right after epoch 1 was saved

    interrupted = trainer(tmp_path / "b.pt", fresh_model(golden_model_inout))
    interrupted.on_epoch = interrupt
    with pytest.raises(Interrupted):
        interrupted.fit()
    resumed = trainer(tmp_path / "b.pt", fresh_model(golden_model_inout))
    resumed.load_state(state_path_for(tmp_path / "b.pt"))
    assert resumed.epoch == 1
    resumed.fit()
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(log_path_for(tmp_path / "b.pt").read_text().splitlines()) == 2
    from gazecam.errors import GazecamError

    # a longer run from the saved state: the learning rate continues on the new cosine schedule
    longer = trainer(tmp_path / "b.pt", fresh_model(golden_model_inout), TrainConfig(**{**cfg.__dict__, "epochs": 4}))
    longer.load_state(state_path_for(tmp_path / "b.pt"))
    assert longer.epoch == 2 and longer.optimizer.param_groups[0]["lr"] == pytest.approx(
        cfg.eta_min + (cfg.lr - cfg.eta_min) * (1 + math.cos(math.pi * 2 / 4)) / 2)
    with pytest.raises(GazecamError, match="already completed 2 epochs"):
        trainer(tmp_path / "c.pt", fresh_model(golden_model_inout)).load_state(state_path_for(tmp_path / "b.pt"))
    with pytest.raises(GazecamError, match="not a gazecam training-state file"):
        trainer(tmp_path / "c.pt", fresh_model(golden_model_inout)).load_state(tmp_path / "b.pt")
    other_data = Trainer(model=fresh_model(golden_model_inout), samples=samples[:3],
                         config=TrainConfig(**{**cfg.__dict__, "epochs": 4}), progress=False)
    with pytest.raises(GazecamError, match="trained on 4 heads but this run has 3"):
        other_data.load_state(state_path_for(tmp_path / "b.pt"))


@pytest.mark.slow
def test_train_cli_writes_checkpoint_log_and_validation(tmp_path, golden_dir, capsys):
    from gazecam.cli import main

    data = make_blob_dataset(tmp_path / "data", 4, seed=2)
    out = tmp_path / "run" / "mine.pt"
    args = ["train", "--data", str(data), "--format", "jsonl", "--init", str(golden_dir / "gazelle_vits14_random.pt"),
            "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"), "--epochs", "1", "--batch-size", "2",
            "--max-steps", "1", "--val-split", "0.25", "--out", str(out), "--cache-features",
            str(tmp_path / "cache"), "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "epoch 1: loss" in printed and "val auc" in printed and "heatmap loss only" in printed
    rec = json.loads(log_path_for(out).read_text())
    assert rec["epoch"] == 1 and rec["steps"] == 1 and rec["val"]["num_images"] == 1
    GazeModel.from_files(backbone_weights=golden_dir / "dinov2_vits14_random.pth", gaze_weights=out)
    assert main(args) == 1  # refuses to overwrite an earlier run
    assert "already exists" in capsys.readouterr().err
    out.unlink()
    state_path_for(out).unlink()
    assert main(args) == 1  # nor append to its log
    assert "already exists" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--format", "jsonl", "--init", "nonexistent_model",
                 "--device", "cpu"]) == 1
    assert "not a zoo model" in capsys.readouterr().err


def test_train_reports_a_missing_image_before_loading_the_model(tmp_path, capsys, monkeypatch):
    import gazecam.commands.train as train_cmd
    from gazecam.cli import main

    monkeypatch.setattr(train_cmd, "_model_from_init", lambda args: pytest.fail("the model was loaded before the check"))
    path = make_blob_dataset(tmp_path / "data", 3, seed=1)
    rows = path.read_text().splitlines()
    rec = json.loads(rows[1])
    rec["image"] = "nowhere.png"
    rows[1] = json.dumps(rec)
    path.write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(path), "--format", "jsonl", "--init", "gazelle_dinov2_vitb14", "--out",
                 str(tmp_path / "o.pt"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert f"{path.name}:2: image" in err and "nowhere.png not found" in err and "Traceback" not in err
