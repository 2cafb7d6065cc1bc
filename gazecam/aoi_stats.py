"""Areas of interest over time: dwell, glances, time to first glance, per person (numpy only, no I/O).

Rules (seconds, the records' clock; ``dt`` is the frame duration of :func:`gazecam.analysis.frame_duration`):

* A person's record is *in* an AOI when its ``aoi`` field names it (:func:`label_records` sets the field
  from the gaze points and an AOI file, e.g. for records written before AOIs existed).
* **Dwell**: each record in the AOI counts ``dt``.
* **Glances**: the frames in the AOI as runs (a frame at ``t`` covers ``[t, t + dt)``); runs separated by
  at most ``max_gap_s`` are one glance (:func:`gazecam.analysis.merge_runs`); glances shorter than
  ``min_duration_s`` are dropped.  A glance ends one frame after its last frame.
* **Time to first glance**: start of the first glance minus the start of the records (first frame's
  time); None when the person never looked inside.
* **Mean glance duration**: mean of the glances' spans (start to end; a bridged gap counts); None without
  glances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .aoi import AOISet
from .analysis import AnalysisParams, group_frames, merge_runs
from .records.format import GazeRecord

__all__ = ["Glance", "AOIPersonStats", "AOIAnalysis", "AOITotals", "label_records", "aoi_names", "analyze_aois"]


def label_records(records: Sequence[GazeRecord], aois: AOISet,
                  frame_size: tuple[int, int] | None = None) -> list[GazeRecord]:
    """``records`` with ``aoi`` set from their gaze points (existing labels are replaced).

    ``frame_size`` (width, height) is needed only for pixel AOIs.  Out-of-frame gaze gets None.
    """
    if not records:
        return []
    norm = aois.normalised(frame_size)
    pts = np.array([r.gaze_xy_norm for r in records], np.float64)
    times = np.array([r.time_s for r in records], np.float64)
    in_frame = np.array([r.in_frame for r in records], bool)
    labels = norm.label(pts, times, in_frame)
    return [r if r.aoi == name else replace(r, aoi=name) for r, name in zip(records, labels)]


def aoi_names(records: Iterable[GazeRecord], aois: AOISet | None = None) -> tuple[str, ...]:
    """The AOIs to report: the file's, in file order, else those named in the records (sorted)."""
    if aois is not None:
        return aois.names
    return tuple(sorted({r.aoi for r in records if r.aoi is not None}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Glance:
    """One glance of a person into an AOI: ``[start_s, end_s)``."""

    track_id: int
    aoi: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True, kw_only=True)
class AOIPersonStats:
    """One person's AOI numbers, each ``{AOI name: value}`` over every reported AOI."""

    track_id: int
    dwell_s: dict[str, float]
    glances: dict[str, int]
    first_s: dict[str, float | None]
    mean_glance_s: dict[str, float | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class AOIAnalysis:
    """AOI numbers of one video: per person (sorted by track id), the glances, and per-frame AOI timelines.

    ``timelines``: track id -> (F,) int64 index into ``names`` per frame of ``times_s`` (-1: no AOI or not seen).
    """

    names: tuple[str, ...]
    frame_duration_s: float
    start_s: float
    times_s: np.ndarray
    people: tuple[AOIPersonStats, ...]
    glances: tuple[Glance, ...]
    timelines: dict[int, np.ndarray]

    def person(self, track_id: int) -> AOIPersonStats | None:
        return next((p for p in self.people if p.track_id == track_id), None)

    def person_json(self, track_id: int) -> dict[str, object]:
        """``aoi_s``, ``aoi_glances``, ``aoi_first_s``, ``aoi_mean_glance_s`` of one person (the report's JSON keys)."""
        p = self.person(track_id)

        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 6)

        if p is None:
            return {"aoi_s": {n: 0.0 for n in self.names}, "aoi_glances": {n: 0 for n in self.names},
                    "aoi_first_s": {n: None for n in self.names}, "aoi_mean_glance_s": {n: None for n in self.names}}
        return {"aoi_s": {n: r(v) for n, v in p.dwell_s.items()}, "aoi_glances": dict(p.glances),
                "aoi_first_s": {n: r(v) for n, v in p.first_s.items()},
                "aoi_mean_glance_s": {n: r(v) for n, v in p.mean_glance_s.items()}}


def analyze_aois(records: Iterable[GazeRecord], *, names: Sequence[str], frame_duration_s: float,
                 params: AnalysisParams | None = None) -> AOIAnalysis:
    """Dwell, glances and first-glance times per person and AOI (module docstring); ``records`` carry ``aoi``.

    ``frame_duration_s``: the analysis' ``dt`` (:attr:`gazecam.analysis.GazeAnalysis.frame_duration_s`), so
    both count the same frames the same way.  Records without a track id are not attributed.
    """
    params = params or AnalysisParams()
    dt = float(frame_duration_s)
    frames = group_frames(records)
    times = np.array([fr.time_s for fr in frames], np.float64)
    start = float(times[0]) if len(times) else 0.0
    index = {n: i for i, n in enumerate(names)}
    people = sorted({r.track_id for fr in frames for r in fr.records if r.track_id is not None})
    lines = {t: np.full(len(frames), -1, np.int64) for t in people}
    frames_in: dict[tuple[int, str], list[float]] = defaultdict(list)
    for f, fr in enumerate(frames):
        for r in fr.records:
            if r.track_id is None or r.aoi is None or r.aoi not in index:
                continue
            lines[r.track_id][f] = index[r.aoi]
            frames_in[(r.track_id, r.aoi)].append(fr.time_s)
    glances: list[Glance] = []
    stats = []
    for t in people:
        dwell, count, first, mean = {}, {}, {}, {}
        for n in names:
            ts = frames_in.get((t, n), [])
            runs = merge_runs(ts, frame_duration_s=dt, max_gap_s=params.max_gap_s,
                              min_duration_s=params.min_duration_s)
            glances += [Glance(track_id=t, aoi=n, start_s=a, end_s=b) for a, b in runs]
            dwell[n] = len(ts) * dt
            count[n] = len(runs)
            first[n] = runs[0][0] - start if runs else None
            mean[n] = float(np.mean([b - a for a, b in runs])) if runs else None
        stats.append(AOIPersonStats(track_id=t, dwell_s=dwell, glances=count, first_s=first, mean_glance_s=mean))
    return AOIAnalysis(names=tuple(names), frame_duration_s=dt, start_s=start, times_s=times, people=tuple(stats),
                       glances=tuple(sorted(glances, key=lambda g: (g.start_s, g.track_id, g.aoi))), timelines=lines)


class AOITotals:
    """Per-person seconds in each AOI, accumulated one frame at a time (the GUI's people panel).

    ``add(records_of_one_frame, dt_s)``: each record with an ``aoi`` counts ``dt_s`` for that person and AOI,
    as :class:`gazecam.analysis.GazeTotals` counts looking-at seconds.
    """

    def __init__(self) -> None:
        self._s: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(self, records: Sequence[GazeRecord], dt_s: float) -> None:
        if not (np.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"AOITotals.add: dt_s must be a finite number >= 0, got {dt_s}")
        for r in records:
            if r.track_id is not None and r.aoi is not None:
                self._s[r.track_id][r.aoi] += dt_s

    def person(self, track_id: int) -> dict[str, float]:
        """{AOI name: seconds} of one person, largest first."""
        return dict(sorted(self._s.get(track_id, {}).items(), key=lambda kv: -kv[1]))
