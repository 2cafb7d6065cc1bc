"""Social-gaze reports: records -> who-looks-at-whom tables and pictures, as HTML, JSON and CSV.

The numbers come from :mod:`gazecam.analysis` (shared with the GUI); this package reads the inputs
(:mod:`.inputs`), draws the pictures (:mod:`.figures`, matplotlib) and writes the outputs (:mod:`.build`,
:mod:`.html`)::

    from gazecam.report import build_report, write_html
    report = build_report(["talk.jsonl"], video="talk.mp4")
    write_html(report, "talk_report.html")
"""

from .build import (CSV_TABLES, Report, ReportSection, ReportTotals, build_report, check_outputs, read_first_frame,
                    write_csv, write_json)
from .html import write_html
from .inputs import RecordsSource, SkippedInput, resolve_inputs

__all__ = ["build_report", "write_html", "write_json", "write_csv", "check_outputs", "read_first_frame", "Report",
           "ReportSection", "ReportTotals", "RecordsSource", "SkippedInput", "resolve_inputs", "CSV_TABLES"]
