"""The records' sidecar: what produced a records file (source, model, released weights or not).

The per-person lines carry no model information, so :class:`gazecam.sinks.RecordsSink` (given
``meta=``) writes ``<records file>.meta.json`` beside them, e.g. ``talk.jsonl`` -> ``talk.jsonl.meta.json``.
``gazecam report`` reads it for its header (model name, the untrained-weights warning).  Records
without a sidecar (older runs, other tools) still read; their model is then unknown.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .reader import RecordsError

__all__ = ["RecordsMeta", "MetaFieldError", "meta_path", "write_meta", "read_meta", "atomic_write", "MAX_SIDE",
           "MAX_ASPECT", "MAX_FPS"]

_SUFFIX = ".meta.json"
_MAX_BYTES = 1 << 20  # a sidecar is a few hundred bytes


def _version() -> str:
    from .. import __version__

    return __version__


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordsMeta:
    """Where a records file came from.

    ``source``: the input (path, URL or camera) as given; ``model``: the gaze model's name;
    ``released``: True only for the released checkpoints; ``weights_note``: why not, if known;
    ``width`` / ``height``: frame size in pixels; ``fps``: the source's frame rate (None if unknown).
    """

    source: str
    model: str
    released: bool
    weights_note: str = ""
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    gazecam_version: str = field(default_factory=lambda: _version())

    def __post_init__(self) -> None:
        if self.fps is not None and not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            object.__setattr__(self, "fps", None)  # an unknown rate is not an error
        w, h = self.width, self.height  # an unknown size neither: what is written here always reads back
        if not (w is None or h is None or (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE
                                           and max(w, h) <= MAX_ASPECT * min(w, h))):
            object.__setattr__(self, "width", None)
            object.__setattr__(self, "height", None)
        for key in ("width", "height"):
            v = getattr(self, key)
            if v is not None and not 1 <= v <= MAX_SIDE:
                object.__setattr__(self, key, None)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> "RecordsMeta":
        """Parse a sidecar object; a bad ``width`` / ``height`` / ``fps`` is a :class:`MetaFieldError` naming it.

        Sizes must be whole numbers of pixels in ``1..MAX_SIDE`` with an aspect ratio (long side / short side)
        of at most ``MAX_ASPECT``; ``fps`` a finite number in ``(0, MAX_FPS]``; each may be null (unknown).
        """
        width, height = _side(obj, "width"), _side(obj, "height")
        if width is not None and height is not None and max(width, height) > MAX_ASPECT * min(width, height):
            key, other = ("height", "width") if height > width else ("width", "height")
            raise MetaFieldError(key, f"'{key}' {obj[key]!r} with '{other}' {obj[other]!r} is not a video frame "
                                      f"(aspect ratio beyond {MAX_ASPECT:g}:1)")
        fps = obj.get("fps")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                                or not (math.isfinite(fps) and 0 < fps <= MAX_FPS)):
            raise MetaFieldError("fps", f"'fps' must be a number of frames per second in (0, {MAX_FPS:g}] or "
                                        f"null, got {fps!r}")
        return cls(source=str(obj.get("source", "")), model=str(obj.get("model", "")),
                   released=obj.get("released") is True, weights_note=str(obj.get("weights_note") or ""),
                   width=width, height=height, fps=None if fps is None else float(fps),
                   gazecam_version=str(obj.get("gazecam_version") or ""))


#: Largest frame side (pixels) a sidecar may give: far above any video (16K is 15360).
MAX_SIDE = 65536
#: Largest long-side / short-side ratio of a frame (a 32:9 panorama is 3.6).
MAX_ASPECT = 16.0
#: Largest frame rate a sidecar may give.
MAX_FPS = 10000.0


class MetaFieldError(ValueError):
    """A sidecar field has an impossible value (``field`` names it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _side(obj: dict[str, object], key: str) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
            math.isfinite(v) and float(v).is_integer() and 1 <= v <= MAX_SIDE):
        raise MetaFieldError(key, f"'{key}' must be a whole number of pixels from 1 to {MAX_SIDE} or null, got {v!r}")
    return int(v)


def meta_path(records_path: str | Path) -> Path:
    """``talk.jsonl`` -> ``talk.jsonl.meta.json`` (beside the records)."""
    p = Path(records_path)
    return p.with_name(p.name + _SUFFIX)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place (never a half file).

    The one output path of gazecam (:func:`gazecam.outputs.atomic_output`: a device or fifo is written
    directly, a failure removes only the temporary file).
    """
    from ..outputs import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_meta(records_path: str | Path, meta: RecordsMeta) -> Path:
    """Write the sidecar of ``records_path`` (temp file + rename); returns its path."""
    target = meta_path(records_path)
    atomic_write(target, (json.dumps(meta.to_json(), indent=1) + "\n").encode("utf-8"))
    return target


def read_meta(records_path: str | Path) -> RecordsMeta | None:
    """The sidecar of ``records_path``, or None if there is none; a damaged one is a :class:`RecordsError`."""
    path = meta_path(records_path)
    if not path.is_file():
        return None
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise RecordsError(f"records sidecar {path} is {size} bytes; a gazecam sidecar is a few hundred bytes "
                               f"(at most {_MAX_BYTES}): is it the right file? delete it or write it again")
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # ValueError: bad JSON, huge integers
        raise RecordsError(f"cannot read the records sidecar {path}: {e}; delete it or write it again") from None
    if not isinstance(obj, dict):
        raise RecordsError(f"records sidecar {path}: expected a JSON object, got {type(obj).__name__}")
    try:
        return RecordsMeta.from_json(obj)
    except MetaFieldError as e:
        raise RecordsError(f"records sidecar {path}: {e}; write the field again with the video's true value, set "
                           "it to null, or delete the sidecar") from None
