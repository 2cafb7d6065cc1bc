"""Widgets of the main window on their own (offscreen Qt)."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from gazecam.gui.widgets import WrapLabel

LONG = "gazelle_dinov2_vitl14_inout on cuda:0 (TensorRTBackend), detector face-cascade (fallback)"


def _wrapped_lines(label: QLabel) -> int:
    return round(label.heightForWidth(label.width()) / label.fontMetrics().lineSpacing())


def test_wrap_label_grows_to_fit_its_text_in_a_narrow_dock(qtbot):
    win = QMainWindow()
    qtbot.addWidget(win)
    panel = QWidget()
    lay = QVBoxLayout(panel)
    label = WrapLabel("short")
    lay.addWidget(label)
    lay.addStretch(1)
    dock = QDockWidget("Controls", win)
    dock.setWidget(panel)
    win.setCentralWidget(QWidget())
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    win.resize(900, 400)
    win.show()
    qtbot.waitExposed(win)
    one_line = label.minimumHeight()
    label.setText(LONG)
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)
    assert _wrapped_lines(label) >= 2  # the text really wraps at this width
    assert label.minimumHeight() > one_line
    assert label.height() >= label.heightForWidth(label.width())  # every wrapped line is visible
    label.setText("short")
    assert label.minimumHeight() == one_line  # shrinks back


def test_control_panel_model_state_shows_a_long_state_whole(qtbot):
    from gazecam.gui.settings import GazeSettings, ViewSettings
    from gazecam.gui.widgets import ControlPanel

    panel = ControlPanel(view=ViewSettings(), gaze=GazeSettings(), zoo_names=["z"], devices=["cpu"],
                         backends=["auto"])
    qtbot.addWidget(panel)
    panel.resize(280, 800)
    panel.show()
    qtbot.waitExposed(panel)
    panel.model_state.setText(LONG)
    label = panel.model_state
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)
    assert isinstance(label, WrapLabel) and _wrapped_lines(label) >= 2
