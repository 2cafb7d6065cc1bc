"""gazelle-dinov3's CNN models (HGNetV2 Atto / Femto / Pico / N): reference fixtures reproduced through every path.

Fixtures: ../shared/golden_hgnetv2 (Atto in/out at 320, Femto at 416, N in/out at 640; random weights, produced
by running the reference code) and tests/data/hgnetv2_pico_inout_reference.npz (Pico in/out at 640: outputs of
the reference code for weights rebuilt here from a seed; made by scripts/make_hgnetv2_pico_fixture.py).
Tolerances (max abs) are the issue's, never loosened.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fakes import case_boxes, golden_family_fixtures, max_abs_diff, record_difference
from gazecam.model import GazeModel
from gazecam.weights import WeightsError

TOL_INPUT, TOL_BACKBONE, TOL_HEATMAP, TOL_INOUT = 1e-5, 1e-4, 1e-5, 1e-5
TOL_ORT = 1e-4
GOLDEN = Path(os.environ.get("GAZECAM_GOLDEN_HGNETV2",
                             Path(__file__).resolve().parents[1].parent / "shared" / "golden_hgnetv2"))
PICO = Path(__file__).resolve().parent / "data" / "hgnetv2_pico_inout_reference.npz"
VARIANTS = ("gazelle_hgnetv2_atto_inout", "gazelle_hgnetv2_femto", "gazelle_hgnetv2_n_inout")
OUT_SIZE = {"gazelle_hgnetv2_atto_inout": 32, "gazelle_hgnetv2_femto": 48, "gazelle_hgnetv2_n_inout": 64}


gdir, meta, images, models = golden_family_fixtures(GOLDEN, what="HGNetV2", expected="../shared/golden_hgnetv2",
                                                   variants=VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_from_files(variant, gdir, meta, models, images):
    model = models[variant]
    assert model.backbone.arch.name == variant.replace("gazelle_", "").replace("_inout", "")
    assert model.heatmap_size == OUT_SIZE[variant] and not model.normalizes_input
    assert model.featmap == meta[variant]["featmap"][0]
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        image = images[case["image"]]
        pixels = model.preprocess([image])
        assert record_difference("hgnetv2 torch input", max_abs_diff(pixels.numpy(), ref["input"])) <= TOL_INPUT
        assert record_difference("hgnetv2 torch backbone",
                                 max_abs_diff(model.backbone_features([image]).numpy(), ref["backbone"])) <= TOL_BACKBONE
        pred = model.predict(image, boxes)
        assert pred.heatmaps.shape == ref["heatmaps"].shape
        assert record_difference("hgnetv2 heatmaps", max_abs_diff(pred.heatmaps, ref["heatmaps"])) <= TOL_HEATMAP
        if ref["inout"].size:
            assert pred.inout is not None and record_difference("hgnetv2 inout", max_abs_diff(pred.inout, ref["inout"])) <= TOL_INOUT
        else:
            assert pred.inout is None


def _pico_model(tmp_path: Path) -> GazeModel:
    """Pico in/out with the weights the reference run used (rebuilt from the seed; see the fixture script)."""
    spec = importlib.util.spec_from_file_location(
        "make_pico", Path(__file__).resolve().parents[1] / "scripts" / "make_hgnetv2_pico_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    layout = GazeModel.from_random(backbone="hgnetv2_pico", inout=True).official_checkpoint()
    path = tmp_path / "pico_random.pt"
    torch.save({"model": mod.random_state(layout)}, path)
    return GazeModel.from_files(gaze_weights=path)


def test_pico_against_the_reference_run(images, tmp_path):
    ref = np.load(PICO)
    model = _pico_model(tmp_path)
    assert model.heatmap_size == 64 and model.featmap == 40
    cases = {"astronaut": [(0.35, 0.05, 0.62, 0.42)],
             "chelsea": [(0.05, 0.05, 0.3, 0.35), (0.4, 0.1, 0.7, 0.5), None]}
    for name, boxes in cases.items():
        image = images[f"{name}.png"]
        feats = model.backbone_features([image]).numpy()[:, ::8, ::4, ::4]
        assert max_abs_diff(feats, ref[f"{name}_backbone_subset"]) <= TOL_BACKBONE
        pred = model.predict(image, boxes)
        assert max_abs_diff(pred.heatmaps, ref[f"{name}_heatmaps"]) <= TOL_HEATMAP
        assert max_abs_diff(pred.inout, ref[f"{name}_inout"]) <= TOL_INOUT


def test_batchnorm_folding_matches_the_unfolded_layers(models, images):
    """The folded (inference) path equals conv -> BatchNorm computed separately, and follows weight changes."""
    from gazecam.models.hgnetv2 import _ConvBNAct

    model = models["gazelle_hgnetv2_femto"]
    pixels = model.preprocess([images["chelsea.png"]])
    with torch.no_grad():
        folded = model.backbone(pixels)
        layers = [m for m in model.backbone.modules() if isinstance(m, _ConvBNAct)]
        for m in layers:
            m.conv.weight.requires_grad_(True)  # forces the unfolded conv -> bn path
        with torch.enable_grad():
            plain = model.backbone(pixels).detach()
        for m in layers:
            m.conv.weight.requires_grad_(False)
    assert max_abs_diff(folded, plain) <= TOL_BACKBONE
    stem = model.backbone.stem.stem1
    before = stem(pixels)
    old = stem.bn.running_mean.clone()
    try:
        stem.bn.running_mean.add_(0.5)  # a weight change after folding is seen by the next call
        assert max_abs_diff(stem(pixels), before) > 1e-3
    finally:
        stem.bn.running_mean.copy_(old)
    assert max_abs_diff(stem(pixels), before) == 0.0


def test_n_checkpoint_unused_fourth_stage_is_dropped(gdir, meta, models):
    state = torch.load(gdir / meta["gazelle_hgnetv2_n_inout"]["checkpoint"], weights_only=True)["model"]
    assert any(k.startswith("backbone.stages.3.") for k in state)  # the reference computes it, never uses it
    model = models["gazelle_hgnetv2_n_inout"]
    assert len(model.backbone.stages) == 3
    saved = model.official_checkpoint()
    assert not any(k.startswith("backbone.stages.3.") for k in saved)
    for k, v in saved.items():  # everything else round-trips exactly
        assert torch.equal(v.float(), state[k].float()), k


@pytest.mark.parametrize("variant", ("gazelle_hgnetv2_atto_inout", "gazelle_hgnetv2_femto"))
def test_whole_model_round_trip(variant, models, images, tmp_path):
    model = models[variant]
    path = tmp_path / "again.pt"
    torch.save({"model": model.official_checkpoint(), "optimizer": {"state": {}, "param_groups": []}, "epoch": 3},
               path)
    again = GazeModel.from_files(gaze_weights=path)
    image, boxes = images["chelsea.png"], [(0.05, 0.05, 0.3, 0.35), None]
    a, b = model.predict(image, boxes), again.predict(image, boxes)
    assert max_abs_diff(a.heatmaps, b.heatmaps) == 0.0


def test_loading_errors_list_what_is_wrong(gdir, meta, tmp_path):
    state = torch.load(gdir / meta["gazelle_hgnetv2_femto"]["checkpoint"], weights_only=True)["model"]
    broken = dict(state)
    broken.pop("backbone.stem.stem2a.conv.weight")
    path = tmp_path / "broken.pt"
    torch.save({"model": broken}, path)
    with pytest.raises(WeightsError, match="missing keys.*stem.stem2a.conv.weight"):
        GazeModel.from_files(gaze_weights=path)
    no_stages = {k: v for k, v in state.items() if not k.startswith("backbone.stages.")}
    torch.save({"model": no_stages}, path)
    with pytest.raises(WeightsError, match="HGNetV2 backbone with 0 stages.*matches none of hgnetv2_atto"):
        GazeModel.from_files(gaze_weights=path)
    wrong = dict(state)
    wrong["linear.weight"] = torch.zeros(256, 384, 1, 1)  # decoder for another backbone width
    torch.save({"model": wrong}, path)
    with pytest.raises(WeightsError, match="512"):
        GazeModel.from_files(gaze_weights=path)


def test_zoo_entries_urls_aliases_licence():
    from gazecam.zoo import LICENSE_DINOV3, ZOO, get_zoo_model

    names = [f"gazelle_hgnetv2_{v}{s}" for s in ("", "_inout") for v in ("atto", "femto", "pico", "n")]
    for name in names:
        m = ZOO[name]
        assert m.decoder.url == f"https://github.com/PINTO0309/gazelle-dinov3/releases/download/weights/{name}_distill.pt"
        assert m.decoder.kind == "model" and m.backbone_file is None and m.license == LICENSE_DINOV3
        assert m.inout == name.endswith("_inout") and m.published is not None
        assert get_zoo_model(m.aliases[0]) is m
    assert get_zoo_model("hgnet-atto").published.auc == 0.9267
    assert get_zoo_model("hgnet-n-inout").published.inout_ap == 0.9012
    assert get_zoo_model("hgnet-femto").backbone == "hgnetv2_femto"


def test_zoo_download_of_a_training_checkpoint(gdir, meta, images, tmp_path):
    """The zoo path (cache + download from a local server) gives the fixture model, marked released."""
    from fakes import FileServer

    src = torch.load(gdir / meta["gazelle_hgnetv2_atto_inout"]["checkpoint"], weights_only=True)
    served = tmp_path / "served.pt"
    torch.save({"model": src["model"], "optimizer": {"state": {}, "param_groups": []}, "epoch": 1}, served)
    server = FileServer()
    try:
        server.routes["/gazelle_hgnetv2_atto_inout_distill.pt"] = served
        model = GazeModel.from_pretrained("hgnet-atto-inout", cache_dir=tmp_path / "cache", mirror=server.url,
                                          progress=False)
        assert server.requests == ["/gazelle_hgnetv2_atto_inout_distill.pt"]
        # another layout served under a released name: loads, marked as not released
        server.routes["/gazelle_hgnetv2_femto_inout_distill.pt"] = served
        other = GazeModel.from_pretrained("hgnet-femto-inout", cache_dir=tmp_path / "cache", mirror=server.url,
                                          progress=False)
        assert not other.released and "hgnetv2_atto" in other.note
    finally:
        server.close()
    assert model.released and model.name == "gazelle_hgnetv2_atto_inout" and model.heatmap_size == 32
    case, boxes = next(case_boxes(meta, "gazelle_hgnetv2_atto_inout"))
    ref = np.load(gdir / case["file"])
    assert max_abs_diff(model.predict(images[case["image"]], boxes).heatmaps, ref["heatmaps"]) <= TOL_HEATMAP


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_onnxruntime(variant, gdir, meta, models, images, tmp_path_factory):
    from gazecam.backends import load_backend
    from gazecam.export import read_export_info

    d = tmp_path_factory.mktemp(f"export_{variant}")
    backend = load_backend("onnxruntime", model=models[variant], device="cpu", export_root=d)
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        pred = backend.predict(images[case["image"]], boxes)
        assert pred.heatmaps.shape == ref["heatmaps"].shape
        assert max_abs_diff(pred.heatmaps, ref["heatmaps"]) <= TOL_ORT
        if ref["inout"].size:
            assert max_abs_diff(pred.inout, ref["inout"]) <= TOL_ORT
    info = read_export_info(backend.export_dir)
    assert (info.featmap, info.out_size) == (meta[variant]["featmap"][0], OUT_SIZE[variant])


def test_torch_backend_cpu_path(gdir, meta, models, images):
    from gazecam.backends import load_backend

    variant = "gazelle_hgnetv2_atto_inout"
    backend = load_backend("torch", model=models[variant], device="cpu")
    for case, boxes in case_boxes(meta, variant):
        ref = np.load(gdir / case["file"])
        pred = backend.predict(images[case["image"]], boxes)
        assert record_difference("hgnetv2 heatmaps", max_abs_diff(pred.heatmaps, ref["heatmaps"])) <= TOL_HEATMAP
        assert max_abs_diff(pred.inout, ref["inout"]) <= TOL_INOUT


def _reference_vat(heatmap: np.ndarray, gx: float, gy: float) -> tuple[float, float]:
    """gazelle-dinov3's VAT validation, literally: resize to 64x64 (bilinear), then ``vat_auc`` / ``vat_l2``."""
    from sklearn.metrics import roc_auc_score

    hm = torch.nn.functional.interpolate(torch.from_numpy(heatmap)[None, None], size=(64, 64), mode="bilinear",
                                         align_corners=False)[0, 0]
    target = np.zeros((64, 64))
    ul = [max(0, int(gx * 64 - 9)), max(0, int(gy * 64 - 9))]
    br = [min(int(gx * 64 + 10), 63), min(int(gy * 64 + 10), 63)]
    target[ul[1]:br[1], ul[0]:br[0]] = 1
    auc = roc_auc_score(target.flatten(), hm.flatten())
    py, px = np.unravel_index(hm.flatten().argmax().item(), (64, 64))
    return float(auc), float(np.sqrt((px / 64.0 - gx) ** 2 + (py / 64.0 - gy) ** 2))


def _reference_gazefollow_l2(heatmap: np.ndarray, gxs: list[float], gys: list[float]) -> tuple[float, float]:
    """gazelle-dinov3's ``gazefollow_l2`` on the map as it is (its eval_gazefollow.py): (col / W, row / H)."""
    py, px = np.unravel_index(int(heatmap.flatten().argmax()), heatmap.shape)
    px, py = px / float(heatmap.shape[1]), py / float(heatmap.shape[0])
    gx, gy = np.array(gxs), np.array(gys)
    return float(np.sqrt((px - gx.mean()) ** 2 + (py - gy.mean()) ** 2)), float(np.sqrt((px - gx) ** 2 + (py - gy) ** 2).min())


@pytest.mark.parametrize("size", (32, 48))
def test_small_heatmaps_are_scored_as_the_reference(size):
    from gazecam.research.eval import metrics as M

    rng = np.random.default_rng(size)
    for _ in range(5):
        hm = rng.random((size, size)).astype(np.float32)
        gx, gy = (float(v) for v in rng.uniform(0.05, 0.95, 2))
        auc, l2 = _reference_vat(hm, gx, gy)
        assert M.vat_auc(hm, gx, gy) == pytest.approx(auc, abs=1e-12)
        assert M.vat_l2(hm, gx, gy) == pytest.approx(l2, abs=1e-12)
        gxs, gys = [gx, gx + 0.01, -1.0], [gy, gy - 0.02, -1.0]
        assert M.gazefollow_l2(hm, gxs, gys) == pytest.approx(_reference_gazefollow_l2(hm, gxs, gys), abs=1e-12)
        ref_auc = M.gazefollow_auc(torch.from_numpy(hm), gxs, gys, 37, 53)  # torch and numpy maps alike
        assert M.gazefollow_auc(hm, gxs, gys, 37, 53) == ref_auc and 0.0 <= ref_auc <= 1.0


# -- through the commands: process, eval, train --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("backend", ("torch", "onnxruntime"))
def test_process_command_with_a_32x32_model(backend, gdir, meta, tmp_path, capsys):
    from test_cli_process import make_video, video_info, write_heads

    from gazecam.cli import main

    video = make_video(tmp_path / "in.mp4", n=4, fps=10, audio=False)
    heads = write_heads(tmp_path / "heads.jsonl", 4)
    out, rec = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    code = main(["process", str(video), "-o", str(out), "--records", str(rec), "--heads", str(heads),
                 "--gaze-weights", str(gdir / meta["gazelle_hgnetv2_atto_inout"]["checkpoint"]), "--device", "cpu",
                 "--backend", backend])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err
    assert video_info(out)["frames"] == 4
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert len(lines) == 8 and all(0.0 <= ln["inout"] <= 1.0 for ln in lines)


def test_eval_with_a_32x32_model(models, images, tmp_path):
    """The eval library on Atto's 32x32 maps: VAT scores computed on the maps resized to 64 (the reference's)."""
    from gazecam.research.eval.datasets import load_dataset, load_rgb
    from gazecam.research.eval.evaluate import evaluate

    model = models["gazelle_hgnetv2_atto_inout"]
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
    aucs, l2s = [], []
    for im in ds.images:
        image = load_rgb(im.path)
        h, w = image.shape[:2]
        pred = model.predict(image, [hd.box_norm(w, h) for hd in im.heads])
        assert pred.heatmaps.shape[1:] == (32, 32)
        for j, hd in enumerate(im.heads):
            if hd.inout == 1:
                auc, l2 = _reference_vat(pred.heatmaps[j], hd.gaze_x_norm[0], hd.gaze_y_norm[0])
                aucs.append(auc)
                l2s.append(l2)
    assert (scores.num_images, scores.num_heads) == (2, 3)
    assert scores.auc == pytest.approx(np.mean(aucs), abs=1e-6)
    assert scores.l2 == pytest.approx(np.mean(l2s), abs=1e-6)


def test_train_decoder_on_a_frozen_48x48_model(gdir, meta, tmp_path):
    """Training targets at the model's heatmap size (48 for Femto, sigma 3), backbone frozen, file round trip."""
    from gazecam.research.eval.datasets import read_jsonl
    from gazecam.research.train.data import AugmentConfig, collate, training_samples
    from gazecam.research.train.loop import TrainConfig, Trainer

    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(4):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(tmp_path / f"img/{i}.png")
        lines.append(json.dumps({"image": f"img/{i}.png", "head_xyxy_norm": [0.1, 0.1, 0.3, 0.35],
                                 "gaze_xy_norm": None if i == 3 else [0.7, 0.6]}))
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    samples = training_samples(read_jsonl(tmp_path / "train.jsonl"), in_frame_only=False)
    batch = collate(samples[:2], np.random.default_rng(0), AugmentConfig.none(), 48)
    assert batch.targets.shape == (2, 48, 48) and batch.targets[0].max() == 1.0
    assert np.unravel_index(batch.targets[0].argmax(), (48, 48)) == (int(0.6 * 48), int(0.7 * 48))
    model = GazeModel.from_files(gaze_weights=gdir / meta["gazelle_hgnetv2_femto"]["checkpoint"])
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    out = tmp_path / "ft.pt"
    trainer = Trainer(model=model, samples=samples,
                      config=TrainConfig(epochs=1, batch_size=2, lr=1e-3, seed=0, max_steps_per_epoch=2),
                      out=out, progress=False)
    (record,) = trainer.fit()
    assert record.steps == 2 and np.isfinite(record.loss)
    assert all(torch.equal(v, backbone_before[k]) for k, v in model.backbone.state_dict().items())
    loaded = GazeModel.from_files(gaze_weights=out)
    image = np.asarray(Image.open(tmp_path / "img/0.png").convert("RGB"))
    a, b = model.predict(image, [(0.1, 0.1, 0.3, 0.35)]), loaded.predict(image, [(0.1, 0.1, 0.3, 0.35)])
    assert a.heatmaps.shape == (1, 48, 48) and np.array_equal(a.heatmaps, b.heatmaps)


def test_cpu_guidance_names_the_real_time_model_once(golden_dir, gdir, meta):
    """A ViT model on the CPU: one line naming the real-time model and its licence; none for the CNN models."""
    from gazecam.loading import ModelSpec, load_model
    from gazecam.zoo import CPU_REALTIME_MODEL, ZOO

    said: list[str] = []
    load_model(ModelSpec(backbone="dinov2_vits14", backbone_weights=golden_dir / "dinov2_vits14_random.pth",
                         gaze_weights=golden_dir / "gazelle_vits14_inout_random.pt", device="cpu", backend="torch"),
               notify=said.append)
    hints = [s for s in said if "real time" in s]
    assert len(hints) == 1 and "\n" not in hints[0]
    assert ZOO[CPU_REALTIME_MODEL].aliases[0] in hints[0] and ZOO[CPU_REALTIME_MODEL].license in hints[0]
    said.clear()
    load_model(ModelSpec(gaze_weights=gdir / meta["gazelle_hgnetv2_atto_inout"]["checkpoint"], device="cpu",
                         backend="torch"), notify=said.append)
    assert not [s for s in said if "real time" in s]


def test_no_heads_gives_maps_of_the_model_size(models, images):
    from gazecam.backends import load_backend

    model = models["gazelle_hgnetv2_femto"]
    for runner in (model, load_backend("torch", model=model, device="cpu")):
        pred = runner.predict(images["chelsea.png"], [])
        assert pred.heatmaps.shape == (0, 48, 48) and pred.inout is None


def test_decoder_runs_every_head_in_one_fused_pass(models, images):
    """All heads in one decoder batch with fused attention (scaled_dot_product_attention), equal to one-by-one."""
    model = models["gazelle_hgnetv2_atto_inout"]
    assert all(blk.attn.fused_attn for blk in model.decoder.transformer)
    calls = []
    hook = model.decoder.transformer.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    boxes = [(0.05, 0.05, 0.3, 0.35), (0.4, 0.1, 0.7, 0.5), None, (0.6, 0.6, 0.9, 0.95), (0.0, 0.5, 0.2, 0.8)]
    try:
        feats = model.encode(images["chelsea.png"])
        together = model.decode(feats, boxes)
        assert calls == [5]  # one pass for the five heads
        alone = [model.decode(feats, [b]) for b in boxes]
    finally:
        hook.remove()
    assert max_abs_diff(together.heatmaps, np.concatenate([a.heatmaps for a in alone])) <= 1e-5
    assert max_abs_diff(together.inout, np.concatenate([a.inout for a in alone])) <= 1e-5
