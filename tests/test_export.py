"""ONNX export of the golden ViT-S models: graphs, sidecar, cache, CLI, and the TensorRT guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gazecam.export import (DECODER_ONNX, ENCODER_ONNX, SIDECAR, ExportError, ensure_onnx_export, export_onnx,
                            model_fingerprint, read_export_info)


@pytest.fixture(scope="session")
def inout_export(golden_model_inout, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("export_inout")
    export_onnx(golden_model_inout, d, max_heads=8)
    return d


def _trt_usable() -> bool:
    from gazecam.backends.tensorrt import tensorrt_available

    return tensorrt_available()


@pytest.mark.slow
def test_export_writes_checked_graphs_and_sidecar(inout_export, golden_model_inout):
    import onnx

    info = read_export_info(inout_export, verify_files=True)
    assert info.model_name == golden_model_inout.name
    assert info.released is False and info.note == golden_model_inout.note
    assert info.inout is True and info.backbone == "dinov2_vits14"
    assert (info.input_size, info.featmap, info.out_size, info.scene_dim) == (448, 32, 64, 256)
    assert info.max_heads == 8 and info.opset == 17
    assert info.weights_sha256 == model_fingerprint(golden_model_inout)
    for name in (ENCODER_ONNX, DECODER_ONNX):
        onnx.checker.check_model(str(inout_export / name), full_check=True)
    enc = onnx.load(str(inout_export / ENCODER_ONNX), load_external_data=False)
    dec = onnx.load(str(inout_export / DECODER_ONNX), load_external_data=False)
    assert [i.name for i in enc.graph.input] == ["pixels"] and [o.name for o in enc.graph.output] == ["scene"]
    assert [i.name for i in dec.graph.input] == ["scene", "head_maps"]
    assert [o.name for o in dec.graph.output] == ["heatmaps", "inout"]
    heads_dim = dec.graph.input[1].type.tensor_type.shape.dim[0]
    assert heads_dim.dim_param == "heads"  # dynamic number of heads


def test_decoder_graph_runs_any_number_of_heads(inout_export, golden_dir):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(inout_export / DECODER_ONNX), providers=["CPUExecutionProvider"])
    scene = np.random.default_rng(0).normal(size=(1, 256, 32, 32)).astype(np.float32)
    for n in (1, 3, 11):  # beyond max_heads too: the ONNX graph itself has no upper bound
        maps = np.zeros((n, 32, 32), np.float32)
        heat, inout = sess.run(None, {"scene": scene, "head_maps": maps})
        assert heat.shape == (n, 64, 64) and inout.shape == (n,)
        assert np.allclose(heat, heat[0], atol=1e-6)  # identical (empty) prompts -> identical outputs


@pytest.mark.slow
def test_base_model_export_has_no_inout(golden_model_base, tmp_path):
    import onnx

    info = export_onnx(golden_model_base, tmp_path, check=False)
    assert info.inout is False
    dec = onnx.load(str(tmp_path / DECODER_ONNX), load_external_data=False)
    assert [o.name for o in dec.graph.output] == ["heatmaps"]


def test_read_export_info_errors(inout_export, tmp_path):
    with pytest.raises(ExportError, match="not a gazecam export directory"):
        read_export_info(tmp_path)
    (tmp_path / SIDECAR).write_text("{not json")
    with pytest.raises(ExportError, match="corrupt"):
        read_export_info(tmp_path)
    data = json.loads((inout_export / SIDECAR).read_text())
    (tmp_path / SIDECAR).write_text(json.dumps(data))
    with pytest.raises(ExportError, match="missing"):
        read_export_info(tmp_path)  # sidecar without graphs
    for name in (ENCODER_ONNX, DECODER_ONNX):
        (tmp_path / name).write_bytes((inout_export / name).read_bytes())
    read_export_info(tmp_path, verify_files=True)
    with open(tmp_path / DECODER_ONNX, "ab") as f:
        f.write(b"x")
    with pytest.raises(ExportError, match="does not match the SHA-256"):
        read_export_info(tmp_path, verify_files=True)


@pytest.mark.slow
def test_ensure_onnx_export_caches_by_weights(golden_model_base, tmp_path):
    d1 = ensure_onnx_export(golden_model_base, root=tmp_path)
    stamp = (d1 / ENCODER_ONNX).stat().st_mtime_ns
    d2 = ensure_onnx_export(golden_model_base, root=tmp_path)
    assert d1 == d2 and (d2 / ENCODER_ONNX).stat().st_mtime_ns == stamp  # reused, not exported again
    assert read_export_info(d2).weights_sha256 == model_fingerprint(golden_model_base)


def test_failed_export_is_a_clear_error_and_leaves_no_files(golden_model_base, inout_export, tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    (out / SIDECAR).write_bytes((inout_export / SIDECAR).read_bytes())  # an older export in the same folder
    with pytest.raises(ExportError, match="failed at opset 99.*default opset 17"):
        export_onnx(golden_model_base, out, opset=99)
    assert sorted(p.name for p in out.iterdir()) == [SIDECAR]  # no temporary files left behind


@pytest.mark.slow
def test_ensure_onnx_export_replaces_a_damaged_cached_graph(golden_model_base, tmp_path):
    d = ensure_onnx_export(golden_model_base, root=tmp_path)
    with open(d / DECODER_ONNX, "r+b") as f:
        f.truncate(100)  # e.g. a full disk or a stray edit
    assert ensure_onnx_export(golden_model_base, root=tmp_path) == d
    read_export_info(d, verify_files=True)  # exported again


@pytest.mark.slow
def test_export_cli(golden_dir, tmp_path, capsys):
    from gazecam.cli import main

    out = tmp_path / "exp"
    rc = main(["export", "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
               "--gaze-weights", str(golden_dir / "gazelle_vits14_random.pt"), "--device", "cpu", "-o", str(out)])
    assert rc == 0
    assert read_export_info(out, verify_files=True).inout is False
    assert "not the released weights" in capsys.readouterr().out
    rc = main(["export", "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
               "--gaze-weights", str(golden_dir / "gazelle_vits14_random.pt"), "--fp16", "-o", str(out)])
    assert rc == 1
    assert "--fp16 applies to --format engine" in capsys.readouterr().err


def test_engine_export_without_tensorrt_is_a_clear_error(inout_export, golden_dir, tmp_path, capsys):
    if _trt_usable():
        pytest.skip("TensorRT and CUDA are available here: the engine path is tested in tests/gpu")
    from gazecam.backends import BackendUnavailable
    from gazecam.cli import main
    from gazecam.backends.tensorrt_build import build_engines

    with pytest.raises(BackendUnavailable, match="TensorRT not available"):
        build_engines(inout_export, fp16=True)
    rc = main(["export", "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
               "--gaze-weights", str(golden_dir / "gazelle_vits14_random.pt"), "--format", "engine", "--fp16",
               "-o", str(tmp_path / "eng")])
    err = capsys.readouterr().err
    assert rc == 1 and "TensorRT not available" in err and "Traceback" not in err
    assert "--format onnx" in err  # what to try instead
    assert not (tmp_path / "eng").exists()  # failed before exporting anything
