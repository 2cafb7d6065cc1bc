"""CUDA paths of the backends (torch fp16/bf16 + compile, ONNX Runtime CUDA EP, TensorRT).

Skipped without CUDA (and each TensorRT / CUDA-EP test without its runtime).  These were written without a
GPU and have not been run yet: see the acceleration notes in the README.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def cases(golden_dir: Path) -> list[dict]:
    return json.loads((golden_dir / "cases.json").read_text())["cases"]


@pytest.fixture(scope="module")
def cuda_model(golden_dir: Path):
    from gazecam import GazeModel

    return GazeModel.from_files(backbone="dinov2_vits14", backbone_weights=golden_dir / "dinov2_vits14_random.pth",
                                gaze_weights=golden_dir / "gazelle_vits14_inout_random.pt", device="cuda")


@pytest.fixture(scope="module")
def cuda_export(golden_model_inout, tmp_path_factory) -> Path:
    from gazecam.export import export_onnx

    d = tmp_path_factory.mktemp("cuda_export")
    export_onnx(golden_model_inout, d, max_heads=8)
    return d


def _check_golden(backend, cases, golden_dir, golden_images, atol_heat: float, atol_inout: float) -> None:
    for case in cases:
        ref = np.load(golden_dir / case["file"])
        boxes = [None if b is None else tuple(b) for b in case["bboxes"][0]]
        pred = backend.predict(golden_images[case["images"][0]], boxes)
        np.testing.assert_allclose(pred.heatmaps, ref["inout_model_heatmap"], rtol=0, atol=atol_heat)
        np.testing.assert_allclose(pred.inout, ref["inout_model_inout"], rtol=0, atol=atol_inout)


def test_torch_cuda_fp32(cuda_model, cases, golden_dir, golden_images):
    from gazecam.backends.torch import TorchBackend

    # TF32 matmuls are off by default in torch for float32 matmul; allow a little slack for cuDNN/SDPA kernels
    _check_golden(TorchBackend(model=cuda_model), cases, golden_dir, golden_images, 1e-3, 1e-3)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_cuda_half_precision(precision, cuda_model, cases, golden_dir, golden_images):
    from gazecam.backends.torch import TorchBackend

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("GPU without bf16")
    _check_golden(TorchBackend(model=cuda_model, precision=precision), cases, golden_dir, golden_images, 3e-2, 3e-2)


def test_torch_cuda_compile_cuda_graphs(cuda_model, cases, golden_dir, golden_images):
    from gazecam.backends.torch import TorchBackend

    backend = TorchBackend(model=cuda_model, precision="fp16", compile=True, max_heads=4)
    _check_golden(backend, cases, golden_dir, golden_images, 3e-2, 3e-2)
    # more heads than max_heads: decoded in chunks, same result as one eager call
    heads = [(0.1 * k, 0.1, 0.1 * k + 0.08, 0.3) for k in range(7)]
    image = golden_images["chelsea"]
    eager = TorchBackend(model=cuda_model, precision="fp16").predict(image, heads)
    np.testing.assert_allclose(backend.predict(image, heads).heatmaps, eager.heatmaps, rtol=0, atol=1e-2)


def test_onnxruntime_cuda_provider(cuda_export, cases, golden_dir, golden_images):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime without the CUDA execution provider (install onnxruntime-gpu)")
    from gazecam.backends.onnxruntime import OrtBackend

    backend = OrtBackend(export_dir=cuda_export, device="cuda")
    assert backend.providers[0] == "CUDAExecutionProvider"
    _check_golden(backend, cases, golden_dir, golden_images, 1e-3, 1e-3)


@pytest.mark.parametrize("fp16,atol", [(False, 1e-3), (True, 3e-2)])
def test_tensorrt_engines(fp16, atol, cuda_export, cases, golden_dir, golden_images, tmp_path):
    from gazecam.backends.tensorrt import TensorRTBackend, tensorrt_available

    if not tensorrt_available():
        pytest.skip("TensorRT not installed")
    backend = TensorRTBackend(export_dir=cuda_export, fp16=fp16, max_heads=4, cache_root=tmp_path)
    _check_golden(backend, cases, golden_dir, golden_images, atol, atol)
    heads = [(0.1 * k, 0.1, 0.1 * k + 0.08, 0.3) for k in range(6)]  # > max_heads: chunked
    assert backend.predict(golden_images["rocket"], heads).heatmaps.shape == (6, 64, 64)
    again = TensorRTBackend(export_dir=cuda_export, fp16=fp16, max_heads=4, cache_root=tmp_path)
    assert again.predict(golden_images["rocket"], heads[:1]).heatmaps.shape == (1, 64, 64)  # cached engines
