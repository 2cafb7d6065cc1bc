"""gazecam's records format: one record per person per frame, written, read back, and fed back as heads.

* :mod:`.format` - field names (:data:`RECORD_FIELDS`, :data:`CSV_COLUMNS`), rows from a
  :class:`~gazecam.types.GazeResult`, the typed :class:`GazeRecord`.
* :mod:`.reader` - :func:`read_records` (JSONL / CSV -> ``list[GazeRecord]``, errors name file and line).
* :mod:`.meta` - the ``.meta.json`` sidecar (source, model, released weights or not).
* :mod:`.heads` - :class:`FileHeads`, known head boxes per frame (``gazecam process --heads FILE``).

Writing is :class:`gazecam.sinks.RecordsSink`.  No torch import here.
"""

from .format import (CSV_COLUMNS, RECORD_FIELDS, REQUIRED_FIELDS, GazeRecord, RecordFieldError, csv_row,
                     record_rows, records_from_result)
from .heads import FileHeads
from .meta import RecordsMeta, meta_path, read_meta, write_meta
from .reader import RecordsError, read_records, records_format

__all__ = ["RECORD_FIELDS", "CSV_COLUMNS", "REQUIRED_FIELDS", "GazeRecord", "RecordFieldError", "RecordsError",
           "record_rows", "csv_row", "records_from_result", "read_records", "records_format", "RecordsMeta",
           "meta_path", "read_meta", "write_meta", "FileHeads"]
