"""Reading gazecam records back: JSONL or CSV files -> :class:`~gazecam.records.format.GazeRecord` lists.

Errors name the file and line (and the missing field for records written by an older gazecam).
A file is one video: frames must come in order, as gazecam writes them; a frame index that goes back
means records of several videos were mixed into one file, which is an error.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from .format import CSV_GROUPS, RECORD_FIELDS, REQUIRED_FIELDS, GazeRecord, RecordFieldError

__all__ = ["RecordsError", "read_records", "records_format"]


class RecordsError(InputError):
    """A records file is missing, unreadable or malformed (the message names file and line)."""


def records_format(path: str | Path) -> str:
    """``"csv"`` for a ``.csv`` name, else ``"jsonl"`` (what :class:`gazecam.sinks.RecordsSink` writes)."""
    return "csv" if Path(path).suffix.lower() == ".csv" else "jsonl"


def read_records(path: str | Path) -> list[GazeRecord]:
    """All records of one gazecam JSONL or CSV records file, in file order (one video per file).

    Raises :class:`RecordsError` for a missing/unreadable file, a malformed line, a missing field (named)
    or records of several videos mixed in one file.  A file without records gives ``[]``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise RecordsError(f"records {path} {what}; expected a gazecam .jsonl or .csv records file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise RecordsError(f"cannot read records {path} as text: {e}") from e
    rows = _csv_rows(path, text) if records_format(path) == "csv" else _jsonl_rows(path, text)
    out: list[GazeRecord] = []
    seen: set[tuple[int, int]] = set()
    prev: tuple[int, float] | None = None
    for line, row in rows:
        try:
            rec = GazeRecord.from_row(row)
        except RecordFieldError as e:
            hint = ""
            if str(e).startswith("missing field"):
                hint = (" (records written by an older gazecam lack it; run gazecam process again to get "
                        f"records with every field: {', '.join(RECORD_FIELDS)})")
            raise RecordsError(f"records {path}, line {line}: {e}{hint}") from None
        if prev is not None:
            frame, time_s = prev
            if rec.frame < frame:
                raise RecordsError(
                    f"records {path}, line {line}: frame {rec.frame} comes after frame {frame}; gazecam writes "
                    "frames in order, so this file seems to mix the records of several videos; give each "
                    "video's records as a file of its own")
            if rec.frame == frame and rec.time_s != time_s:
                raise RecordsError(f"records {path}, line {line}: frame {rec.frame} has time {rec.time_s} here "
                                   f"but {time_s} on the line before; the file mixes records of several videos")
            if rec.frame > frame and rec.time_s < time_s:
                raise RecordsError(f"records {path}, line {line}: time goes back from {time_s} to {rec.time_s} "
                                   "s; the file seems to mix the records of several videos")
        if prev is None or rec.frame != prev[0]:
            seen.clear()  # ids of the current frame only (frames come in order)
        if rec.track_id is not None:
            key = (rec.frame, rec.track_id)
            if key in seen:
                raise RecordsError(f"records {path}, line {line}: track_id {rec.track_id} appears twice in frame "
                                   f"{rec.frame}; the file seems to mix the records of several videos")
            seen.add(key)
        prev = (rec.frame, rec.time_s)
        out.append(rec)
    return out


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordsError(f"records {path}, line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
        except (ValueError, RecursionError) as e:  # an integer of thousands of digits, nesting too deep
            raise RecordsError(f"records {path}, line {n}: not a records line ({e})") from None
        if not isinstance(obj, dict):
            raise RecordsError(f"records {path}, line {n}: expected a JSON object with the record fields "
                               f"({', '.join(RECORD_FIELDS)}), got {type(obj).__name__}")
        yield n, obj


def _csv_cell(column: str, value: str) -> object:
    value = value.strip()
    if value == "":
        return None
    if column == "aoi":  # a name, even one that looks like a number
        return value
    if column in ("in_frame", "mutual", "fresh"):
        low = value.lower()
        if low in ("true", "false"):
            return low == "true"
        return value  # GazeRecord names the field and the bad value
    try:
        number = float(value)
    except ValueError:
        return value
    if column in ("frame", "track_id", "looking_at") and number.is_integer():
        return int(number)
    return number


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(text.splitlines())
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        return  # an empty file: no records
    except csv.Error as e:
        raise RecordsError(f"records {path}, line 1: not a CSV header ({e})") from None
    index = {c: i for i, c in enumerate(header)}
    for field in REQUIRED_FIELDS:
        missing = [c for c in CSV_GROUPS.get(field, (field,)) if c not in index]
        if missing:
            raise RecordsError(
                f"records {path}, line 1: missing field '{field}' (CSV column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}); records written by an older gazecam lack it: run gazecam process "
                "again to get records with every field")
    try:
        for row in reader:
            n = reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise RecordsError(f"records {path}, line {n}: expected {len(header)} columns, got {len(row)}")
            obj: dict[str, object] = {}
            for field in RECORD_FIELDS:
                cols = CSV_GROUPS.get(field)
                if cols is None:
                    if field in index:
                        obj[field] = _csv_cell(field, row[index[field]])
                elif all(c in index for c in cols):
                    vals = [_csv_cell(c, row[index[c]]) for c in cols]
                    obj[field] = None if all(v is None for v in vals) else vals
            yield n, obj
    except csv.Error as e:
        raise RecordsError(f"records {path}, line {reader.line_num}: malformed CSV ({e})") from None
