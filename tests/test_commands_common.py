"""commands/common.py: the one place where library parameter names become command-line flags."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gazecam.cli import main
from gazecam.commands.common import PARAMETER_FLAGS, flag_wording


@pytest.mark.parametrize("message, expected", [
    ("precision='fp16' needs a CUDA device; use precision='bf16' or precision='fp32' on the CPU",
     "--precision fp16 needs a CUDA device; use --precision bf16 or --precision fp32 on the CPU"),
    ("device='cuda': CUDA is not available; use device='cpu'", "--device cuda: CUDA is not available; use --device cpu"),
    ("video_path='/tmp/a b.mp4' is the input file", "-o /tmp/a b.mp4 is the input file"),
    ("compile=True applies to the torch backend", "--compile applies to the torch backend"),
    ("stride=0: expected a whole number >= 1", "--stride 0: expected a whole number >= 1"),
    ("class_name_or_id=99: model.pt has classes 0=person, 1=bicycle",
     "--detector-class 99: model.pt has classes 0=person, 1=bicycle"),
    ("nothing here names a parameter (x=1, filename='a')", "nothing here names a parameter (x=1, filename='a')"),
])
def test_flag_wording(message, expected):
    assert flag_wording(message) == expected


def test_every_mapped_flag_is_a_real_option():
    from gazecam.cli import build_parser

    text = " ".join(p.format_help() for p in build_parser()._subparsers._group_actions[0].choices.values())
    assert all(flag in text for flag in PARAMETER_FLAGS.values())


def test_a_library_error_reaches_the_command_line_in_flag_words(tmp_path, capsys, golden_dir):
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    code = main(["process", str(image), "-o", str(tmp_path / "o.mp4"), "--backend", "onnxruntime", "--precision",
                 "bf16", "--gaze-weights", str(golden_dir / "gazelle_vits14_random.pt"), "--backbone-weights",
                 str(golden_dir / "dinov2_vits14_random.pth"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert err.startswith("gazecam process: error: --backend onnxruntime: the onnxruntime backend runs fp32 or int8 exports")
    assert "--backend tensorrt with --precision fp16" in err and "='" not in err
