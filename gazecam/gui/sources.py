"""What the user can open — a camera, a file (video, image, folder of images) or a stream URL — and how.

Everything is read through :mod:`gazecam.capture`, as ``gazecam process`` reads it: files with its
seekable reader (:func:`gazecam.capture.open_file`: seek, step, frames numbered and timestamped as
:class:`~gazecam.capture.Capture` numbers them), cameras and stream URLs with
:class:`~gazecam.capture.Capture` itself (its thread keeps the newest frame and reconnects).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..capture import Capture, CaptureError, SourceInfo, open_file, parse_source
from ..capture.sources import is_stream_url
from ..errors import GazecamError
from ..types import Frame

__all__ = ["SourceSpec", "FrameSource", "LiveSource", "open_source", "list_cameras"]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the user chose it (what the window shows and remembers): ``camera``, ``file`` or ``url``."""

    kind: str  # "camera" | "file" | "url"
    value: str  # camera index or device, path, URL

    @classmethod
    def parse(cls, text: str | int | None) -> "SourceSpec":
        """``None``/"" -> camera 0; otherwise as :func:`gazecam.capture.parse_source` reads it."""
        if text is None or str(text).strip() == "":
            return cls("camera", "0")
        target = parse_source(str(text))
        if isinstance(target, int) or target.startswith("/dev/video"):
            return cls("camera", str(target))
        if is_stream_url(target):
            return cls("url", target)
        return cls("file", target)

    @property
    def live(self) -> bool:
        return self.kind != "file"

    @property
    def target(self) -> str | int:
        """What :mod:`gazecam.capture` opens: a camera index, a device path, a URL or a path."""
        return int(self.value) if self.kind == "camera" and self.value.isdigit() else self.value

    @property
    def label(self) -> str:
        if self.kind == "camera":
            return f"camera {self.value}"
        if self.kind == "file":
            return Path(self.value).name
        return self.value


class FrameSource(Protocol):
    """What the playback thread reads from; a seekable one is a :class:`gazecam.capture.SeekableReader`."""

    info: SourceInfo
    seekable: bool

    def read(self) -> Frame | None:
        """The next frame; None at the end of a file.  Raises a :class:`GazecamError` on failure."""

    def close(self) -> None: ...


class LiveSource:
    """A camera or stream read by :class:`gazecam.capture.Capture`, with hints for the window's messages."""

    seekable = False

    def __init__(self, spec: SourceSpec, *, reconnect_attempts: int = 3, reconnect_delay_s: float = 1.0) -> None:
        self._spec = spec
        try:
            self._capture = Capture(spec.target, live=True, reconnect_attempts=reconnect_attempts,
                                    reconnect_delay_s=reconnect_delay_s)
        except GazecamError as e:
            raise CaptureError(_hint(spec, str(e))) from e
        self.info: SourceInfo = self._capture.info
        self._frames = iter(self._capture)

    @property
    def dropped(self) -> int:
        """Frames the capture replaced by newer ones before they were read."""
        return self._capture.stats.frames_dropped

    def read(self) -> Frame | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except GazecamError as e:
            raise CaptureError(_hint(self._spec, str(e))) from e

    def close(self) -> None:
        self._capture.close()


def _hint(spec: SourceSpec, message: str) -> str:
    if spec.kind == "camera":
        return (f"{message}\nIs a camera connected and not used by another program? "
                "Plug it in and press Reconnect, or open a video file instead.")
    return f"{message}\nCheck the URL and that the stream is running, then press Reconnect."


def open_source(spec: SourceSpec) -> FrameSource:
    """Open ``spec`` (call from the playback thread: opening a camera or URL can take seconds)."""
    if spec.kind == "file":
        return open_file(spec.value)
    return LiveSource(spec)


def list_cameras(max_index: int = 10) -> list[str]:
    """Camera indices the system shows (Linux: /dev/video*), without opening them; else 0..3."""
    if sys.platform.startswith("linux"):
        found = sorted(int(m.group(1)) for p in Path("/dev").glob("video*")
                       if (m := re.fullmatch(r"video(\d+)", p.name)))
        return [str(i) for i in found if i <= max_index * 10]
    return [str(i) for i in range(4)]
