"""Widgets of the main window on their own (offscreen Qt)."""

from __future__ import annotations

import pytest
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
    from gazecam.gaze import GazeOptions
    from gazecam.gui.controls import ControlPanel
    from gazecam.gui.settings import ViewSettings

    panel = ControlPanel(view=ViewSettings(), gaze=GazeOptions(), zoo_names=["z"], devices=["cpu"],
                         backends=["auto"])
    qtbot.addWidget(panel)
    panel.resize(280, 800)
    panel.show()
    qtbot.waitExposed(panel)
    panel.model_state.setText(LONG)
    label = panel.model_state
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)
    assert isinstance(label, WrapLabel) and _wrapped_lines(label) >= 2


def _result(index: int, fps: float, looking_at: list[int], mutual: list[bool]):
    import numpy as np

    from gazecam.types import Frame, GazeResult, HeadBoxes

    frame = Frame(image=np.zeros((90, 160, 3), np.uint8), index=index, timestamp_s=index / fps)
    heads = HeadBoxes(xyxy=np.array([[10, 10, 40, 40], [100, 10, 130, 40]], np.float32), image_size=(90, 160),
                      track_ids=np.array([1, 2]))
    return GazeResult(frame=frame, heads=heads, heatmaps=np.zeros((2, 64, 64), np.float32),
                      points_norm=np.array([[0.72, 0.28], [0.16, 0.28]], np.float32), inout=None,
                      in_frame=np.array([True, True]), looking_at=np.array(looking_at),
                      mutual=np.array(mutual))


def test_people_table_running_totals_and_mutual_gaze_now(qtbot):
    """10 fps: #1 and #2 look at each other for frames 0-20, then #2 looks away; totals count 0.1 s per step."""
    from gazecam.gui.widgets import PeopleTable

    table = PeopleTable()
    qtbot.addWidget(table)
    for i in range(21):
        table.update_result(_result(i, 10.0, [2, 1], [True, True]), 0.5)
    rows = table.rows()
    assert rows[0][2] == "#2  (mutual)" and rows[1][2] == "#1  (mutual)"
    assert rows[0][3] == "#2 2.0 s" and rows[1][3] == "#1 2.0 s"  # 20 steps of 0.1 s
    assert table.totals.mutual_s(1, 2) == pytest.approx(2.0)
    for i in range(21, 31):
        table.update_result(_result(i, 10.0, [2, -1], [False, False]), 0.5)
    rows = table.rows()
    assert rows[0][2] == "#2" and rows[1][2] == "—"  # no mutual gaze now
    assert rows[0][3] == "#2 3.0 s" and rows[1][3] == "#1 2.0 s"
    table.update_result(_result(5, 10.0, [2, 1], [True, True]), 0.5)  # a seek back counts nothing
    assert table.rows()[0][3] == "#2 3.0 s" and table.rows()[0][2] == "#2  (mutual)"
    table.update_result(None, 0.5)  # a new source: totals start over
    assert table.rowCount() == 0
    table.update_result(_result(0, 10.0, [2, 1], [True, True]), 0.5)
    assert table.rows()[0][3] == "#2 0.0 s"
