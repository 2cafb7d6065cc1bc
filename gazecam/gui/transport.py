"""The transport bar under the video: step back, play/pause, step, seek slider, time, speed, record, snapshot.

It only shows state and asks for things (signals); the window decides what happens.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QWidget

from ..types import Frame

__all__ = ["TransportBar", "SPEEDS", "fmt_time"]

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


def fmt_time(seconds: float) -> str:
    """``MM:SS.ss``."""
    seconds = max(float(seconds), 0.0)
    m, s = divmod(seconds, 60.0)
    return f"{int(m):02d}:{s:05.2f}"


class TransportBar(QWidget):
    """Playback controls; a seek is asked for when the slider is released, clicked or dragged (debounced)."""

    stepRequested = pyqtSignal(int)
    playToggled = pyqtSignal()
    seekRequested = pyqtSignal(int)
    speedChanged = pyqtSignal(float)
    recordClicked = pyqtSignal()
    snapshotClicked = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        style = self.style()

        def button(name: str, icon: QStyle.StandardPixmap, tip: str) -> QPushButton:
            b = QPushButton()
            b.setObjectName(name)
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(b)
            return b

        self.step_back_button = button("step_back", QStyle.StandardPixmap.SP_MediaSeekBackward,
                                       "previous frame (Left)")
        self.play_button = button("play", QStyle.StandardPixmap.SP_MediaPlay, "play / pause (Space)")
        self.step_button = button("step", QStyle.StandardPixmap.SP_MediaSeekForward, "next frame (Right)")
        self.step_back_button.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.play_button.clicked.connect(self.playToggled.emit)
        self.step_button.clicked.connect(lambda: self.stepRequested.emit(1))

        self._seek_timer = QTimer(self)
        self._seek_timer.setSingleShot(True)
        self._seek_timer.setInterval(60)
        self._seek_timer.timeout.connect(self._seek_to_slider)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setObjectName("seek")
        self.seek_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.seek_slider.sliderMoved.connect(lambda _v: self._seek_timer.start())
        self.seek_slider.sliderReleased.connect(self._seek_to_slider)
        self.seek_slider.actionTriggered.connect(self._on_slider_action)
        row.addWidget(self.seek_slider, 1)

        self.time_label = QLabel("--:-- / --:--")
        self.time_label.setObjectName("time")
        row.addWidget(self.time_label)
        self.speed_combo = QComboBox()
        self.speed_combo.setObjectName("speed")
        self.speed_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.setToolTip("playback speed ([ and ])")
        self.speed_combo.currentIndexChanged.connect(lambda _i: self.speedChanged.emit(self.speed))
        row.addWidget(self.speed_combo)

        self.record_button = QPushButton("● Record")
        self.record_button.setObjectName("record")
        self.record_button.setCheckable(True)
        self.record_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.record_button.setToolTip("record the annotated video (R)")
        self.record_button.clicked.connect(lambda _c: self.recordClicked.emit())
        row.addWidget(self.record_button)
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setObjectName("snapshot")
        self.snapshot_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.snapshot_button.setToolTip("save the annotated frame as PNG (S)")
        self.snapshot_button.clicked.connect(lambda: self.snapshotClicked.emit())
        row.addWidget(self.snapshot_button)
        self.set_seekable(False)

    # -- state shown
    @property
    def speed(self) -> float:
        return float(self.speed_combo.currentData())

    def set_speed(self, speed: float) -> None:
        """Choose the listed speed nearest to ``speed``."""
        self.speed_combo.setCurrentIndex(min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed)))

    def nudge_speed(self, delta: int) -> None:
        self.speed_combo.setCurrentIndex(min(max(self.speed_combo.currentIndex() + delta, 0), len(SPEEDS) - 1))

    def set_seekable(self, seekable: bool) -> None:
        for w in (self.seek_slider, self.step_button, self.step_back_button, self.speed_combo):
            w.setEnabled(seekable)

    def set_length(self, last_index: int, fps: float) -> None:
        """A file of frames ``0 .. last_index``; page steps of 5 s."""
        self.seek_slider.setRange(0, max(last_index, 0))
        self.seek_slider.setPageStep(max(int(fps * 5), 1))

    def set_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def set_recording(self, recording: bool) -> None:
        self.record_button.setChecked(recording)
        self.record_button.setText("■ Stop" if recording else "● Record")
        self.record_button.setStyleSheet("color:#d22; font-weight:bold;" if recording else "")

    def show_recorded(self, frames: int) -> None:
        self.record_button.setText(f"■ Stop ({frames})")

    def show_position(self, frame: Frame, *, duration_s: float | None) -> None:
        """The frame on screen: slider and time (``duration_s`` None: a live source, no slider)."""
        if duration_s is None:
            self.time_label.setText(f"{fmt_time(frame.timestamp_s)}  frame {frame.index}")
            return
        if not self.seek_slider.isSliderDown():
            self.seek_slider.blockSignals(True)
            if frame.index > self.seek_slider.maximum():  # a file whose length was not known
                self.seek_slider.setMaximum(frame.index)
            self.seek_slider.setValue(frame.index)
            self.seek_slider.blockSignals(False)
        self.time_label.setText(f"{fmt_time(frame.timestamp_s)} / {fmt_time(duration_s)}  #{frame.index}")

    # -- slider
    def _seek_to_slider(self) -> None:
        self.seekRequested.emit(self.seek_slider.value())

    def _on_slider_action(self, action: int) -> None:
        # Page clicks on the groove: seek once the slider has moved.
        if action in (QSlider.SliderAction.SliderPageStepAdd.value, QSlider.SliderAction.SliderPageStepSub.value):
            QTimer.singleShot(0, self._seek_to_slider)
