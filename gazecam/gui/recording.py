"""Recording the annotated video and saving snapshots.

:class:`RecorderWorker` encodes frames in its own thread through a bounded queue into a
:class:`gazecam.sinks.ClipWriter` (the clip writer ``gazecam process`` uses: H.264, the file's
sound kept from where the recording starts, a frame of another size letterboxed, not dropped).
:class:`RecordingController` is the window's side: where to save, start/stop, snapshots, messages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QStandardPaths, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QWidget

from ..capture import SourceInfo
from ..errors import GazecamError, InputError, one_line
from ..jobs import source_path
from ..outputs import Named, check_before_writing
from ..types import Frame
from .workers import JOIN_TIMEOUT_S

__all__ = ["RecordingSummary", "RecorderWorker", "RecordingController", "SinkFactory", "default_sink_factory",
           "default_save_path"]

#: ``(path, width, height, fps, audio_from, audio_start_s) -> sink`` (a context manager with ``write(rgb)``)
SinkFactory = Callable[[Path, int, int, float, "str | None", float], Any]


def default_sink_factory(path: Path, width: int, height: int, fps: float, audio_from: str | None,
                         audio_start_s: float = 0.0) -> Any:
    """The clip writer of ``gazecam process``; a file source's audio is kept from ``audio_start_s``.

    No gap filling: a recording holds the frames that were on screen (a live view skips frames).
    """
    from ..sinks import ClipWriter

    return ClipWriter(path, width=width, height=height, fps=fps, audio_from=audio_from,
                      audio_start_s=audio_start_s, fill_gaps=False)


def default_save_path(kind: str, suffix: str, *, stem: str = "gazecam") -> Path:
    """``<Videos or Pictures>/gazecam-YYYYmmdd-HHMMSS<suffix>`` (the current folder if that is missing)."""
    loc = (QStandardPaths.StandardLocation.MoviesLocation if kind == "video"
           else QStandardPaths.StandardLocation.PicturesLocation)
    base = Path(QStandardPaths.writableLocation(loc) or ".")
    if not base.is_dir():
        base = Path.cwd()
    return base / f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}{suffix}"


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    path: Path
    frames: int  # frames written to the file
    dropped: int  # frames not written because the encoder fell behind
    error: str = ""  # empty when the file was finalised cleanly
    letterboxed: int = 0  # frames of another size, letterboxed to the recording's size


class RecorderWorker(QObject):
    """Encodes annotated frames in its own thread through a bounded queue; ``stop`` finalises the file."""

    finished = pyqtSignal(object)  # RecordingSummary
    failed = pyqtSignal(str)

    QUEUE_FRAMES = 64

    def __init__(self, *, path: Path, width: int, height: int, fps: float, audio_from: str | None,
                 sink_factory: SinkFactory = default_sink_factory, audio_start_s: float = 0.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self._audio_from = audio_from
        self._audio_start_s = audio_start_s
        self._factory = sink_factory
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=self.QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name="gazecam-recorder", daemon=True)
        self._ready = threading.Event()
        self._error = ""
        self.frames = 0
        self.dropped = 0
        self.summary: RecordingSummary | None = None
        self.has_audio = False
        self._closed = False

    def start(self) -> None:
        """Open the sink in the thread; raises :class:`GazecamError` (the sink's message) if it cannot."""
        self._thread.start()
        self._ready.wait(JOIN_TIMEOUT_S)
        if self._error:
            self._thread.join(JOIN_TIMEOUT_S)
            raise GazecamError(self._error)

    def write(self, image: np.ndarray) -> bool:
        """Queue one RGB frame (any size); False (and counted) if the encoder is too far behind or stopped."""
        if self._closed or self._error:
            return False
        try:
            self._queue.put_nowait(image)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    @property
    def error(self) -> str:
        return self._error

    @property
    def queued(self) -> int:
        """Frames waiting for the encoder."""
        return self._queue.qsize()

    def stop(self) -> RecordingSummary:
        """Flush queued frames, finalise the file and join the thread."""
        if not self._closed:
            self._closed = True
            try:  # waits only while the encoder drains the (bounded) queue
                self._queue.put(None, timeout=JOIN_TIMEOUT_S if self._thread.is_alive() else 0.01)
            except queue.Full:
                pass
        if self._thread.is_alive():
            self._thread.join(max(JOIN_TIMEOUT_S, self.QUEUE_FRAMES * 0.5))
        if self.summary is None:
            self.summary = RecordingSummary(self.path, self.frames, self.dropped,
                                            self._error or "the recorder did not finish in time")
        return self.summary

    def _run(self) -> None:
        sink = None
        try:
            sink = self._factory(self.path, self.width, self.height, self.fps, self._audio_from,
                                 self._audio_start_s)
            sink.__enter__()
        except Exception as e:  # noqa: BLE001
            self._error = f"cannot record to {self.path}: {one_line(e)}"
            self._ready.set()
            return
        self.has_audio = bool(getattr(sink, "has_audio", False))
        self._ready.set()
        try:
            while True:
                image = self._queue.get()
                if image is None:
                    break
                sink.write(image)
                self.frames += 1
        except Exception as e:  # noqa: BLE001 - disk full, ...: stop recording, keep the app
            self._error = f"recording to {self.path} stopped: {one_line(e)}"
            self._closed = True
            self.failed.emit(self._error)
            while True:  # unblock a stop() waiting on the queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        finally:
            try:
                sink.__exit__(None, None, None)
            except Exception as e:  # noqa: BLE001
                self._error = self._error or f"could not finalise {self.path}: {one_line(e)}"
            self.summary = RecordingSummary(self.path, self.frames, self.dropped, self._error,
                                            letterboxed=int(getattr(sink, "frames_letterboxed", 0) or 0))
            self.finished.emit(self.summary)


class RecordingController(QObject):
    """The window's recording and snapshots: asks where to save, runs a :class:`RecorderWorker`, reports.

    ``message`` carries status-bar text (with how long to show it); ``problem`` a title and message for
    the window's notice panel; ``recordingChanged`` whether a recording is running.
    """

    message = pyqtSignal(str, int)
    problem = pyqtSignal(str, str)
    recordingChanged = pyqtSignal(bool)

    def __init__(self, *, dialog_parent: QWidget, sink_factory: SinkFactory = default_sink_factory,
                 ask_paths: bool = True) -> None:
        super().__init__(dialog_parent)
        self._parent = dialog_parent
        self._sink_factory = sink_factory
        self.ask_paths = ask_paths  # False: record/snapshot straight to the default names (no dialog)
        self.recorder: RecorderWorker | None = None
        self.last_recording: RecordingSummary | None = None
        self.last_snapshot: Path | None = None

    def ask_save(self, kind: str, suffix: str, title: str, filt: str) -> Path | None:
        default = default_save_path(kind, suffix)
        if not self.ask_paths:
            return default
        path, _ = QFileDialog.getSaveFileName(self._parent, title, str(default), filt)
        if not path:
            return None
        p = Path(path)
        return p if p.suffix else p.with_suffix(suffix)

    def start(self, *, info: SourceInfo | None, frame: Frame | None, annotated: np.ndarray | None,
              path: Path | None = None) -> bool:
        """Record from ``frame`` on (at its size, the source's rate, with a file's sound from its time)."""
        if self.recorder is not None:
            return True
        if info is None or frame is None:
            self.message.emit("nothing to record: open a source first", 5000)
            return False
        if path is None:
            path = self.ask_save("video", ".mp4", "Record annotated video", "MP4 video (*.mp4)")
            if path is None:
                return False
        source = source_path(info)
        try:  # unwritable, or e.g. recording over the file being played
            check_before_writing([Named("recording", Path(path))], [Named("source", source)] if source else [])
        except InputError as e:
            self.problem.emit("Cannot record", str(e))
            self.last_recording = RecordingSummary(Path(path), 0, 0, str(e))
            return False
        audio = info.uri if info.has_audio and info.kind == "video" and not info.live else None
        rec = RecorderWorker(path=Path(path), width=frame.width, height=frame.height, fps=info.fps,
                             audio_from=audio, audio_start_s=frame.timestamp_s if audio else 0.0,
                             sink_factory=self._sink_factory)
        rec.failed.connect(self._on_failed)
        try:
            rec.start()
        except Exception as e:  # noqa: BLE001 - unwritable path, ...
            self.problem.emit("Cannot record", str(e))
            self.last_recording = RecordingSummary(Path(path), 0, 0, str(e))
            return False
        self.recorder = rec
        if annotated is not None:
            rec.write(annotated)  # the recording starts with the frame on screen
        self.recordingChanged.emit(True)
        self.message.emit(f"recording to {path}" + (" (with the source's sound)" if rec.has_audio else ""), 6000)
        return True

    def write(self, image: np.ndarray) -> None:
        if self.recorder is not None:
            self.recorder.write(image)

    def stop(self) -> RecordingSummary | None:
        """Finalise the recording (if any) and say where it went."""
        rec, self.recorder = self.recorder, None
        if rec is None:
            return None
        self.recordingChanged.emit(False)
        summary = rec.stop()
        self.last_recording = summary
        if summary.error:
            self.message.emit(summary.error, 10000)
        else:
            extra = f", {summary.dropped} frames dropped (encoder too slow)" if summary.dropped else ""
            if summary.letterboxed:
                extra += f", {summary.letterboxed} frames of another size letterboxed"
            self.message.emit(f"saved {summary.frames} frames to {summary.path}{extra}", 8000)
        return summary

    def _on_failed(self, message: str) -> None:
        self.stop()
        self.problem.emit("Recording stopped", message)

    def snapshot(self, image: np.ndarray | None, path: Path | None = None) -> Path | None:
        """Save ``image`` (the annotated frame) as PNG; None when there is nothing or it could not be saved."""
        if image is None:
            self.message.emit("nothing to save yet", 4000)
            return None
        if path is None:
            path = self.ask_save("image", ".png", "Save snapshot", "PNG image (*.png)")
            if path is None:
                return None
        try:
            from ..imageio import write_png

            write_png(path, image)
        except Exception as e:  # noqa: BLE001 - unwritable folder, disk full
            self.message.emit(f"snapshot not saved: {e}", 8000)
            return None
        self.last_snapshot = Path(path)
        self.message.emit(f"snapshot saved to {path}", 5000)
        return Path(path)
