"""gazecam's per-person-per-frame record: field names, rows from a GazeResult, the typed record.

One record per person per frame.  Fields (JSONL keys, in order; CSV flattens boxes and points into
one column per coordinate, :data:`CSV_COLUMNS`):

``frame`` (source frame index), ``time`` (s), ``track_id`` (null when untracked), ``head_xyxy`` /
``head_xyxy_norm`` (head box in pixels / normalised), ``gaze_xy`` / ``gaze_xy_norm`` (gaze point),
``peak`` (heatmap maximum), ``inout`` (probability the target is in frame, null for models without an
in/out head), ``in_frame`` (bool), ``looking_at`` (track id or null), ``mutual`` (bool), ``fresh`` (bool:
the scene encoder ran on this frame; false when the gaze was carried over or decoded against an earlier
frame's features, ``stride``), ``aoi`` (name of the area of interest the gaze point is in, null when none,
when the gaze is out of frame or when no AOIs were given; :mod:`gazecam.aoi`; older files lack it).
Pixels have 2 decimals, normalised values 5, scores 4, times 4.

No torch import here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..types import GazeResult

__all__ = ["RECORD_FIELDS", "CSV_COLUMNS", "CSV_GROUPS", "REQUIRED_FIELDS", "GazeRecord", "record_rows",
           "csv_row", "records_from_result"]

#: JSONL field names, in order.
RECORD_FIELDS = ("frame", "time", "track_id", "head_xyxy", "head_xyxy_norm", "gaze_xy", "gaze_xy_norm",
                 "peak", "inout", "in_frame", "looking_at", "mutual", "fresh", "aoi")

#: CSV columns of each list-valued field (the other fields have one column of the same name).
CSV_GROUPS: dict[str, tuple[str, ...]] = {
    "head_xyxy": ("head_x1", "head_y1", "head_x2", "head_y2"),
    "head_xyxy_norm": ("head_x1_norm", "head_y1_norm", "head_x2_norm", "head_y2_norm"),
    "gaze_xy": ("gaze_x", "gaze_y"),
    "gaze_xy_norm": ("gaze_x_norm", "gaze_y_norm"),
}

#: CSV header: boxes and points flattened into one column per coordinate.
CSV_COLUMNS = tuple(c for f in RECORD_FIELDS for c in CSV_GROUPS.get(f, (f,)))

#: Fields a record must have to be read back (the others are None when an older file lacks them).
REQUIRED_FIELDS = ("frame", "time", "track_id", "gaze_xy_norm", "in_frame", "looking_at", "mutual")

_PX_DECIMALS = 2
_NORM_DECIMALS = 5
_SCORE_DECIMALS = 4
_TIME_DECIMALS = 4
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_OR_INT = frozenset((float, int))


def _num(value: float, decimals: int) -> float | None:
    value = float(value)
    return round(value, decimals) if math.isfinite(value) else None


def record_rows(result: GazeResult) -> list[dict[str, object]]:
    """The records of one frame as dicts with :data:`RECORD_FIELDS` keys (JSON-ready; [] without people)."""
    n = len(result)
    if n == 0:
        return []
    heads = result.heads
    xyxy, xyxy_norm = heads.xyxy, heads.xyxy_norm  # (N, 4) px / normalised
    points_xy, points_norm = result.points_xy, result.points_norm  # (N, 2)
    peak = result.peak
    aoi = result.aoi
    rows = []
    for i in range(n):
        track_id = int(heads.track_ids[i])
        looking_at = int(result.looking_at[i])
        rows.append({
            "frame": int(result.frame.index),
            "time": _num(result.frame.timestamp_s, _TIME_DECIMALS),
            "track_id": track_id if track_id >= 0 else None,
            "head_xyxy": [_num(v, _PX_DECIMALS) for v in xyxy[i]],
            "head_xyxy_norm": [_num(v, _NORM_DECIMALS) for v in xyxy_norm[i]],
            "gaze_xy": [_num(v, _PX_DECIMALS) for v in points_xy[i]],
            "gaze_xy_norm": [_num(v, _NORM_DECIMALS) for v in points_norm[i]],
            "peak": _num(peak[i], _SCORE_DECIMALS),
            "inout": None if result.inout is None else _num(result.inout[i], _SCORE_DECIMALS),
            "in_frame": bool(result.in_frame[i]),
            "looking_at": looking_at if looking_at >= 0 else None,
            "mutual": bool(result.mutual[i]),
            "fresh": bool(result.fresh),
            "aoi": None if aoi is None else aoi[i],
        })
    return rows


def csv_row(row: Mapping[str, object]) -> list[object]:
    """One :func:`record_rows` dict as CSV cells in :data:`CSV_COLUMNS` order (null -> "", bools lower case)."""
    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    flat: list[object] = []
    for key in RECORD_FIELDS:
        if key in CSV_GROUPS:
            flat.extend(row[key])  # type: ignore[arg-type]
        else:
            flat.append(row[key])
    return [cell(v) for v in flat]


# --------------------------------------------------------------------------- the typed record
class RecordFieldError(ValueError):
    """A record lacks a field or has a value of the wrong kind (``field`` names it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _int(row: Mapping[str, object], key: str, *, nullable: bool) -> int | None:
    v = row[key]
    if type(v) is int and _INT64_MIN <= v <= _INT64_MAX:  # type: ignore[operator]
        return v  # the common case, first (a report reads every record of a long video)
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        want = "an integer or null" if nullable else "an integer"
        raise RecordFieldError(key, f"'{key}' must be {want}, got {v!r}")
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise RecordFieldError(key, f"'{key}' must be a 64-bit integer (within ±9.2e18), got {v!r}")
    return int(v)


def _float(row: Mapping[str, object], key: str, *, nullable: bool) -> float | None:
    v = row[key]
    if type(v) is float and math.isfinite(v):
        return v
    if v is None and nullable:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise RecordFieldError(key, f"'{key}' must be a finite number{' or null' if nullable else ''}, got {v!r}")
    return float(v)


def _bool(row: Mapping[str, object], key: str) -> bool:
    v = row[key]
    if not isinstance(v, bool):
        raise RecordFieldError(key, f"'{key}' must be true or false, got {v!r}")
    return v


def _vec(row: Mapping[str, object], key: str, n: int) -> tuple[float, ...] | None:
    if key not in row or row[key] is None:
        return None
    v = row[key]
    if type(v) is list and len(v) == n and set(map(type, v)) <= _FLOAT_OR_INT:
        return tuple(map(float, v))  # the common case, first
    if not isinstance(v, (list, tuple)) or len(v) != n or not all(
            x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v):
        raise RecordFieldError(key, f"'{key}' must be a list of {n} numbers, got {v!r}")
    return tuple(float("nan") if x is None else float(x) for x in v)


def _aoi(row: Mapping[str, object]) -> str | None:
    v = row.get("aoi")
    if v is None or v == "":  # CSV writes null as an empty cell
        return None
    if not isinstance(v, str):
        raise RecordFieldError("aoi", f"'aoi' must be an AOI name or null, got {v!r}")
    return v


@dataclass(frozen=True, slots=True, kw_only=True)
class GazeRecord:
    """One person in one frame, as read back from records (the file's ``time`` is ``time_s`` here).

    ``track_id`` / ``looking_at``: None when untracked / looking at nobody identifiable.  Points and boxes
    are tuples (None where an older file lacks the field; NaN where the writer had a non-finite value).
    """

    frame: int
    time_s: float
    track_id: int | None
    gaze_xy_norm: tuple[float, float]
    in_frame: bool
    looking_at: int | None
    mutual: bool
    head_xyxy: tuple[float, float, float, float] | None = None
    head_xyxy_norm: tuple[float, float, float, float] | None = None
    gaze_xy: tuple[float, float] | None = None
    peak: float | None = None
    inout: float | None = None
    fresh: bool | None = None  # None where an older file lacks the field
    aoi: str | None = None  # the AOI looked at; None when none, or where an older file lacks the field

    def __post_init__(self) -> None:
        if self.frame < 0:
            raise RecordFieldError("frame", f"'frame' must be >= 0, got {self.frame}")
        if self.track_id is not None and self.track_id < 0:
            raise RecordFieldError("track_id", f"'track_id' must be >= 0 or null, got {self.track_id}")
        if len(self.gaze_xy_norm) != 2:
            raise RecordFieldError("gaze_xy_norm", f"'gaze_xy_norm' must have 2 numbers, got {self.gaze_xy_norm}")

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> "GazeRecord":
        """Parse one JSON-style row (:data:`RECORD_FIELDS` keys); raises :class:`RecordFieldError`."""
        for key in REQUIRED_FIELDS:
            if key not in row:
                raise RecordFieldError(key, f"missing field '{key}'")
        gaze_norm = _vec(row, "gaze_xy_norm", 2)
        if gaze_norm is None:
            raise RecordFieldError("gaze_xy_norm", "'gaze_xy_norm' must be a list of 2 numbers, got null")
        return cls(
            frame=_int(row, "frame", nullable=False),  # type: ignore[arg-type]
            time_s=_float(row, "time", nullable=False),  # type: ignore[arg-type]
            track_id=_int(row, "track_id", nullable=True),
            gaze_xy_norm=gaze_norm,  # type: ignore[arg-type]
            in_frame=_bool(row, "in_frame"),
            looking_at=_int(row, "looking_at", nullable=True),
            mutual=_bool(row, "mutual"),
            head_xyxy=_vec(row, "head_xyxy", 4),  # type: ignore[arg-type]
            head_xyxy_norm=_vec(row, "head_xyxy_norm", 4),  # type: ignore[arg-type]
            gaze_xy=_vec(row, "gaze_xy", 2),  # type: ignore[arg-type]
            peak=_float(row, "peak", nullable=True) if "peak" in row else None,
            inout=_float(row, "inout", nullable=True) if "inout" in row else None,
            fresh=_bool(row, "fresh") if row.get("fresh") is not None else None,
            aoi=_aoi(row),
        )


def records_from_result(result: GazeResult) -> list[GazeRecord]:
    """The records of one frame as :class:`GazeRecord` (exactly what a records file would read back as)."""
    return [GazeRecord.from_row(row) for row in record_rows(result)]
