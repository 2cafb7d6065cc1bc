"""The window on a real X server (Xvfb + the xcb platform plugin), not the offscreen plugin.

Needs the Debian packages ``xvfb libxcb-icccm4 libxcb-keysyms1`` (CI installs them); skipped, with that
reason, where Xvfb is missing.  ``scripts/gui_screenshot.py`` does the same with the real model for the
README screenshot.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QApplication
from gui_fakes import FakeDetector, FakeModel
from gazecam.gui.app import ensure_app
from gazecam.gui.processing import ProcessorBuilder
from gazecam.gui.settings import SettingsStore
from gazecam.loading import ModelSpec
from gazecam.gui.sources import SourceSpec
from gazecam.gui.window import MainWindow

app = ensure_app()
store = SettingsStore(QSettings(sys.argv[2] + ".ini", QSettings.Format.IniFormat))
builder = ProcessorBuilder(model_loader=lambda c: FakeModel(), detector_factory=lambda s, d, n: FakeDetector(),
                           track=False)
win = MainWindow(store=store, builder=builder, source=SourceSpec("file", sys.argv[1]),
                 model=ModelSpec(name="fake"), zoo_names=["fake"])
win.resize(900, 600)
win.show()
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (win.latest is not None and win.people.rowCount() == 2):
    app.processEvents()
    time.sleep(0.01)
win.pause()
for _ in range(20):
    app.processEvents()
    time.sleep(0.01)
pix = win.screen().grabWindow(0, win.x(), win.y(), win.width(), win.height())
ok = pix.save(sys.argv[2], "PNG")
print(QApplication.platformName(), win.people.rowCount(), pix.width(), pix.height(), ok)
win.close()
"""


def _start_xvfb():
    spec = importlib.util.spec_from_file_location("gui_screenshot", REPO / "scripts" / "gui_screenshot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.start_xvfb("1280x800x24")


@pytest.mark.skipif(shutil.which("Xvfb") is None,
                    reason="Xvfb is not installed (Debian: apt-get install xvfb libxcb-icccm4 libxcb-keysyms1)")
def test_window_runs_and_grabs_on_xvfb(clip, tmp_path):
    from PIL import Image

    proc, display = _start_xvfb()
    try:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        shot = tmp_path / "xvfb.png"
        r = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(shot), str(Path(__file__).parent)],
                           env=env, capture_output=True, text=True, timeout=120)
    finally:
        proc.terminate()
        proc.wait(10)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    platform, rows, width, height, ok = r.stdout.split()[-5:]
    assert platform == "xcb" and rows == "2" and ok == "True"
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (int(height), int(width)) and int(width) >= 600
    assert image.std() > 10  # a drawn window, not a blank screen
