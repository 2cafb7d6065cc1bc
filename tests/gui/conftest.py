"""Fixtures for the GUI tests: offscreen Qt, settings in a temp dir, a generated clip, light fakes.

``QT_QPA_PLATFORM=offscreen`` is set here, before anything imports Qt, so the tests need no display.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from gui_fakes import FakeDetector, FakeModel, make_clip  # noqa: E402

from gazecam.gui.app import clean_qt_environment  # noqa: E402  (imports cv2 via the renderer)

clean_qt_environment()  # before pytest-qt creates the QApplication


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture(scope="session", autouse=True)
def _settings_in_tmp(tmp_path_factory):
    """Every QSettings of the test session (also QSettings(org, app) in app code) lives in a temp dir."""
    from PyQt6.QtCore import QSettings

    root = str(tmp_path_factory.mktemp("qsettings"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, root)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    return root


@pytest.fixture
def store(tmp_path):
    """Settings in a temp ini file (the user's real configuration is never touched)."""
    from PyQt6.QtCore import QSettings

    from gazecam.gui.settings import SettingsStore

    return SettingsStore(QSettings(str(tmp_path / "gazecam-live.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def fake_builder():
    from gazecam.gui.processing import ProcessorBuilder

    detector = FakeDetector()
    builder = ProcessorBuilder(model_loader=lambda choice: FakeModel(),
                              detector_factory=lambda spec, device, notify: detector, track=False)
    builder.fake_detector = detector  # type: ignore[attr-defined]
    return builder


@pytest.fixture
def make_window(qtbot, store, fake_builder, tmp_path):
    """Factory: a shown MainWindow (fake model by default); closed at teardown."""
    from gazecam.loading import ModelSpec
    from gazecam.gui.window import MainWindow

    windows = []

    def make(*, source=None, builder=None, model=ModelSpec(name="fake"), **kwargs):
        w = MainWindow(store=store, builder=builder or fake_builder, source=source, model=model,
                       zoo_names=["fake"], **kwargs)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
