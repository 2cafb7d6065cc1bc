"""The playback thread: opens a source and publishes its frames, newest first, at the source's pace.

Files (videos, images, folders of images) are read with :func:`gazecam.capture.open_file`'s
seekable reader: paced by their timestamps (times ``speed``), paused, seeked and stepped frame by
frame, with the frame numbers and timestamps ``gazecam process`` gives them.  Live sources publish
each frame as it arrives.  No video decoding here.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import cast

from PyQt6.QtCore import QObject, pyqtSignal

from ..capture import CaptureError, SeekableReader, SourceInfo
from ..errors import one_line
from ..types import Frame
from .sources import FrameSource
from .workers import JOIN_TIMEOUT_S, LatestSlot, TimedFrame, next_epoch

__all__ = ["PlaybackWorker"]


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


class _Reopen(Exception):
    """The user asked to reconnect a live source that is still running."""


class PlaybackWorker(QObject):
    """Opens a source in its own thread and publishes frames to ``frames`` at the source's rate.

    Files are paced by their timestamps (times ``speed``) and can be paused, seeked and stepped;
    live sources publish each frame as it arrives.  Failures (cannot open, unplugged, corrupt) are
    reported through ``failed`` and the thread waits for :meth:`reconnect` or :meth:`stop`.
    """

    frameReady = pyqtSignal()
    opened = pyqtSignal(object, int)  # SourceInfo, index of the last frame (-1: live)
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
        self._epoch = next_epoch()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gazecam-playback", daemon=True)
        self.info: SourceInfo | None = None
        self.position = -1  # index of the last published frame
        self.source_dropped = 0  # frames a live source dropped before we saw them (index gaps)
        self._at_end = False  # a file was read to its end (play starts it over)
        self._held: Frame | None = None  # read while playing but superseded by a step: the next frame
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
                    self.failed.emit(one_line(e), self._live)
                    if not self._wait_for_reconnect():
                        return
                    continue
                self._source = source
                self.info = source.info
                last = cast(SeekableReader, source).last_index if source.seekable else -1
                self.opened.emit(source.info, int(last))
                self.playingChanged.emit(self._playing)
                try:
                    if self._live:
                        self._run_live(source)
                    else:
                        self._run_file(cast(SeekableReader, source))
                except _Reopen:
                    source.close()
                    source = self._source = None
                    self._new_epoch()
                    continue
                except Exception as e:  # noqa: BLE001 - unplugged camera, corrupt file, ...
                    if not self._stop.is_set():
                        self.failed.emit(one_line(e), self._live)
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

    def _new_epoch(self) -> None:
        self._epoch = next_epoch()
        self.position = -1

    def _wait_for_reconnect(self) -> bool:
        while not self._stop.is_set():
            try:
                cmd = self._commands.get(timeout=0.5)
            except queue.Empty:
                continue
            if cmd.kind is _PlayCmd.RECONNECT:
                self._new_epoch()
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
                    raise _Reopen
            frame = source.read()
            if frame is None:
                raise CaptureError(f"{source.info.uri}: the stream ended")
            if self._playing:  # paused live view: keep draining the source, show nothing new
                self._publish(frame)

    def _run_file(self, source: SeekableReader) -> None:
        fps = source.info.fps or 25.0
        origin_clock: float | None = None  # wall time of origin_ts
        origin_ts = 0.0
        self._at_end = False
        self._held = None
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
                    if self._at_end:  # at the end: play from the start
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
                    self._step(source, int(cmd.value))
                continue
            if not self._playing:
                continue
            frame = source.read()
            if frame is None:
                self._at_end = True
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
                        self._held = frame  # not shown: a step forward shows it, a seek forgets it
                        continue
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

    def _step(self, source: SeekableReader, delta: int) -> None:
        """One frame on (the reader's next frame) or back (the last frame numbered before the one shown)."""
        held, self._held = self._held, None
        if delta == 1:
            frame = held if held is not None else source.read()
        else:
            self._epoch = next_epoch()
            frame = source.seek(max(self.position + delta, 0))
        if frame is None:
            self._at_end = delta > 0
            return
        self._at_end = False
        self._publish(frame)

    def _seek(self, source: SeekableReader, index: int) -> None:
        self._epoch = next_epoch()
        self._held = None
        frame = source.seek(max(index, 0))
        self._at_end = False
        if frame is not None:
            self._publish(frame)
