"""Benchmark: the reference reproduces the official outputs; the run, report, chart and CLI work."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazecam.research.bench import STAGES, StageHooks, format_report, run_benchmark, save_chart
from gazecam.research.bench_inputs import (bench_head_boxes, parse_backend_specs, parse_heads, pyav_frames,
                                           synthetic_frame, write_synthetic_video)
from gazecam.research.bench_reference import ReferenceGazeLLE


@pytest.mark.slow
def test_reference_reproduces_golden(golden_dir, golden_images, golden_model_inout, golden_model_base):
    cases = json.loads((golden_dir / "cases.json").read_text())["cases"]
    ref_inout, ref_base = ReferenceGazeLLE(golden_model_inout), ReferenceGazeLLE(golden_model_base)
    encoded = {}
    for name, image in golden_images.items():  # backbone once per image, as the official code
        arrays = np.load(golden_dir / f"image_{name}.npz")
        pixels = ref_inout.preprocess(image)
        np.testing.assert_allclose(pixels.numpy(), arrays["input"], rtol=0, atol=1e-5)
        encoded[name] = ref_inout.encode(pixels)
        np.testing.assert_allclose(encoded[name].numpy(), arrays["backbone"], rtol=0, atol=5e-5)
    for case in cases:
        feats = encoded[case["images"][0]]
        boxes = [None if b is None else tuple(b) for b in case["bboxes"][0]]
        golden = np.load(golden_dir / case["file"])
        heat, inout = ref_inout.decode(feats, boxes)
        np.testing.assert_allclose(heat, golden["inout_model_heatmap"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(inout, golden["inout_model_inout"], rtol=0, atol=1e-6)
        heat, inout = ref_base.decode(feats, boxes)
        assert inout is None
        np.testing.assert_allclose(heat, golden["base_model_heatmap"], rtol=0, atol=1e-5)


def test_reference_head_map_rounds_half_to_even(golden_model_base):
    ref = ReferenceGazeLLE(golden_model_base)
    m = ref.head_map((0.078125, 0.109375, 0.234375, 0.265625)).numpy()
    assert m[4:8, 2:8].all() and m.sum() == 24
    assert ref.head_map(None).sum() == 0


def test_parsers():
    assert parse_heads("1,5,10") == [1, 5, 10]
    for bad in ("", "0", "a,b", "1,300"):
        with pytest.raises(ValueError):
            parse_heads(bad)
    specs = parse_backend_specs("torch,torch:bf16+compile,onnxruntime,tensorrt:fp16")
    assert [s.label for s in specs] == ["torch", "torch:bf16+compile", "onnxruntime", "tensorrt:fp16"]
    assert specs[1].compile and specs[1].precision == "bf16"
    for bad in ("tflite", "torch:int8", ","):
        with pytest.raises(ValueError):
            parse_backend_specs(bad)


def test_head_boxes_and_frames_are_deterministic(tmp_path):
    boxes = bench_head_boxes(10)
    assert boxes == bench_head_boxes(10) and len(boxes) == 10
    arr = np.array(boxes)
    assert (arr >= 0).all() and (arr <= 1).all() and (arr[:, 2:] > arr[:, :2]).all()
    f = synthetic_frame(3, width=64, height=48)
    assert f.shape == (48, 64, 3) and f.dtype == np.uint8
    np.testing.assert_array_equal(f, synthetic_frame(3, width=64, height=48))
    video = write_synthetic_video(tmp_path / "v.mp4", frames=3, width=64, height=48)
    frames = list(pyav_frames(video))
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)


@pytest.mark.slow
def test_run_benchmark_report_and_chart(golden_model_inout, tmp_path):
    from gazecam.backends.torch import TorchBackend

    frames = [synthetic_frame(i, width=96, height=64) for i in range(2)]
    hooks = StageHooks(frames=lambda: iter(frames), names={"capture": "in memory"})
    report = run_benchmark(model=golden_model_inout, backends=[("torch", TorchBackend(model=golden_model_inout))],
                           heads=[1, 2], frames=1, warmup=0, hooks=hooks)
    assert [(r.heads, r.label) for r in report.results] == [(1, "reference"), (1, "torch"), (2, "reference"),
                                                             (2, "torch")]
    for r in report.results:
        assert r.fps > 0 and r.stage_ms["encode"] > 0 and r.stage_ms["detect"] is None
        if r.label == "torch":
            assert r.max_heatmap_diff is not None and r.max_heatmap_diff < 1e-4  # same math, fused preprocessing
    text = format_report(report)
    assert "speedup vs reference (1 heads):" in text and "speedup vs reference (2 heads):" in text
    assert all(s in text for s in STAGES) and "NOT released weights" in text
    png = save_chart(report, tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = report.to_dict()
    assert [s["heads"] for s in data["summary"]] == [1, 2]
    json.dumps(data)  # serialisable


def test_bench_cli_random_weights(tmp_path, capsys):
    from gazecam.cli import main

    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    rc = main(["bench", "--backbone", "dinov2_vits14", "--device", "cpu", "--heads", "1", "--frames", "1",
               "--warmup", "0", "--backends", "torch", "--width", "96", "--height", "64",
               "--json", str(out_json), "--chart", str(out_png)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "random (untrained) weights" in captured.err + captured.out
    assert "speedup vs reference (1 heads):" in captured.out
    data = json.loads(out_json.read_text())
    assert {r["label"] for r in data["results"]} == {"reference", "torch"}
    assert out_png.stat().st_size > 0


def test_bench_cli_bad_options(capsys):
    from gazecam.cli import main

    assert main(["bench", "--backbone", "dinov2_vits14", "--heads", "0"]) == 1
    assert "--heads" in capsys.readouterr().err
    assert main(["bench", "--backbone", "dinov2_vits14", "--backends", "tflite"]) == 1
    assert "unknown backend" in capsys.readouterr().err


@pytest.mark.slow
def test_every_configuration_runs_the_pipeline_step(golden_model_inout):
    """detect -> gaze through FrameProcessor: the render hook gets each frame's GazeResult, detect is timed."""
    from gazecam.backends.torch import TorchBackend
    from gazecam.types import GazeResult

    frames = [synthetic_frame(i, width=96, height=64) for i in range(2)]
    seen: list[tuple[int, int]] = []
    detected: list[int] = []

    def render(result):
        assert isinstance(result, GazeResult) and result.heads.image_size == (64, 96)
        seen.append((result.frame.index, len(result)))
        return result.frame.image

    hooks = StageHooks(frames=lambda: iter(frames), detect=lambda image, i: detected.append(i), render=render)
    report = run_benchmark(model=golden_model_inout, backends=[("torch", TorchBackend(model=golden_model_inout))],
                           heads=[3], frames=1, warmup=1, hooks=hooks)
    assert seen == [(0, 3), (0, 3), (1, 3), (1, 3)] and detected == [0, 0, 1, 1]  # reference, torch per frame
    for r in report.results:
        assert all(r.stage_ms[s] is not None and r.stage_ms[s] >= 0 for s in ("detect", "preprocess", "encode",
                                                                               "decode", "render"))
        assert r.stage_ms["write"] is None
