"""Backends: one interface; ONNX Runtime fp32 reproduces the golden fixtures; torch options; loading."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from gazecam.backends import BackendError, BackendUnavailable, GazeBackend, available_backends, load_backend
from gazecam.backends.base import head_maps_np

TOL = 1e-4  # issue 4: ONNX Runtime fp32 within 1e-4 of the golden outputs


@pytest.fixture(scope="session")
def golden_cases(golden_dir: Path) -> list[dict]:
    return json.loads((golden_dir / "cases.json").read_text())["cases"]


@pytest.fixture(scope="session")
def ort_inout(golden_model_inout, tmp_path_factory):
    from gazecam.backends.onnxruntime import OrtBackend
    from gazecam.export import export_onnx

    d = tmp_path_factory.mktemp("ort_inout")
    export_onnx(golden_model_inout, d, check=False)
    return OrtBackend(export_dir=d)


@pytest.fixture(scope="session")
def ort_base(golden_model_base, tmp_path_factory):
    from gazecam.backends.onnxruntime import OrtBackend
    from gazecam.export import export_onnx

    d = tmp_path_factory.mktemp("ort_base")
    export_onnx(golden_model_base, d, check=False)
    return OrtBackend(export_dir=d)


def _boxes(case: dict) -> list:
    return [None if b is None else tuple(b) for b in case["bboxes"][0]]


def _case(golden_cases: list[dict], case_id: str) -> dict:
    return next(c for c in golden_cases if c["id"] == case_id)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["astronaut_single", "chelsea_three", "rocket_border", "astronaut_tiny",
                                     "rocket_rounding"])
def test_onnxruntime_reproduces_golden(case_id, golden_cases, golden_dir, golden_images, ort_inout, ort_base):
    case = _case(golden_cases, case_id)
    image = golden_images[case["images"][0]]
    ref = np.load(golden_dir / case["file"])
    pred = ort_inout.predict(image, _boxes(case))
    assert pred.heatmaps.shape == ref["inout_model_heatmap"].shape
    np.testing.assert_allclose(pred.heatmaps, ref["inout_model_heatmap"], rtol=0, atol=TOL)
    np.testing.assert_allclose(pred.inout, ref["inout_model_inout"], rtol=0, atol=TOL)
    base = ort_base.predict(image, _boxes(case))
    assert base.inout is None
    np.testing.assert_allclose(base.heatmaps, ref["base_model_heatmap"], rtol=0, atol=TOL)


def test_onnxruntime_none_head_matches_golden(golden_cases, golden_dir, golden_images, ort_inout):
    # astronaut_tiny's 2nd box rounds to an empty head map, which the official code treats exactly like None
    case = _case(golden_cases, "astronaut_tiny")
    ref = np.load(golden_dir / case["file"])
    boxes = _boxes(case)
    pred = ort_inout.predict(golden_images["astronaut"], [boxes[0], None])
    np.testing.assert_allclose(pred.heatmaps, ref["inout_model_heatmap"], rtol=0, atol=TOL)
    np.testing.assert_allclose(pred.inout, ref["inout_model_inout"], rtol=0, atol=TOL)
    only_none = ort_inout.predict(golden_images["astronaut"], [None])
    np.testing.assert_allclose(only_none.heatmaps[0], ref["inout_model_heatmap"][1], rtol=0, atol=TOL)


@pytest.mark.slow
def test_onnxruntime_matches_torch_and_batches(golden_images, golden_model_inout, ort_inout):
    images = [golden_images["chelsea"], golden_images["rocket"]]
    heads = [[(0.1, 0.1, 0.4, 0.5), None], [(0.5, 0.2, 0.7, 0.6)]]
    ours = ort_inout.predict_batch(images, heads)
    theirs = golden_model_inout.predict_batch(images, heads)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.heatmaps, b.heatmaps, rtol=0, atol=1e-5)
        np.testing.assert_allclose(a.inout, b.inout, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(a.points_norm, b.points_norm)
    feats = ort_inout.encode(images[0])  # encode once, decode twice
    one = ort_inout.decode(feats, heads[0][:1])
    np.testing.assert_allclose(one.heatmaps, ours[0].heatmaps[:1], rtol=0, atol=1e-6)
    empty = ort_inout.decode(feats, [])
    assert empty.heatmaps.shape == (0, 64, 64) and empty.inout.shape == (0,)
    assert ort_inout.predict(images[0], []).heatmaps.shape == (0, 64, 64)


def test_decode_rejects_foreign_features(ort_inout, golden_model_inout, golden_images):
    torch_feats = golden_model_inout.encode(golden_images["astronaut"])
    with pytest.raises(TypeError, match="features returned by this model.s encode"):
        ort_inout.decode(torch_feats, [None])
    feats = ort_inout.encode(golden_images["astronaut"])
    with pytest.raises(ValueError, match="inverted box"):
        ort_inout.decode(feats, [(0.5, 0.5, 0.1, 0.1)])
    with pytest.raises(ValueError, match="head lists"):
        ort_inout.decode_batch(feats, [[None], [None]])


def test_every_backend_conforms_to_the_interface(golden_model_inout, ort_inout):
    from gazecam.backends.torch import TorchBackend

    for backend in (golden_model_inout, ort_inout, TorchBackend(model=golden_model_inout)):
        assert isinstance(backend, GazeBackend), type(backend).__name__
        assert backend.has_inout is True and backend.released is False and backend.name
    assert ort_inout.name == golden_model_inout.name and ort_inout.note == golden_model_inout.note


def test_head_maps_np_matches_torch_head_maps():
    import torch

    from gazecam.models.gazelle import build_head_maps, head_map_bounds

    boxes = np.array([[0.078125, 0.109375, 0.234375, 0.265625],  # exact .5 after *32: half to even
                      [0.5, 0.5, 0.51, 0.51],  # rounds to an empty map
                      [np.nan] * 4,  # None
                      [0.0, 0.0, 1.0, 1.0], [0.29, 0.03, 0.59, 0.37]])
    ours = head_maps_np(boxes)
    theirs = build_head_maps(torch.from_numpy(head_map_bounds(boxes))).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert ours[0, 4:8, 2:8].all() and ours[0].sum() == 4 * 6  # rows 4:8, cols 2:8 (round-half-to-even)
    assert ours[1].sum() == 0 and ours[2].sum() == 0 and ours[3].all()


def test_fast_preprocess_matches_official_transform(golden_dir, golden_images):
    from gazecam.models.preprocess import preprocess_fast

    for name, image in golden_images.items():
        ref = np.load(golden_dir / f"image_{name}.npz")["input"]
        ro = image.copy()
        ro.setflags(write=False)  # read-only frames are accepted without a warning
        np.testing.assert_allclose(preprocess_fast(ro, size=448).numpy(), ref, rtol=0, atol=1e-5)


def test_torch_backend_fp32_reproduces_golden(golden_cases, golden_dir, golden_images, golden_model_inout):
    from gazecam.backends.torch import TorchBackend

    backend = TorchBackend(model=golden_model_inout)
    case = _case(golden_cases, "chelsea_three")
    ref = np.load(golden_dir / case["file"])
    pred = backend.predict(golden_images["chelsea"], _boxes(case))
    np.testing.assert_allclose(pred.heatmaps, ref["inout_model_heatmap"], rtol=0, atol=TOL)
    np.testing.assert_allclose(pred.inout, ref["inout_model_inout"], rtol=0, atol=TOL)


def test_torch_backend_bf16_on_cpu_is_close(golden_cases, golden_dir, golden_images, golden_model_inout):
    from gazecam.backends.torch import TorchBackend

    backend = TorchBackend(model=golden_model_inout, precision="bf16")
    case = _case(golden_cases, "astronaut_single")
    ref = np.load(golden_dir / case["file"])
    pred = backend.predict(golden_images["astronaut"], _boxes(case))
    assert pred.heatmaps.dtype == np.float32
    # bf16 has an 8-bit mantissa: close to fp32, not equal (the benchmark reports the exact difference)
    np.testing.assert_allclose(pred.heatmaps, ref["inout_model_heatmap"], rtol=0, atol=5e-2)


def test_torch_backend_rejects_cpu_fp16(golden_model_inout):
    from gazecam.backends.torch import TorchBackend

    with pytest.raises(BackendError, match="precision='fp16' needs a CUDA device"):
        TorchBackend(model=golden_model_inout, precision="fp16")


def test_load_backend_choices(golden_model_inout, tmp_path, monkeypatch):
    from gazecam.backends.onnxruntime import OrtBackend
    from gazecam.backends.torch import TorchBackend

    assert available_backends()[:2] == ["torch", "onnxruntime"]
    assert isinstance(load_backend("torch", model=golden_model_inout), TorchBackend)
    ort_backend = load_backend("auto", model=golden_model_inout, export_root=tmp_path)  # CPU: onnxruntime
    assert isinstance(ort_backend, OrtBackend) and ort_backend.export_dir.parent == tmp_path
    with pytest.raises(BackendError, match="unknown backend"):
        load_backend("tflite", model=golden_model_inout)
    with pytest.raises(BackendError, match="runs fp32 or int8 exports"):
        load_backend("onnxruntime", model=golden_model_inout, precision="fp16", export_root=tmp_path)
    with pytest.raises(BackendError, match="compile=True applies to the torch backend"):
        load_backend("onnxruntime", model=golden_model_inout, compile=True)
    with pytest.raises(BackendError, match="needs a model"):
        load_backend("torch")
    with pytest.raises(BackendError, match="expected a loaded GazeModel.*gazecam.loading.load_model"):
        load_backend("torch", model="gazelle_dinov2_vits14")  # names and files: through gazecam.loading
    from gazecam.backends.tensorrt import tensorrt_available

    if not tensorrt_available():
        with pytest.raises(BackendUnavailable, match="TensorRT not available"):
            load_backend("tensorrt", model=golden_model_inout, device="cuda", export_root=tmp_path)


@pytest.mark.slow
def test_common_load_model_backend_option(golden_dir, tmp_path, monkeypatch):
    from gazecam.backends.onnxruntime import OrtBackend
    from gazecam.commands.common import add_model_arguments, flag_wording, load_model
    from gazecam.errors import InputError

    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))  # automatic exports go to $GAZECAM_HOME/exports
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    files = ["--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
             "--gaze-weights", str(golden_dir / "gazelle_vits14_random.pt"), "--device", "cpu"]
    torch_fp32 = load_model(parser.parse_args(files + ["--backend", "torch"]))
    assert type(torch_fp32).__name__ == "TorchBackend" and torch_fp32.precision == "fp32"  # one runtime interface
    backend = load_model(parser.parse_args(files))  # default auto: onnxruntime on the CPU
    assert isinstance(backend, OrtBackend) and not backend.has_inout
    # auto falls back to torch for what onnxruntime does not run
    assert type(load_model(parser.parse_args(files + ["--precision", "bf16"]))).__name__ == "TorchBackend"
    assert (tmp_path / "exports").is_dir()
    with pytest.raises(InputError, match="backend='onnxruntime': .*fp32") as e:
        load_model(parser.parse_args(files + ["--backend", "onnxruntime", "--precision", "bf16"]))
    assert flag_wording(str(e.value)).startswith("--backend onnxruntime: ")  # what the CLI prints


def test_onednn_linears_share_weights_and_leave_the_model_alone(golden_model_inout, golden_images):
    import torch

    from gazecam.backends.torch import OneDnnLinear, TorchBackend, onednn_linear_available, with_onednn_linears

    if not onednn_linear_available():
        pytest.skip("this torch build has no oneDNN linear op (the torch backend falls back to nn.Linear)")
    fast = with_onednn_linears(golden_model_inout.decoder)
    assert isinstance(fast.transformer[0].attn.qkv, OneDnnLinear)
    assert type(golden_model_inout.decoder.transformer[0].attn.qkv) is torch.nn.Linear  # original untouched
    assert fast.transformer[0].attn.qkv.weight is golden_model_inout.decoder.transformer[0].attn.qkv.weight
    image, heads = golden_images["rocket"], [(0.1, 0.1, 0.3, 0.4), None]
    on = TorchBackend(model=golden_model_inout)
    off = TorchBackend(model=golden_model_inout, onednn=False)
    assert on.onednn and not off.onednn
    a, b = on.predict(image, heads), off.predict(image, heads)
    np.testing.assert_allclose(a.heatmaps, b.heatmaps, rtol=0, atol=1e-5)
    np.testing.assert_allclose(a.inout, b.inout, rtol=0, atol=1e-5)
