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

from gazecam.model import GazeModel
from gazecam.weights import WeightsError

TOL_INPUT, TOL_BACKBONE, TOL_HEATMAP, TOL_INOUT = 1e-5, 1e-4, 1e-5, 1e-5
TOL_ORT = 1e-4
GOLDEN = Path(os.environ.get("GAZECAM_GOLDEN_HGNETV2",
                             Path(__file__).resolve().parents[1].parent / "shared" / "golden_hgnetv2"))
PICO = Path(__file__).resolve().parent / "data" / "hgnetv2_pico_inout_reference.npz"
VARIANTS = ("gazelle_hgnetv2_atto_inout", "gazelle_hgnetv2_femto", "gazelle_hgnetv2_n_inout")
OUT_SIZE = {"gazelle_hgnetv2_atto_inout": 32, "gazelle_hgnetv2_femto": 48, "gazelle_hgnetv2_n_inout": 64}


def _maxdiff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


@pytest.fixture(scope="module")
def gdir() -> Path:
    if not (GOLDEN / "cases.json").is_file():
        pytest.fail(f"HGNetV2 fixtures not found at {GOLDEN} (expected ../shared/golden_hgnetv2)")
    return GOLDEN


@pytest.fixture(scope="module")
def meta(gdir) -> dict:
    return json.loads((gdir / "cases.json").read_text())["variants"]


@pytest.fixture(scope="module")
def images(golden_dir) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p).convert("RGB")) for p in (golden_dir / "images").glob("*.png")}


@pytest.fixture(scope="module")
def models(gdir, meta) -> dict[str, GazeModel]:
    return {v: GazeModel.from_files(gaze_weights=gdir / meta[v]["checkpoint"], device="cpu") for v in VARIANTS}


def _cases(meta, variant):
    for c in meta[variant]["cases"]:
        yield c, [None if b is None else tuple(b) for b in c["bboxes"]]


@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_from_files(variant, gdir, meta, models, images):
    model = models[variant]
    assert model.backbone.arch.name == variant.replace("gazelle_", "").replace("_inout", "")
    assert model.heatmap_size == OUT_SIZE[variant] and not model.normalizes_input
    assert model.featmap == meta[variant]["featmap"][0]
    for case, boxes in _cases(meta, variant):
        ref = np.load(gdir / case["file"])
        image = images[case["image"]]
        pixels = model.preprocess([image])
        assert _maxdiff(pixels.numpy(), ref["input"]) <= TOL_INPUT
        assert _maxdiff(model.backbone_features([image]).numpy(), ref["backbone"]) <= TOL_BACKBONE
        pred = model.predict(image, boxes)
        assert pred.heatmaps.shape == ref["heatmaps"].shape
        assert _maxdiff(pred.heatmaps, ref["heatmaps"]) <= TOL_HEATMAP
        if ref["inout"].size:
            assert pred.inout is not None and _maxdiff(pred.inout, ref["inout"]) <= TOL_INOUT
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
        assert _maxdiff(feats, ref[f"{name}_backbone_subset"]) <= TOL_BACKBONE
        pred = model.predict(image, boxes)
        assert _maxdiff(pred.heatmaps, ref[f"{name}_heatmaps"]) <= TOL_HEATMAP
        assert _maxdiff(pred.inout, ref[f"{name}_inout"]) <= TOL_INOUT


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
    assert _maxdiff(folded, plain) <= TOL_BACKBONE
    stem = model.backbone.stem.stem1
    before = stem(pixels)
    old = stem.bn.running_mean.clone()
    try:
        stem.bn.running_mean.add_(0.5)  # a weight change after folding is seen by the next call
        assert _maxdiff(stem(pixels), before) > 1e-3
    finally:
        stem.bn.running_mean.copy_(old)
    assert _maxdiff(stem(pixels), before) == 0.0


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
    assert _maxdiff(a.heatmaps, b.heatmaps) == 0.0


def test_loading_errors_list_what_is_wrong(gdir, meta, tmp_path):
    state = torch.load(gdir / meta["gazelle_hgnetv2_femto"]["checkpoint"], weights_only=True)["model"]
    broken = dict(state)
    broken.pop("backbone.stem.stem2a.conv.weight")
    path = tmp_path / "broken.pt"
    torch.save({"model": broken}, path)
    with pytest.raises(WeightsError, match="missing keys.*stem.stem2a.conv.weight"):
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
    case, boxes = next(_cases(meta, "gazelle_hgnetv2_atto_inout"))
    ref = np.load(gdir / case["file"])
    assert _maxdiff(model.predict(images[case["image"]], boxes).heatmaps, ref["heatmaps"]) <= TOL_HEATMAP


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_golden_cases_through_onnxruntime(variant, gdir, meta, models, images, tmp_path_factory):
    from gazecam.backends import load_backend
    from gazecam.export import read_export_info

    d = tmp_path_factory.mktemp(f"export_{variant}")
    backend = load_backend("onnxruntime", model=models[variant], device="cpu", export_root=d)
    for case, boxes in _cases(meta, variant):
        ref = np.load(gdir / case["file"])
        pred = backend.predict(images[case["image"]], boxes)
        assert pred.heatmaps.shape == ref["heatmaps"].shape
        assert _maxdiff(pred.heatmaps, ref["heatmaps"]) <= TOL_ORT
        if ref["inout"].size:
            assert _maxdiff(pred.inout, ref["inout"]) <= TOL_ORT
    info = read_export_info(backend.export_dir)
    assert (info.featmap, info.out_size) == (meta[variant]["featmap"][0], OUT_SIZE[variant])


def test_torch_backend_cpu_path(gdir, meta, models, images):
    from gazecam.backends import load_backend

    variant = "gazelle_hgnetv2_atto_inout"
    backend = load_backend("torch", model=models[variant], device="cpu")
    for case, boxes in _cases(meta, variant):
        ref = np.load(gdir / case["file"])
        pred = backend.predict(images[case["image"]], boxes)
        assert _maxdiff(pred.heatmaps, ref["heatmaps"]) <= TOL_HEATMAP
        assert _maxdiff(pred.inout, ref["inout"]) <= TOL_INOUT


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
