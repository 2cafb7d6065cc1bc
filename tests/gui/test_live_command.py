"""``gazecam live``: arguments, model options, cheap import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gazecam.cli import build_parser
from gazecam.commands.live import model_spec_from_args
from gazecam.errors import InputError
from gazecam.loading import ModelSpec


def parse(*argv):
    return build_parser().parse_args(["live", *argv])


def test_defaults_camera_zero_and_saved_model():
    args = parse()
    assert args.source is None and args.detector == "auto"
    assert model_spec_from_args(args) is None  # the window uses the saved choice or the default zoo model


def test_model_options():
    assert model_spec_from_args(parse("clip.mp4", "--model", "gazelle_dinov2_vitl14", "--device", "cpu")) == \
        ModelSpec(name="gazelle_dinov2_vitl14", device="cpu", progress=False)
    files = model_spec_from_args(parse("--backbone-weights", "b.pth", "--gaze-weights", "g.pt"))
    assert files.is_files and files.backbone_weights == Path("b.pth") and files.gaze_weights == Path("g.pt")
    alone = model_spec_from_args(parse("--gaze-weights", "g.pt"))  # a gaze file that holds its backbone
    assert alone.is_files and alone.backbone_weights is None and alone.gaze_weights == Path("g.pt")
    with pytest.raises(InputError, match="needs gaze_weights"):
        model_spec_from_args(parse("--backbone-weights", "b.pth"))
    with pytest.raises(InputError, match="not both"):
        model_spec_from_args(parse("--model", "x", "--backbone-weights", "b", "--gaze-weights", "g"))


def test_command_module_imports_no_qt_or_torch():
    code = ("import sys, gazecam.commands.live; "
            "bad = [m for m in ('PyQt6', 'torch', 'cv2', 'ultralytics') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_runtime_options_are_carried():
    choice = model_spec_from_args(parse("--model", "gazelle_dinov2_vitb14", "--backend", "onnxruntime",
                                        "--precision", "fp32", "--device", "cpu"))
    assert (choice.backend, choice.precision, choice.device, choice.compile) == ("onnxruntime", "fp32", "cpu", False)


@pytest.mark.slow
def test_live_runs_the_window_until_closed(qapp, clip, golden_dir, monkeypatch, tmp_path, _settings_in_tmp):
    """``gazecam live CLIP --backbone-weights ... --detector face`` in-process: window up, model loaded, closed."""
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from gazecam.commands.live import run
    from gazecam.gui.window import MainWindow

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # ultralytics' settings file: in tmp
    args = parse(str(clip), "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
                 "--gaze-weights", str(golden_dir / "gazelle_vits14_inout_random.pt"), "--device", "cpu",
                 "--detector", "face")
    seen: list[str] = []

    def windows() -> list[MainWindow]:
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]

    def poll() -> None:
        for w in windows():
            if w.model_info is not None and w.current is not None and w.current.frame.index >= 2:
                seen.append(f"{w.model_info.name} {w.model_info.detector} {w.source_info.uri}")
                w.close()
                return
        QTimer.singleShot(50, poll)

    QTimer.singleShot(0, poll)
    QTimer.singleShot(60_000, lambda: [w.close() for w in windows()])  # never hang the suite
    assert run(args) == 0
    assert seen == [f"gazelle_vits14_inout_random face-cascade (fallback) {clip}"]
    from PyQt6.QtCore import QSettings

    from gazecam.gui.settings import APPLICATION, ORGANIZATION

    saved = QSettings(ORGANIZATION, APPLICATION)
    assert saved.fileName().startswith(_settings_in_tmp) and saved.value("source/last") == str(clip)
