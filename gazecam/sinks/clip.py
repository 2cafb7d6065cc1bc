"""Frame-to-clip bookkeeping: :class:`ClipWriter` turns a sequence of source frames into one H.264 clip.

It wraps :class:`~gazecam.sinks.VideoSink` and owns the two policies every writer of gazecam's clips needs:

* **gaps**: a frame the reader skipped (undecodable) leaves a jump in the source frame indices; with
  ``fill_gaps`` the previous picture is repeated for every missing index, so the clip keeps the source's
  length and stays in sync with its audio (``frames_repeated`` counts them);
* **size**: the clip has one size (``width`` x ``height``); a picture of another size (e.g. a folder of
  images of mixed sizes) is letterboxed to it (scaled, aspect kept, black bars; ``frames_letterboxed``
  counts them, the first one is logged as a warning).

No torch import here.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from ..imageio import letterbox
from .video import VideoSink

__all__ = ["ClipWriter"]

log = logging.getLogger(__name__)


class ClipWriter:
    """An H.264 clip of ``width`` x ``height`` at ``fps`` (``with ClipWriter(...) as clip: clip.write(rgb)``).

    ``audio_from`` / ``audio_start_s``: as in :class:`~gazecam.sinks.video.VideoSink` (the source's audio, from
    ``audio_start_s`` seconds into it).  ``fill_gaps``: repeat the previous picture over skipped source
    indices (files; off for live sources, whose gaps are dropped stale frames).  ``start_index``: the source
    index of the clip's first frame (a clip of a whole file: 0, so frames missing at its start are filled
    too); None takes the index of the first frame written (a recording that starts mid-file).
    Closing finalises the clip, also after an exception inside the ``with`` block.
    """

    def __init__(self, path: str | Path, *, width: int, height: int, fps: float | Fraction,
                 audio_from: str | Path | None = None, audio_start_s: float = 0.0, fill_gaps: bool = True,
                 start_index: int | None = None) -> None:
        if start_index is not None and start_index < 0:
            raise ValueError(f"ClipWriter: start_index must be >= 0 or None, got {start_index}")
        self.path = Path(path).expanduser()
        self.width, self.height = int(width), int(height)
        self.fill_gaps = bool(fill_gaps)
        self.frames_repeated = 0  # pictures repeated over skipped source indices
        self.frames_letterboxed = 0  # pictures of another size letterboxed to the clip's size
        self._last_index = None if start_index is None else start_index - 1
        self._last_image: np.ndarray | None = None
        self._sink: VideoSink = VideoSink(self.path, width=width, height=height, fps=fps, audio_from=audio_from,
                                          audio_start_s=audio_start_s)

    @property
    def frames_written(self) -> int:
        """Frames in the clip, repeats included (after :meth:`close`: frames in the file)."""
        return self._sink.frames_written

    @property
    def has_audio(self) -> bool:
        return self._sink.has_audio

    @property
    def fps(self) -> Fraction:
        return self._sink.fps

    def write(self, image: np.ndarray, *, index: int | None = None) -> None:
        """Append one H x W x 3 uint8 RGB picture; ``index`` is its source frame index (for gap filling)."""
        if image.shape[:2] != (self.height, self.width):
            image = self._fit(image, index)
        if index is not None and self.fill_gaps:
            if self._last_index is not None:
                # the first picture stands in for frames missing before it (there is no earlier one)
                fill = self._last_image if self._last_image is not None else image
                for _ in range(max(0, index - self._last_index - 1)):
                    self._sink.write(fill)
                    self.frames_repeated += 1
            self._last_index = index if self._last_index is None else max(self._last_index, index)
        self._sink.write(image)
        self._last_image = image

    def _fit(self, image: np.ndarray, index: int | None) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.ndim != 3:
            return image  # VideoSink.write says what it expects
        if not self.frames_letterboxed:
            where = f"frame {index}" if index is not None else "a frame"
            log.warning(f"{where} is {image.shape[1]}x{image.shape[0]}, the video {self.path.name} is "
                        f"{self.width}x{self.height} (the first frame's size): frames of another size are "
                        "letterboxed in the video")
        self.frames_letterboxed += 1
        return letterbox(image, width=self.width, height=self.height)

    def close(self) -> None:
        """Finalise the clip (idempotent); a clip without frames leaves no file."""
        self._sink.close()

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
