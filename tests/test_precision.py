"""precision="auto": CPU feature detection and the choice, which never names a mode the CPU lacks."""

from __future__ import annotations

import itertools

import pytest

from gazecam.backends import BackendError, resolve_backend_precision
from gazecam.backends import precision as prec
from gazecam.backends.precision import cpu_precision_modes, resolve_precision
from gazecam.cpu import CpuFeatures, _read_cpu_flags

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def _x86(*flags: str, capability: str = "DEFAULT") -> CpuFeatures:
    return CpuFeatures(machine="x86_64", flags=frozenset(flags), torch_capability=capability)


def test_flags_are_read_from_cpuinfo(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512_bf16 amx_int8\n\n"
                 "processor\t: 1\nflags\t\t: fpu\n")
    assert _read_cpu_flags(str(f)) == {"fpu", "sse", "avx2", "avx512_bf16", "amx_int8"}  # the first CPU's
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd asimddp bf16\n")
    assert _read_cpu_flags(str(tmp_path / "arm")) == {"fp", "asimd", "asimddp", "bf16"}
    assert _read_cpu_flags(str(tmp_path / "missing")) == frozenset()
    here = prec.cpu_features()
    assert here.machine and isinstance(here.flags, frozenset) and here.describe()


@pytest.mark.parametrize(("features", "ort", "expected"), [
    (_x86(), True, ("onnxruntime", "fp32")),  # no AVX2: no int8 kernels, no bf16
    (_x86("avx2"), True, ("onnxruntime", "int8")),  # int8 through AVX2 (7-bit weights)
    (_x86("avx2"), False, ("torch", "fp32")),  # no onnxruntime: and no native bf16 either
    (_x86("avx2", "avx512_vnni"), True, ("onnxruntime", "int8")),
    (_x86("avx2", "avx512_vnni", "avx512_bf16"), False, ("torch", "bf16")),
    (_x86("avx2", "amx_bf16", "amx_int8"), True, ("onnxruntime", "int8")),
    (CpuFeatures(machine="aarch64", flags=frozenset({"asimd", "bf16"})), False, ("torch", "bf16")),
    (CpuFeatures(machine="aarch64", flags=frozenset({"asimd"})), False, ("torch", "fp32")),
])
def test_auto_picks_the_fastest_mode_this_cpu_has(features, ort, expected):
    c = resolve_precision("auto", backend="auto", device="cpu", features=features, onnxruntime=ort)
    assert (c.backend, c.precision) == expected and c.reason


def test_auto_never_picks_a_mode_the_cpu_lacks():
    for n in range(len(FLAGS) + 1):
        for flags in itertools.combinations(FLAGS, n):
            f = _x86(*flags)
            for ort, backend in itertools.product((True, False), ("auto", "torch", "onnxruntime")):
                c = resolve_precision("auto", backend=backend, device="cpu", features=f, onnxruntime=ort)
                assert c.precision in ("fp32", "int8", "bf16")
                if c.precision == "int8":
                    assert ort and f.int8_supported and c.backend == "onnxruntime", (flags, ort, backend)
                if c.precision == "bf16":
                    assert f.native_bf16 and c.backend == "torch", (flags, ort, backend)
                if backend != "auto":
                    assert c.backend == backend  # auto precision within the backend asked for
                assert cpu_precision_modes(f, onnxruntime=ort)[-1].precision == "fp32"


def test_auto_within_a_named_backend_and_on_cuda():
    vnni_bf16 = _x86("avx2", "avx512_vnni", "avx512_bf16")
    torch_c = resolve_precision("auto", backend="torch", device="cpu", features=vnni_bf16, onnxruntime=True)
    assert (torch_c.backend, torch_c.precision) == ("torch", "bf16")
    ort_c = resolve_precision("auto", backend="onnxruntime", device="cpu", features=_x86("avx2", "avx512_bf16"),
                              onnxruntime=True)
    assert ort_c.precision == "int8"
    no_bf16 = resolve_precision("auto", backend="torch", device="cpu", features=_x86("avx2"), onnxruntime=True)
    assert no_bf16.precision == "fp32"  # bf16 would be emulated (slow) on this CPU
    cuda = resolve_precision("auto", backend="auto", device="cuda:1", features=vnni_bf16)
    assert cuda.precision == "fp32" and "fp16" in cuda.reason
    assert resolve_precision("bf16", backend="torch", device="cpu").precision == "bf16"  # explicit: passed on
    with pytest.raises(BackendError, match="device='cpu'"):
        resolve_precision("auto", backend="auto", device="mps")


def test_resolve_backend_precision_uses_this_cpus_features(monkeypatch):
    monkeypatch.setattr(prec, "cpu_features", lambda: _x86("avx2", "avx512_bf16"))
    monkeypatch.setattr(prec, "onnxruntime_available", lambda: False)
    assert resolve_backend_precision("auto", "cpu", precision="auto")[:2] == ("torch", "bf16")
    assert resolve_backend_precision("auto", "cpu", precision="auto", compile=True)[:2] == ("torch", "bf16")
    monkeypatch.setattr(prec, "cpu_features", lambda: _x86())
    backend, precision, reason = resolve_backend_precision("torch", "cpu", precision="auto")
    assert (backend, precision) == ("torch", "fp32") and "fp32" in reason
    assert resolve_backend_precision("onnxruntime", "cpu", precision="fp32") == ("onnxruntime", "fp32", "")
    with pytest.raises(BackendError, match="or auto"):
        resolve_backend_precision("torch", "cpu", precision="fp8")


def test_cli_precision_choices_and_help(capsys):
    from gazecam.cli import main

    with pytest.raises(SystemExit):
        main(["process", "--help"])
    out = capsys.readouterr().out
    assert "int8" in out and "auto" in out and "Sapphire Rapids" in out


# -- bf16 on the CPU (torch) -----------------------------------------------------------------------------------
HEADS = [(0.29, 0.03, 0.59, 0.37), (0.6, 0.5, 0.8, 0.9)]


def _bf16_fidelity(golden_model_inout, bf16, images):
    from gazecam.backends.torch import TorchBackend
    from gazecam.fidelity import FidelityMeter

    fp32 = TorchBackend(model=golden_model_inout)
    meter = FidelityMeter()
    for image in images:
        a, b = fp32.predict(image, HEADS), bf16.predict(image, HEADS)
        meter.add(b.heatmaps, a.heatmaps, b.inout, a.inout)
    return meter.result()


def test_cpu_bf16_without_native_support_warns_and_uses_autocast(golden_model_inout, golden_images, caplog,
                                                                 monkeypatch):
    import torch

    from gazecam.backends import torch as torch_backend
    from gazecam.backends.torch import TorchBackend

    monkeypatch.setattr(torch_backend, "onednn_bf16_available", lambda: False)  # as on this CPU (AVX2 only)
    with caplog.at_level("WARNING", logger="gazecam"):
        bf16 = TorchBackend(model=golden_model_inout, precision="bf16")
    assert not bf16.onednn and "emulated" in caplog.text
    with pytest.raises(BackendError, match="native bf16"):
        TorchBackend(model=golden_model_inout, precision="bf16", onednn=True)
    f = _bf16_fidelity(golden_model_inout, bf16, [golden_images["astronaut"]])
    print(f"torch bf16 (autocast) vs fp32, golden ViT-S: {f.summary()}")
    assert f.max_heatmap_diff < 5e-2
    assert golden_model_inout.backbone.vit.blocks[0].attn.qkv.weight.dtype == torch.float32  # model untouched


@pytest.mark.slow
def test_cpu_bf16_native_runs_onednn_on_bf16_weight_copies(golden_model_inout, golden_images, caplog):
    import numpy as np
    import torch

    from gazecam.backends.torch import OneDnnLinear, TorchBackend, onednn_bf16_available, with_onednn_linears

    if not onednn_bf16_available():
        pytest.skip("this CPU has no native bf16 (AVX512-BF16/AMX): the oneDNN bf16 path cannot run here")
    with caplog.at_level("WARNING", logger="gazecam"):
        bf16 = TorchBackend(model=golden_model_inout, precision="bf16")
    assert bf16.onednn and "emulated" not in caplog.text
    fast = with_onednn_linears(golden_model_inout.decoder, torch.bfloat16)
    layer = fast.transformer[0].attn.qkv
    assert isinstance(layer, OneDnnLinear) and layer.weight.dtype == torch.bfloat16 and layer.weight.is_contiguous()
    assert type(golden_model_inout.decoder.transformer[0].attn.qkv) is torch.nn.Linear  # the model is untouched
    x = torch.randn(1, 7, layer.weight.shape[1])
    with torch.inference_mode():
        ref = golden_model_inout.decoder.transformer[0].attn.qkv(x)
        np.testing.assert_allclose(layer(x).float().numpy(), ref.numpy(), atol=5e-2)
    f = _bf16_fidelity(golden_model_inout, bf16, list(golden_images.values()))
    print(f"torch bf16 (oneDNN) vs fp32, golden ViT-S: {f.summary()}")
    assert f.max_heatmap_diff < 5e-2


@pytest.mark.slow
def test_cpu_bf16_with_a_cnn_encoder_runs_the_decoder_in_bf16_only(golden_images):
    """HGNetV2 Femto (golden random weights): the CNN encoder stays fp32 under CPU bf16 (its bf16 convolutions
    moved the heatmaps by 0.026), the decoder runs bf16.  Measured (AMD EPYC, native bf16): max heatmap diff
    1.1e-2, agreement 100% on the golden images."""
    from pathlib import Path

    import numpy as np

    from gazecam.backends.torch import TorchBackend
    from gazecam.fidelity import FidelityMeter, within_bound
    from gazecam.model import GazeModel

    path = Path(__file__).resolve().parents[1].parent / "shared" / "golden_hgnetv2" / "gazelle_hgnetv2_femto_random.pt"
    if not path.is_file():
        pytest.fail(f"HGNetV2 fixture not found at {path} (expected ../shared/golden_hgnetv2)")
    model = GazeModel.from_files(gaze_weights=path, device="cpu")
    fp32, bf16 = TorchBackend(model=model), TorchBackend(model=model, precision="bf16")
    meter = FidelityMeter()
    for image in golden_images.values():
        fa, fb = fp32.encode(image), bf16.encode(image)
        assert fb.scene.dtype == fa.scene.dtype and np.array_equal(fb.scene.numpy(), fa.scene.numpy())  # fp32 encoder
        a, b = fp32.decode(fa, HEADS), bf16.decode(fb, HEADS)
        meter.add(b.heatmaps, a.heatmaps)
    f = meter.result()
    print(f"torch bf16 decoder vs fp32, golden HGNetV2 Femto: {f.summary()}")
    assert 0 < f.max_heatmap_diff and within_bound(f)
