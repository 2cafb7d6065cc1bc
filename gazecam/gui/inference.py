"""The inference thread: owns the models, runs detect -> track -> gaze on the newest submitted frame."""

from __future__ import annotations

import logging
import threading
import time

from PyQt6.QtCore import QObject, pyqtSignal

from ..errors import one_line
from ..gaze import GazeOptions
from ..loading import ModelSpec
from ..pipeline import FrameProcessor
from .workers import JOIN_TIMEOUT_S, Builder, InferenceOutput, LatestSlot, TimedFrame

__all__ = ["InferenceWorker"]

_log = logging.getLogger(__name__)


class InferenceWorker(QObject):
    """Owns the models: loads them, runs detection + tracking + gaze on the newest submitted frame."""

    resultReady = pyqtSignal()
    modelLoading = pyqtSignal(object)  # ModelSpec
    modelLoaded = pyqtSignal(object)  # ModelInfo
    modelFailed = pyqtSignal(str)
    failed = pyqtSignal(str)  # a frame could not be processed (the worker keeps going)

    def __init__(self, *, builder: Builder, gaze: GazeOptions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inbox: LatestSlot[TimedFrame] = LatestSlot()
        self.results: LatestSlot[InferenceOutput] = LatestSlot()
        self._builder = builder
        self._gaze = gaze
        self._lock = threading.Lock()
        self._pending_model: ModelSpec | None = None
        self._pending_gaze: GazeOptions | None = None
        self._pending_fps: list[float | None] = []  # a new source's frame rate (the tracker follows it)
        self._pending_reset = False
        self._fps: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gazecam-inference", daemon=True)
        self.processor: FrameProcessor | None = None
        self.processed = 0
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: TimedFrame) -> None:
        self.inbox.put(item)

    def load_model(self, spec: ModelSpec) -> None:
        with self._lock:
            self._pending_model = spec
        self.inbox.wake()

    def set_source_fps(self, fps: float | None) -> None:
        """A source of ``fps`` frames/s opened: the tracker keeps lost heads for one second of it."""
        with self._lock:
            self._pending_fps = [fps]
        self.inbox.wake()

    def set_gaze(self, gaze: GazeOptions) -> None:
        with self._lock:
            self._pending_gaze = gaze
        self.inbox.wake()

    def reset(self) -> None:
        """Forget tracks and smoothing (after a seek or a source change)."""
        with self._lock:
            self._pending_reset = True
        self.results.clear()

    def stop(self) -> None:
        self._stop.set()
        self.inbox.wake()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(JOIN_TIMEOUT_S)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _apply_pending(self) -> None:
        with self._lock:
            choice, self._pending_model = self._pending_model, None
            gaze, self._pending_gaze = self._pending_gaze, None
            reset, self._pending_reset = self._pending_reset, False
            fps, self._pending_fps = self._pending_fps, []
        if gaze is not None:
            self._gaze = gaze
        if fps:
            self._fps = fps[0]
        if choice is not None:
            self.processor = None  # free the old model before loading the next one
            self.modelLoading.emit(choice)
            try:
                self.processor, info = self._builder.build(choice, self._gaze, fps=self._fps)
            except Exception as e:  # noqa: BLE001 - OfflineError, WeightsError, CUDA missing, ...
                self.modelFailed.emit(one_line(e))
            else:
                self.modelLoaded.emit(info)
            return
        if self.processor is not None:
            if gaze is not None:
                self.processor.gaze_stage.options = gaze
            if fps:
                self.processor.tracker = self._builder.tracker(self._gaze, fps=self._fps)
            if reset:
                self.processor.reset()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.inbox.wait_take(0.2)
            try:  # after the take: a reset posted with a seek's first frame applies to that frame
                self._apply_pending()
            except Exception as e:  # noqa: BLE001
                self.failed.emit(f"could not apply the settings: {one_line(e)}")
            if item is None or self.processor is None or self._stop.is_set():
                continue
            t0 = time.perf_counter()
            try:
                result = self.processor.step(item.frame)
            except Exception as e:  # noqa: BLE001 - report, count and keep serving frames
                self.errors += 1
                self.failed.emit(f"frame {item.frame.index}: {one_line(e)}")
                if self.errors <= 3:
                    _log.exception("inference failed on frame %d", item.frame.index)
                continue
            self.processed += 1
            out = InferenceOutput(result=result, epoch=item.epoch, t_source=item.t_source,
                                  infer_ms=(time.perf_counter() - t0) * 1000.0)
            if self.results.put(out):
                self.resultReady.emit()
        self.processor = None
