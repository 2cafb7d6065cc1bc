"""Frame sources the GUI plays: a seekable video-file player on PyAV and the live-source interface.

The GUI needs random access (seek bar, step back), which a streaming capture does not give, so files
are read here with PyAV directly.  Live sources (cameras, URLs) go through :mod:`gazecam.capture`
(see :mod:`gazecam.gui.sources`).  No Qt here: this module is plain Python, used from a thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import InputError
from ..types import Frame

__all__ = ["SourceError", "SourceMeta", "FrameSource", "FilePlayer"]


class SourceError(InputError):
    """A source cannot be opened or stopped delivering frames (message written for the user)."""


@dataclass(frozen=True, slots=True)
class SourceMeta:
    """What the GUI shows about a source and needs for recording."""

    name: str  # shown in the title bar
    width: int
    height: int
    fps: float  # nominal frame rate (frames per second)
    frame_count: int  # 0 = unknown / live
    live: bool  # camera or stream: latest frame wins, no seeking
    audio_path: str | None = None  # file whose audio a recording may keep (None = no audio)

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 and self.frame_count > 0 else 0.0


class FrameSource(Protocol):
    """Interface of everything the playback thread reads from."""

    meta: SourceMeta
    seekable: bool

    def read(self) -> Frame | None:
        """The next frame; ``None`` at the end of a file.  Raises :class:`SourceError` on failure."""

    def seek(self, index: int) -> Frame | None:
        """Position on frame ``index`` and return it (only when ``seekable``)."""

    def close(self) -> None: ...


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3], dtype=np.uint8)


class FilePlayer:
    """A video (or image) file read with PyAV: sequential frames, exact seek to a frame index.

    Frame indices come from presentation timestamps (``round(t * fps)``), so a frame keeps its index
    whether it was reached by playing or by seeking.  Frames that fail to decode are skipped and
    counted in :attr:`corrupt_frames`.
    """

    seekable = True

    def __init__(self, path: str | Path) -> None:
        import av

        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file; check the path or pick another file")
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a folder; open a video or image file")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as e:
            raise SourceError(f"{self.path}: not a readable video or image ({e}); "
                              "try a common format such as mp4/mkv/avi or png/jpg") from e
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"{self.path}: the file has no video stream (audio only?)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        fps = float(rate) if rate else 25.0
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        self._tb = self._stream.time_base or Fraction(1, 1000)
        self._start = self._stream.start_time or 0
        count = int(self._stream.frames or 0)
        if count <= 0:
            dur = self._stream.duration
            if dur:
                count = int(round(float(dur * self._tb) * fps))
            elif self._container.duration:
                count = int(round(self._container.duration / 1_000_000 * fps))
        self.corrupt_frames = 0
        self._frames = None
        self._pending: Frame | None = None
        self._last_index = -1
        has_audio = bool(self._container.streams.audio)
        self.meta = SourceMeta(name=self.path.name, width=int(self._stream.codec_context.width or 0),
                               height=int(self._stream.codec_context.height or 0), fps=fps,
                               frame_count=max(count, 0), live=False,
                               audio_path=str(self.path) if has_audio else None)
        first = self.read()  # proves the file decodes; kept for the first read()
        if first is None:
            self.close()
            raise SourceError(f"{self.path}: no decodable video frames (empty or corrupt file)")
        self._pending = first
        if self.meta.width <= 0:
            self.meta = SourceMeta(**{**_meta_dict(self.meta), "width": first.width, "height": first.height})

    # -- reading --------------------------------------------------------------------------
    def _index_of(self, av_frame) -> int:
        if av_frame.pts is None:
            return self._last_index + 1
        t = float((av_frame.pts - self._start) * self._tb)
        return max(int(round(t * self.meta.fps)), 0)

    def _decode_next(self):
        import av

        if self._frames is None:
            self._frames = self._container.decode(self._stream)
        while True:
            try:
                return next(self._frames)
            except StopIteration:
                return None
            except av.error.EOFError:
                return None
            except (av.error.InvalidDataError, av.error.FFmpegError) as e:
                # A corrupt packet: skip it, count it, keep playing.  Persistent failure ends the file.
                self.corrupt_frames += 1
                if self.corrupt_frames > 1000:
                    raise SourceError(f"{self.path}: too many undecodable frames ({e})") from e
                self._frames = self._container.decode(self._stream)

    def read(self) -> Frame | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            self._last_index = frame.index
            return frame
        av_frame = self._decode_next()
        if av_frame is None:
            return None
        index = self._index_of(av_frame)
        if index <= self._last_index:
            index = self._last_index + 1  # duplicate / rounded timestamps: keep indices increasing
        self._last_index = index
        image = _to_rgb(av_frame.to_ndarray(format="rgb24"))
        return Frame(image=image, index=index, timestamp_s=index / self.meta.fps, source=str(self.path))

    def seek(self, index: int) -> Frame | None:
        """Decode and return frame ``index`` (clamped to the file); the next read() continues after it."""
        index = max(int(index), 0)
        if self.meta.frame_count > 0:
            index = min(index, self.meta.frame_count - 1)
        target_pts = self._start + int(round(index / self.meta.fps / self._tb))
        self._pending = None
        self._container.seek(target_pts, stream=self._stream, backward=True, any_frame=False)
        self._frames = None
        self._last_index = -1
        best: Frame | None = None
        while True:
            av_frame = self._decode_next()
            if av_frame is None:
                break
            got = self._index_of(av_frame)
            if got > index and best is not None:
                # Overshot (index missing in the file): keep the frame for the next read().
                self._pending = Frame(image=_to_rgb(av_frame.to_ndarray(format="rgb24")), index=got,
                                      timestamp_s=got / self.meta.fps, source=str(self.path))
                break
            best = Frame(image=_to_rgb(av_frame.to_ndarray(format="rgb24")), index=got,
                         timestamp_s=got / self.meta.fps, source=str(self.path))
            if got >= index:
                break
        if best is not None:
            self._last_index = best.index
        return best

    def close(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - closing a broken container must not raise
            pass


def _meta_dict(meta: SourceMeta) -> dict:
    return {name: getattr(meta, name) for name in SourceMeta.__slots__}
