"""``gazecam agree``: agreement of a human coder (ELAN .eaf or events .tsv) with gazecam's records."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError
from .aoi_args import add_aoi_argument, aois_from_args

HELP = "agreement of a human coder (ELAN .eaf or events .tsv) with gazecam: percent agreement, Cohen's kappa, events"

RULES = """rules:
  people     a human tier is matched to a gazecam track with --person TIER=TRACK_ID; without --person, tiers
             named '#ID looks at' (ELAN, as `gazecam report --elan` writes them) or '#ID' (events TSV) are
             matched to track ID; other tiers are ignored
  frames     a frame's human label is the annotation covering the frame's midpoint (time + half a frame
             duration), 'other' when none; #ID, AOI:name and AOI names are gazecam's categories, 'scene',
             'out of frame' and 'other' are 'other', --value HUMAN_VALUE=GAZECAM_VALUE maps any other value
  gazecam    the looked-at person (#ID), else the AOI the gaze point is in, else 'other'
  compared   frames outside the span the human coded (first to last annotation of the matched tiers) and
             frames where gazecam did not see the person are not compared (counted: not coded / not seen)
  scores     per person and pooled: frames compared, percent agreement, Cohen's kappa (scikit-learn) over
             the categories, confusion matrix (rows human, columns gazecam); per target kind (person, AOI):
             event precision / recall / F1, an event (a run of one target) matching when it overlaps a
             same-target event of the other coder by at least half of the shorter one
"""


def _pair(what: str, number: bool):
    def parse(text: str) -> tuple[str, str | int]:
        key, sep, value = text.rpartition("=")
        if not sep or not key or not value:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if number:
            v = value.strip().lstrip("#")
            if not v.isdigit():
                raise argparse.ArgumentTypeError(f"expected {what} with a track id number, got {text!r}")
            return key, int(v)
        return key, value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = RULES
    parser.add_argument("human", metavar="HUMAN",
                        help="the human coding: an ELAN document (.eaf; any tiers) or BIDS-style events (.tsv: "
                             "onset, duration, person, target; trial_type looks_at)")
    parser.add_argument("records", nargs="+", metavar="RECORDS",
                        help="gazecam records (.jsonl / .csv) of the video the human coded, or a batch output "
                             "folder (the records of the video HUMAN links to are used)")
    add_aoi_argument(parser, help="areas of interest (JSON, see `gazecam process --help`): every record is "
                                  "labelled from its gaze point (also records written without AOIs)")
    add_mapping_arguments(parser)
    parser.add_argument("--json", metavar="OUT.json", default=None,
                        help="the numbers as JSON: pooled, people (with confusion matrices), events")
    parser.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="a self-contained HTML page: scores, confusion matrices, both coders' timelines")


def add_mapping_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--person TIER=TRACK_ID`` and ``--value HUMAN_VALUE=GAZECAM_VALUE`` (agree, report --human)."""
    parser.add_argument("--person", action="append", type=_pair("TIER=TRACK_ID", True), default=[],
                        metavar="TIER=TRACK_ID", help="match a human tier (events TSV: a person value) to a "
                                                      "gazecam track (repeatable)")
    parser.add_argument("--value", action="append", type=_pair("HUMAN_VALUE=GAZECAM_VALUE", False), default=[],
                        metavar="HUMAN_VALUE=GAZECAM_VALUE",
                        help="read a human value as a gazecam one: #ID, an AOI name, or other (repeatable)")


def _unique(pairs: list[tuple[str, object]], name: str) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise InputError(f"{name}={f'{key}={value}'!r}: '{key}' is also given as {out[key]}; give it once")
        out[key] = value
    return out


def mappings(args: argparse.Namespace) -> tuple[dict | None, dict | None]:
    """``--person`` and ``--value`` as the library's ``person_tiers`` and ``value_map`` (None when not given)."""
    person = _unique(args.person, "person_tiers")
    values = _unique(args.value, "value_map")
    return person or None, values or None


def run(args: argparse.Namespace) -> int:
    from ..agreement import agree_files
    from ..outputs import Named, check_output_path, check_outputs
    from ..records import meta_path
    from ..records.meta import atomic_write
    from ..report.human import render_agreement_html

    aois = aois_from_args(args)
    person, values = mappings(args)
    outputs = [Named("output", Path(p).expanduser()) for p in (args.output, args.json) if p]
    for out in outputs:
        check_output_path(out.path, parameter=out.parameter)
    inputs = [Path(args.human).expanduser(), *(Path(p).expanduser() for p in args.records)]
    inputs += [meta_path(p) for p in inputs[1:]] + [p / "manifest.jsonl" for p in inputs if p.is_dir()]
    if args.aoi:
        inputs.append(Path(args.aoi).expanduser())
    check_outputs(outputs, [Named("input", p) for p in inputs if not p.is_dir()])

    result = agree_files(args.human, args.records, aois=aois, person_tiers=person, value_map=values)
    texts = []
    if args.output:
        records = ", ".join(str(p) for p in args.records)
        texts.append((Path(args.output).expanduser(), render_agreement_html(result, records=records)))
    if args.json:
        texts.append((Path(args.json).expanduser(), json.dumps(result.to_json(), indent=1) + "\n"))
    for path, text in texts:
        atomic_write(path, text.encode("utf-8"))

    def fmt(v: float | None, pct: bool = False) -> str:
        return "n/a" if v is None else (f"{100 * v:.1f} %" if pct else f"{v:.3f}")

    for p in result.people:
        s = p.scores
        print(f"#{p.track_id} ({p.tier}): {s.frames} frames, agreement {fmt(s.agreement, True)}, kappa "
              f"{fmt(s.kappa)} (not compared: {s.not_coded} not coded, {s.not_seen} not seen)")
    s = result.pooled
    print(f"pooled: {s.frames} frames, agreement {fmt(s.agreement, True)}, kappa {fmt(s.kappa)}")
    for e in result.events:
        print(f"{e.kind} events: human {e.human}, gazecam {e.gazecam}, precision {fmt(e.precision)}, "
              f"recall {fmt(e.recall)}, F1 {fmt(e.f1)}")
    if result.unmapped_values:
        print("gazecam agree: note: human values that are none of gazecam's categories (map them with --value): "
              + ", ".join(f"'{v}' ({n} frames)" for v, n in result.unmapped_values), file=sys.stderr)
    if texts:
        print("gazecam agree: wrote " + ", ".join(str(p) for p, _ in texts), file=sys.stderr)
    return 0
