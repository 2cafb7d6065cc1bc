"""Exports for coding tools: an ELAN annotation document (EAF 3.0) and BIDS-style events (TSV).

What is coded, per video (seconds on the records' clock: from the video's start):

* **looks at**, one tier / row set per person (``#3 looks at``): runs of one *target* over consecutive frames
  -- ``#5`` (a person, ``looking_at``), ``AOI:screen`` (the record's ``aoi``), ``scene`` (an in-frame point on
  neither), ``out of frame``.  A run ends one frame after its last frame; a frame without the person (or a
  gap longer than a frame) ends it.
* **mutual gaze** and **joint attention**: the report's episodes (:mod:`gazecam.analysis`).  In ELAN a tier
  holds no overlapping annotations, so each of these tiers is cut into pieces during which the same set of
  episodes is going on (value: ``#1 #2``, or ``#1 #2; #3 #4`` while two pairs overlap); the events file keeps
  one row per episode.  A joint-attention target is ``#5`` (a person), ``AOI:name`` (the shared point lies in
  an AOI) or ``point``.

Values of each ELAN tier come from a controlled vocabulary.  :func:`write_elan` uses pympi-ling; both
writers go through :func:`gazecam.outputs.atomic_output`.  No CLI here, no torch.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from .analysis import Episode, GazeAnalysis, group_frames
from .records.format import GazeRecord

if TYPE_CHECKING:  # pragma: no cover
    from .aoi import AOISet

__all__ = ["SCENE", "OUT_OF_FRAME", "AOI_PREFIX", "MUTUAL_TIER", "JOINT_TIER", "EVENT_COLUMNS", "person_label",
           "looks_at_tier", "record_target", "TargetRun", "Segment", "Coding", "target_runs", "exclusive_segments",
           "coding_from", "eaf_text", "write_elan", "events_text", "write_events"]

SCENE = "scene"
OUT_OF_FRAME = "out of frame"
AOI_PREFIX = "AOI:"
MUTUAL_TIER = "mutual gaze"
JOINT_TIER = "joint attention"
EVENT_COLUMNS = ("onset", "duration", "trial_type", "person", "target")
_CV = {"looks": "gazecam-looks-at", "mutual": "gazecam-mutual-gaze", "joint": "gazecam-joint-attention"}
_MIMES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
          ".mkv": "video/x-matroska", ".webm": "video/webm", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
          ".wav": "audio/x-wav"}


def person_label(track_id: int) -> str:
    return f"#{track_id}"


def looks_at_tier(track_id: int) -> str:
    """The ELAN tier of a person's targets: ``#3 looks at``."""
    return f"{person_label(track_id)} looks at"


def record_target(r: GazeRecord) -> str:
    """A record's target: ``#5``, ``AOI:name``, ``scene`` or ``out of frame`` (person first, then AOI)."""
    if not r.in_frame:
        return OUT_OF_FRAME
    if r.looking_at is not None and r.looking_at != r.track_id:
        return person_label(r.looking_at)
    if r.aoi is not None:
        return AOI_PREFIX + r.aoi
    return SCENE


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRun:
    """A person looking at one target over consecutive frames: ``[start_s, end_s)``."""

    track_id: int
    target: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """A piece of a tier: ``[start_s, end_s)`` with one value."""

    start_s: float
    end_s: float
    value: str


def target_runs(records: Iterable[GazeRecord], *, frame_duration_s: float) -> tuple[TargetRun, ...]:
    """Each tracked person's runs of one target (module docstring), sorted by person then time."""
    dt = float(frame_duration_s)
    tol = 0.1 * dt if dt > 0 else 1e-9
    open_runs: dict[int, list] = {}  # track id -> [target, start, last time]
    out: list[TargetRun] = []

    def close(tid: int) -> None:
        target, start, last = open_runs.pop(tid)
        out.append(TargetRun(track_id=tid, target=target, start_s=start, end_s=last + dt))

    for fr in group_frames(records):
        for r in fr.records:
            if r.track_id is None:
                continue
            target = record_target(r)
            run = open_runs.get(r.track_id)
            if run is not None and (run[0] != target or fr.time_s - run[2] > dt + tol):
                close(r.track_id)
                run = None
            if run is None:
                open_runs[r.track_id] = [target, fr.time_s, fr.time_s]
            else:
                run[2] = fr.time_s
    for tid in list(open_runs):
        close(tid)
    return tuple(sorted(out, key=lambda x: (x.track_id, x.start_s)))


def exclusive_segments(items: Sequence[tuple[float, float, str]]) -> tuple[Segment, ...]:
    """Possibly overlapping ``(start, end, value)`` items as non-overlapping segments; where several are going
    on, the values are joined with ``"; "`` (in the order given)."""
    cuts = sorted({t for a, b, _ in items for t in (a, b)})
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:]):
        mid = (a + b) / 2
        values = [v for s, e, v in items if s <= mid < e]
        if not values:
            continue
        value = "; ".join(dict.fromkeys(values))
        if out and out[-1].value == value and abs(out[-1].end_s - a) < 1e-9:
            out[-1] = Segment(start_s=out[-1].start_s, end_s=b, value=value)
        else:
            out.append(Segment(start_s=a, end_s=b, value=value))
    return tuple(out)


def _group_value(e: Episode) -> str:
    return " ".join(person_label(t) for t in e.track_ids)


def _joint_target(e: Episode, aois: "AOISet | None" = None) -> str:
    """``#5`` for a person; for a point, ``AOI:name`` when it lies in an AOI at the episode's start, else ``point``."""
    if e.target is not None and e.target.kind == "person" and e.target.track_id is not None:
        return person_label(e.target.track_id)
    if aois is not None and len(aois) and e.target is not None and e.target.xy_norm is not None:
        name = aois.label([e.target.xy_norm], e.start_s)[0]
        if name is not None:
            return AOI_PREFIX + name
    return "point"


@dataclass(frozen=True, slots=True, kw_only=True)
class Coding:
    """What the exports write for one video: per-person target runs, the episodes, the vocabularies."""

    people: tuple[int, ...]
    runs: tuple[TargetRun, ...]
    mutual_gaze: tuple[Episode, ...]
    joint_attention: tuple[Episode, ...]
    targets: tuple[str, ...]  # the looks-at vocabulary: people, AOIs, scene, out of frame
    frame_duration_s: float
    joint_targets: tuple[str, ...] = ()  # per joint-attention episode: #id, AOI:name or point (same order)

    def joint_target(self, i: int) -> str:
        return self.joint_targets[i] if i < len(self.joint_targets) else _joint_target(self.joint_attention[i])

    @property
    def mutual_segments(self) -> tuple[Segment, ...]:
        return exclusive_segments([(e.start_s, e.end_s, _group_value(e)) for e in self.mutual_gaze])

    @property
    def joint_segments(self) -> tuple[Segment, ...]:
        return exclusive_segments([(e.start_s, e.end_s, f"{_group_value(e)} -> {self.joint_target(i)}")
                                   for i, e in enumerate(self.joint_attention)])


def coding_from(records: Sequence[GazeRecord], analysis: GazeAnalysis, *,
                aoi_names: Sequence[str] = (), aois: "AOISet | None" = None) -> Coding:
    """The coding of one video from its records (with ``aoi`` labels) and their :func:`~gazecam.analysis.analyze`.

    ``aoi_names``: AOIs for the vocabulary even if no one looked inside; ``aois`` (normalised): names the AOI
    a joint-attention point lies in.
    """
    people = tuple(p.track_id for p in analysis.people)
    runs = target_runs(records, frame_duration_s=analysis.frame_duration_s)
    seen_aois = [r.target[len(AOI_PREFIX):] for r in runs if r.target.startswith(AOI_PREFIX)]
    names = list(dict.fromkeys([*aoi_names, *sorted(set(seen_aois))]))
    looked_at = sorted({int(r.target[1:]) for r in runs if r.target.startswith("#")} | set(people))
    targets = (*(person_label(t) for t in looked_at), *(AOI_PREFIX + n for n in names), SCENE, OUT_OF_FRAME)
    return Coding(people=people, runs=runs, mutual_gaze=analysis.mutual_gaze, joint_attention=analysis.joint_attention,
                  targets=targets, frame_duration_s=analysis.frame_duration_s,
                  joint_targets=tuple(_joint_target(e, aois) for e in analysis.joint_attention))


# --------------------------------------------------------------------------- ELAN
def _ms(t: float) -> int:
    return int(round(t * 1000.0))


def eaf_text(coding: Coding, *, media: Path | None = None, eaf_path: Path | None = None) -> str:
    """The EAF 3.0 document (XML text); ``media`` is linked (relative to ``eaf_path``'s folder when given)."""
    import os

    import pympi.Elan as elan

    doc = elan.Eaf(author="gazecam")
    doc.adocument.update({"VERSION": "3.0", "FORMAT": "3.0",
                          "xsi:noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    doc.remove_tier("default")
    doc.remove_linguistic_type("default-lt")
    doc.add_language("und", "und", "undetermined")
    if media is not None:
        media = Path(media).expanduser().resolve()
        rel = None
        if eaf_path is not None:
            rel = Path(os.path.relpath(media, Path(eaf_path).expanduser().resolve().parent)).as_posix()
            rel = rel if rel.startswith("../") else "./" + rel  # the form ELAN writes
        doc.add_linked_file(media.as_uri(), relpath=rel, mimetype=_MIMES.get(media.suffix.lower(), "video/*"))
    doc.add_property("gazecam_frame_duration_s", f"{coding.frame_duration_s:.6f}")
    mutual, joint = coding.mutual_segments, coding.joint_segments
    vocab = {"looks": coding.targets, "mutual": tuple(dict.fromkeys(s.value for s in mutual)),
             "joint": tuple(dict.fromkeys(s.value for s in joint))}
    for key, cv in _CV.items():
        doc.add_controlled_vocabulary(cv)
        for i, value in enumerate(vocab[key]):
            doc.add_cv_entry(cv, f"{cv}-{i}", [(value, "und", None)])
        doc.add_linguistic_type(cv, param_dict={"LINGUISTIC_TYPE_ID": cv, "TIME_ALIGNABLE": "true",
                                                "GRAPHIC_REFERENCES": "false", "CONTROLLED_VOCABULARY_REF": cv})

    def add(tier: str, start_s: float, end_s: float, value: str) -> None:
        a, b = _ms(start_s), _ms(end_s)
        if b > a:  # a piece shorter than half a millisecond has no extent in ELAN
            doc.add_annotation(tier, a, b, value)

    for tid in coding.people:
        tier = looks_at_tier(tid)
        doc.add_tier(tier, ling=_CV["looks"], part=person_label(tid))
        for r in coding.runs:
            if r.track_id == tid:
                add(tier, r.start_s, r.end_s, r.target)
    for tier, key, segments in ((MUTUAL_TIER, "mutual", mutual), (JOINT_TIER, "joint", joint)):
        doc.add_tier(tier, ling=_CV[key])
        for s in segments:
            add(tier, s.start_s, s.end_s, s.value)
    last = max((int(a[1:]) for a in doc.annotations if a[1:].isdigit()), default=0)
    doc.properties = [(k, last if k == "lastUsedAnnotation" else v) for k, v in doc.properties]  # ELAN's next id
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + elan.to_string(doc)


def write_elan(coding: Coding, path: str | Path, *, media: Path | None = None) -> Path:
    """Write :func:`eaf_text` to ``path`` (temporary file renamed into place)."""
    from .outputs import atomic_output

    path = Path(path).expanduser()
    text = eaf_text(coding, media=media, eaf_path=path)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- events TSV
def events_text(coding: Coding) -> str:
    """BIDS-style events: ``onset duration trial_type person target`` (tab-separated, ``n/a`` when empty),
    sorted by onset; times in seconds with millisecond precision."""
    rows: list[tuple[float, float, str, str, str]] = []
    for r in coding.runs:
        rows.append((r.start_s, r.end_s - r.start_s, "looks_at", person_label(r.track_id), r.target))
    for e in coding.mutual_gaze:
        rows.append((e.start_s, e.duration_s, "mutual_gaze", _group_value(e), "n/a"))
    for i, e in enumerate(coding.joint_attention):
        rows.append((e.start_s, e.duration_s, "joint_attention", _group_value(e), coding.joint_target(i)))
    rows.sort(key=lambda x: (round(x[0], 6), ("looks_at", "mutual_gaze", "joint_attention").index(x[2]), x[3]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(EVENT_COLUMNS)
    for onset, duration, kind, person, target in rows:
        w.writerow([f"{onset:.3f}", f"{duration:.3f}", kind, person, target])
    return buf.getvalue()


def write_events(coding: Coding, path: str | Path) -> Path:
    """Write :func:`events_text` to ``path`` (temporary file renamed into place)."""
    from .outputs import atomic_output

    path = Path(path).expanduser()
    text = events_text(coding)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
