"""What a source is: how a user's text becomes one, what is known once it is open, the errors.

No decoding here (see :mod:`gazecam.capture.readers` and :mod:`gazecam.capture.video`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from gazecam.errors import GazecamError

__all__ = ["SourceKind", "STREAM_SCHEMES", "CaptureError", "CaptureWarning", "SourceInfo", "parse_source",
           "is_stream_url", "redact_url", "natural_key"]

SourceKind = Literal["video", "images", "camera", "stream"]

#: URL schemes opened as network streams (OpenCV / FFmpeg backend).
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp", "mms"})


class CaptureError(GazecamError):
    """A source could not be opened or failed while being read."""


class CaptureWarning(UserWarning):
    """Something was wrong with the source but capture went on (e.g. a truncated file)."""


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source once it is open."""

    uri: str  # path, URL (password masked) or "camera N"
    kind: SourceKind
    width: int  # of the first frame
    height: int
    fps: float  # nominal frame rate (images: ``image_fps``; live: as reported, 30 if unknown)
    frame_count: int | None  # None when unknown (live sources, some containers)
    has_audio: bool
    live: bool  # True: latest frame wins; False: every frame in order
    duration_s: float | None = None  # container duration when known


def parse_source(spec: str) -> str | int:
    """Turn a user's source text into what :class:`~gazecam.capture.Capture` accepts.

    ``"0"`` -> camera index ``0``; ``rtsp://``/``http://``... URLs are returned
    unchanged; ``file://`` URLs and everything else are (``~``-expanded) paths.
    """
    spec = str(spec).strip()
    if re.fullmatch(r"\d+", spec):
        return int(spec)
    if is_stream_url(spec):
        return spec
    if spec.lower().startswith("file://"):
        return urlsplit(spec).path
    return str(Path(spec).expanduser())


def is_stream_url(text: str) -> bool:
    """True for a URL with one of :data:`STREAM_SCHEMES`."""
    try:
        return urlsplit(text).scheme.lower() in STREAM_SCHEMES
    except ValueError:
        return False


def redact_url(url: str) -> str:
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


def natural_key(path: Path) -> list[object]:
    """Sort key: digits compare as numbers (frame2 < frame10)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]
