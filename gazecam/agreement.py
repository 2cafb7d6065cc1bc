"""Agreement between a human coder and gazecam, frame by frame and event by event (no CLI, no torch).

Rules (seconds on the records' clock, ``dt`` the frame duration of :func:`gazecam.analysis.frame_duration`):

* **People**: a human tier is matched to a gazecam track by ``person_tiers`` (tier name -> track id); without
  it, tiers named ``#ID looks at`` (ELAN, as ``gazecam report --elan`` writes them) or ``#ID`` (events TSV)
  are matched to track ID.  Other tiers are ignored.
* **Frames**: every frame of the video from frame 0 to the last frame with records or the end of the human's
  coding, whichever is later (a frame's time from the records; frames without records are placed ``dt``
  apart).  A frame's **human label** is the value of the annotation
  covering its midpoint (``time + dt / 2``), "other" when none.  Values ``#ID`` and ``AOI:name`` (gazecam's
  own vocabulary), an AOI's name, and ``value_map`` (human value -> gazecam value) give gazecam categories;
  ``scene``, ``out of frame``, ``other`` and empty values are "other"; any other value is compared as it is
  (it never agrees) and listed in :attr:`Agreement.unmapped_values`.
* **gazecam's label**: the looked-at person (``#ID``), else the AOI the gaze point is in, else "other".
* **Not compared** (counted): frames whose midpoint is outside the span the human coded (first annotation's
  start to last annotation's end over the matched tiers) and frames where gazecam did not see the person.
* **Scores**: percent agreement, Cohen's kappa (:func:`sklearn.metrics.cohen_kappa_score`; None when both
  coders use one and the same category throughout) and the confusion matrix (rows: human, columns: gazecam),
  per person and pooled over people.
* **Events**: runs of one label over consecutive compared frames, per coder and person, for person targets
  (``#ID``) and AOIs.  An event matches when it overlaps an event of the other coder with the same target by
  at least half of the shorter one.  Precision = matched gazecam events / gazecam events, recall = matched
  human events / human events, F1 their harmonic mean (None when undefined).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .analysis import frame_duration, group_frames
from .coding import AOI_PREFIX, OUT_OF_FRAME, SCENE, record_target
from .coding_read import HumanCoding, HumanTier
from .errors import InputError
from .records.format import GazeRecord

__all__ = ["OTHER", "Confusion", "Scores", "PersonAgreement", "EventScores", "Agreement", "gazecam_label",
           "default_person_tiers", "compare", "EVENT_KINDS"]

OTHER = "other"
EVENT_KINDS = ("person", "aoi")
_OTHER_VALUES = {"", OTHER, SCENE, OUT_OF_FRAME, "n/a"}
_TIER_ID = re.compile(r"^#(\d+)(?: looks at)?$")


def gazecam_label(r: GazeRecord) -> str:
    """``#ID`` (looking at a person), else the AOI name, else "other"."""
    t = record_target(r)
    if t.startswith("#"):
        return t
    if t.startswith(AOI_PREFIX):
        return t[len(AOI_PREFIX):]
    return OTHER


@dataclass(frozen=True, slots=True, kw_only=True)
class Confusion:
    """Frame counts: ``counts[i][j]`` frames the human coded ``labels[i]`` and gazecam ``labels[j]``."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, object]:
        return {"labels": list(self.labels), "rows": "human", "columns": "gazecam",
                "counts": [list(r) for r in self.counts]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scores:
    """Frames compared, agreement (0-1), Cohen's kappa (None: undefined), confusion; frames not compared."""

    frames: int
    agreement: float | None
    kappa: float | None
    confusion: Confusion
    not_coded: int  # outside the span the human coded
    not_seen: int  # inside it, but gazecam did not see the person

    def to_json(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 6)

        return {"frames": self.frames, "agreement": r(self.agreement), "kappa": r(self.kappa),
                "not_coded": self.not_coded, "not_seen": self.not_seen, "confusion": self.confusion.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonAgreement:
    """One matched person: the scores and the compared frames (times, both labels) for timelines."""

    track_id: int
    tier: str
    scores: Scores
    times_s: np.ndarray  # (F,) times of the compared frames
    human: tuple[str, ...]
    gazecam: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"track_id": self.track_id, "tier": self.tier, **self.scores.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventScores:
    """Event-level scores for one target kind (``person`` or ``aoi``), pooled over people."""

    kind: str
    human: int
    gazecam: int
    matched_human: int
    matched_gazecam: int

    @property
    def precision(self) -> float | None:
        return self.matched_gazecam / self.gazecam if self.gazecam else None

    @property
    def recall(self) -> float | None:
        return self.matched_human / self.human if self.human else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    def to_json(self) -> dict[str, object]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 6)

        return {"human": self.human, "gazecam": self.gazecam, "matched_human": self.matched_human,
                "matched_gazecam": self.matched_gazecam, "precision": r(self.precision), "recall": r(self.recall),
                "f1": r(self.f1)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    """What ``gazecam agree`` reports (module docstring)."""

    source: str  # the human coding's file
    people: tuple[PersonAgreement, ...]
    pooled: Scores
    events: tuple[EventScores, ...]
    frame_duration_s: float
    span_s: tuple[float, float]
    aoi_names: tuple[str, ...] = ()
    unmapped_values: tuple[tuple[str, int], ...] = ()  # human values outside gazecam's categories: frames
    ignored_tiers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"human": self.source, "frame_duration_s": round(self.frame_duration_s, 6),
                "span_s": [round(v, 4) for v in self.span_s], "pooled": self.pooled.to_json(),
                "people": [p.to_json() for p in self.people],
                "events": {e.kind: e.to_json() for e in self.events},
                "unmapped_values": {v: n for v, n in self.unmapped_values}, "ignored_tiers": list(self.ignored_tiers)}


# --------------------------------------------------------------------------- mappings
def default_person_tiers(human: HumanCoding) -> dict[str, int]:
    """Tiers named ``#ID looks at`` (or ``#ID``) -> ID."""
    out = {}
    for name in human.tier_names:
        m = _TIER_ID.match(name.strip())
        if m:
            out[name] = int(m.group(1))
    return out


def _quoted(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(f"'{n}'" for n in list(names)[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") if names else "none"


def _person_map(human: HumanCoding, person_tiers: Mapping[str, int] | None, people: set[int],
                records_name: str) -> dict[str, int]:
    tiers = human.tier_names
    if person_tiers:
        mapping = dict(person_tiers)
        for tier, tid in mapping.items():
            item = f"person_tiers={f'{tier}={tid}'!r}"
            if tier not in tiers:
                raise InputError(f"{item}: {human.source} has no tier '{tier}' (tiers: {_quoted(tiers)})")
            if tid not in people:
                raise InputError(f"{item}: {records_name} have no person #{tid} (people: "
                                 f"{', '.join(f'#{p}' for p in sorted(people)) or 'none'})")
        seen: dict[int, str] = {}
        for tier, tid in mapping.items():
            if tid in seen:
                raise InputError(f"person_tiers={f'{tier}={tid}'!r}: person #{tid} is also tier '{seen[tid]}'; "
                                 "match each person to one tier")
            seen[tid] = tier
        return mapping
    mapping = default_person_tiers(human)
    if not mapping:
        raise InputError(f"{human.source}: no tier names a person (tiers: {_quoted(tiers)}); match tiers to "
                         f"gazecam's people with person_tiers='TIER=TRACK_ID'")
    for tier, tid in mapping.items():
        if tid not in people:
            raise InputError(f"{human.source}: tier '{tier}' names person #{tid}, but {records_name} have no "
                             f"person #{tid} (people: {', '.join(f'#{p}' for p in sorted(people)) or 'none'}); "
                             "are they records of the same video? Match tiers with person_tiers='TIER=TRACK_ID'")
    return mapping


def _gazecam_value(value: str, aoi_names: Sequence[str], people: set[int], item: str, where: str) -> str:
    v = value.strip()
    if v in _OTHER_VALUES:
        return OTHER
    m = re.fullmatch(r"#(\d+)", v)
    if m:
        if int(m.group(1)) not in people:
            raise InputError(f"{item}: {where} have no person {v} (people: "
                             f"{', '.join(f'#{p}' for p in sorted(people)) or 'none'})")
        return v
    name = v.removeprefix(AOI_PREFIX)
    if name in aoi_names:
        return name
    raise InputError(f"{item}: '{v}' is no person or AOI of {where}; expected #ID, an AOI name "
                     f"({_quoted(aoi_names)}) or other")


def _value_map(value_map: Mapping[str, str] | None, used: set[str], aoi_names: Sequence[str], people: set[int],
               source: str, where: str) -> dict[str, str]:
    out = {}
    for h, g in (value_map or {}).items():
        item = f"value_map={f'{h}={g}'!r}"
        if h not in used:
            raise InputError(f"{item}: no annotation on the matched tiers of {source} has the value '{h}' "
                             f"(values: {_quoted(sorted(used))})")
        out[h] = _gazecam_value(g, aoi_names, people, item, where)
    return out


def _human_category(value: str, mapping: Mapping[str, str], aoi_names: Sequence[str]) -> str:
    if value in mapping:
        return mapping[value]
    v = value.strip()
    if v in _OTHER_VALUES:
        return OTHER
    if re.fullmatch(r"#\d+", v):
        return v
    name = v.removeprefix(AOI_PREFIX)
    return name if name in aoi_names else v


# --------------------------------------------------------------------------- frames
def _frame_times(frames_idx: np.ndarray, frames_t: np.ndarray, dt: float, last: int) -> np.ndarray:
    """Times of frames 0..last: the records' time where known, else ``dt`` steps from the nearest known frame."""
    idx = np.arange(last + 1)
    pos = np.searchsorted(frames_idx, idx, side="right") - 1
    before = pos >= 0
    ref = np.where(before, pos, 0)
    return frames_t[ref] + (idx - frames_idx[ref]) * dt


def _labels_at(tier: HumanTier, mids: np.ndarray) -> list[str | None]:
    starts = np.array([a.start_s for a in tier.annotations], np.float64)
    ends = np.array([a.end_s for a in tier.annotations], np.float64)
    k = np.searchsorted(starts, mids, side="right") - 1
    out: list[str | None] = []
    for m, i in zip(mids.tolist(), k.tolist()):
        out.append(tier.annotations[i].value if i >= 0 and m < ends[i] else None)
    return out


def _scores(human: Sequence[str], gazecam: Sequence[str], order: Sequence[str], not_coded: int,
            not_seen: int) -> Scores:
    labels = tuple(lb for lb in order if lb in set(human) | set(gazecam))
    index = {lb: i for i, lb in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), np.int64)
    for h, g in zip(human, gazecam):
        counts[index[h], index[g]] += 1
    n = len(human)
    agreement = float(np.trace(counts)) / n if n else None
    kappa = None
    if n and len(labels) > 1:
        import warnings

        from sklearn.metrics import cohen_kappa_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = float(cohen_kappa_score(list(human), list(gazecam), labels=list(labels)))
        kappa = k if math.isfinite(k) else None
    return Scores(frames=n, agreement=agreement, kappa=kappa,
                  confusion=Confusion(labels=labels, counts=tuple(tuple(int(v) for v in row) for row in counts)),
                  not_coded=not_coded, not_seen=not_seen)


def _events(frame_idx: np.ndarray, times: np.ndarray, labels: Sequence[str], dt: float,
            kind_of: Mapping[str, str]) -> list[tuple[str, str, float, float]]:
    """(kind, label, start, end) runs of one label over consecutive frames, for person / AOI labels."""
    out = []
    k = 0
    while k < len(labels):
        j = k
        while j + 1 < len(labels) and labels[j + 1] == labels[k] and frame_idx[j + 1] == frame_idx[j] + 1:
            j += 1
        kind = kind_of.get(labels[k])
        if kind is not None:
            out.append((kind, labels[k], float(times[k]), float(times[j]) + dt))
        k = j + 1
    return out


def _matched(a: tuple[str, str, float, float], others: Sequence[tuple[str, str, float, float]]) -> bool:
    for b in others:
        if b[1] != a[1]:
            continue
        overlap = min(a[3], b[3]) - max(a[2], b[2])
        if overlap > 0 and overlap >= 0.5 * min(a[3] - a[2], b[3] - b[2]) - 1e-9:
            return True
    return False


def compare(human: HumanCoding, records: Sequence[GazeRecord], *, frame_duration_s: float | None = None,
            person_tiers: Mapping[str, int] | None = None, value_map: Mapping[str, str] | None = None,
            aoi_names: Sequence[str] = (), records_name: str = "the records") -> Agreement:
    """Compare a human coding with one video's records (labelled with AOIs already); rules in the module docstring.

    ``frame_duration_s``: None takes the records' median step; ``aoi_names``: AOIs known besides those in the
    records' ``aoi`` fields; ``records_name`` names the records in errors.
    """
    frames = group_frames(records)
    if not frames:
        raise InputError(f"{records_name} hold no records; nothing to compare")
    dt = float(frame_duration_s) if frame_duration_s else frame_duration(frames)
    if not dt > 0:
        raise InputError(f"{records_name}: the frame duration is unknown (one frame and no frame rate); "
                         "expected records of at least two frames")
    people = {r.track_id for r in records if r.track_id is not None}
    names = tuple(dict.fromkeys([*aoi_names, *sorted({r.aoi for r in records if r.aoi is not None})]))
    mapping = _person_map(human, person_tiers, people, records_name)
    tiers = {name: human.tier(name) for name in mapping}
    for t in tiers.values():
        t.check_exclusive()  # type: ignore[union-attr]
    anns = [a for t in tiers.values() for a in t.annotations]  # type: ignore[union-attr]
    if not anns:
        raise InputError(f"{human.source}: the matched tier(s) {_quoted(list(tiers))} hold no annotations")
    span = (min(a.start_s for a in anns), max(a.end_s for a in anns))
    used = {a.value for a in anns}
    vmap = _value_map(value_map, used, names, people, human.source, records_name)

    fidx = np.array([f.frame for f in frames], np.int64)
    ftime = np.array([f.time_s for f in frames], np.float64)
    last = int(fidx[-1])
    beyond = span[1] - (float(ftime[-1]) + dt / 2)  # the human coded past the records' last frame
    if beyond > 0:
        last += math.ceil(beyond / dt - 1e-9)
    times = _frame_times(fidx, ftime, dt, last)
    mids = times + dt / 2
    in_span = (mids >= span[0]) & (mids < span[1])
    seen: dict[int, dict[int, GazeRecord]] = {tid: {} for tid in people}
    for f in frames:
        for tid, r in f.by_id().items():
            seen[tid][f.frame] = r

    person_order = [f"#{t}" for t in sorted(people | {r.looking_at for r in records if r.looking_at is not None})]
    kind_of = {**{p: "person" for p in person_order}, **{n: "aoi" for n in names}}
    results = []
    unmapped: Counter[str] = Counter()
    all_h: list[str] = []
    all_g: list[str] = []
    events: dict[str, list[list]] = {k: [[], []] for k in EVENT_KINDS}  # kind -> [human events, gazecam events]
    totals = [0, 0]
    for tier_name, tid in sorted(mapping.items(), key=lambda kv: kv[1]):
        tier = tiers[tier_name]
        by_frame = seen[tid]
        compared = np.array([i for i in np.flatnonzero(in_span).tolist() if i in by_frame], np.int64)
        not_coded = sum(1 for i in by_frame if not in_span[i])
        not_seen = int(in_span.sum()) - len(compared)
        raw = _labels_at(tier, mids[compared])  # type: ignore[arg-type]
        h = [_human_category(v, vmap, names) if v is not None else OTHER for v in raw]
        g = [gazecam_label(by_frame[i]) for i in compared.tolist()]
        for v in h:
            if v != OTHER and v not in kind_of:
                unmapped[v] += 1
        results.append((tid, tier_name, compared, h, g, not_coded, not_seen))
        all_h += h
        all_g += g
        totals[0] += not_coded
        totals[1] += not_seen
        for who, labels in ((0, h), (1, g)):
            for ev in _events(compared, times[compared], labels, dt, kind_of):
                events[ev[0]][who].append((tid, ev))
    if not all_h:
        raise InputError(f"{human.source} codes {span[0]:.2f}-{span[1]:.2f} s, but {records_name} see none of the "
                         f"matched people ({', '.join(f'#{t}' for t in sorted(mapping.values()))}) then (records: "
                         f"{float(ftime[0]):.2f}-{float(ftime[-1]) + dt:.2f} s); are they records of the same video?")
    order = [*person_order, *names, *sorted(unmapped), OTHER]
    people_out = tuple(PersonAgreement(track_id=tid, tier=tier_name, scores=_scores(h, g, order, nc, ns),
                                       times_s=times[compared], human=tuple(h), gazecam=tuple(g))
                       for tid, tier_name, compared, h, g, nc, ns in results)
    event_scores = []
    for kind in EVENT_KINDS:
        hum, gaz = events[kind]

        def n_matched(mine: list, theirs: list) -> int:
            return sum(1 for tid, e in mine if _matched(e, [o for t2, o in theirs if t2 == tid]))

        event_scores.append(EventScores(kind=kind, human=len(hum), gazecam=len(gaz), matched_human=n_matched(hum, gaz),
                                        matched_gazecam=n_matched(gaz, hum)))
    ignored = tuple(n for n in human.tier_names if n not in mapping)
    return Agreement(source=human.source, people=people_out, pooled=_scores(all_h, all_g, order, *totals),
                     events=tuple(event_scores), frame_duration_s=dt, span_s=span, aoi_names=names,
                     unmapped_values=tuple(sorted(unmapped.items())), ignored_tiers=ignored)


def records_name(paths: Sequence[str | Path]) -> str:
    """How errors name the records: ``records talk.jsonl``."""
    return "records " + ", ".join(str(p) for p in paths)


# --------------------------------------------------------------------------- files
def _video_name(source) -> str | None:  # a gazecam.report.RecordsSource
    if source.meta is not None and source.meta.source:
        return Path(source.meta.source).name
    if source.video_path is not None:
        return Path(source.video_path).name
    return None


def agree_files(human_path: str | Path, records: Sequence[str | Path], *, aois=None,
                person_tiers: Mapping[str, int] | None = None,
                value_map: Mapping[str, str] | None = None) -> Agreement:
    """Read a human coding (``.eaf`` / events ``.tsv``) and one video's records, and :func:`compare` them.

    ``records``: records files or a batch output folder (:func:`gazecam.report.resolve_inputs`); the records
    of the video the human coding is linked to are used (an error names both videos when none is).
    ``aois``: an :class:`gazecam.aoi.AOISet`; every record is labelled from its gaze point.
    """
    from .aoi_stats import label_records
    from .coding_read import read_human
    from .records import read_records
    from .report.inputs import resolve_inputs

    human = read_human(human_path)
    sources, _skipped = resolve_inputs(records)
    if not sources:
        raise InputError(f"{records_name(records)}: no finished video's records to compare")
    media = set(human.media)
    if media:
        known = [(s, _video_name(s)) for s in sources]
        matching = [s for s, name in known if name is None or name in media]
        if not matching:
            videos = ", ".join(sorted({name for _, name in known if name}))
            raise InputError(f"{records_name([s.records_path for s in sources])} are records of {videos}, but "
                             f"{human.source} codes {', '.join(sorted(media))}; give the records of that video")
        sources = [s for s, name in known if name in media] or matching
    if len(sources) != 1:
        raise InputError(f"{human.source} codes one video, but {len(sources)} records were given "
                         f"({', '.join(s.label for s in sources[:4])}); give the records of one video")
    source = sources[0]
    recs = read_records(source.records_path)
    meta = source.meta
    if aois is not None:
        size = (meta.width, meta.height) if meta is not None and meta.width and meta.height else None
        recs = label_records(recs, aois, size)
    fps = meta.fps if meta is not None else None
    dt = frame_duration(group_frames(recs), default_s=1.0 / fps if fps else None)
    return compare(human, recs, frame_duration_s=dt or None, person_tiers=person_tiers, value_map=value_map,
                   aoi_names=aois.names if aois is not None else (), records_name=records_name([source.records_path]))
