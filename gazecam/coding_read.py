"""Reading a coder's annotations back: an ELAN document (``.eaf``, through pympi-ling) or an events TSV.

The readers of what :mod:`gazecam.coding` writes (and of what people write by hand in ELAN or BORIS):

* :func:`read_eaf`: every tier of the document as :class:`HumanTier` (time-aligned annotations in seconds,
  the media's ``TIME_ORIGIN`` added); reference tiers take their parents' times.  A document without time
  slots, or an annotation whose time slot is missing or has no time, is an :class:`~gazecam.errors.InputError`
  naming the file and the item.
* :func:`read_events`: a BIDS-style events TSV (``onset``, ``duration``, ``person``, ``target``; with a
  ``trial_type`` column only ``looks_at`` rows are read): one tier per ``person`` value.

:meth:`HumanTier.check_exclusive` refuses overlapping annotations on a tier (a coder codes one target at a
time).  No torch, no writing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import InputError

__all__ = ["Annotation", "HumanTier", "HumanCoding", "read_eaf", "read_events", "read_human"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Annotation:
    """One coded span ``[start_s, end_s)`` with its value."""

    start_s: float
    end_s: float
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanTier:
    """A tier of a coder's document (an ELAN tier, or an events file's ``person``), annotations by start."""

    name: str
    annotations: tuple[Annotation, ...]
    source: str = "<human>"

    def check_exclusive(self) -> None:
        """Refuse annotations that overlap (one target at a time on a tier)."""
        for a, b in zip(self.annotations, self.annotations[1:]):
            if b.start_s < a.end_s - 5e-4:
                raise InputError(f"{self.source}: tier '{self.name}' has overlapping annotations "
                                 f"'{a.value}' ({a.start_s:.3f}-{a.end_s:.3f} s) and '{b.value}' "
                                 f"({b.start_s:.3f}-{b.end_s:.3f} s); expected one annotation at a time per tier")


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanCoding:
    """A coder's document: its tiers and the media it is linked to (file names; empty when unknown)."""

    source: str
    tiers: tuple[HumanTier, ...]
    media: tuple[str, ...] = ()

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    def tier(self, name: str) -> HumanTier | None:
        return next((t for t in self.tiers if t.name == name), None)


def _sorted(annotations: list[Annotation]) -> tuple[Annotation, ...]:
    return tuple(sorted(annotations, key=lambda a: (a.start_s, a.end_s)))


def _media_name(descriptor: dict) -> str | None:
    url = descriptor.get("MEDIA_URL") or descriptor.get("RELATIVE_MEDIA_URL")
    if not url:
        return None
    path = unquote(urlparse(url).path) if "://" in url or url.startswith("file:") else url
    return Path(path).name or None


def read_eaf(path: str | Path) -> HumanCoding:
    """Every tier of an ELAN document, times in seconds on the media's clock (see the module docstring)."""
    import warnings

    import pympi.Elan as elan

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"ELAN document {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pympi warns on unknown versions; the content is checked below
            doc = elan.Eaf()  # an empty document filled by the parser (pympi's own reader)
            doc.tiers, doc.linguistic_types, doc.constraints, doc.properties = {}, {}, {}, []
            # pympi deletes this attribute after reading it; hand-written documents may lack it
            doc.adocument["{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation"] = ""
            elan.parse_eaf(str(path), doc, True)
    except Exception as e:  # noqa: BLE001 - pympi raises bare Exception / KeyError on malformed files
        what = f"missing {e}" if isinstance(e, KeyError) else str(e)
        raise InputError(f"{path}: not a readable ELAN document ({what}); expected an .eaf saved by ELAN") from None
    if not doc.timeslots:
        raise InputError(f"{path}: no time slots (TIME_ORDER is empty); expected time-aligned annotations")
    origin_ms = 0
    names = []
    for d in doc.media_descriptors:
        name = _media_name(d)
        if name:
            names.append(name)
        if d.get("TIME_ORIGIN"):
            try:
                origin_ms = int(d["TIME_ORIGIN"])
            except ValueError:
                raise InputError(f"{path}: media TIME_ORIGIN {d['TIME_ORIGIN']!r} is not milliseconds") from None

    def times(tier: str, aid: str, ts1: str, ts2: str) -> tuple[float, float]:
        out = []
        for ts in (ts1, ts2):
            if ts not in doc.timeslots:
                raise InputError(f"{path}: tier '{tier}' annotation {aid} refers to time slot {ts}, which does not "
                                 "exist; expected time slots in TIME_ORDER")
            v = doc.timeslots[ts]
            if v is None:
                raise InputError(f"{path}: tier '{tier}' annotation {aid}: time slot {ts} has no time; expected "
                                 "time-aligned annotations (align it in ELAN)")
            out.append((v + origin_ms) / 1000.0)
        return out[0], out[1]

    aligned: dict[str, tuple[float, float]] = {}
    for tier, (align, _ref, _attrib, _n) in doc.tiers.items():
        for aid, (ts1, ts2, _value, _svg) in align.items():
            aligned[aid] = times(tier, aid, ts1, ts2)

    def ref_times(aid: str, depth: int = 0) -> tuple[float, float] | None:
        if aid in aligned:
            return aligned[aid]
        tier = doc.annotations.get(aid)
        if tier is None or depth > 50:
            return None
        ref = doc.tiers[tier][1].get(aid)
        return None if ref is None else ref_times(ref[0], depth + 1)

    tiers = []
    for tier, (align, ref, _attrib, _n) in doc.tiers.items():
        anns = [Annotation(start_s=aligned[aid][0], end_s=aligned[aid][1], value=(v or "").strip())
                for aid, (_a, _b, v, _s) in align.items()]
        for aid, (parent, v, _prev, _svg) in ref.items():
            span = ref_times(parent)
            if span is None:
                raise InputError(f"{path}: tier '{tier}' annotation {aid} refers to annotation {parent}, which does "
                                 "not exist")
            anns.append(Annotation(start_s=span[0], end_s=span[1], value=(v or "").strip()))
        tiers.append(HumanTier(name=tier, annotations=_sorted(anns), source=str(path)))
    return HumanCoding(source=str(path), tiers=tuple(tiers), media=tuple(dict.fromkeys(names)))


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{path} line {line}: {column} {text!r} is not a number of seconds >= 0")
    return v


def read_events(path: str | Path) -> HumanCoding:
    """A BIDS-style events TSV as one tier per ``person`` (see the module docstring)."""
    path = Path(path).expanduser()
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the events file {path}: {e}") from None
    if not rows:
        raise InputError(f"{path}: empty; expected a TSV with columns onset, duration, person, target")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("onset", "duration", "person", "target") if c not in header]
    if missing:
        raise InputError(f"{path}: no column(s) {', '.join(missing)} (columns: {', '.join(header)}); expected "
                         "onset, duration, person, target (and trial_type)")
    col = {c: header.index(c) for c in header}
    by_person: dict[str, list[Annotation]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise InputError(f"{path} line {line}: {len(row)} fields, expected {len(header)}")
        if "trial_type" in col and row[col["trial_type"]].strip() not in ("looks_at", "", "n/a"):
            continue
        onset = _number(row[col["onset"]].strip(), path, line, "onset")
        duration = _number(row[col["duration"]].strip(), path, line, "duration")
        person = row[col["person"]].strip()
        target = row[col["target"]].strip()
        if duration > 0:
            by_person.setdefault(person, []).append(
                Annotation(start_s=onset, end_s=onset + duration, value="" if target == "n/a" else target))
    if not by_person:
        raise InputError(f"{path}: no looks_at events; expected rows with onset, duration, person, target")
    tiers = tuple(HumanTier(name=p, annotations=_sorted(a), source=str(path)) for p, a in by_person.items())
    return HumanCoding(source=str(path), tiers=tiers)


def read_human(path: str | Path) -> HumanCoding:
    """:func:`read_eaf` for ``.eaf``, :func:`read_events` for ``.tsv`` / ``.txt`` / ``.csv`` with tabs."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"human coding {path} does not exist; expected an ELAN .eaf or an events .tsv")
    if path.suffix.lower() == ".eaf":
        return read_eaf(path)
    if path.suffix.lower() in (".tsv", ".txt"):
        return read_events(path)
    raise InputError(f"human coding {path}: unknown kind {path.suffix or '(no suffix)'!r}; expected an ELAN .eaf "
                     "or an events .tsv")
