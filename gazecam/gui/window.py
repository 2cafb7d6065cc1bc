"""The main window: video with overlays, transport bar, controls, people panel, status bar.

Threads (see :mod:`gazecam.gui.workers`): playback publishes the newest frame; the UI thread draws it
with the newest inference result (re-based onto the frame) and hands it to the inference thread,
which owns the models.  The UI thread never waits on either.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QByteArray, QStandardPaths, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ..types import Frame
from .overlay import Overlay, rebase_result
from .player import FrameSource, SourceMeta
from .settings import GazeSettings, ModelChoice, SettingsStore, ViewSettings
from .sources import SourceSpec, list_cameras, open_source
from .widgets import ControlPanel, MessagePanel, ModelDialog, PeopleTable, VideoView, rgb_to_qimage
from .workers import (
    EngineBuilder,
    InferenceOutput,
    InferenceWorker,
    ModelInfo,
    PlaybackWorker,
    RecorderWorker,
    RecordingSummary,
    TimedFrame,
)

__all__ = ["MainWindow", "default_save_path"]

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
STALE_RESULT_S = 5.0  # a result older than this (source time) is no longer drawn


def default_save_path(kind: str, suffix: str, *, stem: str = "gazecam") -> Path:
    """``<Videos or Pictures>/gazecam-YYYYmmdd-HHMMSS<suffix>`` (the current folder if that is missing)."""
    loc = (QStandardPaths.StandardLocation.MoviesLocation if kind == "video"
           else QStandardPaths.StandardLocation.PicturesLocation)
    base = Path(QStandardPaths.writableLocation(loc) or ".")
    if not base.is_dir():
        base = Path.cwd()
    return base / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}{suffix}"


def _default_sink_factory(path: Path, width: int, height: int, fps: float, audio_from: str | None,
                          audio_start_s: float = 0.0) -> Any:
    """The same H.264 writer as ``gazecam process``; a file source's audio is kept from ``audio_start_s``."""
    from ..sinks import VideoSink

    return VideoSink(path, width=width, height=height, fps=fps, audio_from=audio_from, audio_start_s=audio_start_s)


@dataclass
class _Rate:
    """Events per second over the last few seconds."""

    times: deque

    @classmethod
    def make(cls) -> "_Rate":
        return cls(deque(maxlen=60))

    def tick(self, t: float) -> None:
        self.times.append(t)

    def rate(self, now: float, window_s: float = 2.0) -> float:
        """Events per second over the ticks of the last ``window_s`` seconds (0 with fewer than 2)."""
        recent = [t for t in self.times if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)


class MainWindow(QMainWindow):
    """gazecam live: one window, one source at a time, one model at a time."""

    def __init__(self, *, store: SettingsStore, builder: EngineBuilder, source: SourceSpec | None = None,
                 model: ModelChoice | None = None, zoo_names: list[str] | None = None,
                 devices: list[str] | None = None, backends: list[str] | None = None,
                 source_opener: Callable[[SourceSpec], FrameSource] = open_source,
                 sink_factory: Callable[..., Any] = _default_sink_factory, ask_paths: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("gazecam live")
        self.store = store
        self._open_source_fn = source_opener
        self._sink_factory = sink_factory
        self.ask_paths = ask_paths  # False: record/snapshot straight to the default names (no dialog)
        self.view_settings = store.load_view()
        self.gaze_settings = store.load_gaze()
        self.overlay = Overlay(self.view_settings)

        self.playback: PlaybackWorker | None = None
        self.recorder: RecorderWorker | None = None
        self.source_spec: SourceSpec | None = None
        self.source_meta: SourceMeta | None = None
        self.current: TimedFrame | None = None
        self.annotated: np.ndarray | None = None  # the frame on screen, with overlays
        self.latest: InferenceOutput | None = None
        self.model_info: ModelInfo | None = None
        self.model_choice: ModelChoice | None = None
        self.last_recording: RecordingSummary | None = None
        self.last_snapshot: Path | None = None
        self._display_rate = _Rate.make()
        self._infer_rate = _Rate.make()
        self._latency_ms = float("nan")
        self._infer_ms = float("nan")
        self._epoch_seen = -1
        self._closing = False
        self.frames_displayed = 0  # new frames drawn (not counting redraws of the same frame)

        self.inference = InferenceWorker(builder=builder, gaze=self.gaze_settings)
        self.inference.resultReady.connect(self._on_result)
        self.inference.modelLoading.connect(self._on_model_loading)
        self.inference.modelLoaded.connect(self._on_model_loaded)
        self.inference.modelFailed.connect(self._on_model_failed)
        self.inference.failed.connect(self._on_inference_error)

        self._build_ui(zoo_names or [], devices or ["auto", "cpu"], backends or ["torch"])
        self._build_actions()
        self._restore_geometry()

        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start(500)
        self._seek_timer = QTimer(self)
        self._seek_timer.setSingleShot(True)
        self._seek_timer.setInterval(60)
        self._seek_timer.timeout.connect(self._seek_to_slider)

        self.inference.start()
        if model is None:
            model = store.load_model()
        if model is not None:
            self.controls.show_choice(model)
            self.load_model(model)
        else:
            self.controls.model_state.setText("no model chosen: pick one and press Load model")
        if source is not None:
            self.open_source(source)

    # ------------------------------------------------------------------ UI construction
    def _build_ui(self, zoo_names: list[str], devices: list[str], backends: list[str]) -> None:
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(4, 4, 4, 4)
        col.setSpacing(4)
        self.banner = QLabel()
        self.banner.setObjectName("untrainedBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("#untrainedBanner {background:#b3261e; color:white; font-weight:bold; "
                                  "padding:4px 8px; border-radius:3px;}")
        self.banner.hide()
        col.addWidget(self.banner)
        # One panel per topic, so a missing camera and a missing model are both on screen.
        self.source_message = MessagePanel()
        self.model_message = MessagePanel()
        self.notice = MessagePanel()  # detector fallback, recording problems
        for panel in (self.source_message, self.model_message, self.notice):
            panel.actionTriggered.connect(self._on_message_action)
            col.addWidget(panel)
        self.video = VideoView()
        col.addWidget(self.video, 1)
        col.addLayout(self._build_transport())
        self.setCentralWidget(central)

        self.controls = ControlPanel(view=self.view_settings, gaze=self.gaze_settings, zoo_names=zoo_names,
                                     devices=devices, backends=backends)
        self.controls.viewChanged.connect(self._on_view_changed)
        self.controls.gazeChanged.connect(self._on_gaze_changed)
        self.controls.modelRequested.connect(self.load_model)
        self.controls_dock = QDockWidget("Controls", self)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(self.controls)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.controls_dock)

        self.people = PeopleTable()
        self.people_dock = QDockWidget("People", self)
        self.people_dock.setObjectName("peopleDock")
        self.people_dock.setWidget(self.people)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.people_dock)

        sb = self.statusBar()
        self.status_labels: dict[str, QLabel] = {}
        for key in ("display", "inference", "latency", "dropped", "people", "model"):
            lab = QLabel("")
            lab.setObjectName(f"status_{key}")
            sb.addPermanentWidget(lab)
            self.status_labels[key] = lab
        self.status_labels["model"].setText("model: none")

    def _build_transport(self) -> QHBoxLayout:
        row = QHBoxLayout()
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
        self.step_back_button.clicked.connect(lambda: self.step(-1))
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(lambda: self.step(1))
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
        self.speed_combo.currentIndexChanged.connect(self._on_speed)
        row.addWidget(self.speed_combo)
        self.record_button = QPushButton("● Record")
        self.record_button.setObjectName("record")
        self.record_button.setCheckable(True)
        self.record_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.record_button.setToolTip("record the annotated video (R)")
        self.record_button.clicked.connect(lambda _c: self.toggle_recording())
        row.addWidget(self.record_button)
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setObjectName("snapshot")
        self.snapshot_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.snapshot_button.setToolTip("save the annotated frame as PNG (S)")
        self.snapshot_button.clicked.connect(lambda: self.snapshot())
        row.addWidget(self.snapshot_button)
        self._set_seekable(False)
        return row

    def _build_actions(self) -> None:
        mb = self.menuBar()
        self.actions_by_name: dict[str, QAction] = {}

        def act(menu, name: str, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None,
                checkable: bool = False, checked: bool = False) -> QAction:
            a = QAction(text, self)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if checkable:
                a.setCheckable(True)
                a.setChecked(checked)
                a.toggled.connect(slot)
            else:
                a.triggered.connect(lambda _=False: slot())
            menu.addAction(a)
            self.addAction(a)  # shortcuts work even with the menu bar hidden
            self.actions_by_name[name] = a
            return a

        m = mb.addMenu("&Source")
        act(m, "open_file", "Open &file…", self.ask_open_file, QKeySequence.StandardKey.Open)
        act(m, "open_camera", "Open &camera…", self.ask_open_camera, "Ctrl+K")
        act(m, "open_url", "Open &URL…", self.ask_open_url, "Ctrl+U")
        act(m, "reconnect", "&Reconnect / reopen", self.reconnect, "F5")
        m.addSeparator()
        act(m, "quit", "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = mb.addMenu("&Playback")
        act(m, "play_pause", "Play / &pause", self.toggle_play, "Space")
        act(m, "step_forward", "Next frame", lambda: self.step(1), "Right")
        act(m, "step_back", "Previous frame", lambda: self.step(-1), "Left")
        act(m, "jump_forward", "Forward 5 s", lambda: self.jump(5.0), "Shift+Right")
        act(m, "jump_back", "Back 5 s", lambda: self.jump(-5.0), "Shift+Left")
        act(m, "to_start", "To the start", lambda: self.seek(0), "Home")
        act(m, "slower", "Slower", lambda: self._nudge_speed(-1), "[")
        act(m, "faster", "Faster", lambda: self._nudge_speed(1), "]")
        m.addSeparator()
        act(m, "record", "&Record annotated video", self.toggle_recording, "R")
        act(m, "snapshot", "&Snapshot (PNG)", self.snapshot, "S")

        m = mb.addMenu("&View")
        keys = {"arrows": "A", "heatmap": "H", "combined_heatmap": "C", "boxes": "B", "ids": "I",
                "out_of_frame": "O", "looking_at": "L"}
        for key, label in ControlPanel.OVERLAYS:
            check = self.controls.checks[key]
            a = act(m, f"toggle_{key}", label, check.setChecked, keys.get(key), checkable=True,
                    checked=check.isChecked())
            check.toggled.connect(a.setChecked)
        m.addSeparator()
        act(m, "fullscreen", "&Full screen", self._toggle_fullscreen, "F11")
        m.addAction(self.controls_dock.toggleViewAction())
        m.addAction(self.people_dock.toggleViewAction())

        m = mb.addMenu("&Model")
        act(m, "model_files", "Load local weight &files…", self.ask_model_files, "Ctrl+M")
        act(m, "model_reload", "&Reload the chosen model", lambda: self.controls.load_button.click())

        m = mb.addMenu("&Help")
        act(m, "shortcuts", "&Keyboard shortcuts", self._show_shortcuts, "F1")

    # ------------------------------------------------------------------ sources
    def open_source(self, spec: SourceSpec) -> None:
        """Close the current source (and recording) and open ``spec`` in a new playback thread."""
        self.stop_recording()
        self._stop_playback()
        self.source_spec = spec
        self.source_meta = None
        self.current = None
        self.annotated = None
        self.latest = None
        self.people.update_result(None, self.gaze_settings.inout_threshold)
        self.video.set_image(None)
        self.video.set_hint(f"Opening {spec.label} …")
        self.source_message.hide()
        self.setWindowTitle(f"gazecam live — {spec.label}")
        self.inference.reset()
        pb = PlaybackWorker(opener=lambda: self._open_source_fn(spec), live=spec.live, autoplay=True)
        pb.frameReady.connect(self._on_frame)
        pb.opened.connect(self._on_opened)
        pb.failed.connect(self._on_source_failed)
        pb.ended.connect(self._on_ended)
        pb.playingChanged.connect(self._on_playing_changed)
        self.playback = pb
        self._set_seekable(False)
        pb.start()
        self.store.set_value("source/last", spec.value if spec.kind != "camera" else f"camera:{spec.value}")

    def _stop_playback(self) -> None:
        pb, self.playback = self.playback, None
        if pb is not None:
            for sig in (pb.frameReady, pb.opened, pb.failed, pb.ended, pb.playingChanged):
                try:
                    sig.disconnect()
                except TypeError:
                    pass
            pb.stop()

    def ask_open_file(self) -> None:
        start = str(self.store.value("source/dir", str(Path.cwd())))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video or image", start,
            "Videos and images (*.mp4 *.mkv *.avi *.mov *.webm *.m4v *.mpg *.ts *.png *.jpg *.jpeg *.bmp);;"
            "All files (*)")
        if path:
            self.store.set_value("source/dir", str(Path(path).parent))
            self.open_source(SourceSpec("file", path))

    def ask_open_camera(self) -> None:
        cams = list_cameras() or ["0"]
        item, ok = QInputDialog.getItem(self, "Open camera", "Camera index (or /dev/videoN):", cams, 0, True)
        if ok and item.strip():
            self.open_source(SourceSpec.parse(item.strip()))

    def ask_open_url(self) -> None:
        last = str(self.store.value("source/url", "rtsp://"))
        url, ok = QInputDialog.getText(self, "Open stream URL", "URL (rtsp://, http://, …):", text=last)
        if ok and url.strip():
            self.store.set_value("source/url", url.strip())
            self.open_source(SourceSpec.parse(url.strip()))

    def reconnect(self) -> None:
        if self.playback is not None and self.playback.is_alive():
            self.playback.reconnect()
            self.source_message.hide()
            self.video.set_hint(f"Reconnecting to {self.source_spec.label if self.source_spec else 'source'} …")
        elif self.source_spec is not None:
            self.open_source(self.source_spec)

    # ------------------------------------------------------------------ playback control
    def toggle_play(self) -> None:
        if self.playback is None:
            return
        if self.playback.playing:
            self.playback.pause()
        else:
            self.playback.play()

    def play(self) -> None:
        if self.playback is not None:
            self.playback.play()

    def pause(self) -> None:
        if self.playback is not None:
            self.playback.pause()

    def step(self, delta: int) -> None:
        if self.playback is not None and self.source_meta is not None and not self.source_meta.live:
            self.playback.step(delta)

    def seek(self, index: int) -> None:
        if self.playback is not None and self.source_meta is not None and not self.source_meta.live:
            self.playback.seek(index)

    def jump(self, seconds: float) -> None:
        if self.current is not None and self.source_meta is not None:
            self.seek(self.current.frame.index + int(round(seconds * self.source_meta.fps)))

    def set_speed(self, speed: float) -> None:
        idx = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))
        self.speed_combo.setCurrentIndex(idx)

    def _nudge_speed(self, delta: int) -> None:
        self.speed_combo.setCurrentIndex(min(max(self.speed_combo.currentIndex() + delta, 0), len(SPEEDS) - 1))

    def _on_speed(self, _index: int) -> None:
        if self.playback is not None:
            self.playback.set_speed(float(self.speed_combo.currentData()))

    def _seek_to_slider(self) -> None:
        self.seek(self.seek_slider.value())

    def _on_slider_action(self, action: int) -> None:
        # Page clicks on the groove: seek once the slider has moved.
        if action in (QSlider.SliderAction.SliderPageStepAdd.value, QSlider.SliderAction.SliderPageStepSub.value):
            QTimer.singleShot(0, self._seek_to_slider)

    def _set_seekable(self, seekable: bool) -> None:
        for w in (self.seek_slider, self.step_button, self.step_back_button, self.speed_combo):
            w.setEnabled(seekable)

    # ------------------------------------------------------------------ playback signals
    def _on_opened(self, meta: SourceMeta) -> None:
        self.source_meta = meta
        self.source_message.hide()
        self._set_seekable(not meta.live)
        if not meta.live:
            self.seek_slider.setRange(0, max(meta.frame_count - 1, 0))
            self.seek_slider.setPageStep(max(int(meta.fps * 5), 1))
            self._on_speed(self.speed_combo.currentIndex())
        self.video.set_hint(f"{meta.name}: waiting for the first frame …")
        kind = "live" if meta.live else f"{meta.frame_count} frames"
        self.statusBar().showMessage(f"opened {meta.name}: {meta.width}×{meta.height}, {meta.fps:.3g} fps, {kind}",
                                     5000)

    def _on_source_failed(self, message: str, can_retry: bool) -> None:
        spec = self.source_spec
        what = spec.label if spec else "the source"
        if self.recorder is not None:
            self.stop_recording()
        title = (f"{what}: the camera/stream stopped or could not be opened." if can_retry
                 else f"{what} could not be played.")
        actions = (("retry", "Reconnect"), ("open", "Open file…")) if can_retry else (("open", "Open file…"),)
        self.source_message.show_message("error", title, message, actions)
        if self.current is None:
            self.video.set_hint(f"{what}: no video\n{message.splitlines()[0] if message else ''}")

    def _on_ended(self) -> None:
        self.statusBar().showMessage("end of the file (Space plays it again from the start)", 5000)

    def _on_playing_changed(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_frame(self) -> None:
        pb = self.playback
        if pb is None:
            return
        item = pb.frames.take()
        if item is None:
            return
        now = time.monotonic()
        if item.epoch != self._epoch_seen:  # seek / reconnect: old tracks and results no longer apply
            if self._epoch_seen >= 0:
                self.inference.reset()
            self._epoch_seen = item.epoch
            self.latest = None
        self.current = item
        self.frames_displayed += 1
        self._display_rate.tick(now)
        self._draw(record=True)
        if self.model_info is not None:  # no model (yet): the video plays on its own
            self.inference.submit(item)
        self._update_position(item.frame)

    def _update_position(self, frame: Frame) -> None:
        meta = self.source_meta
        if meta is None or meta.live:
            self.time_label.setText(f"{_fmt_time(frame.timestamp_s)}  frame {frame.index}")
            return
        if not self.seek_slider.isSliderDown():
            self.seek_slider.blockSignals(True)
            self.seek_slider.setValue(frame.index)
            self.seek_slider.blockSignals(False)
        self.time_label.setText(f"{_fmt_time(frame.timestamp_s)} / {_fmt_time(meta.duration_s)}  "
                                f"#{frame.index}")

    # ------------------------------------------------------------------ drawing
    def _result_for(self, item: TimedFrame):
        out = self.latest
        if out is None or out.epoch != item.epoch:
            return None
        if abs(item.frame.timestamp_s - out.result.frame.timestamp_s) > STALE_RESULT_S:
            return None
        return rebase_result(out.result, item.frame)

    def _draw(self, *, record: bool = False) -> None:
        item = self.current
        if item is None:
            return
        result = self._result_for(item)
        self.annotated = self.overlay.draw(item.frame.image, result)
        self.video.set_image(rgb_to_qimage(self.annotated))
        if record and self.recorder is not None:
            self.recorder.write(self.annotated)

    def _on_result(self) -> None:
        out = self.inference.results.take()
        if out is None:
            return
        now = time.monotonic()
        if self.current is not None and out.epoch != self.current.epoch:
            return  # computed for a frame before the last seek
        self.latest = out
        self._infer_rate.tick(now)
        self._infer_ms = out.infer_ms
        self._latency_ms = (now - out.t_source) * 1000.0
        self.people.update_result(out.result, self.gaze_settings.inout_threshold)
        if self.playback is None or not self.playback.playing:
            self._draw(record=False)  # paused: show the overlays on the still frame

    # ------------------------------------------------------------------ settings
    def _on_view_changed(self, view: ViewSettings) -> None:
        self.view_settings = view
        self.overlay.set_view(view)
        self.store.save_view(view)
        self._draw(record=False)

    def _on_gaze_changed(self, gaze: GazeSettings) -> None:
        self.gaze_settings = gaze
        self.inference.set_gaze(gaze)
        self.store.save_gaze(gaze)

    def set_view(self, view: ViewSettings) -> None:
        """Apply view settings through the controls (as a user would)."""
        self.controls.set_view(view)

    # ------------------------------------------------------------------ model
    def load_model(self, choice: ModelChoice) -> None:
        self.model_choice = choice
        self.inference.load_model(choice)

    def ask_model_files(self) -> None:
        base = self.model_choice if self.model_choice and self.model_choice.is_files else ModelChoice()
        dlg = ModelDialog(base, parent=self)
        if dlg.exec() == ModelDialog.DialogCode.Accepted:
            choice = replace(dlg.choice(), **self.controls.runtime())
            self.controls.show_choice(choice)
            self.load_model(choice)

    def _on_model_loading(self, choice: ModelChoice) -> None:
        self.model_info = None
        self.latest = None
        self.overlay.clear_model()
        self.banner.hide()
        self.controls.model_state.setText(f"loading {choice.label} on {choice.device} …")
        self.controls.load_button.setEnabled(False)
        self.status_labels["model"].setText(f"model: loading {choice.label} …")
        self._draw()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.controls.load_button.setEnabled(True)
        self.overlay.set_model(released=info.released, note=info.note)
        if info.released:
            self.banner.hide()
        else:
            self.banner.setText("⚠ Untrained weights — gaze output is meaningless"
                                + (f": {info.note}" if info.note else "")
                                + ". Load a released model (gazecam models list) for real results.")
            self.banner.show()
        state = f"{info.name} on {info.device} ({info.backend}), detector {info.detector}"
        self.controls.model_state.setText(state)
        self.status_labels["model"].setText(f"model: {info.name} · {info.device}/{info.backend}")
        self.model_message.hide()
        if info.detector_warning:
            self.notice.show_message("warning", "Head detector: offline fallback in use", info.detector_warning)
        if self.model_choice is not None:
            self.store.save_model(self.model_choice)
        self._draw()

    def _on_model_failed(self, message: str) -> None:
        self.model_info = None
        self.controls.load_button.setEnabled(True)
        self.controls.model_state.setText("not loaded (see the message above the video)")
        self.status_labels["model"].setText("model: none")
        what = "head detector" if message.startswith("head detector") else "gaze model"
        self.model_message.show_message(
            "error", f"The {what} could not be loaded — the video plays without gaze overlays.",
            message, (("model_files", "Local files…"), ("model_panel", "Choose model…")))

    def _on_inference_error(self, message: str) -> None:
        self.statusBar().showMessage(f"inference error: {message}", 8000)

    # ------------------------------------------------------------------ recording / snapshot
    def _ask_save(self, kind: str, suffix: str, title: str, filt: str) -> Path | None:
        default = default_save_path(kind, suffix)
        if not self.ask_paths:
            return default
        path, _ = QFileDialog.getSaveFileName(self, title, str(default), filt)
        if not path:
            return None
        p = Path(path)
        return p if p.suffix else p.with_suffix(suffix)

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def toggle_recording(self) -> None:
        if self.recorder is not None:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, path: Path | None = None) -> bool:
        meta = self.source_meta
        if self.recorder is not None:
            return True
        if meta is None or self.current is None:
            self.record_button.setChecked(False)
            self.statusBar().showMessage("nothing to record: open a source first", 5000)
            return False
        if path is None:
            path = self._ask_save("video", ".mp4", "Record annotated video", "MP4 video (*.mp4)")
            if path is None:
                self.record_button.setChecked(False)
                return False
        frame = self.current.frame
        audio = meta.audio_path if not meta.live else None
        rec = RecorderWorker(path=Path(path), width=frame.width, height=frame.height, fps=meta.fps,
                             audio_from=audio, audio_start_s=frame.timestamp_s if audio else 0.0,
                             sink_factory=self._sink_factory)
        rec.failed.connect(self._on_record_failed)
        try:
            rec.start()
        except Exception as e:  # noqa: BLE001 - unwritable path, ...
            self.record_button.setChecked(False)
            self.notice.show_message("error", "Cannot record", str(e))
            self.last_recording = RecordingSummary(Path(path), 0, 0, str(e))
            return False
        self.recorder = rec
        if self.annotated is not None:
            rec.write(self.annotated)  # the recording starts with the frame on screen
        self.record_button.setChecked(True)
        self.record_button.setText("■ Stop")
        self.record_button.setStyleSheet("color:#d22; font-weight:bold;")
        self.statusBar().showMessage(f"recording to {path}" + (" (with the source's sound)" if rec.has_audio else ""),
                                     6000)
        return True

    def stop_recording(self) -> RecordingSummary | None:
        rec, self.recorder = self.recorder, None
        self.record_button.setChecked(False)
        self.record_button.setText("● Record")
        self.record_button.setStyleSheet("")
        if rec is None:
            return None
        summary = rec.stop()
        self.last_recording = summary
        if summary.error:
            self.statusBar().showMessage(summary.error, 10000)
        else:
            extra = f", {summary.dropped} frames dropped (encoder too slow)" if summary.dropped else ""
            self.statusBar().showMessage(f"saved {summary.frames} frames to {summary.path}{extra}", 8000)
        return summary

    def _on_record_failed(self, message: str) -> None:
        self.stop_recording()
        self.notice.show_message("error", "Recording stopped", message)

    def snapshot(self, path: Path | None = None) -> Path | None:
        if self.annotated is None:
            self.statusBar().showMessage("nothing to save yet", 4000)
            return None
        image = self.annotated
        if path is None:
            path = self._ask_save("image", ".png", "Save snapshot", "PNG image (*.png)")
            if path is None:
                return None
        try:
            from ..imageio import write_png

            write_png(path, image)
        except Exception as e:  # noqa: BLE001 - unwritable folder, disk full
            self.statusBar().showMessage(f"snapshot not saved: {e}", 8000)
            return None
        self.last_snapshot = Path(path)
        self.statusBar().showMessage(f"snapshot saved to {path}", 5000)
        return Path(path)

    # ------------------------------------------------------------------ messages, status
    def _on_message_action(self, key: str) -> None:
        if key == "retry":
            self.reconnect()
        elif key == "open":
            self.ask_open_file()
        elif key == "model_files":
            self.ask_model_files()
        elif key == "model_panel":
            self.controls_dock.show()
            self.controls_dock.raise_()
            self.controls.model_combo.setFocus()

    def _refresh_status(self) -> None:
        now = time.monotonic()
        lab = self.status_labels
        playing = self.playback is not None and self.playback.playing
        lab["display"].setText(f"display {self._display_rate.rate(now):4.1f} fps" if playing else "display paused")
        # Inference: over a longer window (slow CPU models deliver a result every few seconds).
        lab["inference"].setText(f"inference {self._infer_rate.rate(now, 30.0):4.1f} fps"
                                 + (f" ({self._infer_ms:.0f} ms/frame)" if self._infer_ms == self._infer_ms else ""))
        lab["latency"].setText(f"latency {self._latency_ms:.0f} ms" if self._latency_ms == self._latency_ms
                               else "latency –")
        lab["dropped"].setText(f"dropped {self.dropped_frames}")
        lab["dropped"].setToolTip(f"frames never shown: {self.dropped_frames}; frames the model skipped "
                                  f"(slower than the video): {self.inference.inbox.dropped}")
        people = len(self.latest.result) if self.latest is not None else 0
        lab["people"].setText(f"people {people}")
        if self.recorder is not None:
            rec = self.recorder
            self.record_button.setText(f"■ Stop ({rec.frames + rec.queued})")

    @property
    def dropped_frames(self) -> int:
        return self.playback.dropped if self.playback is not None else 0

    def status_text(self) -> str:
        self._refresh_status()
        return " | ".join(lab.text() for lab in self.status_labels.values())

    def _toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _show_shortcuts(self) -> None:
        lines = [f"{a.shortcut().toString():>12}   {a.text().replace('&', '')}"
                 for a in self.actions_by_name.values() if not a.shortcut().isEmpty()]
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(lines))

    # ------------------------------------------------------------------ geometry, shutdown
    def _restore_geometry(self) -> None:
        geo = self.store.value("window/geometry")
        state = self.store.value("window/state")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 760)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def shutdown(self) -> None:
        """Finalise a recording and stop every thread (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self._status_timer.stop()
        self.stop_recording()
        self._stop_playback()
        self.inference.stop()
        self.store.set_value("window/geometry", self.saveGeometry())
        self.store.set_value("window/state", self.saveState())
        self.store.save_view(self.view_settings)
        self.store.save_gaze(self.gaze_settings)
        self.store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        event.accept()


def _fmt_time(seconds: float) -> str:
    seconds = max(float(seconds), 0.0)
    m, s = divmod(seconds, 60.0)
    return f"{int(m):02d}:{s:05.2f}"
