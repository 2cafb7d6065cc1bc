"""Frame capture: video files, images, cameras and streams, as :class:`gazecam.types.Frame` objects (RGB uint8).

* :class:`Capture` reads a source in a background thread: every frame of a file, in order, with
  backpressure; the newest frame of a live source (camera, stream URL), which is reopened when it
  drops.  Used by the pipeline and ``gazecam process``.
* :func:`open_file` gives a seekable reader (``read``, ``seek(index | time_s=)``, ``step``) for
  video files, images and folders of images: what a player (the GUI) uses.  It numbers and
  timestamps frames exactly as :class:`Capture` does.

Modules: :mod:`~gazecam.capture.sources` (what a source is, :func:`parse_source`, :class:`SourceInfo`,
errors), :mod:`~gazecam.capture.video` (PyAV video files), :mod:`~gazecam.capture.readers` (images,
cameras/streams via OpenCV, :func:`open_reader`), :mod:`~gazecam.capture.capture` (the thread).
Video files are decoded with PyAV (presentation timestamps, audio detection, undecodable frames
skipped and counted); cameras and streams with OpenCV.  No torch import here.
"""

from __future__ import annotations

from .capture import Capture, CaptureStats
from .readers import FrameReader, SeekableReader, open_file, open_reader
from .sources import CaptureError, CaptureWarning, SourceInfo, SourceKind, parse_source

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureStats",
    "CaptureWarning",
    "FrameReader",
    "SeekableReader",
    "SourceInfo",
    "SourceKind",
    "open_file",
    "open_reader",
    "parse_source",
]
