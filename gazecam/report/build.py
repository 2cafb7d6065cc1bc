"""Build a social-gaze report from records and write it: HTML (self-contained), JSON, CSV tables.

:func:`build_report` reads and analyses each video's records (:mod:`gazecam.analysis`), reads one frame of
each video for the attention map (through :mod:`gazecam.capture`); :func:`write_json` and :func:`write_csv`
(and :func:`gazecam.report.html.write_html`) write to a temporary file in the target folder and rename it into place.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..analysis import AnalysisParams, GazeAnalysis, analyze
from ..aoi import AOISet
from ..errors import InputError
from ..outputs import Named, check_before_writing
from ..records import GazeRecord, RecordsMeta, read_records
from ..records.meta import atomic_write
from .inputs import RecordsSource, resolve_inputs
from .section import Report, ReportSection, ReportTotals

__all__ = ["ReportSection", "ReportTotals", "Report", "build_report", "write_json", "write_csv",
           "read_first_frame", "check_outputs", "CSV_TABLES"]

#: The tables ``write_csv`` writes (file names in the folder).
CSV_TABLES = ("people.csv", "looking_at.csv", "mutual_gaze.csv", "joint_attention.csv")


# --------------------------------------------------------------------------- building
def read_first_frame(video: str | Path) -> np.ndarray:
    """The first frame of a video or image file (H x W x 3 uint8 RGB), read through :class:`gazecam.capture.Capture`."""
    from ..capture import Capture

    path = Path(video).expanduser()
    if not path.exists():
        raise InputError(f"video {path} does not exist (it is only used for the background of the attention map)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a truncated file still has a first frame
        with Capture(path, live=False, queue_size=1) as cap:
            for frame in cap:
                return frame.image
    raise InputError(f"no frame could be read from {path}")


def _heads_norm(records: Sequence[GazeRecord]) -> dict[int, tuple[float, float]]:
    sums: dict[int, list[float]] = {}
    for r in records:
        if r.track_id is None or r.head_xyxy_norm is None:
            continue
        x1, y1, x2, y2 = r.head_xyxy_norm
        s = sums.setdefault(r.track_id, [0.0, 0.0, 0.0])
        s[0] += (x1 + x2) / 2
        s[1] += (y1 + y2) / 2
        s[2] += 1
    return {t: (s[0] / s[2], s[1] / s[2]) for t, s in sorted(sums.items()) if s[2] and np.isfinite(s[:2]).all()}


def _section(source: RecordsSource, params: AnalysisParams, *, video: Path | None,
             notify: Callable[[str], None], aois: AOISet | None = None, coding: bool = False) -> ReportSection:
    records = read_records(source.records_path)
    meta = source.meta
    fps = meta.fps if meta is not None else None
    analysis = analyze(records, params=params, default_frame_duration_s=1.0 / fps if fps else None)
    notes: list[str] = []
    if analysis.untracked_records:
        notes.append(f"{analysis.untracked_records} record(s) without a track id are not attributed to a person.")
    if analysis.frames == 1 and analysis.frame_duration_s == 0:
        notes.append("The records hold a single frame and no frame rate: durations are 0 s.")
    background = None
    video_path = video or source.video_path
    if video_path is not None:
        try:
            background = read_first_frame(video_path)
        except InputError as e:
            if video is not None:
                raise  # asked for explicitly
            notify(f"{source.label}: no background frame ({e})")
    if background is not None and meta is not None and meta.width and meta.height:
        h, w = background.shape[:2]
        if (w, h) != (meta.width, meta.height):
            notes.append(f"The background frame is {w}x{h} but the records were made on {meta.width}x{meta.height} "
                         "frames; is it the same video?")
    return ReportSection(source=RecordsSource(records_path=source.records_path, label=source.label,
                                              video_path=video_path, meta=meta, model_hint=source.model_hint),
                         analysis=analysis, records=len(records), background=background,
                         heads_norm=_heads_norm(records), notes=tuple(notes),
                         **_aoi_fields(records, analysis, aois, meta, background, params, coding))


def _aoi_fields(records: Sequence[GazeRecord], analysis: GazeAnalysis, aois: AOISet | None,
                meta: RecordsMeta | None, background: np.ndarray | None, params: AnalysisParams,
                coding: bool) -> dict:
    from ..coding import coding_from
    from .aoi import section_aois

    result, norm, labelled = section_aois(records, analysis, aois=aois, meta=meta, background=background,
                                          params=params)
    return {"aoi": result, "aois": norm,
            "coding": coding_from(labelled, analysis, aoi_names=result.names if result else (), aois=norm)
            if coding else None}


def build_report(inputs: Sequence[str | Path], *, video: str | Path | None = None,
                 params: AnalysisParams | None = None,
                 notify: Callable[[str], None] | None = None, aois: AOISet | None = None,
                 coding: bool = False) -> Report:
    """Read, analyse and collect everything a report shows.

    ``inputs``: records files and/or batch output folders / manifests (see :mod:`gazecam.report.inputs`).
    ``video``: the video whose first frame is the attention map's background (one video only; a batch's
    videos are read from its manifest's inputs).  ``notify`` receives one-line notes for the user.
    ``aois``: areas of interest; every record is labelled from its gaze point (:mod:`gazecam.report.aoi`).
    ``coding``: also keep each section's :class:`gazecam.coding.Coding` (for the ELAN / events exports).
    """
    params = params or AnalysisParams()
    say = notify or (lambda msg: None)
    sources, skipped = resolve_inputs(inputs)
    if video is not None and len(sources) != 1:
        raise InputError(f"video={str(video)!r} gives the background of one video, but the report has "
                         f"{len(sources)} videos; leave it out (a batch report reads each video from its manifest)")
    if not sources:
        reasons = "; ".join(f"{s.input}: {s.reason}" for s in skipped[:3])
        raise InputError("no finished video to report" + (f" ({len(skipped)} input(s) skipped: {reasons})"
                                                          if skipped else ""))
    sections = tuple(_section(s, params, video=Path(video).expanduser() if video is not None else None, notify=say,
                              aois=aois, coding=coding) for s in sources)
    return Report(sections=sections, skipped=tuple(skipped), params=params,
                  totals=ReportTotals.of([s.analysis for s in sections]))


# --------------------------------------------------------------------------- writing
def check_outputs(outputs: Sequence[Path], inputs: Sequence[Path]) -> None:
    """Refuse an output that cannot be written, is one of the inputs (by any link) or another output
    (:func:`gazecam.outputs.check_before_writing`, the check every gazecam output goes through)."""
    check_before_writing([Named("output", Path(p)) for p in outputs], [Named("input", Path(p)) for p in inputs])


def write_json(report: Report, path: str | Path) -> Path:
    path = Path(path).expanduser()
    atomic_write(path, (json.dumps(report.to_json(), indent=1) + "\n").encode("utf-8"))
    return path


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_csv(report: Report, folder: str | Path) -> list[Path]:
    """The report's tables as CSV files in ``folder`` (created if missing; :data:`CSV_TABLES`)."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"CSV folder {folder} is a file; give a folder")
    if not folder.parent.is_dir():
        raise InputError(f"cannot create the CSV folder {folder}: {folder.parent} does not exist")
    folder.mkdir(exist_ok=True)

    from .metrics import PERSON_METRICS

    def r(v: float) -> float:
        return round(float(v), 4)

    people, looking, mutual, joint = [], [], [], []
    for s in report.sections:
        video = s.source.label
        for p in s.analysis.people:
            people.append([video, p.track_id, *(r(m.seconds(p)) for m in PERSON_METRICS)])
            for other, sec in p.looking_at_s.items():
                looking.append([video, p.track_id, other, r(sec), r(p.percent_of_visible(sec))])
        for e in s.analysis.mutual_gaze:
            mutual.append([video, " ".join(map(str, e.track_ids)), r(e.start_s), r(e.end_s), r(e.duration_s)])
        for e in s.analysis.joint_attention:
            t = e.target
            xy = t.xy_norm if t is not None and t.xy_norm is not None else ("", "")
            joint.append([video, " ".join(map(str, e.track_ids)), r(e.start_s), r(e.end_s), r(e.duration_s),
                          t.kind if t else "", t.track_id if t and t.track_id is not None else "",
                          *(round(v, 4) if v != "" else "" for v in xy)])
    tables = {
        "people.csv": _table(["video", "track_id", *(m.key for m in PERSON_METRICS)], people),
        "looking_at.csv": _table(["video", "track_id", "looks_at", "seconds", "percent_of_visible"], looking),
        "mutual_gaze.csv": _table(["video", "track_ids", "start_s", "end_s", "duration_s"], mutual),
        "joint_attention.csv": _table(["video", "track_ids", "start_s", "end_s", "duration_s", "target",
                                       "target_track_id", "target_x_norm", "target_y_norm"], joint),
    }
    out = []
    for name in CSV_TABLES:
        target = folder / name
        atomic_write(target, tables[name])
        out.append(target)
    return out
