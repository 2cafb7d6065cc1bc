"""Generated records with known social-gaze episodes (shared by the analysis and report tests)."""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import replace
from typing import Callable

from gazecam.records import GazeRecord, RECORD_FIELDS, RecordsMeta, write_meta

#: What one person does in one frame: ("person", id) | ("scene", (x, y)) | ("out",) | None (not visible).
Action = tuple | None


def build(n_frames: int, people: dict[int, Callable[[int], Action]], *, dt: float = 0.1) -> list[GazeRecord]:
    """Records of ``n_frames`` frames at ``dt`` s; ``people[id](frame)`` says what that person does.

    ``mutual`` is set exactly as gazecam's social stage does: A looks at B and B looks at A.
    """
    out = []
    for f in range(n_frames):
        acts = {tid: fn(f) for tid, fn in people.items()}
        acts = {tid: a for tid, a in acts.items() if a is not None}
        for tid, a in sorted(acts.items()):
            target = a[1] if a[0] == "person" and a[1] in acts else None
            mutual = target is not None and acts[target][0] == "person" and acts[target][1] == tid
            if a[0] == "person":
                point = (0.1 * target if target is not None else 0.5, 0.2)  # on the other's head
            elif a[0] == "scene":
                point = a[1]
            else:
                point = (0.5, 0.5)
            x = 0.1 * tid
            out.append(GazeRecord(frame=f, time_s=round(f * dt, 4), track_id=tid, gaze_xy_norm=point,
                                  in_frame=a[0] != "out", looking_at=target, mutual=mutual,
                                  head_xyxy=(x * 640, 0.1 * 360, (x + 0.05) * 640, 0.3 * 360),
                                  head_xyxy_norm=(x, 0.1, x + 0.05, 0.3),
                                  gaze_xy=(point[0] * 640, point[1] * 360), peak=0.5, inout=0.9, fresh=True))
    return out


def to_row(r: GazeRecord) -> dict[str, object]:
    """A GazeRecord as the JSON object a records file holds."""
    return {"frame": r.frame, "time": r.time_s, "track_id": r.track_id, "head_xyxy": list(r.head_xyxy or ()),
            "head_xyxy_norm": list(r.head_xyxy_norm or ()), "gaze_xy": list(r.gaze_xy or ()),
            "gaze_xy_norm": list(r.gaze_xy_norm), "peak": r.peak, "inout": r.inout, "in_frame": r.in_frame,
            "looking_at": r.looking_at, "mutual": r.mutual, "fresh": r.fresh, "aoi": r.aoi}


def write_jsonl(path: Path, records: list[GazeRecord]) -> Path:
    rows = [to_row(r) for r in records]
    assert all(tuple(row) == RECORD_FIELDS for row in rows)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def classroom() -> list[GazeRecord]:
    """100 frames at 10 fps (10 s), four people; the numbers each test expects are in its docstring.

    * #1: looks at #2 in frames 0-19, 22-39, 50-59; at the scene point (0.9, 0.9) in 20-21; out of frame in
      40-49; at the scene point (0.30, 0.70) in 60-99.
    * #2: looks at #1 in 0-59; at (0.32, 0.72) in 60-79 (within 0.1 of #1's point); at #4 in 80-99.
    * #3: visible in 0-29 (scene point (0.1, 0.1)) and 70-99 (looks at #4); gone in 30-69.
    * #4: out of frame in 0-49; scene point (0.8, 0.2) in 50-99.
    """
    def p1(f: int) -> Action:
        if f < 20 or 22 <= f < 40 or 50 <= f < 60:
            return ("person", 2)
        if f < 22:
            return ("scene", (0.9, 0.9))
        if f < 50:
            return ("out",)
        return ("scene", (0.30, 0.70))

    def p2(f: int) -> Action:
        return ("person", 1) if f < 60 else ("scene", (0.32, 0.72)) if f < 80 else ("person", 4)

    def p3(f: int) -> Action:
        return ("scene", (0.1, 0.1)) if f < 30 else None if f < 70 else ("person", 4)

    def p4(f: int) -> Action:
        return ("out",) if f < 50 else ("scene", (0.8, 0.2))

    return build(100, {1: p1, 2: p2, 3: p3, 4: p4})


# -- the AOI scene: two people, two AOIs, 30 frames at 10 fps (tests/test_aoi_report.py, tests/test_agreement.py)
S, D, N = (0.3, 0.6), (0.75, 0.6), (0.5, 0.9)  # screen, door, neither
AOI_DOC = {"aois": [{"name": "screen", "xyxy_norm": [0.15, 0.45, 0.45, 0.75]},
                    {"name": "door", "polygon": [[384, 162], [576, 162], [608, 270], [416, 288]]}]}  # px of 640x360


def p1(f: int):
    if f < 3:
        return ("scene", N)
    if f < 5:
        return ("person", 2)
    if f < 15 or 17 <= f < 20:
        return ("scene", S)
    if f < 17:
        return ("scene", N)
    if f < 25:
        return ("scene", D)
    return ("out",)


def p2(f: int):
    if f < 3 or 20 <= f < 23:
        return None
    if f < 10:
        return ("person", 1)
    if f < 15:
        return ("scene", D)
    return ("scene", S)


def write_old_records(folder: Path) -> Path:
    """``folder/talk.jsonl`` (+ its meta, a stand-in ``talk.mp4``): records of :func:`p1` and :func:`p2` without the
    ``aoi`` field (as written before AOIs existed); their AOIs are :data:`AOI_DOC`."""
    records = [replace(r, gaze_xy_norm=S) if not r.in_frame else r for r in build(30, {1: p1, 2: p2})]
    rows = []
    for r in records:
        rows.append({"frame": r.frame, "time": r.time_s, "track_id": r.track_id, "head_xyxy": list(r.head_xyxy),
                     "head_xyxy_norm": list(r.head_xyxy_norm), "gaze_xy": list(r.gaze_xy),
                     "gaze_xy_norm": list(r.gaze_xy_norm), "peak": r.peak, "inout": r.inout, "in_frame": r.in_frame,
                     "looking_at": r.looking_at, "mutual": r.mutual, "fresh": r.fresh})  # no "aoi": older records
    path = folder / "talk.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    write_meta(path, RecordsMeta(source=str(folder / "talk.mp4"), model="gazelle_dinov2_vitb14_inout", released=True,
                                 width=640, height=360, fps=10.0))
    (folder / "talk.mp4").write_bytes(b"not decoded by these tests")
    return path


def write_aoi_scene(folder: Path) -> tuple[Path, Path]:
    """(records, AOI file) of the AOI scene (tests/test_aoi_report.py's docstring says what happens when)."""
    aoi = folder / "aois.json"
    aoi.write_text(json.dumps(AOI_DOC))
    return write_old_records(folder), aoi
