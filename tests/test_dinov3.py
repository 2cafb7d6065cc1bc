"""gazelle-dinov3 models: the reference fixtures in ../shared/golden_dinov3, reproduced through every path.

Fixtures (random weights, produced by running gazelle-dinov3 + DINOv3 code): X = ViT-S+/16, S = ViT-Tiny,
both with the single-Linear in/out head.  The earlier GELU-MLP in/out head is checked with a variant
built here from the S fixture.  Tolerances (max abs) are those of issue 14, never loosened.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import FileServer, case_boxes, golden_family_fixtures, max_abs_diff, record_difference
from gazecam.model import GazeModel
from gazecam.weights import WeightsError

TOL_INPUT, TOL_BACKBONE, TOL_HEATMAP, TOL_INOUT = 1e-5, 1e-4, 1e-5, 1e-5
TOL_ORT = 1e-4
GOLDEN3 = Path(os.environ.get("GAZECAM_GOLDEN_DINOV3",
                              Path(__file__).resolve().parents[1].parent / "shared" / "golden_dinov3"))
VARIANTS = ("gazelle_dinov3_vits16plus_inout", "gazelle_dinov3_vit_tiny_inout")


def _record(key: str, value: float) -> float:
    return record_difference(f"dinov3 {key}", value)  # listed in the run's summary (tests/conftest.py)


gdir, meta, images, models = golden_family_fixtures(GOLDEN3, what="gazelle-dinov3",
                                                   expected="../shared/golden_dinov3", variants=VARIANTS)


def _with_training_state(model_state: dict, path: Path) -> Path:
    """Save ``model_state`` as gazelle-dinov3's training scripts do (optimizer, scheduler, RNG, args)."""
    params = [torch.zeros(2, 2, requires_grad=True)]
    opt = torch.optim.AdamW(params, lr=1e-3)
    params[0].grad = torch.ones(2, 2)
    opt.step()
    torch.save({
        "model": model_state, "optimizer": opt.state_dict(), "scheduler": None, "scaler": None, "epoch": 7,
        "train_global_step": 123, "best_min_l2": np.float64(0.0395), "best_epoch": 6, "timestamp": "20251022",
        "exp_dir": pathlib.PosixPath("/tmp/exp"), "args": {"lr": 1e-3, "ckpt": pathlib.PosixPath("/tmp/x.pt")},
        "rng_state": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
    }, path)
    return path


# -- the reference outputs ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_from_files(variant, gdir, meta, models, images):
    model = models[variant]
    assert model.input_size == 640 and model.featmap == 40 and model.family == "gazelle_dinov3"
    assert model.decoder.config.inout_head == "linear" and model.decoder.config.ln_eps == 1e-6
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        image = images[case["image"]]
        pixels = model.preprocess([image]).numpy()
        assert pixels.shape == ref["input"].shape == (1, 3, 640, 640)
        assert _record(f"{variant} torch input", max_abs_diff(pixels, ref["input"])) <= TOL_INPUT
        feats = model.backbone_features([image]).numpy()
        assert feats.shape == ref["backbone"].shape
        assert _record(f"{variant} torch backbone", max_abs_diff(feats, ref["backbone"])) <= TOL_BACKBONE
        pred = model.predict(image, boxes)
        assert pred.heatmaps.shape == ref["heatmaps"].shape == (len(boxes), 64, 64)
        assert _record(f"{variant} torch heatmaps", max_abs_diff(pred.heatmaps, ref["heatmaps"])) <= TOL_HEATMAP
        assert _record(f"{variant} torch inout", max_abs_diff(pred.inout, ref["inout"])) <= TOL_INOUT
        assert pred.points_norm.shape == (len(boxes), 2)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_onnxruntime(variant, gdir, meta, models, images, tmp_path_factory):
    import onnxruntime as ort

    from gazecam.backends import load_backend
    from gazecam.export import DECODER_ONNX, read_export_info

    d = tmp_path_factory.mktemp(f"export_{variant}")
    backend = load_backend("onnxruntime", model=models[variant], device="cpu", export_root=d)
    info = backend.info
    assert (info.input_size, info.featmap, info.out_size) == (640, 40, 64) and info.backbone == \
        models[variant].backbone.arch.name
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        image = images[case["image"]]
        assert _record(f"{variant} ort input", max_abs_diff(backend.preprocess(image), ref["input"])) <= TOL_ORT
        pred = backend.predict(image, boxes)
        assert _record(f"{variant} ort heatmaps", max_abs_diff(pred.heatmaps, ref["heatmaps"])) <= TOL_ORT
        assert _record(f"{variant} ort inout", max_abs_diff(pred.inout, ref["inout"])) <= TOL_ORT
    # the decoder graph takes any number of heads on the 40x40 grid
    export_dir = next(p.parent for p in d.rglob(DECODER_ONNX))
    assert read_export_info(export_dir).featmap == 40
    sess = ort.InferenceSession(str(export_dir / DECODER_ONNX), providers=["CPUExecutionProvider"])
    scene = np.random.default_rng(0).normal(size=(1, 256, 40, 40)).astype(np.float32)
    for n in (1, 3, 11):
        heat, inout = sess.run(None, {"scene": scene, "head_maps": np.zeros((n, 40, 40), np.float32)})
        assert heat.shape == (n, 64, 64) and inout.shape == (n,)


def test_torch_backend_default_cpu_path(gdir, meta, models, images):
    """TorchBackend (oneDNN linears on the CPU by default) on the S model."""
    from gazecam.backends.torch import TorchBackend

    variant = "gazelle_dinov3_vit_tiny_inout"
    backend = TorchBackend(model=models[variant])
    case, boxes = next(case_boxes(meta, variant))
    ref = np.load(gdir / case["file"])
    pred = backend.predict(images[case["image"]], boxes)
    assert _record(f"{variant} TorchBackend heatmaps", max_abs_diff(pred.heatmaps, ref["heatmaps"])) <= TOL_ORT
    assert _record(f"{variant} TorchBackend inout", max_abs_diff(pred.inout, ref["inout"])) <= TOL_ORT


# -- the earlier in/out head form -------------------------------------------------------------------
def _gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


@pytest.mark.slow
def test_mlp_inout_head_variant(gdir, meta, images, tmp_path):
    """A file with the pre-2025-10-23 head Linear(256,128)-GELU-Dropout-Linear(128,1), built from the S fixture.

    Hidden unit 5 copies the fixture's Linear head shifted by -3 (its input is z - 3, z = the fixture's
    logit, 2.7..3.1 here: near 0, where GELU and ReLU differ), the other 127 units are random with zero
    output weight, and the output layer is 2*h5 - 0.5: the expected in/out is sigmoid(2*gelu(z - 3) - 0.5),
    computed here from the fixture's in/out (z = logit(p)).
    """
    variant = "gazelle_dinov3_vit_tiny_inout"
    state = dict(torch.load(gdir / meta[variant]["checkpoint"], weights_only=True)["model"])
    w, b = state.pop("inout_head.0.weight").float(), state.pop("inout_head.0.bias").float()
    gen = torch.Generator().manual_seed(7)
    w1 = torch.randn(128, 256, generator=gen) * 0.05
    b1 = torch.randn(128, generator=gen) * 0.05
    w1[5], b1[5] = w[0], b[0] - 3.0
    w2 = torch.zeros(1, 128)
    w2[0, 5] = 2.0
    state.update({"inout_head.0.weight": w1, "inout_head.0.bias": b1, "inout_head.3.weight": w2,
                  "inout_head.3.bias": torch.tensor([-0.5])})
    path = _with_training_state(state, tmp_path / "mlp_head.pt")
    model = GazeModel.from_files(gaze_weights=path)
    assert model.decoder.config.inout_head == "mlp_gelu"
    assert isinstance(model.decoder.inout_head[1], torch.nn.GELU)
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        pred = model.predict(images[case["image"]], boxes)
        p = ref["inout"].astype(np.float64)
        want = 1.0 / (1.0 + np.exp(-(2.0 * _gelu(np.log(p / (1.0 - p)) - 3.0) - 0.5)))
        assert _record("MLP-head variant inout", max_abs_diff(pred.inout, want)) <= TOL_INOUT
        assert max_abs_diff(pred.heatmaps, ref["heatmaps"]) <= TOL_HEATMAP  # the in/out head does not touch them
    relu_like = 1.0 / (1.0 + np.exp(-(2.0 * np.maximum(np.log(p / (1.0 - p)) - 3.0, 0) - 0.5)))
    assert max_abs_diff(want, relu_like) > 1e-3  # the check tells GELU from Gaze-LLE's ReLU


# -- loading: training checkpoints, errors, round trip ------------------------------------------------
def test_training_checkpoint_loads_safely(gdir, meta, tmp_path):
    variant = "gazelle_dinov3_vit_tiny_inout"
    state = torch.load(gdir / meta[variant]["checkpoint"], weights_only=True)["model"]
    path = _with_training_state(state, tmp_path / "train_ckpt.pt")
    with pytest.raises(Exception):  # plain weights_only loading refuses the numpy RNG state / paths
        torch.load(path, weights_only=True)
    from gazecam.weights import load_state_dict_file

    loaded = load_state_dict_file(path)
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    evil = tmp_path / "evil.pt"
    torch.save({"model": {**state, "inout_head.0.bias": Evil()}, "rng_state": np.random.get_state()}, evil)
    with pytest.raises(WeightsError, match="cannot read .*could run code"):
        GazeModel.from_files(gaze_weights=evil)
    # code beside the weights (not in "model") is not skipped either: the whole file is refused
    torch.save({"model": state, "args": {"hook": Evil()}, "rng_state": np.random.get_state()}, evil)
    with pytest.raises(WeightsError, match="cannot read .*could run code"):
        GazeModel.from_files(gaze_weights=evil)
    assert not (tmp_path / "pwned").exists()  # nothing was executed
    # numpy arrays inside the weights: placeholders are never taken for tensors
    torch.save({"model": {**state, "inout_head.0.bias": np.zeros(1)}}, evil)
    with pytest.raises(WeightsError, match="objects other than tensors"):
        GazeModel.from_files(gaze_weights=evil)


def test_loading_errors_list_what_is_wrong(gdir, meta, tmp_path):
    state = torch.load(gdir / meta["gazelle_dinov3_vit_tiny_inout"]["checkpoint"], weights_only=True)["model"]
    decoder_only = {k: v for k, v in state.items() if not k.startswith("backbone.")}
    torch.save(decoder_only, tmp_path / "dec.pt")
    with pytest.raises(WeightsError, match=r"backbone_weights="):
        GazeModel.from_files(gaze_weights=tmp_path / "dec.pt")
    broken = {k: v for k, v in state.items() if k != "backbone.dinov3._model.blocks.3.mlp.fc2.bias"}
    torch.save({"model": broken}, tmp_path / "broken.pt")
    with pytest.raises(WeightsError) as e:
        GazeModel.from_files(gaze_weights=tmp_path / "broken.pt")
    assert "missing keys (1): blocks.3.mlp.fc2.bias" in str(e.value)
    broken = {**state, "transformer.1.norm1.weight": torch.zeros(255), "inout_head.7.weight": torch.zeros(1)}
    torch.save({"model": broken}, tmp_path / "broken2.pt")
    with pytest.raises(WeightsError) as e:
        GazeModel.from_files(gaze_weights=tmp_path / "broken2.pt")
    assert "transformer.1.norm1.weight: expected (256,), got (255,)" in str(e.value)
    assert "unexpected keys (1): inout_head.7.weight" in str(e.value)
    hgnet = {**decoder_only, "backbone.stem.stem1.conv.weight": torch.zeros(16, 3, 3, 3)}
    torch.save({"model": hgnet}, tmp_path / "hgnet.pt")
    with pytest.raises(WeightsError, match="HGNetV2"):
        GazeModel.from_files(gaze_weights=tmp_path / "hgnet.pt")
    with pytest.raises(WeightsError, match="backbone='dinov3_vits16plus' was asked for"):
        GazeModel.from_files(gaze_weights=gdir / "gazelle_dinov3_vit_tiny_inout_random.pt", backbone="dinov3_vits16plus")
    # a backbone file beside a whole-model file is ambiguous
    torch.save({k[len("backbone.dinov3._model."):]: v for k, v in state.items() if k.startswith("backbone.")},
               tmp_path / "bb.pt")
    with pytest.raises(WeightsError, match="already hold a backbone"):
        GazeModel.from_files(gaze_weights=gdir / "gazelle_dinov3_vit_tiny_inout_random.pt", backbone_weights=tmp_path / "bb.pt")
    # ... while a decoder-only file + that backbone file (DEIMv2 layout) is the same model
    split = GazeModel.from_files(gaze_weights=tmp_path / "dec.pt", backbone_weights=tmp_path / "bb.pt")
    assert split.backbone.arch.name == "dinov3_vit_tiny" and split.family == "gazelle_dinov3"


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_whole_model_round_trip(variant, gdir, meta, models, images):
    """official_checkpoint() is gazelle-dinov3's GazeLLE.state_dict(): same keys and shapes, same outputs."""
    model = models[variant]
    original = torch.load(gdir / meta[variant]["checkpoint"], weights_only=True)["model"]
    saved = model.official_checkpoint()
    assert set(saved) == set(original)
    assert all(saved[k].shape == original[k].shape and saved[k].dtype == torch.float32 for k in saved)
    # equal values, except what has no effect: DINOv3's masked k third of qkv.bias and the training-only mask_token
    for k in saved:
        if k.endswith("qkv.bias") and "bias_mask" not in k and variant.startswith("gazelle_dinov3_vits"):
            mask = original[k + "_mask"].float()
            assert torch.equal(saved[k] * mask, original[k].float() * mask), k
        elif not k.endswith("mask_token"):
            assert torch.equal(saved[k], original[k].float()), k
    again = GazeModel.from_state_dicts(gaze_state=saved)
    case, boxes = next(case_boxes(meta, variant))
    a, b = model.predict(images[case["image"]], boxes), again.predict(images[case["image"]], boxes)
    assert np.array_equal(a.heatmaps, b.heatmaps) and np.array_equal(a.inout, b.inout)


@pytest.mark.slow
def test_checkpoint_rope_periods_are_used(gdir, meta, images):
    """The RoPE periods come from the file (DINOv3's release stores rounded ones), not recomputed."""
    from gazecam.models.dinov3 import DinoV3Backbone

    variant = "gazelle_dinov3_vits16plus_inout"
    state = torch.load(gdir / meta[variant]["checkpoint"], weights_only=True)["model"]
    bb = {k[len("backbone.dinov3."):]: v for k, v in state.items() if k.startswith("backbone.dinov3.")}
    bb["rope_embed.periods"] = bb["rope_embed.periods"].to(torch.bfloat16).float()  # as in the DINOv3 release
    backbone = DinoV3Backbone(arch="dinov3_vits16plus")
    backbone.load_official(bb)
    assert torch.equal(backbone.vit.rope.periods, bb["rope_embed.periods"])
    assert torch.equal(backbone.official_state_dict()["rope_embed.periods"], bb["rope_embed.periods"])
    ref = np.load(gdir / next(case_boxes(meta, variant))[0]["file"])
    with torch.no_grad():
        feats = backbone.eval()(torch.from_numpy(ref["input"])).numpy()
    assert max_abs_diff(feats, ref["backbone"]) > 1e-3  # other periods, other features: they are really used


# -- zoo, download, CLI ------------------------------------------------------------------------------
def test_zoo_entries_urls_aliases_licence(capsys):
    from gazecam.cli import main
    from gazecam.zoo import DEFAULT_MODEL, ZOO, get_zoo_model

    names = {f"gazelle_dinov3_{v}{s}" for v in ("vit_tiny", "vit_tinyplus", "vits16", "vits16plus", "vitb16")
             for s in ("", "_inout")}
    assert names <= set(ZOO) and DEFAULT_MODEL == "gazelle_dinov2_vitb14_inout"
    for name in names:
        e = ZOO[name]
        assert len(e.files) == 1 and e.files[0].kind == "model" and e.backbone_file is None
        assert e.files[0].url == f"https://github.com/PINTO0309/gazelle-dinov3/releases/download/weights/{name}.pt"
        assert e.files[0].filename == f"{name}.pt" and e.inout == name.endswith("_inout")
        assert "DINOv3 License" in e.license and e.family == "gazelle_dinov3"
    assert get_zoo_model("dinov3-x-inout").name == "gazelle_dinov3_vits16plus_inout"
    assert get_zoo_model("dinov3-s").name == "gazelle_dinov3_vit_tiny"
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "license" in out and "DINOv3 License" in out and "Apache-2.0 (DINOv2)" in out
    line = next(x for x in out.splitlines() if "gazelle_dinov3_vits16plus_inout" in x)
    assert "dinov3-x-inout" in line and "DINOv3 License" in line


def test_zoo_download_of_a_training_checkpoint(gdir, meta, images, tmp_path):
    """The zoo path against a local server holding a release-like file (training state included)."""
    from gazecam.hub import ChecksumError

    variant = "gazelle_dinov3_vit_tiny_inout"
    served = _with_training_state(torch.load(gdir / meta[variant]["checkpoint"], weights_only=True)["model"],
                                  tmp_path / "served.pt")
    server = FileServer()
    try:
        server.routes[f"/{variant}.pt"] = served
        cache = tmp_path / "cache"
        model = GazeModel.from_pretrained("dinov3-s-inout", cache_dir=cache, mirror=server.url, progress=False)
        assert server.requests == [f"/{variant}.pt"]  # one download: no separate backbone
        assert model.released and model.note == "" and model.name == variant
        manifest = json.loads((cache / "manifest.json").read_text())
        from gazecam.weights import sha256_file

        assert manifest[f"{variant}.pt"]["sha256"] == sha256_file(served)  # recorded on first download
        case, boxes = next(case_boxes(meta, variant))
        ref = np.load(gdir / case["file"])
        pred = model.predict(images[case["image"]], boxes)
        assert max_abs_diff(pred.heatmaps, ref["heatmaps"]) <= TOL_HEATMAP and max_abs_diff(pred.inout, ref["inout"]) <= TOL_INOUT
        GazeModel.from_pretrained(variant, cache_dir=cache, mirror=server.url, progress=False)
        assert len(server.requests) == 1  # cached
        with open(cache / f"{variant}.pt", "r+b") as f:  # the cached file changes: refused, never re-used silently
            f.seek(100)
            f.write(b"\x00\x01\x02")
        with pytest.raises(ChecksumError):
            GazeModel.from_pretrained(variant, cache_dir=cache, mirror=server.url, progress=False)
        # a file of another architecture served under a released name: loads, marked as not released
        server.routes["/gazelle_dinov3_vits16plus_inout.pt"] = served
        other = GazeModel.from_pretrained("dinov3-x-inout", cache_dir=cache, mirror=server.url, progress=False)
        assert not other.released and "dinov3_vit_tiny" in other.note
    finally:
        server.close()


@pytest.mark.slow
def test_cli_gaze_weights_alone(gdir, tmp_path, capsys):
    from gazecam.cli import main
    from gazecam.export import read_export_info

    out = tmp_path / "exp"
    rc = main(["export", "--gaze-weights", str(gdir / "gazelle_dinov3_vit_tiny_inout_random.pt"), "-o", str(out),
               "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    info = read_export_info(out, verify_files=True)
    assert (info.backbone, info.input_size, info.featmap, info.inout) == ("dinov3_vit_tiny", 640, 40, True)
    rc = main(["export", "--backbone-weights", str(gdir / "gazelle_dinov3_vit_tiny_inout_random.pt"), "-o",
               str(tmp_path / "x"), "--device", "cpu"])
    assert rc == 1 and "--gaze-weights" in capsys.readouterr().err


# -- eval, train, bench ------------------------------------------------------------------------------
@pytest.mark.slow
def test_eval_with_a_dinov3_model(models, images, tmp_path):
    from gazecam.research.eval import metrics as M
    from gazecam.research.eval.datasets import load_dataset, load_rgb
    from gazecam.research.eval.evaluate import evaluate

    model = models["gazelle_dinov3_vit_tiny_inout"]
    root = tmp_path / "vat"
    src = images["chelsea.png"]
    for i in (1, 2):
        p = root / f"images/show/clip/{i:05d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(src[::4, ::4][:, i:])).save(p)
    ann = root / "annotations/test/show/clip"
    ann.mkdir(parents=True)
    (ann / "p1.txt").write_text("00001.jpg,5,5,30,30,80,40\n00002.jpg,5,5,30,30,-1,-1\n")
    (ann / "p2.txt").write_text("00001.jpg,70,10,100,40,20,60\n")
    ds = load_dataset("vat", root)
    scores = evaluate(model, ds, batch_size=2, progress=False)
    aucs, l2s, gts, preds = [], [], [], []
    for im in ds.images:
        image = load_rgb(im.path)
        h, w = image.shape[:2]
        pred = model.predict(image, [hd.box_norm(w, h) for hd in im.heads])
        for j, hd in enumerate(im.heads):
            if hd.inout == 1:
                aucs.append(M.vat_auc(pred.heatmaps[j], hd.gaze_x_norm[0], hd.gaze_y_norm[0]))
                l2s.append(M.vat_l2(pred.heatmaps[j], hd.gaze_x_norm[0], hd.gaze_y_norm[0]))
            gts.append(hd.inout)
            preds.append(float(pred.inout[j]))
    assert (scores.num_images, scores.num_heads) == (2, 3)
    assert scores.auc == pytest.approx(np.mean(aucs), abs=1e-6)
    assert scores.l2 == pytest.approx(np.mean(l2s), abs=1e-6)
    assert scores.ap == pytest.approx(M.inout_ap(gts, preds), abs=1e-6)


@pytest.mark.slow
def test_train_decoder_on_frozen_dinov3_backbone(gdir, meta, tmp_path):
    from gazecam.research.eval.datasets import read_jsonl
    from gazecam.research.train.loop import Trainer, TrainConfig
    from gazecam.research.train.data import training_samples

    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(4):
        im = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(im).save(tmp_path / f"img/{i}.png")
        lines.append(json.dumps({"image": f"img/{i}.png", "head_xyxy_norm": [0.1, 0.1, 0.3, 0.35],
                                 "gaze_xy_norm": None if i == 3 else [0.7, 0.6]}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    ds = read_jsonl(tmp_path / "train.jsonl")
    model = GazeModel.from_files(gaze_weights=gdir / meta["gazelle_dinov3_vit_tiny_inout"]["checkpoint"])
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    decoder_before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    out = tmp_path / "ft.pt"
    trainer = Trainer(model=model, samples=training_samples(ds, in_frame_only=False),
                      config=TrainConfig(epochs=1, batch_size=2, lr=1e-3, seed=0, max_steps_per_epoch=2),
                      out=out, progress=False)
    (record,) = trainer.fit()
    assert record.steps == 2 and math.isfinite(record.loss)
    assert all(torch.equal(v, backbone_before[k]) for k, v in model.backbone.state_dict().items())
    assert not torch.equal(model.decoder.linear.weight, decoder_before["linear.weight"])
    # saved as gazelle-dinov3 saves: {"model": whole state dict}; loads from that one file
    saved = torch.load(out, weights_only=True)
    original = torch.load(gdir / meta["gazelle_dinov3_vit_tiny_inout"]["checkpoint"], weights_only=True)["model"]
    assert list(saved) == ["model"] and set(saved["model"]) == set(original)
    loaded = GazeModel.from_files(gaze_weights=out)
    image = np.asarray(Image.open(tmp_path / "img/0.png").convert("RGB"))
    heads = [(0.1, 0.1, 0.3, 0.35), None]
    a, b = model.predict(image, heads), loaded.predict(image, heads)
    assert np.array_equal(a.heatmaps, b.heatmaps) and np.array_equal(a.inout, b.inout)


@pytest.mark.slow
def test_bench_random_dinov3_against_the_gazelle_reference(tmp_path, capsys):
    from gazecam.cli import main

    out = tmp_path / "bench.json"
    rc = main(["bench", "--backbone", "dinov3_vit_tiny", "--device", "cpu", "--frames", "1", "--warmup", "0",
               "--heads", "1", "--backends", "torch", "--no-detect", "--no-render", "--width", "96", "--height", "64",
               "--compare", "dinov3_vit_tinyplus", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    rows = {r["label"]: r for r in report["results"]}
    assert set(rows) == {"reference", "torch", "dinov3_vit_tinyplus torch"}
    assert rows["torch"]["max_heatmap_diff"] <= 1e-3  # same model as the reference
    assert rows["dinov3_vit_tinyplus torch"]["max_heatmap_diff"] is None  # another model: timed only
    assert report["summary"][0]["best"] == "torch"
    assert "dinov3_vit_tinyplus torch" in capsys.readouterr().out


@pytest.mark.slow
def test_random_models_of_every_architecture_run():
    from gazecam.models.archs import DINOV3_ARCHS

    image = np.zeros((48, 64, 3), np.uint8)
    for arch in ("dinov3_vit_tinyplus", "dinov3_vits16", "dinov3_vitb16"):  # the fixtures cover the other two
        model = GazeModel.from_random(backbone=arch, inout=False)
        a = DINOV3_ARCHS[arch]
        assert model.backbone_features([image]).shape == (1, a.embed_dim, 40, 40)
        pred = model.predict(image, [(0.1, 0.1, 0.3, 0.3)])
        assert pred.heatmaps.shape == (1, 64, 64) and pred.inout is None
