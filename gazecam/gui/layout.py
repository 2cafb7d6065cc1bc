"""The main window's layout: banner, message panels, video, transport bar, control and people docks, status bar."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QLabel, QVBoxLayout, QWidget

from .aoi_editor import AOIPeopleTable
from .controls import ControlPanel
from .status import StatusLabels
from .transport import TransportBar
from .widgets import MessagePanel, VideoView

__all__ = ["build_layout"]


def build_layout(win: Any, *, zoo_names: list[str], devices: list[str], backends: list[str]) -> None:
    """Create the widgets of ``win`` (a :class:`~gazecam.gui.window.MainWindow`) and connect them to its slots."""
    central = QWidget()
    col = QVBoxLayout(central)
    col.setContentsMargins(4, 4, 4, 4)
    col.setSpacing(4)
    win.banner = QLabel()
    win.banner.setObjectName("untrainedBanner")
    win.banner.setWordWrap(True)
    win.banner.setStyleSheet("#untrainedBanner {background:#b3261e; color:white; font-weight:bold; "
                             "padding:4px 8px; border-radius:3px;}")
    win.banner.hide()
    col.addWidget(win.banner)
    # One panel per topic, so a missing camera and a missing model are both on screen.
    win.source_message = MessagePanel()
    win.model_message = MessagePanel()
    win.notice = MessagePanel()  # detector fallback, recording problems
    for panel in (win.source_message, win.model_message, win.notice):
        panel.actionTriggered.connect(win._on_message_action)
        col.addWidget(panel)
    win.video = VideoView()
    col.addWidget(win.video, 1)
    win.transport = TransportBar()
    win.transport.stepRequested.connect(win.step)
    win.transport.playToggled.connect(win.toggle_play)
    win.transport.seekRequested.connect(win.seek)
    win.transport.speedChanged.connect(win._on_speed)
    win.transport.recordClicked.connect(win.toggle_recording)
    win.transport.snapshotClicked.connect(lambda: win.snapshot())
    win.seek_slider = win.transport.seek_slider  # the widgets tests and shortcuts reach for
    win.speed_combo = win.transport.speed_combo
    win.record_button = win.transport.record_button
    col.addWidget(win.transport)
    win.setCentralWidget(central)

    win.controls = ControlPanel(view=win.view_settings, gaze=win.gaze_settings, zoo_names=zoo_names,
                                devices=devices, backends=backends)
    win.controls.viewChanged.connect(win._on_view_changed)
    win.controls.gazeChanged.connect(win._on_gaze_changed)
    win.controls.modelRequested.connect(win.load_model)
    win.controls_dock = QDockWidget("Controls", win)
    win.controls_dock.setObjectName("controlsDock")
    win.controls_dock.setWidget(win.controls)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, win.controls_dock)

    win.people = AOIPeopleTable()  # PeopleTable with per-AOI seconds
    win.people_dock = QDockWidget("People", win)
    win.people_dock.setObjectName("peopleDock")
    win.people_dock.setWidget(win.people)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, win.people_dock)

    win.status = StatusLabels(win.statusBar())
