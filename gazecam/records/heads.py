"""Known head boxes per frame from a file (``FileHeads``): JSON, JSONL, CSV, or gazecam's own records.

The head-box field names are those of the records format (:mod:`gazecam.records.format`), so a
records file can be fed back as heads.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import Frame, HeadBoxes
from .format import CSV_GROUPS

__all__ = ["FileHeads"]


# -- head boxes from a file -------------------------------------------------------------------------
@dataclass(frozen=True)
class _FileBox:
    xyxy: tuple[float, float, float, float]
    normalised: bool
    track_id: int
    confidence: float
    xyxy_norm: tuple[float, float, float, float] | None = None  # also given (gazecam records): checked per frame
    where: str = ""  # "line 3": for errors found when the frame size is known


_PX_KEYS = ("xyxy", "head_xyxy")
_NORM_KEYS = ("xyxy_norm", "head_xyxy_norm")
_CSV_PX = ("x1", "y1", "x2", "y2")
_CSV_NORM = ("x1_norm", "y1_norm", "x2_norm", "y2_norm")
_CSV_REC_PX = CSV_GROUPS["head_xyxy"]  # gazecam's own CSV records
_CSV_REC_NORM = CSV_GROUPS["head_xyxy_norm"]
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_MAX = 2**63 - 1


class FileHeads:
    """Known head boxes per frame from a file (``gazecam process --heads FILE``); a
    :class:`gazecam.detect.HeadDetector`.

    Formats (one head per record; frames without records have no heads):

    * **JSONL** (``.jsonl``): one JSON object per line,
      ``{"frame": 0, "xyxy": [x1, y1, x2, y2], "track_id": 3, "confidence": 0.9}``
    * **JSON** (``.json``): a list of the same objects (or ``{"heads": [...]}``).
    * **CSV** (``.csv``): a header row with ``frame,x1,y1,x2,y2`` (pixels) or
      ``frame,x1_norm,y1_norm,x2_norm,y2_norm`` and optional ``track_id``, ``confidence`` columns.

    ``frame`` is the 0-based frame index.  Boxes are ``xyxy`` pixels, or ``xyxy_norm`` (normalised to
    [0, 1] by the frame's width and height).  gazecam's own records, JSONL or CSV (``head_xyxy`` and
    ``head_xyxy_norm``, ``track_id``), are accepted too: the pixel box is used, and the two must agree
    (within the records' rounding, for the frame size of the sidecar and of the frames read) or the file
    is refused with the line that disagrees.  ``track_id`` is optional; give it for every box or for none
    (with ids the pipeline skips its tracker).  Boxes are clipped to the frame.

    Skipped and counted (for the run's summary): boxes of zero area (:attr:`zero_area`, when reading),
    boxes entirely outside their frame (:attr:`outside`, as frames are read) and boxes of frames after
    the last frame read (:meth:`boxes_after`).  Values beyond the 32-bit float range are an error.
    """

    is_fallback = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"heads file {self.path} does not exist")
        suffix = self.path.suffix.lower()
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read heads file {self.path} as text: {e}") from e
        if suffix == ".jsonl":
            records = self._parse_jsonl(text)
        elif suffix == ".json":
            records = self._parse_json(text)
        elif suffix == ".csv":
            records = self._parse_csv(text)
        else:
            raise InputError(f"heads file {self.path} has suffix {suffix or '(none)'!r}; expected .json, .jsonl or .csv")
        self._by_frame: dict[int, list[_FileBox]] = {}
        self.zero_area = 0  # boxes with x1 == x2 or y1 == y2: skipped
        self.outside = 0  # boxes entirely outside their frame: skipped (counted as frames are read)
        for frame_index, box in records:
            x1, y1, x2, y2 = box.xyxy
            if x1 == x2 or y1 == y2:
                self.zero_area += 1
                continue
            self._by_frame.setdefault(frame_index, []).append(box)
        with_ids = {b.track_id >= 0 for boxes in self._by_frame.values() for b in boxes}
        if len(with_ids) > 1:
            raise InputError(f"heads file {self.path} gives track_id for some boxes but not for others; "
                             "give it for every box or for none")
        self.has_track_ids = with_ids == {True}
        self.name = f"file:{self.path.name}"
        self._check_size(records)

    @property
    def frames(self) -> list[int]:
        return sorted(self._by_frame)

    @property
    def num_boxes(self) -> int:
        """Boxes kept (zero-area ones are not)."""
        return sum(len(boxes) for boxes in self._by_frame.values())

    def boxes_after(self, index: int) -> int:
        """How many boxes are for frames after frame ``index`` (e.g. past the last frame of the video)."""
        return sum(len(boxes) for frame, boxes in self._by_frame.items() if frame > index)

    def detect(self, frame: Frame) -> HeadBoxes:
        size = (frame.height, frame.width)
        boxes = self._by_frame.get(frame.index, [])
        if not boxes:
            return HeadBoxes.empty(size)
        h, w = size
        for b in boxes:
            if b.xyxy_norm is not None and not _agree(b.xyxy, b.xyxy_norm, w, h):
                raise self._disagree(b, f"frame {frame.index} is {w}x{h} pixels")
        xyxy = np.array([b.xyxy for b in boxes], np.float64)  # scaled and clipped before float32
        norm = np.array([b.normalised for b in boxes])
        xyxy[norm] *= np.array([w, h, w, h], np.float64)
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, w)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, h)
        heads = HeadBoxes(xyxy=xyxy, image_size=size, track_ids=np.array([b.track_id for b in boxes], np.int64),
                          confidence=np.array([b.confidence for b in boxes], np.float32))
        kept = heads.clipped()
        self.outside += len(heads) - len(kept)
        return kept

    # -- parsing ------------------------------------------------------------------------------------
    def _err(self, where: str, msg: str) -> InputError:
        return InputError(f"heads file {self.path}, {where}: {msg}")

    def _disagree(self, box: _FileBox, size: str) -> InputError:
        return self._err(box.where, f"the pixel box {list(box.xyxy)} and the normalised box "
                         f"{list(box.xyxy_norm or ())} disagree ({size}); give one of them, or records made "
                         "on frames of this size")

    def _check_size(self, records: list[tuple[int, _FileBox]]) -> None:
        """Both boxes given: they must agree with each other and with the sidecar's frame size, if any."""
        both = [b for _, b in records if b.xyxy_norm is not None]
        if not both:
            return
        for b in both:
            w, h = _implied_size(b.xyxy, b.xyxy_norm)  # type: ignore[arg-type]
            if not _agree(b.xyxy, b.xyxy_norm, w, h):  # type: ignore[arg-type]
                raise self._disagree(b, "for any frame size")
        from .meta import read_meta

        meta = read_meta(self.path)
        if meta is not None and meta.width and meta.height:
            for b in both:
                if not _agree(b.xyxy, b.xyxy_norm, meta.width, meta.height):  # type: ignore[arg-type]
                    raise self._disagree(b, f"the records' sidecar says {meta.width}x{meta.height} pixels")

    def _record(self, obj: Any, where: str) -> tuple[int, _FileBox]:
        if not isinstance(obj, dict):
            raise self._err(where, f"expected an object with 'frame' and 'xyxy' or 'xyxy_norm', got {type(obj).__name__}")
        if "frame" not in obj:
            raise self._err(where, "missing 'frame' (0-based frame index)")
        px = [k for k in _PX_KEYS if k in obj]
        nm = [k for k in _NORM_KEYS if k in obj]
        if len(px) > 1 or len(nm) > 1 or not (px or nm):
            raise self._err(where, "expected one box: 'xyxy' (pixels) or 'xyxy_norm' (0..1), or gazecam's "
                            f"records' 'head_xyxy' with 'head_xyxy_norm', got keys {sorted(obj)}")
        for key in px + nm:
            vals = obj[key]
            if not isinstance(vals, (list, tuple)) or len(vals) != 4:
                raise self._err(where, f"'{key}' must be a list of 4 numbers [x1, y1, x2, y2], got {vals!r}")
        key = (px or nm)[0]
        frame, box = self._make(obj["frame"], obj[key], not px, obj.get("track_id"), obj.get("confidence"), where)
        if px and nm:  # gazecam's records: the pixel box, checked against the normalised one
            _, norm = self._make(obj["frame"], obj[nm[0]], True, None, None, where)
            box = _FileBox(box.xyxy, False, box.track_id, box.confidence, norm.xyxy, where)
        return frame, box

    def _make(self, frame: Any, vals: Iterable[Any], normalised: bool, track_id: Any, confidence: Any,
              where: str) -> tuple[int, _FileBox]:
        fi = self._count(frame, "frame", "a non-negative integer", where)
        try:
            box = tuple(float(v) for v in vals)
        except (TypeError, ValueError):
            raise self._err(where, f"box values must be numbers, got {list(vals)!r}") from None
        if not all(math.isfinite(v) for v in box):
            raise self._err(where, f"box values must be finite, got {list(box)}")
        if any(abs(v) > _FLOAT32_MAX for v in box):
            raise self._err(where, f"box values must be within ±{_FLOAT32_MAX:.3g} (32-bit floats), got {list(box)}")
        if box[2] < box[0] or box[3] < box[1]:
            raise self._err(where, f"inverted box {list(box)}: expected x1 <= x2 and y1 <= y2 (xyxy order)")
        tid = -1 if track_id in (None, "") else self._count(track_id, "track_id", "an integer", where)
        conf = 1.0
        if confidence not in (None, ""):
            try:
                conf = float(confidence)
            except (TypeError, ValueError):
                raise self._err(where, f"'confidence' must be a number, got {confidence!r}") from None
        return fi, _FileBox(box, normalised, tid, conf, where=where)  # type: ignore[arg-type]

    def _count(self, value: Any, name: str, expected: str, where: str) -> int:
        """``value`` as an integer in 0..2**63-1 (a frame index, a track id), else the error naming ``name``."""
        try:
            n = _to_int(value)
        except ValueError:
            raise self._err(where, f"'{name}' must be {expected}, got {value!r}") from None
        if n < 0:
            raise self._err(where, f"'{name}' must be >= 0, got {n}")
        if n > _INT64_MAX:
            raise self._err(where, f"'{name}' must be a 64-bit integer, got {n}")
        return n

    def _parse_jsonl(self, text: str) -> list[tuple[int, _FileBox]]:
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise self._err(f"line {n}", f"not valid JSON ({e.msg})") from None
            out.append(self._record(obj, f"line {n}"))
        return out

    def _parse_json(self, text: str) -> list[tuple[int, _FileBox]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise self._err(f"line {e.lineno}", f"not valid JSON ({e.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("heads"), list):
            data = data["heads"]
        if not isinstance(data, list):
            raise self._err("top level", "expected a list of head records (or {\"heads\": [...]})")
        return [self._record(obj, f"record {i}") for i, obj in enumerate(data)]

    def _parse_csv(self, text: str) -> list[tuple[int, _FileBox]]:
        reader = csv.DictReader(text.splitlines())
        cols = [c.strip() for c in (reader.fieldnames or [])]
        reader.fieldnames = cols
        if "frame" not in cols:
            raise self._err("line 1", f"CSV header must have a 'frame' column, got {cols}")
        if all(c in cols for c in _CSV_PX):
            keys, normalised = _CSV_PX, False
        elif all(c in cols for c in _CSV_NORM):
            keys, normalised = _CSV_NORM, True
        elif all(c in cols for c in _CSV_REC_PX):
            keys, normalised = _CSV_REC_PX, False
        elif all(c in cols for c in _CSV_REC_NORM):
            keys, normalised = _CSV_REC_NORM, True
        else:
            raise self._err("line 1", f"CSV header needs columns {','.join(_CSV_PX)} (pixels) or "
                            f"{','.join(_CSV_NORM)} (normalised), got {cols}")
        both = keys == _CSV_REC_PX and all(c in cols for c in _CSV_REC_NORM)  # gazecam's CSV records
        out = []
        for row in reader:
            n = reader.line_num
            if None in row or any(row.get(k) is None for k in keys):
                raise self._err(f"line {n}", f"expected {len(cols)} columns, got a different number")
            frame, box = self._make(row["frame"], [row[k] for k in keys], normalised, row.get("track_id"),
                                    row.get("confidence"), f"line {n}")
            if both:
                _, norm = self._make(row["frame"], [row[k] for k in _CSV_REC_NORM], True, None, None, f"line {n}")
                box = _FileBox(box.xyxy, False, box.track_id, box.confidence, norm.xyxy, box.where)
            out.append((frame, box))
        return out


def _tolerance(side: float) -> float:
    """How far a pixel coordinate and its normalised twin may differ: records round pixels to 2 decimals and
    normalised values to 5 (5e-6 of the side), plus float32 error."""
    return 0.02 + 2e-5 * abs(side)


def _implied_size(px: tuple[float, ...], norm: tuple[float, ...]) -> tuple[float, float]:
    """The frame size (w, h) the two boxes imply (from the far corner; 0 where it cannot tell)."""
    w = px[2] / norm[2] if norm[2] > 1e-3 else 0.0
    h = px[3] / norm[3] if norm[3] > 1e-3 else 0.0
    return w, h


def _agree(px: tuple[float, ...], norm: tuple[float, ...], w: float, h: float) -> bool:
    """Whether ``px`` is ``norm`` scaled by (w, h) within the records' rounding (a side of 0: not checked)."""
    for i, side in enumerate((w, h, w, h)):
        if side > 0 and abs(px[i] - norm[i] * side) > _tolerance(side):
            return False
    return True


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    raise ValueError(v)
