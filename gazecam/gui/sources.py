"""What the user can open: a camera, a file or a URL, and how each is read.

Files are played by :class:`gazecam.gui.player.FilePlayer` (seekable); cameras and stream URLs go
through :class:`gazecam.capture.Capture` (its thread keeps the newest frame and reconnects).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import GazecamError
from ..types import Frame
from .player import FilePlayer, FrameSource, SourceError, SourceMeta

__all__ = ["SourceSpec", "LiveSource", "open_source", "list_cameras"]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as the user gave it: ``camera`` index, ``file`` path or stream ``url``."""

    kind: str  # "camera" | "file" | "url"
    value: str  # camera index as text, path or URL

    @classmethod
    def parse(cls, text: str | int | None) -> "SourceSpec":
        """``None``/"" -> camera 0; digits -> camera; ``scheme://`` -> URL; anything else -> file."""
        if text is None or str(text).strip() == "":
            return cls("camera", "0")
        text = str(text).strip()
        if re.fullmatch(r"\d+", text) or text.startswith("/dev/video"):
            return cls("camera", text)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text) and not text.lower().startswith("file://"):
            return cls("url", text)
        if text.lower().startswith("file://"):
            text = text[len("file://"):]
        return cls("file", str(Path(text).expanduser()))

    @property
    def live(self) -> bool:
        return self.kind != "file"

    @property
    def label(self) -> str:
        if self.kind == "camera":
            return f"camera {self.value}"
        if self.kind == "file":
            return Path(self.value).name
        return self.value


class LiveSource:
    """A camera or stream read by :class:`gazecam.capture.Capture` (newest frame wins, reconnects)."""

    seekable = False

    def __init__(self, spec: SourceSpec, *, reconnect_attempts: int = 3, reconnect_delay_s: float = 1.0) -> None:
        from ..capture import Capture

        target: str | int = int(spec.value) if spec.value.isdigit() else spec.value
        try:
            self._capture = Capture(target, live=True, reconnect_attempts=reconnect_attempts,
                                    reconnect_delay_s=reconnect_delay_s)
        except GazecamError as e:
            raise SourceError(_camera_hint(spec, str(e))) from e
        info = self._capture.info
        self.meta = SourceMeta(name=info.uri, width=info.width, height=info.height, fps=info.fps or 30.0,
                               frame_count=0, live=True, audio_path=None)
        self._frames = iter(self._capture)
        self._spec = spec

    @property
    def dropped(self) -> int:
        return self._capture.stats.frames_dropped

    def read(self) -> Frame | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except GazecamError as e:
            raise SourceError(_camera_hint(self._spec, str(e))) from e

    def seek(self, index: int) -> Frame | None:
        raise SourceError(f"{self.meta.name} is a live source; it cannot seek")

    def close(self) -> None:
        self._capture.close()


def _camera_hint(spec: SourceSpec, message: str) -> str:
    if spec.kind == "camera":
        return (f"{message}\nIs a camera connected and not used by another program? "
                "Plug it in and press Reconnect, or open a video file instead.")
    return f"{message}\nCheck the URL and that the stream is running, then press Reconnect."


def open_source(spec: SourceSpec) -> FrameSource:
    """Open ``spec`` (call from the playback thread: opening a camera or URL can take seconds)."""
    if spec.kind == "file":
        return FilePlayer(spec.value)
    return LiveSource(spec)


def list_cameras(max_index: int = 10) -> list[str]:
    """Camera indices the system shows (Linux: /dev/video*), without opening them; else 0..3."""
    if sys.platform.startswith("linux"):
        found = sorted(int(m.group(1)) for p in Path("/dev").glob("video*")
                       if (m := re.fullmatch(r"video(\d+)", p.name)))
        return [str(i) for i in found if i <= max_index * 10]
    return [str(i) for i in range(4)]
