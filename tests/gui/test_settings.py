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
