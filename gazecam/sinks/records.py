"""The per-person records: :class:`RecordsSink` writes one JSON line (or CSV row) per person per frame, flushed
after every frame, to a temporary file renamed into place when complete (:mod:`gazecam.outputs`).

No torch import here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from gazecam.errors import SinkError
from gazecam.outputs import begin_output
from gazecam.outputs import is_disk_full as _is_disk_full
from gazecam.records.format import CSV_COLUMNS, RECORD_FIELDS, csv_row, record_rows
from gazecam.records.meta import RecordsMeta, write_meta
from gazecam.types import GazeResult

__all__ = ["RecordsSink", "RECORD_FIELDS", "CSV_COLUMNS"]


class RecordsSink:
    """One line per person per frame: JSONL (default) or CSV, flushed every frame.

    The fields are gazecam's records format (:mod:`gazecam.records.format`, :data:`RECORD_FIELDS`);
    CSV flattens boxes and points into :data:`CSV_COLUMNS`; nulls are empty cells.  A frame without
    people writes nothing.  ``meta``: what produced the records (model, released weights), written
    beside them as ``<path>.meta.json`` (:func:`gazecam.records.write_meta`) for ``gazecam report``
    when the records are put in place (not for a device or fifo).  The records are written next to
    their path as ``NAME.partial.SUFFIX`` and renamed into place by :meth:`close`; when a write fails
    (disk full), the complete lines written so far are kept at the path and the error says how many.
    """

    def __init__(self, path: str | Path, *, format: Literal["jsonl", "csv"] | None = None,
                 meta: RecordsMeta | None = None) -> None:
        self.path = Path(path).expanduser()
        if format is None:
            format = "csv" if self.path.suffix.lower() == ".csv" else "jsonl"
        if format not in ("jsonl", "csv"):
            raise ValueError(f"RecordsSink: format must be 'jsonl' or 'csv', got {format!r}")
        self.format: Literal["jsonl", "csv"] = format
        self.lines_written = 0
        self.frames_written = 0
        self._closed = False
        self._good_bytes = 0  # bytes of the complete lines flushed so far
        self._output = begin_output(self.path, "records")
        #: where the lines are until close() (``NAME.partial.SUFFIX``; the path itself for a device or fifo)
        self.write_path: Path = self._output.write_path
        try:
            self._file: IO[str] = open(self._output.write_path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            self._output.discard()
            raise SinkError(f"cannot write records {self.path}: {exc.strerror or exc}; "
                            "check the path and its permissions") from exc
        self._csv = format == "csv"
        self._meta = meta
        if self._csv:
            header = _csv_line(CSV_COLUMNS)
            self._guard(lambda: (self._file.write(header), self._file.flush()), len(header.encode()))

    def _guard(self, action, size: int = 0) -> None:
        """Run a write (``size`` bytes once encoded); on failure keep the complete lines and say so."""
        try:
            action()
        except OSError as exc:
            self._closed = True
            with contextlib.suppress(OSError):
                self._file.close()
            what = "the disk is full" if _is_disk_full(exc) else f"write failed ({exc.strerror or exc})"
            raise SinkError(f"{what}: records {self.path} {self._keep_complete_lines()}") from exc
        self._good_bytes += size

    def _keep_complete_lines(self) -> str:
        """After a failed write: cut the file after its last complete line and put it in place."""
        output = self._output
        try:
            if not output.direct:
                os.truncate(output.write_path, self._good_bytes)
            self._commit()
        except OSError as exc:
            output.discard()
            return f"could not be kept ({exc.strerror or exc}): nothing was written"
        return f"hold {self.lines_written} complete line(s) from {self.frames_written} frame(s)"

    def write(self, result: GazeResult) -> None:
        """Write the records of one frame and flush."""
        if self._closed:
            raise SinkError(f"records {self.path} are already closed")
        rows = record_rows(result)
        if self._csv:
            text = "".join(_csv_line(csv_row(row)) for row in rows)
        else:
            text = "".join(json.dumps(row, allow_nan=False, separators=(",", ":")) + "\n" for row in rows)

        def action() -> None:
            self._file.write(text)
            self._file.flush()

        self._guard(action, len(text.encode("utf-8")))
        self.lines_written += len(rows)
        self.frames_written += 1

    def close(self) -> None:
        """Flush, close and put the file in place (idempotent)."""
        if self._closed:
            return
        self._guard(self._file.close)
        self._closed = True
        try:
            self._commit()
        except OSError as exc:
            self._output.discard()
            raise SinkError(f"cannot put records {self.path} in place: {exc.strerror or exc}") from exc

    def _commit(self) -> None:
        """The sidecar (it describes these records), then the records themselves, put in place."""
        if self._meta is not None and not self._output.direct:
            write_meta(self.path, self._meta)
        self._output.commit()

    def __enter__(self) -> "RecordsSink":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None and self.frames_written == 0 and not self._closed:
            self.discard()  # a run that failed before its first frame: an existing file keeps its records
        self.close()

    def discard(self) -> None:
        """Drop the records written so far (the temporary file; the path keeps what it had)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._output.discard()


def _csv_line(cells) -> str:
    """One CSV line (csv module quoting, ``\\n`` ending)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
