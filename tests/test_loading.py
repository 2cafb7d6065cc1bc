"""gazecam.loading: ModelSpec checks, resolve_device, and the one load path (torch model or a backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazecam.errors import GazecamError, InputError
from gazecam.loading import DEFAULT_MODEL, ModelSpec, load_gaze_model, load_model, new_decoder_model, resolve_device


@pytest.fixture()
def files(golden_dir: Path) -> dict:
    return {"backbone_weights": golden_dir / "dinov2_vits14_random.pth",
            "gaze_weights": golden_dir / "gazelle_vits14_inout_random.pt", "device": "cpu"}


def test_spec_defaults_and_checks(tmp_path):
    assert ModelSpec().zoo_name == DEFAULT_MODEL and not ModelSpec().is_files
    spec = ModelSpec(gaze_weights=str(tmp_path / "g.pt"))
    assert spec.is_files and spec.zoo_name is None and spec.gaze_weights == tmp_path / "g.pt"
    with pytest.raises(InputError, match=r"name='x' .*not both"):
        ModelSpec(name="x", gaze_weights=Path("g.pt"))
    with pytest.raises(InputError, match=r"backbone_weights='b.pth' needs gaze_weights"):
        ModelSpec(backbone_weights=Path("b.pth"))


def test_resolve_device_names_the_parameter():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match=r"device='warp'"):
        resolve_device("warp")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match=r"device='cuda': CUDA is not available.*device='cpu'"):
            resolve_device("cuda")


def test_torch_fp32_is_the_torch_backend_and_matches_from_files(files, golden_images, golden_model_inout):
    from gazecam.backends.torch import TorchBackend

    model = load_model(ModelSpec(backend="torch", **files))  # one runtime interface, fp32 included
    assert type(model) is TorchBackend and model.precision == "fp32" and model.has_inout and not model.released
    image, heads = golden_images["rocket"], [(0.1, 0.1, 0.3, 0.4)]
    np.testing.assert_array_equal(model.predict(image, heads).heatmaps,
                                  TorchBackend(model=golden_model_inout).predict(image, heads).heatmaps)


@pytest.mark.slow
def test_other_backends_wrap_the_model(files, tmp_path, monkeypatch):
    from gazecam.backends.onnxruntime import OrtBackend

    monkeypatch.setenv("GAZECAM_HOME", str(tmp_path))
    notes: list[str] = []
    backend = load_model(ModelSpec(backend="onnxruntime", **files), notify=notes.append)
    assert isinstance(backend, OrtBackend) and notes  # told about the first-use export
    assert type(load_model(ModelSpec(backend="torch", precision="bf16", **files))).__name__ == "TorchBackend"


def test_bad_runtime_options_fail_before_loading_and_name_parameters(tmp_path):
    missing = {"backbone_weights": tmp_path / "nope.pth", "gaze_weights": tmp_path / "nope.pt", "device": "cpu"}
    with pytest.raises(InputError, match=r"backend='onnxruntime': .*fp32"):
        load_model(ModelSpec(backend="onnxruntime", precision="bf16", **missing))  # no file read yet
    with pytest.raises(InputError, match=r"backend='warp-drive': unknown backend"):
        load_model(ModelSpec(backend="warp-drive", **missing))
    with pytest.raises(GazecamError, match="nope.pth|nope.pt"):
        load_model(ModelSpec(backend="torch", **missing))


def test_unknown_zoo_name_is_an_input_error():
    with pytest.raises(InputError, match=r"name='no_such_model'"):
        load_gaze_model(ModelSpec(name="no_such_model", device="cpu"))


def test_a_gaze_file_alone_reaches_the_loader(tmp_path):
    with pytest.raises(GazecamError, match="g.pt"):
        load_gaze_model(ModelSpec(gaze_weights=tmp_path / "g.pt", device="cpu"))


def test_new_decoder_model_is_seeded_and_checks_the_backbone(golden_dir):
    import torch

    bb = golden_dir / "dinov2_vits14_random.pth"
    a = new_decoder_model(backbone_weights=bb, seed=3, device="cpu")
    torch.manual_seed(123)  # the decoder does not depend on the global random state
    a2 = new_decoder_model(backbone_weights=bb, backbone="dinov2_vits14", seed=3, device="cpu")
    b = new_decoder_model(backbone_weights=bb, seed=3, inout=False, device="cpu")
    assert a.has_inout and not b.has_inout and a.name == "random-decoder-dinov2_vits14"
    wa, wa2 = a.decoder.state_dict(), a2.decoder.state_dict()
    assert wa.keys() == wa2.keys() and all(torch.equal(wa[k], wa2[k]) for k in wa)
    with pytest.raises(InputError, match=r"backbone='dinov2_vitb14': but backbone_weights=.* holds dinov2_vits14"):
        new_decoder_model(backbone_weights=bb, backbone="dinov2_vitb14", device="cpu")
