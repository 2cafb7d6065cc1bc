"""Settings dataclasses and their QSettings round trip."""

from __future__ import annotations

import pytest

from gazecam.gaze import GazeOptions
from gazecam.gui.settings import ViewSettings, model_label
from gazecam.loading import ModelSpec


def test_round_trip(store):
    view = ViewSettings(arrows=False, heatmap_opacity=0.2, combined_heatmap=False)
    gaze = GazeOptions(inout_threshold=0.35, smooth=False, stride=3)
    model = ModelSpec(backbone="dinov2_vits14", backbone_weights="/x/b.pth", gaze_weights="/x/g.pt", device="cpu")
    store.save_view(view)
    store.save_gaze(gaze)
    store.save_model(model)
    store.sync()
    from PyQt6.QtCore import QSettings

    from gazecam.gui.settings import SettingsStore

    again = SettingsStore(QSettings(store.q.fileName(), QSettings.Format.IniFormat))
    assert again.load_view() == view
    assert again.load_gaze() == gaze
    assert again.load_model() == model
    assert model_label(again.load_model()) == "g.pt (local files)"


def test_defaults_and_bad_values(store):
    assert store.load_view() == ViewSettings() and store.load_gaze() == GazeOptions()
    assert store.load_model() is None
    store.set_value("gaze/stride", "0")  # invalid (hand-edited): defaults, no crash
    store.set_value("view/heatmap_opacity", "lots")
    assert store.load_gaze() == GazeOptions()
    assert store.load_view().heatmap_opacity == ViewSettings().heatmap_opacity


def test_gaze_settings_validate():
    with pytest.raises(ValueError, match="stride"):
        GazeOptions(stride=0)
    with pytest.raises(ValueError, match="inout_threshold"):
        GazeOptions(inout_threshold=1.5)


def test_live_settings_follow_xdg_config_home(tmp_path):
    """Saved in the user's config folder, not under GAZECAM_HOME; XDG_CONFIG_HOME is honoured (a fresh process:
    Qt reads the setting once, and this test session's settings are redirected by conftest)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = "from gazecam.gui.settings import open_settings; print(open_settings().fileName())"
    env = {**os.environ, "PYTHONPATH": str(repo), "QT_QPA_PLATFORM": "offscreen", "GAZECAM_HOME": str(tmp_path / "c"),
           "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if sys.platform.startswith("linux"):
        assert out.stdout.strip() == str(tmp_path / "xdg" / "gazecam" / "gazecam-live.conf")


def test_settings_saved_before_model_spec_still_load(tmp_path):
    """A settings file of an older gazecam (ModelChoice's ``zoo_name``, GazeSettings' three gaze keys) loads."""
    from PyQt6.QtCore import QSettings

    from gazecam.gui.settings import SettingsStore

    old = tmp_path / "old.conf"
    old.write_text("[gaze]\ninout_threshold=0.35\nsmooth=false\nstride=3\n\n"
                   "[model]\nzoo_name=gazelle_dinov2_vitl14_inout\nbackbone=\nbackbone_weights=\ngaze_weights=\n"
                   "device=cpu\nbackend=onnxruntime\nprecision=int8\ncompile=false\n\n"
                   "[view]\narrows=false\nheatmap_opacity=0.3\n")
    store = SettingsStore(QSettings(str(old), QSettings.Format.IniFormat))
    assert store.load_model() == ModelSpec(name="gazelle_dinov2_vitl14_inout", device="cpu", backend="onnxruntime",
                                           precision="int8")
    assert store.load_gaze() == GazeOptions(inout_threshold=0.35, smooth=False, stride=3)
    assert store.load_view() == ViewSettings(arrows=False, heatmap_opacity=0.3)
    store.save_model(store.load_model())  # saved again in today's keys
    store.sync()
    again = SettingsStore(QSettings(str(old), QSettings.Format.IniFormat))
    assert not again.q.contains("model/zoo_name") and again.q.value("model/name") == "gazelle_dinov2_vitl14_inout"
    assert again.load_model() == ModelSpec(name="gazelle_dinov2_vitl14_inout", device="cpu", backend="onnxruntime",
                                           precision="int8")


def test_local_files_of_an_old_settings_file(tmp_path):
    from pathlib import Path

    from PyQt6.QtCore import QSettings

    from gazecam.gui.settings import SettingsStore

    old = tmp_path / "old.conf"
    old.write_text("[model]\nzoo_name=\nbackbone=dinov2_vits14\nbackbone_weights=/x/b.pth\ngaze_weights=/x/g.pt\n"
                   "device=auto\nbackend=auto\nprecision=fp32\ncompile=true\n")
    spec = SettingsStore(QSettings(str(old), QSettings.Format.IniFormat)).load_model()
    assert spec == ModelSpec(backbone="dinov2_vits14", backbone_weights=Path("/x/b.pth"), gaze_weights=Path("/x/g.pt"),
                             compile=True)
    assert model_label(spec) == "g.pt (local files)"


def test_stride_auto_round_trip(store):
    store.save_gaze(GazeOptions(stride="auto", max_stride=8, scene_threshold=0.3))
    store.sync()
    assert store.load_gaze() == GazeOptions(stride="auto", max_stride=8, scene_threshold=0.3)
    store.set_value("gaze/stride", "sometimes")  # hand-edited: the defaults, no crash
    assert store.load_gaze() == GazeOptions()
