"""Checkpoint converters and head maps against the official formats and golden head maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gazecam.models.dinov2 import (
    DINOV2_ARCHS,
    convert_dinov2_state_dict,
    expected_dinov2_shapes,
    infer_dinov2_arch,
)
from gazecam.models.gazelle import (
    GazeLLEDecoder,
    build_head_maps,
    convert_gazelle_state_dict,
    decoder_config_from_state_dict,
    head_map_bounds,
    positional_encoding_2d,
)
from gazecam.weights import WeightsError, load_state_dict_file


@pytest.fixture(scope="module")
def backbone_sd(golden_dir):
    return torch.load(golden_dir / "dinov2_vits14_random.pth", weights_only=True)


@pytest.fixture(scope="module")
def decoder_sd(golden_dir):
    return torch.load(golden_dir / "gazelle_vits14_inout_random.pt", weights_only=True)


def test_golden_head_maps_match_vectorised_builder(golden_dir):
    meta = json.loads((golden_dir / "cases.json").read_text())
    for case in meta["cases"]:
        boxes = [b for blist in case["bboxes"] for b in blist]
        arr = np.array([[np.nan] * 4 if b is None else b for b in boxes], np.float64)
        maps = build_head_maps(torch.from_numpy(head_map_bounds(arr))).numpy()
        want = np.load(golden_dir / f"case_{case['id']}.npz")["head_maps"]
        np.testing.assert_array_equal(maps, want, err_msg=case["id"])


def test_head_map_rounding_is_half_to_even():
    bounds = head_map_bounds(np.array([[0.078125, 0.109375, 0.234375, 0.265625]]))  # *32 = 2.5 3.5 7.5 8.5
    assert bounds.tolist() == [[2, 4, 8, 8]]


def test_backbone_arch_inferred_and_official_keys(backbone_sd):
    assert infer_dinov2_arch(backbone_sd).name == "dinov2_vits14"
    assert set(backbone_sd) == set(expected_dinov2_shapes(DINOV2_ARCHS["dinov2_vits14"]))
    converted = convert_dinov2_state_dict(backbone_sd)
    assert "mask_token" not in converted and converted["pos_embed"].shape == (1, 1 + 32 * 32, 384)
    assert all(v.dtype == torch.float32 for v in converted.values())


def test_backbone_missing_and_unexpected_keys_are_listed(backbone_sd):
    sd = dict(backbone_sd)
    del sd["blocks.3.ls1.gamma"]
    sd["blocks.3.extra"] = torch.zeros(3)
    with pytest.raises(ValueError) as e:
        infer_dinov2_arch(sd)
    assert "missing keys (1): blocks.3.ls1.gamma" in str(e.value)
    assert "unexpected keys (1): blocks.3.extra" in str(e.value)


def test_backbone_wrong_shape_is_listed(backbone_sd):
    sd = dict(backbone_sd)
    sd["norm.weight"] = torch.zeros(100)
    with pytest.raises(ValueError, match=r"norm.weight: expected \(384,\), got \(100,\)"):
        infer_dinov2_arch(sd)


def test_decoder_config_and_keys(decoder_sd, golden_dir):
    cfg = decoder_config_from_state_dict(decoder_sd)
    assert cfg.in_dim == 384 and cfg.inout
    base = torch.load(golden_dir / "gazelle_vits14_random.pt", weights_only=True)
    assert not decoder_config_from_state_dict(base).inout
    # our state dict has exactly the official keys and shapes (so checkpoints we save load in the official code)
    ours = GazeLLEDecoder(in_dim=384, inout=True).official_state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in decoder_sd.items()}


def test_decoder_pos_embed_is_official_buffer(decoder_sd):
    np.testing.assert_array_equal(positional_encoding_2d(256, 32, 32).numpy(), decoder_sd["pos_embed"].numpy())
    sd = dict(decoder_sd)
    del sd["pos_embed"]  # deterministic buffer: accepted when absent
    assert torch.equal(convert_gazelle_state_dict(sd)["pos_embed"], decoder_sd["pos_embed"])


def test_decoder_bad_keys_and_shapes(decoder_sd, backbone_sd):
    sd = dict(decoder_sd)
    del sd["transformer.1.mlp.fc2.bias"]
    sd["transformer.1.attn.qkv.bias"] = torch.zeros(768)
    with pytest.raises(ValueError) as e:
        decoder_config_from_state_dict(sd)
    assert "transformer.1.mlp.fc2.bias" in str(e.value) and "transformer.1.attn.qkv.bias" in str(e.value)
    sd = dict(decoder_sd)
    sd["head_token.weight"] = torch.zeros(2, 256)
    with pytest.raises(ValueError, match=r"head_token.weight: expected \(1, 256\), got \(2, 256\)"):
        decoder_config_from_state_dict(sd)
    with pytest.raises(ValueError, match="DINOv2 backbone file"):
        decoder_config_from_state_dict(backbone_sd)


def test_load_file_errors(tmp_path, golden_dir):
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict_file(tmp_path / "nope.pt")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes((golden_dir / "gazelle_vits14_random.pt").read_bytes()[:5000])
    with pytest.raises(WeightsError, match="truncated"):
        load_state_dict_file(trunc)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(WeightsError, match="cannot read"):
        load_state_dict_file(evil)  # weights_only=True refuses arbitrary objects
    scalar = tmp_path / "scalar.pt"
    torch.save({"a": torch.zeros(1), "b": 3}, scalar)
    with pytest.raises(WeightsError, match="non-tensor"):
        load_state_dict_file(scalar)


def test_folded_heatmap_head_equals_the_two_layers():
    """heatmap_logits (one 1-channel transposed conv) = the official ConvTranspose2d(256, 256) -> Conv2d(256, 1)."""
    from gazecam.models.gazelle import decoder_config_for

    torch.manual_seed(0)
    dec = GazeLLEDecoder(config=decoder_config_for("gazelle_dinov3", in_dim=64, inout=True, grid=20, out_size=32))
    with torch.no_grad():
        for p in dec.heatmap_head.parameters():
            p.normal_(0, 0.05)
        x = torch.randn(3, 256, 20, 20)
        two_layers = dec.heatmap_head[1](dec.heatmap_head[0](x)).squeeze(1)
        folded = dec.heatmap_logits(x)
    assert folded.shape == two_layers.shape == (3, 40, 40)
    torch.testing.assert_close(folded, two_layers, rtol=0, atol=1e-5)
