"""Frame readers: one per kind of source, all handing out :class:`~gazecam.types.Frame` objects.

* :class:`~gazecam.capture.video.VideoFileReader`: a video file (PyAV), seekable;
* :class:`ImageReader`: one image or a folder of images (natural name order), seekable;
* :class:`OpenCVReader`: a camera (index or device) or a network stream (``cv2.VideoCapture``).

:func:`open_reader` picks the reader for a source; :class:`~gazecam.capture.Capture` runs one in a
thread, and a player (the GUI) uses :func:`open_file` directly for random access.  A reader is
opened on construction (opening errors raise there and the first frame is already decoded) and
is then used by one thread at a time.
"""

from __future__ import annotations

import glob
import math
import sys
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from gazecam.errors import InputError
from gazecam.imageio import IMAGE_SUFFIXES, read_image, to_rgb
from gazecam.types import Frame

from .sources import CaptureError, SourceInfo, SourceKind, is_stream_url, natural_key, parse_source, redact_url
from .video import VideoFileReader

__all__ = ["FrameReader", "SeekableReader", "ImageReader", "OpenCVReader", "VideoFileReader", "open_reader",
           "open_file"]

_DEFAULT_LIVE_FPS = 30.0


class FrameReader(Protocol):
    """What every reader offers; used by one thread at a time."""

    info: SourceInfo
    corrupt: int  # undecodable frames / unreadable images skipped so far
    can_reconnect: bool
    exact_count: bool  # expected_frames() is exact (else an estimate with a small tolerance)
    end_reason: str | None  # why the source ended early (demuxer error), None for a normal end

    def read(self) -> Frame | None:
        """The next frame, or None at the end / when a live stream dropped."""

    def reopen(self) -> bool:
        """Try to reopen a dropped live source; True on success."""

    def expected_frames(self) -> int | None:
        """Frames the source announced (for truncation checks), None when unknown."""

    def close(self) -> None: ...


@runtime_checkable
class SeekableReader(Protocol):
    """A file reader with random access (video files, images): what a player needs."""

    info: SourceInfo
    seekable: bool
    position: int  # index of the frame read()/seek() returned last, -1 before the first

    @property
    def last_index(self) -> int: ...

    def read(self) -> Frame | None: ...

    def seek(self, index: int | None = None, *, time_s: float | None = None) -> Frame | None: ...

    def step(self, delta: int = 1) -> Frame | None: ...

    def close(self) -> None: ...


class ImageReader:
    """One image file or the images of a folder (natural name order), seekable.

    Frame ``i`` is the ``i``-th image, at ``i / fps`` seconds; an unreadable image (in a folder) is
    skipped and counted, leaving a gap in the indices.
    """

    can_reconnect = False
    seekable = True
    exact_count = True

    def __init__(self, paths: list[Path], *, uri: str, fps: float, live: bool = False) -> None:
        self.end_reason: str | None = None
        self._paths = paths
        self._fps = fps
        self._uri = uri
        self._pos = 0  # the image read() tries next
        self._failed: set[int] = set()
        self.skipped: list[str] = []  # "name: reason" of unreadable images
        self.skipped_names: list[str] = []  # file names of unreadable images, in the order they were met
        self._next: Frame | None = None
        first = self.read()
        if first is None:
            detail = f"; first problem: {self.skipped[0]}" if self.skipped else ""
            raise InputError(f"{uri}: none of the {len(paths)} image(s) could be read{detail}")
        self._next, self.position = first, -1  # the next read() hands it out
        self.info = SourceInfo(
            uri=uri, kind="images", width=first.width, height=first.height, fps=fps,
            frame_count=len(paths), has_audio=False, live=live, duration_s=len(paths) / fps,
        )

    @property
    def corrupt(self) -> int:
        return len(self._failed)

    @property
    def last_index(self) -> int:
        return len(self._paths) - 1

    def _load(self, index: int) -> Frame | None:
        try:
            image = read_image(self._paths[index])
        except InputError as exc:
            if len(self._paths) == 1:
                raise
            if index not in self._failed:
                self._failed.add(index)
                self.skipped.append(str(exc))
                self.skipped_names.append(self._paths[index].name)
            return None
        self.position = index
        self._pos = index + 1  # read() goes on after it
        return Frame(image=image, index=index, timestamp_s=index / self._fps, source=self._uri)

    def read(self) -> Frame | None:
        if self._next is not None:
            frame, self._next = self._next, None
            self.position = frame.index
            return frame
        while self._pos < len(self._paths):
            index = self._pos
            self._pos += 1
            frame = self._load(index)
            if frame is not None:
                return frame
        return None

    def seek(self, index: int | None = None, *, time_s: float | None = None) -> Frame | None:
        """Image ``index`` (or the one shown at ``time_s``), else the last readable one before it (else after)."""
        if (index is None) == (time_s is None):
            raise TypeError("seek() takes a frame index or time_s=, not both or neither")
        target = int(index) if index is not None else int(math.floor(float(time_s) * self._fps + 1e-9))
        target = min(max(target, 0), len(self._paths) - 1)
        self._next = None
        for i in [*range(target, -1, -1), *range(target + 1, len(self._paths))]:
            frame = self._load(i)
            if frame is not None:
                return frame
        return None

    def step(self, delta: int = 1) -> Frame | None:
        if delta == 1 or self.position < 0:
            return self.read()
        return self.seek(max(self.position + int(delta), 0))

    def reopen(self) -> bool:
        return False

    def expected_frames(self) -> int | None:
        return None  # every image is accounted for (read or counted corrupt)

    def close(self) -> None:
        pass


class OpenCVReader:
    """A camera (index or device path) or a network stream, read with cv2.VideoCapture."""

    seekable = False

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
        self._first: Frame | None = self._wrap(image)
        self.info = SourceInfo(
            uri=uri, kind=kind, width=self._first.width, height=self._first.height, fps=fps,
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
            devices = sorted(glob.glob("/dev/video*"), key=lambda p: natural_key(Path(p)))
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

    def _wrap(self, image: np.ndarray) -> Frame:
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
        return Frame(image=image, index=index, timestamp_s=t, source=self._uri)

    def read(self) -> Frame | None:
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


def open_reader(source: str | int | Path, *, live: bool | None = None, max_corrupt_run: int = 50,
                image_fps: float = 25.0, t0: float | None = None) -> FrameReader:
    """The reader for ``source``: a path (video, image, folder of images), camera index/device or stream URL.

    ``live``: None chooses from the source (cameras and URLs are live, files are not).  Raises
    :class:`InputError` for bad files, :class:`CaptureError` for cameras/streams that do not open.
    """
    if isinstance(source, bool) or not isinstance(source, (str, int, Path)):
        raise TypeError(f"Capture source must be a path, camera index or URL, got {type(source).__name__}")
    t0 = time.monotonic() if t0 is None else t0
    if isinstance(source, str):
        source = parse_source(source)
    if isinstance(source, int):
        if source < 0:
            raise InputError(f"camera index must be >= 0, got {source}")
        return OpenCVReader(source, kind="camera", uri=f"camera {source}", live=True if live is None else live,
                            t0=t0)
    text = str(source)
    if isinstance(source, str) and is_stream_url(text):
        return OpenCVReader(text, kind="stream", uri=redact_url(text), live=True if live is None else live, t0=t0)
    if text.startswith("/dev/video"):
        return OpenCVReader(text, kind="camera", uri=f"camera {text}", live=True if live is None else live, t0=t0)
    return _open_path(Path(source).expanduser(), live=bool(live), max_corrupt_run=max_corrupt_run,
                      image_fps=image_fps)


def open_file(path: str | Path, *, image_fps: float = 25.0, max_corrupt_run: int = 50) -> SeekableReader:
    """A seekable reader for a video file, an image or a folder of images (what a player opens)."""
    if not image_fps > 0:
        raise ValueError(f"image_fps must be > 0, got {image_fps}")
    text = str(path)
    if is_stream_url(text) or text.startswith("/dev/video") or text.strip().isdigit():
        raise InputError(f"{text} is a camera or a stream, not a file; read it with gazecam.capture.Capture")
    return _open_path(Path(parse_source(text)), live=False, max_corrupt_run=max_corrupt_run, image_fps=image_fps)


def _open_path(path: Path, *, live: bool, max_corrupt_run: int, image_fps: float) -> VideoFileReader | ImageReader:
    if not path.exists():
        raise InputError(f"input not found: {path}; expected a video file, an image, a folder of images, "
                         "a camera index or a stream URL")
    if path.is_dir():
        images = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                        key=natural_key)
        if not images:
            raise InputError(f"folder {path} contains no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImageReader(images, uri=str(path), fps=image_fps, live=live)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageReader([path], uri=str(path), fps=image_fps, live=live)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); expected a video file")
    return VideoFileReader(path, live=live, max_corrupt_run=max_corrupt_run)
