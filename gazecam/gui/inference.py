"""The inference threads: own the models and run detect -> track -> gaze on the newest submitted frame.

Two threads, overlapped like ``gazecam process``: the **detect** thread (head detector + tracker,
:meth:`FrameProcessor.find_heads`) works on frame *i+1* while the **gaze** thread (gaze model,
:meth:`FrameProcessor.gaze`) works on frame *i*.  They are joined by a one-item handoff
(:class:`~gazecam.gui.workers.LatestSlot`): the detect thread takes the newest frame of :attr:`inbox` only
once the gaze thread has taken the previous heads, so no detection is wasted and the frame it detects is
as fresh as possible; skipped frames are counted in ``inbox.dropped``.

Settings and resets are applied at the frame they were posted with: the detect thread takes them after
taking a frame (tracker changes at once) and hands the gaze-side ones (options, smoothing reset) over
with that frame's heads.  A model is loaded in the detect thread once the gaze thread is idle, so each
model has one user at a time.  ``overlap=False``: both halves in the detect thread, one after the other
(the one-thread reference of ``scripts/bench_live.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from ..errors import one_line
from ..gaze import GazeOptions
from ..loading import ModelSpec
from ..pipeline import FrameProcessor
from ..types import HeadBoxes, StageTimes
from .workers import JOIN_TIMEOUT_S, Builder, InferenceOutput, LatestSlot, TimedFrame

__all__ = ["InferenceWorker"]

_log = logging.getLogger(__name__)
_POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class _Pending:
    """Changes posted from the UI thread since the detect thread last looked."""

    model: ModelSpec | None = None
    gaze: GazeOptions | None = None
    reset: bool = False
    fps: tuple[float | None, ...] = ()  # a new source's frame rate (the tracker follows it)


@dataclass(frozen=True, slots=True)
class _Heads:
    """Detect thread -> gaze thread: one frame's heads (``item`` None: settings only)."""

    processor: FrameProcessor
    item: TimedFrame | None = None
    heads: HeadBoxes | None = None
    timings: StageTimes | None = None
    detect_ms: float = float("nan")
    gaze: GazeOptions | None = None  # options to apply before this frame
    reset: bool = False  # forget smoothing / cached features before this frame


class InferenceWorker(QObject):
    """Owns the models: loads them, runs detection + tracking and gaze on the newest submitted frame."""

    resultReady = pyqtSignal()
    modelLoading = pyqtSignal(object)  # ModelSpec
    modelLoaded = pyqtSignal(object)  # ModelInfo
    modelFailed = pyqtSignal(str)
    failed = pyqtSignal(str)  # a frame could not be processed (the worker keeps going)

    def __init__(self, *, builder: Builder, gaze: GazeOptions, overlap: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inbox: LatestSlot[TimedFrame] = LatestSlot()
        self.results: LatestSlot[InferenceOutput] = LatestSlot()
        self.heads: LatestSlot[_Heads] = LatestSlot()  # detect -> gaze; never replaced (the detect thread waits)
        self.overlap = overlap
        self._builder = builder
        self._gaze = gaze
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._fps: float | None = None
        self._in_flight = 0  # handed to the gaze thread and not finished (guarded by _idle)
        self._carry_gaze: GazeOptions | None = None  # gaze-side changes for the next frame (detect thread)
        self._carry_reset = False
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._detect_loop, name="gazecam-detect", daemon=True)]
        if overlap:
            self._threads.append(threading.Thread(target=self._gaze_loop, name="gazecam-gaze", daemon=True))
        self.processor: FrameProcessor | None = None
        self.processed = 0
        self.errors = 0

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def submit(self, item: TimedFrame) -> None:
        self.inbox.put(item)

    def _post(self, **changes: Any) -> None:
        with self._lock:
            self._pending = replace(self._pending, **changes)
        self.inbox.wake()

    def load_model(self, spec: ModelSpec) -> None:
        self._post(model=spec)

    def set_source_fps(self, fps: float | None) -> None:
        """A source of ``fps`` frames/s opened: the tracker keeps lost heads for one second of it."""
        self._post(fps=(fps,))

    def set_gaze(self, gaze: GazeOptions) -> None:
        self._post(gaze=gaze)

    def reset(self) -> None:
        """Forget tracks and smoothing (after a seek or a source change)."""
        self._post(reset=True)
        self.results.clear()

    def stop(self) -> None:
        """Stop both threads and join them (each within ``JOIN_TIMEOUT_S``)."""
        self._stop.set()
        self.inbox.wake()
        self.heads.wake()
        with self._idle:
            self._idle.notify_all()
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(JOIN_TIMEOUT_S)

    def is_alive(self) -> bool:
        return all(t.is_alive() for t in self._threads)

    def threads_alive(self) -> list[str]:
        """Names of the worker threads still running (empty after :meth:`stop`)."""
        return [t.name for t in self._threads if t.is_alive()]

    # ------------------------------------------------------------------ detect thread
    def _detect_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._detect_once()
            except Exception as e:  # noqa: BLE001 - never die silently
                self._report(f"inference thread: {one_line(e)}", e)
        self.processor = None

    def _detect_once(self) -> None:
        if self.overlap and not self.heads.wait_empty(_POLL_S):
            return  # the gaze thread has not taken the previous heads yet: the frame to take is not the newest
        item = self.inbox.wait_take(_POLL_S)
        with self._lock:  # after the take: a reset posted with a seek's first frame applies to that frame
            pending, self._pending = self._pending, _Pending()
        try:
            fresh = self._apply_front(pending)
        except Exception as e:  # noqa: BLE001
            self.failed.emit(f"could not apply the settings: {one_line(e)}")
            fresh = False
        processor = self.processor
        if fresh:  # a new processor has the newest settings and nothing to forget
            self._carry_gaze, self._carry_reset = None, False
        elif pending.gaze is not None or pending.reset:
            self._carry_gaze = pending.gaze or self._carry_gaze
            self._carry_reset = self._carry_reset or pending.reset
        if processor is None or self._stop.is_set():
            return
        job: _Heads | None = None
        if item is not None:
            t0 = time.perf_counter()
            try:
                heads, timings = processor.find_heads(item.frame)
            except Exception as e:  # noqa: BLE001 - report, count and keep serving frames
                self._frame_failed(item, e)
            else:
                job = _Heads(processor=processor, item=item, heads=heads, timings=timings,
                             detect_ms=(time.perf_counter() - t0) * 1e3)
        elif (self._carry_gaze is not None or self._carry_reset) and not self._gaze_busy():
            job = _Heads(processor=processor)  # no frame (paused): the settings apply now
        if job is None:
            return  # gaze-side changes wait for the next frame
        job = replace(job, gaze=self._carry_gaze, reset=self._carry_reset)  # they travel with this frame
        self._carry_gaze, self._carry_reset = None, False
        if not self.overlap:
            self._gaze_job(job)
            return
        with self._idle:
            self._in_flight += 1
        self.heads.put(job)  # empty: only this thread puts, and it waited for the slot to empty

    def _apply_front(self, pending: _Pending) -> bool:
        """Apply the detect-side changes; True if a new processor was built (it has the newest settings)."""
        if pending.gaze is not None:
            self._gaze = pending.gaze
        if pending.fps:
            self._fps = pending.fps[0]
        if pending.model is not None:
            self._wait_gaze_idle()  # the old model's last frame is done: one user per model
            if self._stop.is_set():
                return False
            self.processor = None  # free the old model before loading the next one
            self.modelLoading.emit(pending.model)
            try:
                self.processor, info = self._builder.build(pending.model, self._gaze, fps=self._fps)
            except Exception as e:  # noqa: BLE001 - OfflineError, WeightsError, CUDA missing, ...
                self.modelFailed.emit(one_line(e))
            else:
                self.modelLoaded.emit(info)
            return True
        p = self.processor
        if p is not None:
            if pending.fps:
                p.tracker = self._builder.tracker(self._gaze, fps=self._fps)
            if pending.reset and p.tracker is not None:
                p.tracker.reset()
        return False

    def _gaze_busy(self) -> bool:
        with self._idle:
            return self._in_flight > 0

    def _wait_gaze_idle(self) -> None:
        with self._idle:
            while self._in_flight and not self._stop.is_set():
                self._idle.wait(_POLL_S)

    # ------------------------------------------------------------------ gaze thread
    def _gaze_loop(self) -> None:
        while not self._stop.is_set():
            job = self.heads.wait_take(_POLL_S)
            if job is None:
                continue
            try:
                self._gaze_job(job)
            except Exception as e:  # noqa: BLE001 - never die silently
                self._report(f"gaze thread: {one_line(e)}", e)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def _gaze_job(self, job: _Heads) -> None:
        p = job.processor
        try:
            if job.gaze is not None:
                p.gaze_stage.options = job.gaze
            if job.reset:
                p.gaze_stage.reset()
        except Exception as e:  # noqa: BLE001
            self.failed.emit(f"could not apply the settings: {one_line(e)}")
        item = job.item
        if item is None or job.heads is None or job.timings is None or self._stop.is_set():
            return
        t0 = time.perf_counter()
        try:
            result = p.gaze(item.frame, job.heads, job.timings)
        except Exception as e:  # noqa: BLE001 - report, count and keep serving frames
            self._frame_failed(item, e)
            return
        gaze_ms = (time.perf_counter() - t0) * 1e3
        self.processed += 1  # this thread only
        out = InferenceOutput(result=result, epoch=item.epoch, t_source=item.t_source,
                              detect_thread_ms=job.detect_ms, gaze_thread_ms=gaze_ms, overlapped=self.overlap)
        if self.results.put(out):
            self.resultReady.emit()

    # ------------------------------------------------------------------ errors
    def _frame_failed(self, item: TimedFrame, e: Exception) -> None:
        with self._lock:
            self.errors += 1
            first = self.errors <= 3
        self.failed.emit(f"frame {item.frame.index}: {one_line(e)}")
        if first:
            _log.exception("inference failed on frame %d", item.frame.index)

    def _report(self, message: str, e: Exception) -> None:
        self.failed.emit(message)
        _log.error("%s", message, exc_info=e)
