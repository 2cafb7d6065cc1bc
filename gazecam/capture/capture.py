"""The threaded capture: a reader in its own thread, frames handed out through a bounded buffer.

* files (a video file, one image, a folder of images) deliver **every** frame in order through a
  bounded queue: a slow consumer slows the reader down (backpressure) and nothing is lost;
* live sources (a camera index or device, a stream URL) keep only the **newest** frame: stale
  frames are dropped and counted in ``stats.frames_dropped``, and a dropped stream is reopened
  (``reconnect_attempts`` times, then ``CaptureError``).

Exceptions in the reader thread reach the iterating caller as ``CaptureError`` raised ``from`` the
original.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterator

from gazecam.errors import GazecamError
from gazecam.types import Frame

from .readers import FrameReader, open_reader
from .sources import CaptureError, CaptureWarning, SourceInfo

__all__ = ["Capture", "CaptureStats"]

_JOIN_TIMEOUT_S = 5.0
_POLL_S = 0.05


@dataclass
class CaptureStats:
    """Counters of one capture (a snapshot when read from ``Capture.stats``)."""

    frames_read: int = 0  # frames decoded from the source
    frames_dropped: int = 0  # stale frames replaced by newer ones before delivery (live only)
    frames_corrupt: int = 0  # undecodable frames / unreadable images, skipped
    reconnects: int = 0  # successful reopenings of a dropped live stream
    frames_missing: int = 0  # frames announced by the file header but never delivered (truncation)
    truncated_at_s: float | None = None  # timestamp of the last frame before a truncation
    skipped_files: tuple[str, ...] = ()  # names of the unreadable images of a folder (counted in frames_corrupt)


# --------------------------------------------------------------------------- buffers


@dataclass(frozen=True)
class _End:
    """The source ended normally."""


@dataclass(frozen=True)
class _Failure:
    error: BaseException


class _FrameQueue:
    """Bounded FIFO: every frame, the producer blocks while it is full (backpressure)."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._items: deque = deque()
        self._size = size
        self._stop = stop
        self._cond = threading.Condition()

    def put(self, item: Frame) -> bool:
        """Wait for room; False if the capture was stopped meanwhile. Never drops."""
        with self._cond:
            while len(self._items) >= self._size:
                if self._stop.is_set():
                    return False
                self._cond.wait(_POLL_S)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def finish(self, item: _End | _Failure) -> None:
        with self._cond:
            self._items.append(item)  # the one item allowed past the bound
            self._cond.notify_all()

    def get(self, timeout: float):
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self._cond.notify_all()


class _LatestSlot:
    """One-frame buffer for live sources: a new frame replaces an unconsumed one."""

    def __init__(self, on_drop: Callable[[], None]) -> None:
        self._frame: Frame | None = None
        self._final: _End | _Failure | None = None
        self._on_drop = on_drop
        self._cond = threading.Condition()

    def put(self, item: Frame) -> bool:
        with self._cond:
            if self._frame is not None:
                self._on_drop()
            self._frame = item
            self._cond.notify_all()
            return True

    def finish(self, item: _End | _Failure) -> None:
        with self._cond:
            self._final = item
            self._cond.notify_all()

    def get(self, timeout: float):
        with self._cond:
            if self._frame is None and self._final is None:
                self._cond.wait(timeout)
            if self._frame is not None:
                frame, self._frame = self._frame, None
                return frame
            return self._final

    def clear(self) -> None:
        with self._cond:
            self._frame = None
            self._cond.notify_all()


# --------------------------------------------------------------------------- capture


class Capture:
    """Read a source in a background thread; iterate to get :class:`Frame` objects.

    ``source``: a path (video file, image file, folder of images), a camera index
    (``0``) or device (``/dev/video0``), or a stream URL (``rtsp://...``).
    ``live``: None chooses from the source (cameras and URLs are live, files are
    not); ``True`` on a file replays it at its own frame rate with latest-frame-wins,
    ``False`` on a stream delivers every frame.  Opening errors are raised here
    (``InputError`` for bad files, ``CaptureError`` for cameras/streams), so
    :attr:`info` is available right away.  Use as a context manager.
    """

    def __init__(
        self,
        source: str | int | Path,
        *,
        live: bool | None = None,
        queue_size: int = 8,
        reconnect_attempts: int = 5,
        reconnect_delay_s: float = 1.0,
        max_corrupt_run: int = 50,
        image_fps: float = 25.0,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if reconnect_attempts < 0 or reconnect_delay_s < 0:
            raise ValueError("reconnect_attempts and reconnect_delay_s must be >= 0")
        if not image_fps > 0:
            raise ValueError(f"image_fps must be > 0, got {image_fps}")
        self._reconnect_attempts = reconnect_attempts
        self._reconnect_delay_s = reconnect_delay_s
        self._stop = threading.Event()
        self._stats = CaptureStats()
        self._stats_lock = threading.Lock()
        self._closed = False
        self._finished = False
        self._t0 = time.monotonic()
        self._reader: FrameReader = open_reader(source, live=live, max_corrupt_run=max_corrupt_run,
                                                image_fps=image_fps, t0=self._t0)
        self.info: SourceInfo = self._reader.info
        # a file replayed as live is paced to its timestamps, like a camera
        self._pace = self.info.live and self.info.kind in ("video", "images")
        self._buffer: _FrameQueue | _LatestSlot = (
            _LatestSlot(self._count_drop) if self.info.live else _FrameQueue(queue_size, self._stop)
        )
        self._thread = threading.Thread(target=self._run, name=f"gazecam-capture:{self.info.uri}", daemon=True)
        self._thread.start()

    # -- reader thread

    def _count_drop(self) -> None:
        with self._stats_lock:
            self._stats.frames_dropped += 1

    def _run(self) -> None:
        reader = self._reader
        last_timestamp_s: float | None = None
        try:
            while not self._stop.is_set():
                frame = reader.read()
                with self._stats_lock:
                    self._stats.frames_corrupt = reader.corrupt
                    names = getattr(reader, "skipped_names", None)
                    if names and len(names) != len(self._stats.skipped_files):
                        self._stats.skipped_files = tuple(names)
                if frame is None:
                    if reader.can_reconnect and not self._stop.is_set():
                        self._reconnect()
                        continue
                    break
                last_timestamp_s = frame.timestamp_s
                if self._pace:
                    delay = frame.timestamp_s - (time.monotonic() - self._t0)
                    if delay > 0 and self._stop.wait(delay):
                        break
                with self._stats_lock:
                    self._stats.frames_read += 1
                if not self._buffer.put(frame):
                    break  # stopped while waiting for room
            self._check_truncation(reader, last_timestamp_s)
            self._buffer.finish(_End())
        except BaseException as exc:  # noqa: BLE001 - handed to the iterating thread
            self._buffer.finish(_Failure(exc))
        finally:
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - closing must not mask the real outcome
                pass

    def _reconnect(self) -> None:
        for attempt in range(1, self._reconnect_attempts + 1):
            if self._stop.wait(self._reconnect_delay_s):
                return
            if self._reader.reopen():
                with self._stats_lock:
                    self._stats.reconnects += 1
                return
        raise CaptureError(
            f"{self.info.uri} stopped delivering frames and could not be reopened after "
            f"{self._reconnect_attempts} attempt(s) {self._reconnect_delay_s:g} s apart; "
            "check the connection / camera"
        )

    def _check_truncation(self, reader: FrameReader, last_timestamp_s: float | None) -> None:
        if self._stop.is_set():
            return
        expected = reader.expected_frames()
        with self._stats_lock:
            got = self._stats.frames_read + self._stats.frames_corrupt
            # header frame counts are exact; durations give estimates (rounding, last-frame duration)
            tolerance = 0 if reader.exact_count or expected is None else max(2, round(0.01 * expected))
            early_end = reader.end_reason is not None
            missing = max(0, expected - got) if expected is not None else 0
            if missing > tolerance or early_end:
                self._stats.frames_missing = missing
                self._stats.truncated_at_s = last_timestamp_s

    # -- consumer side

    @property
    def is_running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread.is_alive()

    @property
    def stats(self) -> CaptureStats:
        """A snapshot of the counters."""
        with self._stats_lock:
            return replace(self._stats)

    def __iter__(self) -> Iterator[Frame]:
        while not self._finished:
            if self._closed:
                return
            item = self._buffer.get(timeout=0.25)
            if item is None:
                if not self._thread.is_alive() and self._buffer.get(timeout=0) is None:
                    self._finished = True
                    raise CaptureError(f"capture thread of {self.info.uri} ended without a result")
                continue
            if isinstance(item, Frame):
                yield item
                continue
            self._finished = True
            if isinstance(item, _Failure):
                err = item.error
                msg = str(err) if isinstance(err, GazecamError) else (
                    f"reading {self.info.uri} failed: {type(err).__name__}: {err}")
                raise CaptureError(msg) from err
            self._warn_truncation()
            return

    def _warn_truncation(self) -> None:
        stats = self.stats
        reason = self._reader.end_reason
        if stats.frames_missing or reason is not None:
            at = f"{stats.truncated_at_s:.3f} s" if stats.truncated_at_s is not None else "an unknown time"
            warnings.warn(
                f"{self.info.uri} looks truncated: it ended at {at} after {stats.frames_read} frame(s)"
                + (f", {stats.frames_missing} announced frame(s) missing" if stats.frames_missing else "")
                + (f" ({reason})" if reason else ""),
                CaptureWarning, stacklevel=3,
            )

    def close(self) -> None:
        """Stop the reader thread and release the source (idempotent, returns promptly)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._buffer.clear()  # unblock a producer waiting for room
        self._thread.join(_JOIN_TIMEOUT_S)
        if self._thread.is_alive():  # blocked inside a device/network read; it exits when that returns
            warnings.warn(f"capture thread of {self.info.uri} is still blocked in a read; leaving it to finish",
                          CaptureWarning, stacklevel=2)

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
