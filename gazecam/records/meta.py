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

__all__ = ["RecordsMeta", "meta_path", "write_meta", "read_meta", "atomic_write"]

_SUFFIX = ".meta.json"


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
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            object.__setattr__(self, "fps", None)  # an unknown rate is not an error

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> "RecordsMeta":
        def opt_int(key: str) -> int | None:
            v = obj.get(key)
            return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        fps = obj.get("fps")
        return cls(source=str(obj.get("source", "")), model=str(obj.get("model", "")),
                   released=obj.get("released") is True, weights_note=str(obj.get("weights_note") or ""),
                   width=opt_int("width"), height=opt_int("height"),
                   fps=float(fps) if isinstance(fps, (int, float)) and not isinstance(fps, bool) else None,
                   gazecam_version=str(obj.get("gazecam_version") or ""))


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
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordsError(f"cannot read the records sidecar {path}: {e}; delete it or write it again") from e
    if not isinstance(obj, dict):
        raise RecordsError(f"records sidecar {path}: expected a JSON object, got {type(obj).__name__}")
    return RecordsMeta.from_json(obj)
