"""The GUI's threads: playback (source -> newest frame), inference (owns the models), recording.

Data flows through one-slot "latest wins" mailboxes (:class:`LatestSlot`), so no queue can grow and
a slow consumer only ever sees the newest item; every replaced item is counted as dropped.  A Qt
signal is emitted only when a slot goes from empty to full, so the UI event queue never holds more
than one pending notification per mailbox either.

Every worker catches its own exceptions and reports them through a ``failed`` signal (the thread
never dies silently); ``stop()`` joins the thread.  Workers use plain ``threading`` threads plus a
``QObject`` for signals (emitting from a non-Qt thread is queued to the receiver's thread).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from ..types import Frame, GazeResult
from .player import FrameSource, SourceError, SourceMeta
from .settings import GazeSettings, ModelChoice

__all__ = ["LatestSlot", "TimedFrame", "InferenceOutput", "ModelInfo", "Engine", "EngineBuilder",
           "PlaybackWorker", "InferenceWorker", "RecorderWorker", "RecordingSummary"]

T = TypeVar("T")
JOIN_TIMEOUT_S = 10.0
_EPOCHS = itertools.count()  # process-wide: results of an older source or seek never match a newer one
_log = logging.getLogger(__name__)


def _describe(e: BaseException) -> str:
    msg = str(e).strip()
    return msg if msg else type(e).__name__


class LatestSlot(Generic[T]):
    """A thread-safe mailbox holding only the newest item; replaced items are counted in ``dropped``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True if the slot was empty (the consumer needs a wake-up)."""
        with self._cond:
            was_empty = self._item is None
            if not was_empty:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return was_empty

    def take(self) -> T | None:
        with self._cond:
            item, self._item = self._item, None
            return item

    def wait_take(self, timeout_s: float) -> T | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            return item

    def clear(self) -> None:
        with self._cond:
            self._item = None

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """A frame plus when it left the source and which playback epoch it belongs to."""

    frame: Frame
    epoch: int  # bumped on every seek / source change: results of older epochs are stale
    t_source: float  # time.monotonic() when the frame left the source


@dataclass(frozen=True, slots=True)
class InferenceOutput:
    result: GazeResult
    epoch: int
    t_source: float  # of the frame the result belongs to
    infer_ms: float  # detection + tracking + gaze for this frame


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the window shows about the loaded model."""

    name: str
    released: bool
    note: str
    device: str
    backend: str
    has_inout: bool
    detector: str = ""
    detector_warning: str = ""


class Engine(Protocol):
    """Frame -> GazeResult for one loaded model (detector, tracker, gaze stage); used by one thread."""

    info: ModelInfo

    def process(self, frame: Frame) -> GazeResult: ...

    def set_gaze(self, settings: GazeSettings) -> None: ...

    def reset(self) -> None: ...


class EngineBuilder(Protocol):
    """Builds an :class:`Engine` inside the inference thread (so that thread owns the models)."""

    def build(self, choice: ModelChoice, gaze: GazeSettings) -> Engine: ...


# ---------------------------------------------------------------------------------------------
class _PlayCmd(Enum):
    PLAY = auto()
    PAUSE = auto()
    SEEK = auto()
    STEP = auto()
    SPEED = auto()
    RECONNECT = auto()
    STOP = auto()


@dataclass(frozen=True, slots=True)
class _Command:
    kind: _PlayCmd
    value: float = 0.0


class PlaybackWorker(QObject):
    """Opens a source in its own thread and publishes frames to ``frames`` at the source's rate.

    Files are paced by their timestamps (times ``speed``) and can be paused, seeked and stepped;
    live sources publish each frame as it arrives.  Failures (cannot open, unplugged, corrupt) are
    reported through ``failed`` and the thread waits for :meth:`reconnect` or :meth:`stop`.
    """

    frameReady = pyqtSignal()
    opened = pyqtSignal(object)  # SourceMeta
    playingChanged = pyqtSignal(bool)
    ended = pyqtSignal()
    failed = pyqtSignal(str, bool)  # message, retry makes sense (live source)

    def __init__(self, *, opener: Callable[[], FrameSource], live: bool, autoplay: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frames: LatestSlot[TimedFrame] = LatestSlot()
        self._opener = opener
        self._live = live
        self._commands: queue.Queue[_Command] = queue.Queue(maxsize=256)
        self._playing = autoplay
        self._speed = 1.0
        self._epoch = next(_EPOCHS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gazecam-playback", daemon=True)
        self.meta: SourceMeta | None = None
        self.position = -1  # index of the last published frame
        self.source_dropped = 0  # frames a live source dropped before we saw them (index gaps)
        self._source: FrameSource | None = None

    # -- control (UI thread) --------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _send(self, kind: _PlayCmd, value: float = 0.0) -> None:
        try:
            self._commands.put_nowait(_Command(kind, value))
        except queue.Full:  # a user cannot click 256 times between two frames; drop if they do
            pass

    def play(self) -> None:
        self._send(_PlayCmd.PLAY)

    def pause(self) -> None:
        self._send(_PlayCmd.PAUSE)

    def seek(self, index: int) -> None:
        self._send(_PlayCmd.SEEK, index)

    def step(self, delta: int) -> None:
        self._send(_PlayCmd.STEP, delta)

    def set_speed(self, speed: float) -> None:
        self._send(_PlayCmd.SPEED, speed)

    def reconnect(self) -> None:
        self._send(_PlayCmd.RECONNECT)

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def dropped(self) -> int:
        """Frames never shown: replaced before the UI took them, or skipped by a live source."""
        source = self._source
        live_drops = int(getattr(source, "dropped", 0) or 0) if source is not None else 0
        return self.frames.dropped + self.source_dropped + live_drops

    def stop(self) -> None:
        self._stop.set()
        self._send(_PlayCmd.STOP)
        source = self._source
        if self._live and source is not None:
            try:  # a live read can block (camera hung): closing the capture ends it
                source.close()
            except Exception:  # noqa: BLE001
                pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(JOIN_TIMEOUT_S)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- thread ---------------------------------------------------------------------------
    def _publish(self, frame: Frame) -> None:
        if self._live and self.position >= 0 and frame.index > self.position + 1:
            self.source_dropped += frame.index - self.position - 1
        self.position = frame.index
        if self.frames.put(TimedFrame(frame=frame, epoch=self._epoch, t_source=time.monotonic())):
            self.frameReady.emit()

    def _set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.playingChanged.emit(playing)

    def _run(self) -> None:
        source: FrameSource | None = None
        try:
            while not self._stop.is_set():
                try:
                    source = self._opener()
                except Exception as e:  # noqa: BLE001 - reported to the window
                    self.failed.emit(_describe(e), self._live)
                    if not self._wait_for_reconnect():
                        return
                    continue
                self._source = source
                self.meta = source.meta
                self.opened.emit(source.meta)
                self.playingChanged.emit(self._playing)
                try:
                    if self._live:
                        self._run_live(source)
                    else:
                        self._run_file(source)
                except Exception as e:  # noqa: BLE001 - unplugged camera, corrupt file, ...
                    if not self._stop.is_set():
                        self.failed.emit(_describe(e), self._live)
                        source.close()
                        source = self._source = None
                        if not self._wait_for_reconnect():
                            return
                        continue
                return
        finally:
            self._source = None
            if source is not None:
                source.close()

    def _wait_for_reconnect(self) -> bool:
        while not self._stop.is_set():
            try:
                cmd = self._commands.get(timeout=0.5)
            except queue.Empty:
                continue
            if cmd.kind is _PlayCmd.RECONNECT:
                self._epoch = next(_EPOCHS)
                self.position = -1
                return True
            if cmd.kind is _PlayCmd.STOP:
                return False
        return False

    def _run_live(self, source: FrameSource) -> None:
        while not self._stop.is_set():
            while True:
                try:
                    cmd = self._commands.get_nowait()
                except queue.Empty:
                    break
                if cmd.kind is _PlayCmd.STOP:
                    return
                if cmd.kind in (_PlayCmd.PLAY, _PlayCmd.PAUSE):
                    self._set_playing(cmd.kind is _PlayCmd.PLAY)
                if cmd.kind is _PlayCmd.RECONNECT:
                    raise SourceError("reconnecting")  # handled like a failure: reopen
            frame = source.read()
            if frame is None:
                raise SourceError(f"{source.meta.name}: the stream ended")
            if self._playing:  # paused live view: keep draining the source, show nothing new
                self._publish(frame)

    def _run_file(self, source: FrameSource) -> None:
        fps = source.meta.fps or 25.0
        origin_clock: float | None = None  # wall time of origin_ts
        origin_ts = 0.0
        while not self._stop.is_set():
            # Commands: block while paused, poll while playing.
            try:
                cmd = self._commands.get(timeout=0.25) if not self._playing else self._commands.get_nowait()
            except queue.Empty:
                cmd = None
            if cmd is not None:
                if cmd.kind is _PlayCmd.STOP:
                    return
                if cmd.kind is _PlayCmd.PLAY:
                    if self.position >= source.meta.frame_count - 1 > 0:  # at the end: play from the start
                        self._seek(source, 0)
                    self._set_playing(True)
                    origin_clock = None
                elif cmd.kind is _PlayCmd.PAUSE:
                    self._set_playing(False)
                elif cmd.kind is _PlayCmd.SPEED:
                    self._speed = min(max(float(cmd.value), 0.05), 16.0)
                    origin_clock = None
                elif cmd.kind is _PlayCmd.SEEK:
                    self._seek(source, int(cmd.value))
                    origin_clock = None
                elif cmd.kind is _PlayCmd.STEP:
                    self._set_playing(False)
                    delta = int(cmd.value)
                    if delta == 1:
                        frame = source.read()
                        if frame is not None:
                            self._publish(frame)
                    else:
                        self._seek(source, self.position + delta)
                continue
            if not self._playing:
                continue
            frame = source.read()
            if frame is None:
                self._set_playing(False)
                self.ended.emit()
                continue
            if origin_clock is None:
                origin_clock, origin_ts = time.monotonic(), frame.timestamp_s
            due = origin_clock + (frame.timestamp_s - origin_ts) / self._speed
            delay = due - time.monotonic()
            if delay < -0.5:  # decoding fell behind: restart the clock rather than rushing frames
                origin_clock, origin_ts = time.monotonic(), frame.timestamp_s
            elif delay > 0:
                # Sleep until the frame is due, but wake up for a command (seek, pause, stop).
                try:
                    cmd = self._commands.get(timeout=min(delay, 2.0 / fps + 1.0))
                except queue.Empty:
                    cmd = None
                if cmd is not None:
                    self._requeue_front(cmd)
                    if cmd.kind in (_PlayCmd.SEEK, _PlayCmd.STEP, _PlayCmd.STOP):
                        continue  # this frame is superseded
                    wait = due - time.monotonic()
                    if wait > 0:
                        self._stop.wait(wait)
            self._publish(frame)

    def _requeue_front(self, cmd: _Command) -> None:
        rest = []
        while True:
            try:
                rest.append(self._commands.get_nowait())
            except queue.Empty:
                break
        for c in [cmd, *rest]:
            try:
                self._commands.put_nowait(c)
            except queue.Full:
                break

    def _seek(self, source: FrameSource, index: int) -> None:
        self._epoch = next(_EPOCHS)
        frame = source.seek(max(index, 0))
        if frame is not None:
            self._publish(frame)


# ---------------------------------------------------------------------------------------------
class InferenceWorker(QObject):
    """Owns the models: loads them, runs detection + tracking + gaze on the newest submitted frame."""

    resultReady = pyqtSignal()
    modelLoading = pyqtSignal(object)  # ModelChoice
    modelLoaded = pyqtSignal(object)  # ModelInfo
    modelFailed = pyqtSignal(str)
    failed = pyqtSignal(str)  # a frame could not be processed (the worker keeps going)

    def __init__(self, *, builder: EngineBuilder, gaze: GazeSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inbox: LatestSlot[TimedFrame] = LatestSlot()
        self.results: LatestSlot[InferenceOutput] = LatestSlot()
        self._builder = builder
        self._gaze = gaze
        self._lock = threading.Lock()
        self._pending_model: ModelChoice | None = None
        self._pending_gaze: GazeSettings | None = None
        self._pending_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gazecam-inference", daemon=True)
        self.engine: Engine | None = None
        self.processed = 0
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: TimedFrame) -> None:
        self.inbox.put(item)

    def load_model(self, choice: ModelChoice) -> None:
        with self._lock:
            self._pending_model = choice
        self.inbox.wake()

    def set_gaze(self, gaze: GazeSettings) -> None:
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
        if gaze is not None:
            self._gaze = gaze
        if choice is not None:
            self.engine = None  # free the old model before loading the next one
            self.modelLoading.emit(choice)
            try:
                self.engine = self._builder.build(choice, self._gaze)
            except Exception as e:  # noqa: BLE001 - OfflineError, WeightsError, CUDA missing, ...
                self.modelFailed.emit(_describe(e))
            else:
                self.modelLoaded.emit(self.engine.info)
            return
        if self.engine is not None:
            if gaze is not None:
                self.engine.set_gaze(gaze)
            if reset:
                self.engine.reset()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._apply_pending()
            except Exception as e:  # noqa: BLE001
                self.failed.emit(f"could not apply the settings: {_describe(e)}")
            item = self.inbox.wait_take(0.2)
            if item is None or self.engine is None or self._stop.is_set():
                continue
            t0 = time.perf_counter()
            try:
                result = self.engine.process(item.frame)
            except Exception as e:  # noqa: BLE001 - report, count and keep serving frames
                self.errors += 1
                self.failed.emit(f"frame {item.frame.index}: {_describe(e)}")
                if self.errors <= 3:
                    _log.exception("inference failed on frame %d", item.frame.index)
                continue
            self.processed += 1
            out = InferenceOutput(result=result, epoch=item.epoch, t_source=item.t_source,
                                  infer_ms=(time.perf_counter() - t0) * 1000.0)
            if self.results.put(out):
                self.resultReady.emit()
        self.engine = None


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordingSummary:
    path: Path
    frames: int  # frames written to the file
    dropped: int  # frames not written because the encoder fell behind
    error: str = ""  # empty when the file was finalised cleanly


SinkFactory = Callable[[Path, int, int, float, "str | None", float], Any]


class RecorderWorker(QObject):
    """Encodes annotated frames in its own thread through a bounded queue; ``stop`` finalises the file."""

    finished = pyqtSignal(object)  # RecordingSummary
    failed = pyqtSignal(str)

    QUEUE_FRAMES = 64

    def __init__(self, *, path: Path, width: int, height: int, fps: float, audio_from: str | None,
                 sink_factory: SinkFactory, audio_start_s: float = 0.0, parent: QObject | None = None) -> None:
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
        """Open the sink in the thread; raises (with the sink's message) if it cannot be opened."""
        self._thread.start()
        self._ready.wait(JOIN_TIMEOUT_S)
        if self._error:
            self._thread.join(JOIN_TIMEOUT_S)
            raise SourceError(self._error)

    def write(self, image: np.ndarray) -> bool:
        """Queue one RGB frame; False (and counted) if the encoder is too far behind or stopped."""
        if self._closed or self._error:
            return False
        if image.shape[:2] != (self.height, self.width):
            self.dropped += 1
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
            self._error = f"cannot record to {self.path}: {_describe(e)}"
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
            self._error = f"recording to {self.path} stopped: {_describe(e)}"
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
                self._error = self._error or f"could not finalise {self.path}: {_describe(e)}"
            self.summary = RecordingSummary(self.path, self.frames, self.dropped, self._error)
            self.finished.emit(self.summary)
