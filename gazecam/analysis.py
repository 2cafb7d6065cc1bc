"""Who looks at whom, for how long: social-gaze analysis as pure functions on records.

Input: :class:`~gazecam.records.GazeRecord` lists (one video), as read by :func:`gazecam.records.read_records`
or made from live results by :func:`gazecam.records.records_from_result`.  ``gazecam report`` and the GUI's
people panel both use these functions; nothing here plots or does I/O (numpy only).

Rules (seconds throughout, ``_s``):

* **Frame duration** ``dt``: the median step of ``time`` per frame index between consecutive frames that
  have records (frames without people write no records, so a jump of k frames counts as k steps).
* **Per person** (track id): each person-frame counts ``dt``: visible; looking at another person
  (``looking_at``); looking at an in-frame point that is not a person (scene); looking out of frame
  (``in_frame`` false).  Records without a track id are counted, not attributed.
* **Mutual gaze**: frames where A's and B's records both hold ``mutual`` for each other.
* **Joint attention**: in one frame, two or more people who look at the same third person (target: that
  person), or whose in-frame gaze points that are not on a person all lie within ``joint_radius``
  (normalised units) of each other (target: their mean point; complete linkage, so every pair of the group
  is within the radius).  A group is identified by its members and its target person / "point".
* **Episodes**: a frame at ``t`` covers ``[t, t + dt)``; frames of the same pair / group whose covered
  spans are separated by at most ``max_gap_s`` form one episode (so a track that disappears for longer
  is not bridged); episodes shorter than ``min_duration_s`` are dropped.  ``end_s`` = last frame's time +
  ``dt``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import InputError
from .records.format import GazeRecord

__all__ = ["AnalysisParams", "FrameRecords", "PersonTimes", "JointTarget", "Episode", "PersonTimeline",
           "GazeAnalysis", "GazeTotals", "group_frames", "frame_duration", "mutual_pairs", "joint_groups",
           "merge_runs", "timelines", "attention_density", "analyze", "STATE_NOT_VISIBLE", "STATE_PERSON",
           "STATE_SCENE", "STATE_OUT"]

#: Timeline states per person and frame (:class:`PersonTimeline`).
STATE_NOT_VISIBLE, STATE_PERSON, STATE_SCENE, STATE_OUT = 0, 1, 2, 3


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisParams:
    """The episode rules: ``max_gap_s`` (default 0.25), ``min_duration_s`` (0), ``joint_radius`` (0.1, normalised)."""

    max_gap_s: float = 0.25
    min_duration_s: float = 0.0
    joint_radius: float = 0.1

    def __post_init__(self) -> None:
        for name in ("max_gap_s", "min_duration_s", "joint_radius"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise InputError(f"{name}={v!r}: expected a finite number >= 0")


@dataclass(frozen=True, slots=True)
class FrameRecords:
    """The records of one frame (one per person), sorted by track id (untracked last)."""

    frame: int
    time_s: float
    records: tuple[GazeRecord, ...]

    def by_id(self) -> dict[int, GazeRecord]:
        return {r.track_id: r for r in self.records if r.track_id is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonTimes:
    """Seconds per person: visible = looking at people + scene + out of frame."""

    track_id: int
    visible_s: float
    looking_at_s: dict[int, float]  # other track id -> seconds
    scene_s: float
    out_of_frame_s: float

    @property
    def people_s(self) -> float:
        return float(sum(self.looking_at_s.values()))

    def percent_of_visible(self, seconds: float) -> float:
        return 100.0 * seconds / self.visible_s if self.visible_s > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class JointTarget:
    """What a joint-attention group looks at: a person (``track_id``) or an in-frame point (``xy_norm``)."""

    kind: Literal["person", "point"]
    track_id: int | None = None
    xy_norm: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if (self.kind == "person") != (self.track_id is not None) or self.kind not in ("person", "point"):
            raise ValueError(f"JointTarget: kind={self.kind!r} with track_id={self.track_id!r}")

    @property
    def label(self) -> str:
        if self.kind == "person":
            return f"person #{self.track_id}"
        if self.xy_norm is None:
            return "a point"
        return f"point ({self.xy_norm[0]:.2f}, {self.xy_norm[1]:.2f})"

    def to_json(self) -> dict[str, object]:
        if self.kind == "person":
            return {"kind": "person", "track_id": self.track_id}
        return {"kind": "point", "xy_norm": None if self.xy_norm is None else [round(v, 4) for v in self.xy_norm]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """A mutual-gaze or joint-attention episode: who, when (``[start_s, end_s)``) and, for joint, the target."""

    track_ids: tuple[int, ...]
    start_s: float
    end_s: float
    target: JointTarget | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonTimeline:
    """One person's state in the analysed frames where the person is visible (sparse: memory grows with the
    person's records, not with the video's length times the number of people).

    ``frames``: F, the number of analysed frames (:attr:`GazeAnalysis.times_s`); ``index``: (K,) int64
    increasing positions in ``0..F-1`` where the person has a record; ``states``: (K,) int8
    :data:`STATE_PERSON` / :data:`STATE_SCENE` / :data:`STATE_OUT`; ``targets``: (K,) int64 track id
    looked at, -1 otherwise.  :attr:`state` / :attr:`target` give the dense (F,) arrays.
    """

    track_id: int
    frames: int
    index: np.ndarray
    states: np.ndarray
    targets: np.ndarray

    def __post_init__(self) -> None:
        if not (self.index.shape == self.states.shape == self.targets.shape and self.index.ndim == 1):
            raise ValueError(f"PersonTimeline: index {self.index.shape}, states {self.states.shape} and targets "
                             f"{self.targets.shape} differ")
        if len(self.index) and not (0 <= self.index[0] and self.index[-1] < self.frames):
            raise ValueError(f"PersonTimeline: index outside 0..{self.frames - 1}")

    @property
    def state(self) -> np.ndarray:
        """(F,) int8 state per analysed frame (:data:`STATE_NOT_VISIBLE` where the person has no record)."""
        out = np.full(self.frames, STATE_NOT_VISIBLE, np.int8)
        out[self.index] = self.states
        return out

    @property
    def target(self) -> np.ndarray:
        """(F,) int64 track id looked at per analysed frame, -1 otherwise."""
        out = np.full(self.frames, -1, np.int64)
        out[self.index] = self.targets
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class GazeAnalysis:
    """Everything :func:`analyze` finds in one video's records."""

    params: AnalysisParams
    frame_duration_s: float
    times_s: np.ndarray  # (F,) time of each frame with records
    people: tuple[PersonTimes, ...]  # sorted by track id
    mutual_gaze: tuple[Episode, ...]  # sorted by start
    joint_attention: tuple[Episode, ...]  # sorted by start
    timelines: tuple[PersonTimeline, ...]  # same order as people
    gaze_points_norm: dict[int, np.ndarray] = field(default_factory=dict)  # id -> (K, 2) in-frame gaze points
    untracked_records: int = 0

    @property
    def frames(self) -> int:
        return int(len(self.times_s))

    @property
    def start_s(self) -> float:
        return float(self.times_s[0]) if self.frames else 0.0

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1]) + self.frame_duration_s if self.frames else 0.0

    @property
    def duration_s(self) -> float:
        """Span covered by the records: first frame's time to the last frame's time + one frame."""
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, object]:
        """The numbers with the report's JSON keys: ``people``, ``mutual_gaze``, ``joint_attention``."""
        def s(v: float) -> float:
            return round(float(v), 6)

        return {
            "people": [{"track_id": p.track_id, "visible_s": s(p.visible_s),
                        "looking_at_s": {str(k): s(v) for k, v in sorted(p.looking_at_s.items())},
                        "scene_s": s(p.scene_s), "out_of_frame_s": s(p.out_of_frame_s)} for p in self.people],
            "mutual_gaze": [{"track_ids": list(e.track_ids), "start_s": s(e.start_s), "end_s": s(e.end_s),
                             "duration_s": s(e.duration_s)} for e in self.mutual_gaze],
            "joint_attention": [{"track_ids": list(e.track_ids), "start_s": s(e.start_s), "end_s": s(e.end_s),
                                 "duration_s": s(e.duration_s),
                                 "target": e.target.to_json() if e.target else None} for e in self.joint_attention],
        }


# --------------------------------------------------------------------------- frames and per-frame relations
def group_frames(records: Iterable[GazeRecord]) -> list[FrameRecords]:
    """Records grouped by frame index, in frame order (each frame's records sorted by track id)."""
    by_frame: dict[int, list[GazeRecord]] = defaultdict(list)
    for r in records:
        by_frame[r.frame].append(r)
    out = []
    for index in sorted(by_frame):
        recs = sorted(by_frame[index], key=lambda r: (r.track_id is None, r.track_id or 0))
        out.append(FrameRecords(index, recs[0].time_s, tuple(recs)))
    return out


def frame_duration(frames: Sequence[FrameRecords], *, default_s: float | None = None) -> float:
    """Median step of ``time`` per frame index (see the module docstring); ``default_s`` (or 0) with one frame."""
    steps = [(b.time_s - a.time_s) / (b.frame - a.frame) for a, b in zip(frames, frames[1:])
             if b.frame > a.frame and b.time_s > a.time_s]
    if steps:
        return float(statistics.median(steps))
    return float(default_s) if default_s is not None and default_s > 0 else 0.0


def mutual_pairs(records: Iterable[GazeRecord]) -> set[tuple[int, int]]:
    """``(a, b)`` with ``a < b`` for every pair whose records both hold ``mutual`` for each other."""
    by_id = {r.track_id: r for r in records if r.track_id is not None}
    pairs = set()
    for a, r in by_id.items():
        b = r.looking_at
        if r.mutual and b is not None and b != a and b in by_id:
            other = by_id[b]
            if other.mutual and other.looking_at == a:
                pairs.add((min(a, b), max(a, b)))
    return pairs


def _complete_linkage(points: np.ndarray, radius: float) -> list[list[int]]:
    """Clusters of row indices whose pairwise distances are all <= radius (greedy, closest first).

    Agglomerative complete linkage: repeatedly merge the two clusters whose farthest members are closest
    (ties: the pair of lowest first members), while that distance is within ``radius``.  The cluster
    distances are kept in one matrix (a merged cluster's row is the maximum of its parts' rows), so each
    merge costs O(K) after an O(K^2) argmin; clusters come out ordered by their first member.
    """
    k = len(points)
    if k < 2:
        return [[i] for i in range(k)]
    full = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)  # (K, K) cluster distances
    dist = full.copy()
    dist[np.tril_indices(k)] = np.inf  # pairs (i < j) only; row i = the cluster whose first member is i
    members: dict[int, list[int]] = {i: [i] for i in range(k)}
    while len(members) > 1:
        flat = int(np.argmin(dist))  # row-major: the first minimal pair (i, j), i < j
        i, j = divmod(flat, k)
        if not dist[i, j] <= radius + 1e-9:
            break
        members[i] = sorted(members[i] + members.pop(j))
        merged = np.maximum(full[i], full[j])  # complete linkage: the farther of the two
        full[i, :] = merged
        full[:, i] = merged
        full[j, :] = np.inf
        full[:, j] = np.inf
        row = merged.copy()
        row[: i + 1] = np.inf
        dist[i, :] = row
        col = merged.copy()
        col[i:] = np.inf
        dist[:, i] = col
        dist[j, :] = np.inf
        dist[:, j] = np.inf  # j is gone: its row and column never win again
    return [members[i] for i in sorted(members)]


def joint_groups(records: Iterable[GazeRecord], *, radius: float) -> list[tuple[tuple[int, ...], JointTarget]]:
    """Joint-attention groups of one frame: ``(sorted track ids, target)`` (see the module docstring)."""
    tracked = [r for r in records if r.track_id is not None]
    out: list[tuple[tuple[int, ...], JointTarget]] = []
    by_target: dict[int, list[int]] = defaultdict(list)
    for r in tracked:
        if r.looking_at is not None and r.looking_at != r.track_id:
            by_target[r.looking_at].append(r.track_id)  # type: ignore[arg-type]
    for target, ids in sorted(by_target.items()):
        if len(ids) >= 2:
            out.append((tuple(sorted(ids)), JointTarget(kind="person", track_id=target)))
    scene = [r for r in tracked if r.in_frame and r.looking_at is None and all(map(math.isfinite, r.gaze_xy_norm))]
    if len(scene) >= 2:
        pts = np.array([r.gaze_xy_norm for r in scene], np.float64)  # (K, 2)
        for cluster in _complete_linkage(pts, radius):
            if len(cluster) >= 2:
                mean = pts[cluster].mean(axis=0)
                ids = tuple(sorted(scene[i].track_id for i in cluster))  # type: ignore[misc]
                out.append((ids, JointTarget(kind="point", xy_norm=(float(mean[0]), float(mean[1])))))
    return out


def merge_runs(times_s: Sequence[float], *, frame_duration_s: float, max_gap_s: float,
               min_duration_s: float) -> list[tuple[float, float]]:
    """Episodes ``(start_s, end_s)`` from the sorted times of the frames where something holds.

    A frame at ``t`` covers ``[t, t + dt)``; consecutive frames whose spans are at most ``max_gap_s`` apart
    join; episodes shorter than ``min_duration_s`` are dropped.  Comparisons allow a tenth of a frame for
    the rounding of recorded times.
    """
    dt = frame_duration_s
    tol = 0.1 * dt if dt > 0 else 1e-9
    out: list[tuple[float, float]] = []
    start = prev = None
    for t in times_s:
        if start is None:
            start = prev = t
            continue
        if t - (prev + dt) > max_gap_s + tol:  # type: ignore[operator]
            out.append((start, prev + dt))  # type: ignore[operator]
            start = t
        prev = t
    if start is not None:
        out.append((start, prev + dt))  # type: ignore[operator]
    return [(a, b) for a, b in out if b - a >= min_duration_s - tol]


# --------------------------------------------------------------------------- running totals (report + GUI)
class GazeTotals:
    """Per-person seconds, accumulated one frame at a time: ``add(records_of_one_frame, dt_s)``.

    The report feeds it every frame with the median frame duration; the GUI's people panel feeds it each
    live result with the time since the previous one.  :meth:`people` gives :class:`PersonTimes`.
    """

    def __init__(self) -> None:
        self._visible: dict[int, float] = defaultdict(float)
        self._scene: dict[int, float] = defaultdict(float)
        self._out: dict[int, float] = defaultdict(float)
        self._looking: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self._mutual: dict[tuple[int, int], float] = defaultdict(float)
        self.untracked_records = 0
        self.mutual_now: set[tuple[int, int]] = set()  # pairs in mutual gaze in the last frame added

    def add(self, records: Sequence[GazeRecord], dt_s: float) -> None:
        """Count one frame's records for ``dt_s`` seconds (0 is allowed: the frame only updates ``mutual_now``)."""
        if not (math.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"GazeTotals.add: dt_s must be a finite number >= 0, got {dt_s}")
        for r in records:
            if r.track_id is None:
                self.untracked_records += 1
                continue
            tid = r.track_id
            self._visible[tid] += dt_s
            if not r.in_frame:
                self._out[tid] += dt_s
            elif r.looking_at is not None and r.looking_at != tid:
                self._looking[tid][r.looking_at] += dt_s
            else:
                self._scene[tid] += dt_s
        self.mutual_now = mutual_pairs(records)
        for pair in self.mutual_now:
            self._mutual[pair] += dt_s

    def person(self, track_id: int) -> PersonTimes:
        return PersonTimes(track_id=track_id, visible_s=self._visible.get(track_id, 0.0),
                           looking_at_s=dict(sorted(self._looking.get(track_id, {}).items())),
                           scene_s=self._scene.get(track_id, 0.0), out_of_frame_s=self._out.get(track_id, 0.0))

    def people(self) -> tuple[PersonTimes, ...]:
        return tuple(self.person(t) for t in sorted(self._visible))

    def mutual_s(self, a: int, b: int) -> float:
        """Seconds of mutual gaze between ``a`` and ``b`` so far."""
        return self._mutual.get((min(a, b), max(a, b)), 0.0)


# --------------------------------------------------------------------------- timelines, density
def timelines(frames: Sequence[FrameRecords], track_ids: Sequence[int]) -> tuple[PersonTimeline, ...]:
    """Each person's state and target in the frames where the person is visible (``frames`` order)."""
    wanted = set(track_ids)
    rows: dict[int, tuple[list[int], list[int], list[int]]] = {t: ([], [], []) for t in track_ids}
    for f, fr in enumerate(frames):
        for r in fr.records:
            if r.track_id is None or r.track_id not in wanted:
                continue
            index, states, targets = rows[r.track_id]
            index.append(f)
            if not r.in_frame:
                states.append(STATE_OUT)
                targets.append(-1)
            elif r.looking_at is not None and r.looking_at != r.track_id:
                states.append(STATE_PERSON)
                targets.append(r.looking_at)
            else:
                states.append(STATE_SCENE)
                targets.append(-1)
    return tuple(PersonTimeline(track_id=t, frames=len(frames), index=np.array(rows[t][0], np.int64),
                                states=np.array(rows[t][1], np.int8), targets=np.array(rows[t][2], np.int64))
                 for t in track_ids)


def attention_density(points_norm: np.ndarray, *, width: int = 160, height: int = 90,
                      sigma: float = 2.0) -> np.ndarray:
    """(height, width) float32 density of normalised gaze points, Gaussian-smoothed, max 1 (zeros if none)."""
    pts = np.asarray(points_norm, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    grid = np.zeros((height, width), np.float64)
    if len(pts):
        cols = np.clip((pts[:, 0] * width).astype(np.int64), 0, width - 1)
        rows = np.clip((pts[:, 1] * height).astype(np.int64), 0, height - 1)
        np.add.at(grid, (rows, cols), 1.0)
    if sigma > 0 and grid.any():
        r = max(1, int(math.ceil(3 * sigma)))
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        grid = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 1, grid)
        grid = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), 0, grid)
    peak = grid.max()
    return (grid / peak if peak > 0 else grid).astype(np.float32)


# --------------------------------------------------------------------------- the whole analysis
def _episodes(times_by_key: dict, dt: float, params: AnalysisParams) -> list[tuple[object, float, float]]:
    out = []
    for key, times in times_by_key.items():
        for start, end in merge_runs(times, frame_duration_s=dt, max_gap_s=params.max_gap_s,
                                     min_duration_s=params.min_duration_s):
            out.append((key, start, end))
    return out


def analyze(records: Iterable[GazeRecord], *, params: AnalysisParams | None = None,
            frame_duration_s: float | None = None, default_frame_duration_s: float | None = None) -> GazeAnalysis:
    """Analyse one video's records (see the module docstring for the rules).

    ``frame_duration_s``: use this instead of the median step; ``default_frame_duration_s``: used only when
    the records have fewer than two frames (e.g. ``1 / fps`` from the records' sidecar).
    """
    params = params or AnalysisParams()
    frames = group_frames(records)
    dt = (float(frame_duration_s) if frame_duration_s is not None
          else frame_duration(frames, default_s=default_frame_duration_s))
    totals = GazeTotals()
    mutual_times: dict[tuple[int, int], list[float]] = defaultdict(list)
    joint_times: dict[tuple[tuple[int, ...], str, int | None], list[float]] = defaultdict(list)
    joint_points: dict[tuple[tuple[int, ...], str, int | None], list[tuple[float, float]]] = defaultdict(list)
    points: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for fr in frames:
        totals.add(fr.records, dt)
        for pair in totals.mutual_now:
            mutual_times[pair].append(fr.time_s)
        for ids, target in joint_groups(fr.records, radius=params.joint_radius):
            key = (ids, target.kind, target.track_id)
            joint_times[key].append(fr.time_s)
            if target.xy_norm is not None:
                joint_points[key].append(target.xy_norm)
        for r in fr.records:
            if r.track_id is not None and r.in_frame and all(map(math.isfinite, r.gaze_xy_norm)):
                points[r.track_id].append(r.gaze_xy_norm)
    people = totals.people()
    mutual = [Episode(track_ids=pair, start_s=a, end_s=b)  # type: ignore[arg-type]
              for pair, a, b in _episodes(mutual_times, dt, params)]
    joint = []
    times_arr = np.array([fr.time_s for fr in frames], np.float64)
    key_arrays: dict[object, tuple[np.ndarray, np.ndarray]] = {}
    for key, a, b in _episodes(joint_times, dt, params):
        ids, kind, person = key  # type: ignore[misc]
        if kind == "person":
            target = JointTarget(kind="person", track_id=person)
        else:  # the mean point over the episode's frames (times are sorted: two binary searches)
            if key not in key_arrays:
                key_arrays[key] = (np.array(joint_times[key], np.float64), np.array(joint_points[key], np.float64))
            t, xy = key_arrays[key]
            lo, hi = np.searchsorted(t, a - 1e-9, "left"), np.searchsorted(t, b - dt + 1e-9, "right")
            pts = xy[lo:hi]
            target = JointTarget(kind="point", xy_norm=(float(pts[:, 0].mean()), float(pts[:, 1].mean())))
        joint.append(Episode(track_ids=ids, start_s=a, end_s=b, target=target))
    ids_sorted = [p.track_id for p in people]
    return GazeAnalysis(
        params=params, frame_duration_s=dt, times_s=times_arr, people=people,
        mutual_gaze=tuple(sorted(mutual, key=lambda e: (e.start_s, e.track_ids))),
        joint_attention=tuple(sorted(joint, key=lambda e: (e.start_s, e.track_ids))),
        timelines=timelines(frames, ids_sorted),
        gaze_points_norm={t: np.array(points[t], np.float32).reshape(-1, 2) for t in ids_sorted},
        untracked_records=totals.untracked_records,
    )
