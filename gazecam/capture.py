"""Frame capture in a background thread: video files, images, cameras and streams.

``Capture`` opens a source, reads it in its own thread and hands out
:class:`gazecam.types.Frame` objects (RGB ``uint8``) when iterated:

* files (a video file, one image, a folder of images) deliver **every** frame in
  order through a bounded queue: a slow consumer slows the reader down
  (backpressure) and nothing is lost;
* live sources (a camera index or device, a stream URL) keep only the **newest**
  frame: stale frames are dropped and counted in ``stats.frames_dropped``, and a
  dropped stream is reopened (``reconnect_attempts`` times, then ``CaptureError``).

Video files are decoded with PyAV (presentation timestamps, audio detection,
undecodable frames skipped and counted); cameras and streams with OpenCV.
Exceptions in the reader thread reach the iterating caller as ``CaptureError``
raised ``from`` the original.  No torch import here.
"""

from __future__ import annotations

import glob
import math
import re
import sys
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterator, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from gazecam.errors import GazecamError, InputError
from gazecam.imageio import IMAGE_SUFFIXES, read_image, to_rgb
from gazecam.types import Frame

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureStats",
    "CaptureWarning",
    "SourceInfo",
    "parse_source",
]

SourceKind = Literal["video", "images", "camera", "stream"]

#: URL schemes opened as network streams (OpenCV / FFmpeg backend).
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp", "mms"})

_DEFAULT_LIVE_FPS = 30.0
_JOIN_TIMEOUT_S = 5.0
_POLL_S = 0.05


class CaptureError(GazecamError):
    """A source could not be opened or failed while being read."""


class CaptureWarning(UserWarning):
    """Something was wrong with the source but capture went on (e.g. a truncated file)."""


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source once it is open."""

    uri: str  # path, URL (password masked) or "camera:N"
    kind: SourceKind
    width: int  # of the first frame
    height: int
    fps: float  # nominal frame rate (images: ``image_fps``; live: as reported, 30 if unknown)
    frame_count: int | None  # None when unknown (live sources, some containers)
    has_audio: bool
    live: bool  # True: latest frame wins; False: every frame in order
    duration_s: float | None = None  # container duration when known


@dataclass
class CaptureStats:
    """Counters of one capture (a snapshot when read from ``Capture.stats``)."""

    frames_read: int = 0  # frames decoded from the source
    frames_dropped: int = 0  # stale frames replaced by newer ones before delivery (live only)
    frames_corrupt: int = 0  # undecodable frames / unreadable images, skipped
    reconnects: int = 0  # successful reopenings of a dropped live stream
    frames_missing: int = 0  # frames announced by the file header but never delivered (truncation)
    truncated_at_s: float | None = None  # timestamp of the last frame before a truncation


def parse_source(spec: str) -> str | int:
    """Turn a command-line source into what :class:`Capture` accepts.

    ``"0"`` -> camera index ``0``; ``rtsp://``/``http://``... URLs are returned
    unchanged; ``file://`` URLs and everything else are (``~``-expanded) paths.
    """
    spec = str(spec).strip()
    if re.fullmatch(r"\d+", spec):
        return int(spec)
    scheme = urlsplit(spec).scheme.lower()
    if scheme in STREAM_SCHEMES:
        return spec
    if scheme == "file":
        return urlsplit(spec).path
    return str(Path(spec).expanduser())


def _redact(url: str) -> str:
    """Mask a password in a URL (``rtsp://user:***@host/...``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _natural_key(path: Path) -> list[object]:
    """Sort key: digits compare as numbers (frame2 < frame10)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]


# --------------------------------------------------------------------------- readers
# A reader is opened in Capture.__init__ (so opening errors raise there, and the first
# frame is already decoded), then used only by the capture thread.


class _Reader(Protocol):
    info: SourceInfo
    corrupt: int  # undecodable frames skipped so far
    can_reconnect: bool
    exact_count: bool  # expected_frames() is exact (else an estimate with a small tolerance)
    end_reason: str | None  # why the source ended early (demuxer error), None for a normal end

    def read(self) -> tuple[np.ndarray, float, int] | None:
        """Next (RGB image, timestamp_s, source index), or None at the end / when the stream dropped."""

    def reopen(self) -> bool:
        """Try to reopen a dropped live source; True on success."""

    def expected_frames(self) -> int | None:
        """Frames the source announced (for truncation checks), None when unknown."""

    def close(self) -> None: ...


class _VideoFileReader:
    """A video file decoded with PyAV, every frame in presentation order."""

    can_reconnect = False

    def __init__(self, path: Path, *, live: bool, max_corrupt_run: int) -> None:
        import av

        self._av = av
        self.corrupt = 0
        self._corrupt_run = 0
        self._max_corrupt_run = max_corrupt_run
        self._count = 0  # source index of the next frame when timestamps are missing
        self._last_index = -1
        self.end_reason: str | None = None  # demuxer error that ended the stream early
        try:
            self._container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.error.FileNotFoundError as exc:
            raise InputError(f"video file not found: {path}") from exc
        except av.error.PermissionError as exc:
            raise InputError(f"cannot read {path}: permission denied") from exc
        except av.error.EOFError as exc:
            raise InputError(f"{path} ended before any video frame: the file is empty or truncated") from exc
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read {path}: not a video file or the file is corrupt/truncated ({_ffmpeg_reason(exc)})"
            ) from exc
        try:
            if not self._container.streams:
                raise InputError(f"{path} contains no video frames (no media streams); expected a non-empty video")
            if not self._container.streams.video:
                kinds = ", ".join(sorted({s.type for s in self._container.streams})) or "none"
                raise InputError(f"{path} has no video stream (streams found: {kinds}); expected a video file")
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self._stream = stream
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate and float(rate) > 0 else 25.0
            duration_s = _video_duration_s(self._container, stream)
            frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
            self.exact_count = frames is not None  # the header counts frames (mp4); else estimated from duration
            self._estimate = frames if frames is not None else (
                int(round(duration_s * fps)) if duration_s is not None else None)
            self._fps = fps
            self._origin: float | None = (
                float(stream.start_time * stream.time_base)
                if stream.start_time is not None and stream.time_base is not None else None
            )
            self._packets = self._container.demux(stream)
            self._pending: deque = deque()
            self._eof = False
            first = self._next_frame()
            if first is None:
                what = f" ({self.corrupt} undecodable)" if self.corrupt else ""
                raise InputError(f"{path} contains no decodable video frames{what}; expected a non-empty video")
            self._first: tuple[np.ndarray, float, int] | None = self._convert(first)
            image = self._first[0]
            self.info = SourceInfo(
                uri=str(path), kind="video", width=int(image.shape[1]), height=int(image.shape[0]), fps=fps,
                frame_count=frames, has_audio=bool(self._container.streams.audio), live=live,
                duration_s=duration_s,
            )
        except BaseException:
            self._container.close()
            raise

    def _next_frame(self):
        av = self._av
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._eof:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                self._eof = True
                continue
            except (av.FFmpegError, OSError) as exc:  # the demuxer gave up (truncated / corrupt container)
                self.end_reason = _ffmpeg_reason(exc)
                self._eof = True
                try:
                    self._pending.extend(self._stream.decode(None))  # flush what the decoder holds
                except (av.FFmpegError, ValueError):
                    pass
                continue
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                self.corrupt += 1
                self._count += 1  # the lost frame keeps its index (a gap)
                self._corrupt_run += 1
                if self._corrupt_run > self._max_corrupt_run:
                    raise CaptureError(
                        f"{self._container.name}: more than {self._max_corrupt_run} consecutive undecodable "
                        f"frames (last error: {_ffmpeg_reason(exc)}); the file is too damaged to read"
                    ) from exc
                continue
            if frames:
                self._corrupt_run = 0
            self._pending.extend(frames)

    def _convert(self, frame) -> tuple[np.ndarray, float, int]:
        image = to_rgb(frame.to_ndarray(format="rgb24"))  # any pix_fmt (gray, yuva, 10-bit) -> (H, W, 3)
        t = frame.time
        if t is None:
            index = self._count
            timestamp_s = index / self._fps
        else:
            if self._origin is None:
                self._origin = float(t)
            timestamp_s = float(t) - self._origin
            # source frame number from the timestamp (exact for constant frame rate; skipped
            # undecodable frames leave gaps), kept strictly increasing for variable rates
            index = max(int(round(timestamp_s * self._fps)), self._last_index + 1)
        self._last_index = index
        self._count = index + 1
        return image, timestamp_s, index

    def read(self) -> tuple[np.ndarray, float, int] | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        frame = self._next_frame()
        return None if frame is None else self._convert(frame)

    def reopen(self) -> bool:
        return False

    def expected_frames(self) -> int | None:
        return self._estimate

    def close(self) -> None:
        self._container.close()


class _ImageReader:
    """One image file or the images of a folder (natural name order)."""

    can_reconnect = False

    def __init__(self, paths: list[Path], *, uri: str, fps: float, live: bool) -> None:
        self.exact_count = True
        self.end_reason: str | None = None
        self._paths = paths
        self._fps = fps
        self._pos = 0
        self.corrupt = 0
        self.skipped: list[str] = []  # "name: reason" of unreadable images
        first = self._next()
        if first is None:
            detail = f"; first problem: {self.skipped[0]}" if self.skipped else ""
            raise InputError(f"{uri}: none of the {len(paths)} image(s) could be read{detail}")
        self._first: tuple[np.ndarray, float, int] | None = first
        self.info = SourceInfo(
            uri=uri, kind="images", width=int(first[0].shape[1]), height=int(first[0].shape[0]), fps=fps,
            frame_count=len(paths), has_audio=False, live=live, duration_s=len(paths) / fps,
        )

    def _next(self) -> tuple[np.ndarray, float, int] | None:
        while self._pos < len(self._paths):
            index = self._pos
            self._pos += 1
            try:
                image = read_image(self._paths[index])
            except InputError as exc:
                if len(self._paths) == 1:
                    raise
                self.corrupt += 1
                self.skipped.append(str(exc))
                continue
            return image, index / self._fps, index
        return None

    def read(self) -> tuple[np.ndarray, float, int] | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return self._next()

    def reopen(self) -> bool:
        return False

    def expected_frames(self) -> int | None:
        return None  # every image is accounted for (read or counted corrupt)

    def close(self) -> None:
        pass


class _OpenCVReader:
    """A camera (index or device path) or a network stream, read with cv2.VideoCapture."""

    def __init__(self, source: int | str, *, kind: SourceKind, uri: str, live: bool, t0: float) -> None:
        import cv2

        self._cv2 = cv2
        self._source = source
        self._kind = kind
        self._uri = uri
        self._live = live
        self._t0 = t0
        self._count = 0
        self.corrupt = 0
        self.can_reconnect = live
        self.exact_count = False
        self.end_reason: str | None = None
        self._cap = self._open()
        if self._cap is None:
            raise CaptureError(self._open_failure_message())
        ok, image = self._read_raw()
        if not ok:
            self._cap.release()
            raise CaptureError(
                f"{uri} opened but delivered no frame; check that the "
                f"{'camera is not used by another program' if kind == 'camera' else 'stream is running'}"
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = _DEFAULT_LIVE_FPS
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not live else 0
        self._fps = fps
        self._first: tuple[np.ndarray, float, int] | None = self._wrap(image)
        self.info = SourceInfo(
            uri=uri, kind=kind, width=int(image.shape[1]), height=int(image.shape[0]), fps=fps,
            frame_count=count if count > 0 else None, has_audio=False, live=live,
        )

    def _open(self):
        cv2 = self._cv2
        level = None
        try:  # OpenCV logs its own warnings for a missing camera; we raise a clear error instead
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        except AttributeError:
            pass
        try:
            if self._kind == "stream":
                cap = cv2.VideoCapture(self._source, cv2.CAP_FFMPEG, [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10_000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10_000])
            else:
                cap = cv2.VideoCapture(self._source)
        finally:
            if level is not None:
                cv2.utils.logging.setLogLevel(level)
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        if self._kind == "camera":
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep latency low where the backend supports it
        return cap

    def _open_failure_message(self) -> str:
        if self._kind == "stream":
            return (f"stream {self._uri} could not be opened; check the address, that the stream is running, "
                    "the network and any credentials")
        if sys.platform.startswith("linux"):
            devices = sorted(glob.glob("/dev/video*"), key=lambda p: _natural_key(Path(p)))
            found = ", ".join(f"{p.removeprefix('/dev/video')} ({p})" for p in devices) or "none found"
            hint = ("check that it is connected and not used by another program, and the permissions "
                    "(your user needs access to /dev/video*, e.g. the 'video' group)")
        else:
            found = "unknown on this system (try 0, 1, ...)"
            hint = "check that it is connected and that this program has camera permission"
        return f"{self._uri} could not be opened; available cameras: {found}; {hint}"

    def _read_raw(self) -> tuple[bool, np.ndarray | None]:
        try:
            ok, image = self._cap.read()
        except self._cv2.error:
            return False, None
        if not ok or image is None or image.size == 0:
            return False, None
        return True, image

    def _wrap(self, image: np.ndarray) -> tuple[np.ndarray, float, int]:
        index = self._count
        self._count += 1
        if image.ndim == 3 and image.shape[2] == 3:
            image = image[:, :, ::-1]  # BGR -> RGB
        elif image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, [2, 1, 0, 3]]  # BGRA -> RGBA
        image = to_rgb(image)
        if self._live:
            t = time.monotonic() - self._t0
        else:
            msec = float(self._cap.get(self._cv2.CAP_PROP_POS_MSEC) or 0.0)
            t = msec / 1000.0 if msec > 0 or index == 0 else index / self._fps
        return image, t, index

    def read(self) -> tuple[np.ndarray, float, int] | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        ok, image = self._read_raw()
        return self._wrap(image) if ok else None

    def reopen(self) -> bool:
        self._cap.release()
        cap = self._open()
        if cap is None:
            return False
        self._cap = cap
        return True

    def expected_frames(self) -> int | None:
        return None

    def close(self) -> None:
        self._cap.release()


def _video_duration_s(container, stream) -> float | None:
    """Duration of the video stream itself (not of a longer audio track), None when unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")  # Matroska: "00:00:01.000000000"
    if tag:
        match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag.strip())
        if match:
            h, m, sec = match.groups()
            return int(h) * 3600 + int(m) * 60 + float(sec)
    if container.duration is not None and len(container.streams) == 1:
        return container.duration / 1_000_000  # AV_TIME_BASE; only the video stream, so it is the video's
    return None


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(";")[0].strip() or type(exc).__name__


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
        self._reader = self._open(source, live=live, max_corrupt_run=max_corrupt_run, image_fps=image_fps)
        self.info: SourceInfo = self._reader.info
        # a file replayed as live is paced to its timestamps, like a camera
        self._pace = self.info.live and self.info.kind in ("video", "images")
        self._buffer: _FrameQueue | _LatestSlot = (
            _LatestSlot(self._count_drop) if self.info.live else _FrameQueue(queue_size, self._stop)
        )
        self._thread = threading.Thread(target=self._run, name=f"gazecam-capture:{self.info.uri}", daemon=True)
        self._thread.start()

    # -- opening

    def _open(self, source: str | int | Path, *, live: bool | None, max_corrupt_run: int, image_fps: float) -> _Reader:
        if isinstance(source, bool) or not isinstance(source, (str, int, Path)):
            raise TypeError(f"Capture source must be a path, camera index or URL, got {type(source).__name__}")
        if isinstance(source, str):
            source = parse_source(source)
        if isinstance(source, int):
            if source < 0:
                raise InputError(f"camera index must be >= 0, got {source}")
            return _OpenCVReader(source, kind="camera", uri=f"camera {source}",
                                 live=True if live is None else live, t0=self._t0)
        text = str(source)
        if isinstance(source, str) and urlsplit(text).scheme.lower() in STREAM_SCHEMES:
            return _OpenCVReader(text, kind="stream", uri=_redact(text),
                                 live=True if live is None else live, t0=self._t0)
        path = Path(source).expanduser()
        if text.startswith("/dev/video"):
            return _OpenCVReader(text, kind="camera", uri=f"camera {text}",
                                 live=True if live is None else live, t0=self._t0)
        is_live = bool(live)
        if not path.exists():
            raise InputError(f"input not found: {path}; expected a video file, an image, a folder of images, "
                             "a camera index or a stream URL")
        if path.is_dir():
            images = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                            key=_natural_key)
            if not images:
                raise InputError(f"folder {path} contains no images (looked for "
                                 f"{', '.join(sorted(IMAGE_SUFFIXES))})")
            return _ImageReader(images, uri=str(path), fps=image_fps, live=is_live)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return _ImageReader([path], uri=str(path), fps=image_fps, live=is_live)
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty (0 bytes); expected a video file")
        return _VideoFileReader(path, live=is_live, max_corrupt_run=max_corrupt_run)

    # -- reader thread

    def _count_drop(self) -> None:
        with self._stats_lock:
            self._stats.frames_dropped += 1

    def _run(self) -> None:
        reader = self._reader
        last_timestamp_s: float | None = None
        try:
            while not self._stop.is_set():
                item = reader.read()
                with self._stats_lock:
                    self._stats.frames_corrupt = reader.corrupt
                if item is None:
                    if reader.can_reconnect and not self._stop.is_set():
                        self._reconnect()
                        continue
                    break
                image, timestamp_s, index = item
                last_timestamp_s = timestamp_s
                if self._pace:
                    delay = timestamp_s - (time.monotonic() - self._t0)
                    if delay > 0 and self._stop.wait(delay):
                        break
                frame = Frame(image=image, index=index, timestamp_s=timestamp_s, source=self.info.uri)
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

    def _check_truncation(self, reader: _Reader, last_timestamp_s: float | None) -> None:
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
