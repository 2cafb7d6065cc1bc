"""The main window: video with overlays, transport bar, controls, people panel, status bar.

Threads: :mod:`~gazecam.gui.playback` publishes the newest frame; the UI thread draws it with the
newest result of :mod:`~gazecam.gui.inference` (re-based onto the frame) and hands the frame to the
inference threads (detect, then gaze, overlapped), which own the models.  The UI thread never waits on
them.  The widgets are laid out by :mod:`~gazecam.gui.layout`; recording and snapshots are
:mod:`~gazecam.gui.recording`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QByteArray, QTimer
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMessageBox

from ..aoi import AOISet
from ..capture import SourceInfo
from ..gaze import GazeOptions
from ..loading import ModelSpec
from ..types import Frame
from .aoi_editor import install_aoi_editor
from .inference import InferenceWorker
from .layout import build_layout
from .menus import build_menus, shortcuts_text
from .overlay import Overlay, rebase_result
from .playback import PlaybackWorker
from .recording import RecorderWorker, RecordingController, RecordingSummary, SinkFactory, default_sink_factory
from .settings import SettingsStore, ViewSettings, model_label
from .sources import FrameSource, SourceSpec, list_cameras, open_source
from .status import EventRate, RecentStages
from .widgets import rgb_to_qimage
from .workers import Builder, InferenceOutput, ModelInfo, TimedFrame

__all__ = ["MainWindow"]

STALE_RESULT_S = 5.0  # a result older than this (source time) is no longer drawn


class MainWindow(QMainWindow):
    """gazecam live: one window, one source at a time, one model at a time."""

    def __init__(self, *, store: SettingsStore, builder: Builder, source: SourceSpec | None = None,
                 model: ModelSpec | None = None, zoo_names: list[str] | None = None,
                 devices: list[str] | None = None, backends: list[str] | None = None,
                 source_opener: Callable[[SourceSpec], FrameSource] = open_source,
                 sink_factory: SinkFactory = default_sink_factory, ask_paths: bool = True,
                 aois: "AOISet | None" = None, aoi_path: Path | None = None, overlap: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("gazecam live")
        self.store = store
        self._open_source_fn = source_opener
        self.view_settings = store.load_view()
        self.gaze_settings = store.load_gaze()
        self.overlay = Overlay(self.view_settings)

        self.playback: PlaybackWorker | None = None
        self.recording_ctl = RecordingController(dialog_parent=self, sink_factory=sink_factory, ask_paths=ask_paths)
        self.recording_ctl.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.recording_ctl.problem.connect(lambda title, text: self.notice.show_message("error", title, text))
        self.recording_ctl.recordingChanged.connect(self._on_recording_changed)
        self.source_spec: SourceSpec | None = None
        self.source_info: SourceInfo | None = None
        self.current: TimedFrame | None = None
        self.annotated: np.ndarray | None = None  # the frame on screen, with overlays
        self.latest: InferenceOutput | None = None
        self.model_info: ModelInfo | None = None
        self.model_choice: ModelSpec | None = None
        self._display_rate = EventRate()
        self._infer_rate = EventRate()
        self._latency_ms = float("nan")
        self._stages = RecentStages()
        self._epoch_seen = -1
        self._closing = False
        self.frames_displayed = 0  # new frames drawn (not counting redraws of the same frame)

        self.inference = InferenceWorker(builder=builder, gaze=self.gaze_settings, overlap=overlap)
        self.inference.resultReady.connect(self._on_result)
        self.inference.modelLoading.connect(self._on_model_loading)
        self.inference.modelLoaded.connect(self._on_model_loaded)
        self.inference.modelFailed.connect(self._on_model_failed)
        self.inference.failed.connect(self._on_inference_error)

        build_layout(self, zoo_names=zoo_names or [], devices=devices or ["auto", "cpu"],
                     backends=backends or ["torch"])
        self.actions_by_name = build_menus(self)
        self.aoi_editor = install_aoi_editor(self, aois=aois, path=aoi_path)  # gui/aoi_editor.py
        self._restore_geometry()

        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self._refresh_status)
        self._status_timer.start(500)

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

    # ------------------------------------------------------------------ sources
    def open_source(self, spec: SourceSpec) -> None:
        """Close the current source (and recording) and open ``spec`` in a new playback thread."""
        self.stop_recording()
        self._stop_playback()
        self.source_spec = spec
        self.source_info = None
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
        self.transport.set_seekable(False)
        pb.start()
        self.store.set_value("source/last", spec.value if spec.kind != "camera" else f"camera:{spec.value}")

    def _stop_playback(self) -> None:
        pb, self.playback = self.playback, None
        if pb is not None:
            for sig in (pb.frameReady, pb.opened, pb.failed, pb.ended, pb.playingChanged):
                with contextlib.suppress(TypeError):
                    sig.disconnect()
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

    def ask_open_folder(self) -> None:
        start = str(self.store.value("source/dir", str(Path.cwd())))
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
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
        if self.playback is not None and self.source_info is not None and not self.source_info.live:
            self.playback.step(delta)

    def seek(self, index: int) -> None:
        if self.playback is not None and self.source_info is not None and not self.source_info.live:
            self.playback.seek(index)

    def jump(self, seconds: float) -> None:
        if self.current is not None and self.source_info is not None:
            self.seek(self.current.frame.index + int(round(seconds * self.source_info.fps)))

    def set_speed(self, speed: float) -> None:
        self.transport.set_speed(speed)

    def _on_speed(self, speed: float) -> None:
        if self.playback is not None:
            self.playback.set_speed(speed)

    # ------------------------------------------------------------------ playback signals
    def _on_opened(self, info: SourceInfo, last_index: int) -> None:
        self.source_info = info
        self.source_message.hide()
        self.transport.set_seekable(not info.live)
        self.inference.set_source_fps(info.fps)  # the tracker keeps a lost head for one second
        name = self.source_spec.label if self.source_spec else info.uri
        if not info.live:
            self.transport.set_length(last_index, info.fps)
            self._on_speed(self.transport.speed)
        self.video.set_hint(f"{name}: waiting for the first frame …")
        kind = "live" if info.live else (f"{info.frame_count} frames" if info.frame_count else "length unknown")
        self.statusBar().showMessage(f"opened {name}: {info.width}×{info.height}, {info.fps:.3g} fps, {kind}", 5000)

    def _on_source_failed(self, message: str, can_retry: bool) -> None:
        spec = self.source_spec
        what = spec.label if spec else "the source"
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
        self.transport.set_playing(playing)

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
        info = self.source_info
        if info is None or info.live:
            self.transport.show_position(frame, duration_s=None)
            return
        duration = info.duration_s if info.duration_s is not None else (self.seek_slider.maximum() + 1) / info.fps
        self.transport.show_position(frame, duration_s=duration)

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
        if record:
            self.recording_ctl.write(self.annotated)

    def _on_result(self) -> None:
        out = self.inference.results.take()
        if out is None:
            return
        now = time.monotonic()
        self._infer_rate.tick(now)  # the inference threads' speed, also for a result a seek made stale
        self._stages.add(out)
        if self.current is not None and out.epoch != self.current.epoch:
            return  # computed for a frame before the last seek
        self.latest = out
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

    def _on_gaze_changed(self, gaze: GazeOptions) -> None:
        self.gaze_settings = gaze
        self.inference.set_gaze(gaze)
        self.store.save_gaze(gaze)

    def set_view(self, view: ViewSettings) -> None:
        """Apply view settings through the controls (as a user would)."""
        self.controls.set_view(view)

    # ------------------------------------------------------------------ model
    def load_model(self, choice: ModelSpec) -> None:
        self.model_choice = choice
        self.inference.load_model(choice)

    def ask_model_files(self) -> None:
        from .controls import ModelDialog

        base = self.model_choice if self.model_choice and self.model_choice.is_files else None
        dlg = ModelDialog(base, parent=self)
        if dlg.exec() == ModelDialog.DialogCode.Accepted:
            choice = replace(dlg.choice(), **self.controls.runtime())
            self.controls.show_choice(choice)
            self.load_model(choice)

    def _on_model_loading(self, choice: ModelSpec) -> None:
        self.model_info = None
        self.latest = None
        self.overlay.clear_model()
        self.banner.hide()
        self.controls.model_state.setText(f"loading {model_label(choice)} on {choice.device} …")
        self.controls.load_button.setEnabled(False)
        self.status.set_model(f"model: loading {model_label(choice)} …")
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
        self.status.set_model(f"model: {info.name} · {info.device}/{info.backend}")
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
        self.status.set_model("model: none")
        what = "head detector" if message.startswith("head detector") else "gaze model"
        self.model_message.show_message(
            "error", f"The {what} could not be loaded — the video plays without gaze overlays.",
            message, (("model_files", "Local files…"), ("model_panel", "Choose model…")))

    def _on_inference_error(self, message: str) -> None:
        self.statusBar().showMessage(f"inference error: {message}", 8000)

    # ------------------------------------------------------------------ recording / snapshot
    @property
    def recorder(self) -> RecorderWorker | None:
        return self.recording_ctl.recorder

    @property
    def recording(self) -> bool:
        return self.recording_ctl.recorder is not None

    @property
    def last_recording(self) -> RecordingSummary | None:
        return self.recording_ctl.last_recording

    @property
    def last_snapshot(self) -> Path | None:
        return self.recording_ctl.last_snapshot

    def toggle_recording(self) -> None:
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self, path: Path | None = None) -> bool:
        """Record the annotated video from the frame on screen (``path`` None: ask, or the default name)."""
        ok = self.recording_ctl.start(info=self.source_info, frame=self.current.frame if self.current else None,
                                      annotated=self.annotated, path=path)
        self.transport.set_recording(self.recording)
        return ok

    def stop_recording(self) -> RecordingSummary | None:
        summary = self.recording_ctl.stop()
        self.transport.set_recording(False)
        return summary

    def _on_recording_changed(self, recording: bool) -> None:
        self.transport.set_recording(recording)

    def snapshot(self, path: Path | None = None) -> Path | None:
        """Save the annotated frame on screen as PNG (``path`` None: ask, or the default name)."""
        return self.recording_ctl.snapshot(self.annotated, path)

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
        playing = self.playback is not None and self.playback.playing
        # Inference: over a longer window (slow CPU models deliver a result every few seconds).
        self.status.show(display_fps=self._display_rate.rate(now) if playing else None,
                         infer_fps=self._infer_rate.rate(now, 30.0), stages=self._stages.means(),
                         latency_ms=self._latency_ms, dropped=self.dropped_frames,
                         model_skipped=self.inference.inbox.dropped,
                         people=len(self.latest.result) if self.latest is not None else 0)
        rec = self.recorder
        if rec is not None:
            self.transport.show_recorded(rec.frames + rec.queued)

    @property
    def dropped_frames(self) -> int:
        return self.playback.dropped if self.playback is not None else 0

    def status_text(self) -> str:
        self._refresh_status()
        return self.status.text()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_text(self.actions_by_name))

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

