"""``gazecam report``: who looks at whom, for how long, from gazecam records (HTML with pictures, JSON, CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from .aoi_args import add_aoi_argument, aois_from_args
from .common import number

HELP = "turn records into a social-gaze report: looking-at times, mutual gaze, joint attention, pictures"


_seconds = number(float, "seconds >= 0", low=0.0, finite=True, echo_text=True)
_radius = number(float, "a normalised distance between 0 and 1.5", low=0.0, high=1.5, echo_text=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", nargs="+", metavar="RECORDS",
                        help="gazecam records (.jsonl or .csv, one video each), or a gazecam batch output folder / "
                             "its manifest.jsonl (one section per finished video plus totals)")
    parser.add_argument("-o", "--output", metavar="REPORT.html", default=None,
                        help="the report: one self-contained HTML file (pictures embedded, opens offline)")
    parser.add_argument("--video", metavar="VIDEO", default=None,
                        help="the video the records were made from: its first frame is the background of the "
                             "attention maps (one video only; a batch report reads each video from its manifest)")
    parser.add_argument("--json", metavar="REPORT.json", default=None,
                        help="the numbers as JSON: people, mutual_gaze, joint_attention")
    parser.add_argument("--csv-dir", metavar="DIR", default=None,
                        help="the tables as CSV files in DIR (people, looking_at, mutual_gaze, joint_attention)")
    g = parser.add_argument_group("areas of interest and coding exports")
    add_aoi_argument(g, help="areas of interest (JSON, see `gazecam process --help`): every record is labelled "
                             "from its gaze point (also records written without AOIs); per person and AOI: dwell, "
                             "glances, time to first glance, mean glance duration")
    g.add_argument("--elan", metavar="OUT.eaf", default=None,
                   help="an ELAN annotation document (EAF 3.0) linked to the video: a tier per person ('#3 looks "
                        "at': #5, AOI:name, scene, out of frame) and tiers 'mutual gaze' and 'joint attention' "
                        "(one video only)")
    g.add_argument("--events", metavar="OUT.tsv", default=None,
                   help="BIDS-style events (onset, duration, trial_type = looks_at / mutual_gaze / "
                        "joint_attention, person, target) for ELAN, BORIS, R, pandas (one video only)")
    g.add_argument("--human", metavar="FILE", default=None,
                   help="a human coder's ELAN .eaf or events .tsv of this video: their timeline is drawn under "
                        "gazecam's for each matched person, with agreement and Cohen's kappa (rules: `gazecam "
                        "agree --help`; one video only)")
    from .agree import add_mapping_arguments

    add_mapping_arguments(g)
    g = parser.add_argument_group("episodes")
    g.add_argument("--max-gap", type=_seconds, default=0.25, metavar="S",
                   help="runs separated by at most S seconds are one episode (default 0.25)")
    g.add_argument("--min-duration", type=_seconds, default=0.0, metavar="S",
                   help="drop episodes shorter than S seconds (default 0)")
    g.add_argument("--joint-radius", type=_radius, default=0.1, metavar="R",
                   help="gaze points within R (normalised frame units) of each other are a shared target "
                        "(default 0.1)")


def _with_human(report, args: argparse.Namespace, aois):  # -> Report with the human coder compared
    from dataclasses import replace

    from ..agreement import agree_files
    from .agree import mappings

    if len(report.sections) != 1:
        raise InputError(f"--human codes one video, but the report has {len(report.sections)}; give one records file")
    section = report.sections[0]
    person, values = mappings(args)
    agreement = agree_files(args.human, [section.source.records_path], aois=aois, person_tiers=person,
                            value_map=values)
    return replace(report, sections=(replace(section, human=agreement),))


def run(args: argparse.Namespace) -> int:
    from ..analysis import AnalysisParams
    from ..records import meta_path
    from ..report import CSV_TABLES, build_report, check_outputs, write_csv, write_html, write_json

    if not (args.output or args.json or args.csv_dir or args.elan or args.events):
        raise InputError("nothing to write: give -o REPORT.html (and/or --json FILE, --csv-dir DIR, --elan FILE, "
                         "--events FILE)")
    aois = aois_from_args(args)

    def note(msg: str) -> None:
        print(f"gazecam report: note: {msg}", file=sys.stderr)

    params = AnalysisParams(max_gap_s=args.max_gap, min_duration_s=args.min_duration, joint_radius=args.joint_radius)
    if args.video is not None and not Path(args.video).expanduser().is_file():
        raise InputError(f"--video {args.video}: no such file (it gives the background of the attention map)")
    exports = bool(args.elan or args.events)
    report = build_report(args.records, video=args.video, params=params, notify=note, aois=aois, coding=exports)
    if exports and len(report.sections) != 1:
        raise InputError(f"--elan / --events code one video, but the report has {len(report.sections)}; give one "
                         "records file")
    if args.human:
        report = _with_human(report, args, aois)
    elan = Path(args.elan).expanduser() if args.elan else None
    events = Path(args.events).expanduser() if args.events else None

    html = Path(args.output).expanduser() if args.output else None
    js = Path(args.json).expanduser() if args.json else None
    csv_dir = Path(args.csv_dir).expanduser() if args.csv_dir else None
    outputs = [p for p in (html, js, elan, events) if p is not None]
    if csv_dir is not None:
        if csv_dir.exists() and not csv_dir.is_dir():
            raise InputError(f"--csv-dir {csv_dir} is a file; give a folder")
        if not csv_dir.parent.is_dir():
            raise InputError(f"--csv-dir {csv_dir}: folder {csv_dir.parent} does not exist; create it first")
        if csv_dir.is_dir():  # a folder to be created holds no input
            outputs += [csv_dir / n for n in CSV_TABLES]
            if any(s.aoi is not None for s in report.sections):
                from ..report.aoi import AOI_CSV

                outputs.append(csv_dir / AOI_CSV)
    inputs = [Path(p).expanduser() for p in args.records]
    for s in report.sections:
        inputs += [s.source.records_path, meta_path(s.source.records_path)]
        if s.source.video_path is not None:
            inputs.append(s.source.video_path)
    inputs += [p / "manifest.jsonl" for p in inputs if p.is_dir()]
    if args.aoi:
        inputs.append(Path(args.aoi).expanduser())
    if args.human:
        inputs.append(Path(args.human).expanduser())
    check_outputs(outputs, [p for p in inputs if not p.is_dir()])

    written = []
    if html is not None:
        written.append(write_html(report, html))
    if js is not None:
        written.append(write_json(report, js))
    if csv_dir is not None:
        from ..report.aoi import write_aoi_csv

        write_csv(report, csv_dir)
        write_aoi_csv(report.sections, csv_dir)  # aoi.csv, only with AOIs
        written.append(csv_dir)
    if exports:
        from ..coding import write_elan, write_events

        section = report.sections[0]
        if elan is not None:
            media = section.source.video_path
            if media is None and section.meta is not None and section.meta.source \
                    and Path(section.meta.source).is_file():
                media = Path(section.meta.source)  # the video the records were made from
            if media is None:
                note("no video to link in the ELAN document (give --video VIDEO); link it in ELAN")
            written.append(write_elan(section.coding, elan, media=media))  # type: ignore[arg-type]
        if events is not None:
            written.append(write_events(section.coding, events))  # type: ignore[arg-type]
    t = report.totals
    for s in report.skipped:
        note(f"skipped {s.input}: {s.reason}")
    seen = "no one was seen" if t.people == 0 else (
        f"{t.people} people, {t.mutual_episodes} mutual gaze and {t.joint_episodes} joint attention episode(s)")
    print(f"gazecam report: {t.videos} video(s), {t.duration_s:.1f} s, {seen}; wrote "
          + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0
