"""``gazecam live``: arguments, model options, cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gazecam.cli import build_parser
from gazecam.commands.live import model_choice_from_args
from gazecam.errors import InputError
from gazecam.gui.settings import ModelChoice


def parse(*argv):
    return build_parser().parse_args(["live", *argv])


def test_defaults_camera_zero_and_saved_model():
    args = parse()
    assert args.source is None and args.detector == "auto"
    assert model_choice_from_args(args) is None  # the window uses the saved choice or the default zoo model


def test_model_options():
    assert model_choice_from_args(parse("clip.mp4", "--model", "gazelle_dinov2_vitl14", "--device", "cpu")) == \
        ModelChoice(zoo_name="gazelle_dinov2_vitl14", device="cpu")
    files = model_choice_from_args(parse("--backbone-weights", "b.pth", "--gaze-weights", "g.pt"))
    assert files.is_files and files.backbone_weights == "b.pth" and files.gaze_weights == "g.pt"
    with pytest.raises(InputError, match="both"):
        model_choice_from_args(parse("--gaze-weights", "g.pt"))
    with pytest.raises(InputError, match="not both"):
        model_choice_from_args(parse("--model", "x", "--backbone-weights", "b", "--gaze-weights", "g"))


def test_command_module_imports_no_qt_or_torch():
    code = ("import sys, gazecam.commands.live; "
            "bad = [m for m in ('PyQt6', 'torch', 'cv2', 'ultralytics') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
