"""scripts/bench_families.py: its table, its family list, its random weight files, and one tiny row end to end.

No timed assertions: the figures are whatever the machine gives; the tests check what is built from them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from gazecam.zoo import get_zoo_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_families.py"


@pytest.fixture(scope="module")
def bf():
    spec = importlib.util.spec_from_file_location("bench_families", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    path = list(sys.path)  # the script puts the repo's scripts/ and tests/ on it
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
        sys.path[:] = path


def _row(bf, model, *, whole, alone, **kw):
    entry = get_zoo_model(model)
    base = {"model": entry.name, "family": bf.family_label(entry), "input_px": bf._input_px(entry),
            "licence": entry.license, "backend": "onnxruntime fp32", "frames": 10, "whole_fps": whole,
            "alone_fps": alone, "bound": "gaze", "bound_ms": 700.0, "people_per_frame": 3.0,
            "encode_ms": 30.4, "decode_ms": 19.6}
    return bf.Row(**{**base, **kw})


def test_table_has_ratios_to_the_reference_row(bf):
    rows = [_row(bf, "gazelle_dinov2_vitb14_inout", whole=0.5, alone=0.8),
            _row(bf, "hgnet-atto-inout", whole=10.0, alone=20.0, bound="detect", bound_ms=68.4),
            _row(bf, "hgnet-n-inout", whole=None, alone=None, bound="?", bound_ms=None, frames=0, encode_ms=None,
                 decode_ms=None, error="gazecam process: error: boom")]
    lines = bf.markdown_table(rows).splitlines()
    assert lines[0].startswith("| model | family | input | licence | backend |") and lines[1].startswith("|---")
    assert len(lines) == 2 + len(rows)
    ref, atto, failed = (line.split(" | ") for line in lines[2:])
    assert ref[1:5] == ["Gaze-LLE DINOv2 ViT", "448", "MIT (Gaze-LLE) + Apache-2.0 (DINOv2)", "onnxruntime fp32"]
    assert ref[-1] == "1.0x / 1.0x |"
    assert atto[1:4] == ["gazelle-dinov3 CNN (HGNetV2)", "320", "code MIT; weights DINOv3 License"]
    assert atto[5:11] == ["10", "10.0", "20.0", "30 + 20", "3.0", "detect (68)"] and atto[-1] == "20.0x / 25.0x |"
    assert failed[6:11] == ["failed", "failed", "-", "3.0", "gazecam process: error: boom"] and failed[-1] == "- / - |"


def test_table_without_reference_row_has_no_ratios(bf):
    line = bf.markdown_table([_row(bf, "hgnet-femto-inout", whole=4.0, alone=5.0)]).splitlines()[2]
    assert line.endswith("| - / - |") and "| 416 |" in line


def test_families_resolve_aliases_reference_first_once(bf):
    names = [e.name for e in bf.parse_families("hgnet-atto-inout, dinov3-s-inout,hgnet-atto-inout")]
    assert names == ["gazelle_dinov2_vitb14_inout", "gazelle_hgnetv2_atto_inout", "gazelle_dinov3_vit_tiny_inout"]
    names = [e.name for e in bf.parse_families("hgnet-pico,gazelle_dinov2_vitb14_inout")]
    assert names == ["gazelle_dinov2_vitb14_inout", "gazelle_hgnetv2_pico"]
    with pytest.raises(ValueError, match="unknown model 'hgnet-zetta'"):
        bf.parse_families("hgnet-zetta")


def test_family_labels_and_vit_rows(bf):
    labels = {n: bf.family_label(get_zoo_model(n)) for n in ("gazelle_dinov2_vitl14", "dinov3-x", "hgnet-femto")}
    assert labels == {"gazelle_dinov2_vitl14": "Gaze-LLE DINOv2 ViT", "dinov3-x": "gazelle-dinov3 ViT",
                      "hgnet-femto": "gazelle-dinov3 CNN (HGNetV2)"}
    assert bf.is_vit(get_zoo_model("dinov3-s")) and not bf.is_vit(get_zoo_model("hgnet-n-inout"))


@pytest.mark.slow
def test_random_weight_files_load_as_the_zoo_architecture(bf, tmp_path):
    """The files the command gets load through gazecam's file path with the zoo entry's architecture (a
    Gaze-LLE entry with the small ViT-S/14 backbone stands in for ViT-B: same official formats)."""
    from gazecam.cli import build_parser
    from gazecam.commands.common import load_torch_model

    for entry in (get_zoo_model("hgnet-pico-inout"),
                  dataclasses.replace(get_zoo_model("gazelle_dinov2_vitb14"), backbone="dinov2_vits14")):
        folder = tmp_path / entry.name
        folder.mkdir()
        args = bf.random_weight_files(entry, folder)
        model = load_torch_model(build_parser().parse_args(["process", "CLIP", "-o", "OUT.mp4", *args]), device="cpu")
        assert model.backbone.arch.name == entry.backbone and model.has_inout == entry.inout
        assert not model.released


@pytest.mark.slow
def test_one_tiny_row_end_to_end(bf, tmp_path):
    """Atto through the whole command (3 frames, torch backend: no export) and alone: a complete row."""
    from fakes import make_walkers_video

    clip = make_walkers_video(tmp_path / "walkers.mp4", n=3, width=640, height=360)
    row = bf.measure(get_zoo_model("hgnet-atto-inout"), clip=clip, folder=tmp_path, frames=3, model_frames=2,
                     runtime=["--backend", "torch"])
    assert row.error == "" and row.frames == 3 and row.backend == "torch fp32"
    assert row.whole_fps > 0 and row.alone_fps > 0 and row.bound in ("capture", "detect", "gaze", "render", "write")
    assert row.people_per_frame > 0 and row.decode_ms > 0  # the offline detector found the walkers: decoded
    assert "| gazelle_hgnetv2_atto_inout | gazelle-dinov3 CNN (HGNetV2) | 320 |" in bf.markdown_table([row])
