"""Social-gaze analysis on generated records with known episodes: exact seconds (to one frame duration)."""

from __future__ import annotations

import numpy as np
import pytest

from gazecam.analysis import (STATE_NOT_VISIBLE, STATE_OUT, STATE_PERSON, STATE_SCENE, AnalysisParams,
                              GazeTotals, analyze, attention_density, frame_duration, group_frames, joint_groups,
                              merge_runs, mutual_pairs)
from gazecam.errors import InputError
from gazecam.records import GazeRecord
from scenes import build, classroom

DT = 0.1


def _spans(episodes):
    return [(e.track_ids, round(e.start_s, 6), round(e.end_s, 6)) for e in episodes]


def test_per_person_seconds_and_looking_at_matrix():
    """#1: 4.8 s at #2, 4.2 s scene, 1.0 s out; #2: 6.0 s at #1, 2.0 s at #4, 2.0 s scene; #3: 6.0 s visible
    (3.0 scene, 3.0 at #4; gone for 4 s and back); #4: 5.0 s out, 5.0 s scene."""
    a = analyze(classroom())
    assert a.frame_duration_s == pytest.approx(DT)
    assert a.frames == 100 and a.duration_s == pytest.approx(10.0)
    got = {p.track_id: p for p in a.people}
    assert sorted(got) == [1, 2, 3, 4]
    exp = {1: (10.0, {2: 4.8}, 4.2, 1.0), 2: (10.0, {1: 6.0, 4: 2.0}, 2.0, 0.0),
           3: (6.0, {4: 3.0}, 3.0, 0.0), 4: (10.0, {}, 5.0, 5.0)}
    for tid, (visible, looking, scene, out) in exp.items():
        p = got[tid]
        assert p.visible_s == pytest.approx(visible)
        assert p.looking_at_s == pytest.approx(looking)
        assert p.scene_s == pytest.approx(scene) and p.out_of_frame_s == pytest.approx(out)
        assert p.people_s + p.scene_s + p.out_of_frame_s == pytest.approx(p.visible_s)
    assert got[1].percent_of_visible(got[1].looking_at_s[2]) == pytest.approx(48.0)
    assert got[3].percent_of_visible(got[3].looking_at_s[4]) == pytest.approx(50.0)


def test_mutual_gaze_short_gap_merges_long_gap_does_not():
    """#1<->#2 in frames 0-19 and 22-39 (a 0.2 s gap <= 0.25: one episode 0-4 s), then 50-59 after a 1 s gap."""
    a = analyze(classroom())
    assert _spans(a.mutual_gaze) == [((1, 2), 0.0, 4.0), ((1, 2), 5.0, 6.0)]
    assert [round(e.duration_s, 6) for e in a.mutual_gaze] == [4.0, 1.0]
    tight = analyze(classroom(), params=AnalysisParams(max_gap_s=0.1))  # the 0.2 s gap now splits
    assert _spans(tight.mutual_gaze) == [((1, 2), 0.0, 2.0), ((1, 2), 2.2, 4.0), ((1, 2), 5.0, 6.0)]
    long_only = analyze(classroom(), params=AnalysisParams(min_duration_s=1.5))
    assert _spans(long_only.mutual_gaze) == [((1, 2), 0.0, 4.0)]
    bridged = analyze(classroom(), params=AnalysisParams(max_gap_s=1.0))  # 1.0 s gap: joined
    assert _spans(bridged.mutual_gaze) == [((1, 2), 0.0, 6.0)]


def test_joint_attention_at_a_shared_point_and_a_shared_person():
    """{#1, #2} at points 0.028 apart in 6-8 s; {#2, #3} both look at #4 in 8-10 s."""
    a = analyze(classroom())
    assert _spans(a.joint_attention) == [((1, 2), 6.0, 8.0), ((2, 3), 8.0, 10.0)]
    point, person = a.joint_attention
    assert point.target.kind == "point" and point.target.xy_norm == pytest.approx((0.31, 0.71))
    assert person.target.kind == "person" and person.target.track_id == 4 and person.target.label == "person #4"
    narrow = analyze(classroom(), params=AnalysisParams(joint_radius=0.02))  # the points are 0.028 apart
    assert _spans(narrow.joint_attention) == [((2, 3), 8.0, 10.0)]


def test_json_has_exactly_the_report_keys():
    j = analyze(classroom()).to_json()
    assert set(j) == {"people", "mutual_gaze", "joint_attention"}
    assert set(j["people"][0]) == {"track_id", "visible_s", "looking_at_s", "scene_s", "out_of_frame_s"}
    assert j["people"][1]["looking_at_s"] == {"1": 6.0, "4": 2.0}
    assert set(j["mutual_gaze"][0]) == {"track_ids", "start_s", "end_s", "duration_s"}
    assert j["mutual_gaze"][0] == {"track_ids": [1, 2], "start_s": 0.0, "end_s": 4.0, "duration_s": 4.0}
    assert set(j["joint_attention"][0]) == {"track_ids", "start_s", "end_s", "duration_s", "target"}
    assert j["joint_attention"][1]["target"] == {"kind": "person", "track_id": 4}
    assert j["joint_attention"][0]["target"]["kind"] == "point"


def test_a_track_that_disappears_is_counted_but_not_bridged():
    """#5<->#6 mutual in 0-9; #5 gone in 10-11 (0.2 s: bridged); #6 gone in 20-29 (1 s: not); mutual again 30-39."""
    def p5(f):
        return None if 10 <= f < 12 else ("person", 6)

    def p6(f):
        return None if 20 <= f < 30 else ("person", 5)

    a = analyze(build(40, {5: p5, 6: p6}))
    assert _spans(a.mutual_gaze) == [((5, 6), 0.0, 2.0), ((5, 6), 3.0, 4.0)]
    got = {p.track_id: p for p in a.people}
    assert got[5].visible_s == pytest.approx(3.8) and got[6].visible_s == pytest.approx(3.0)
    assert got[5].looking_at_s[6] == pytest.approx(2.8)  # while #6 was gone #5's gaze hit nobody: scene
    assert got[5].scene_s == pytest.approx(1.0)


def test_frame_duration_is_the_median_step_per_frame_index():
    recs = [r for r in classroom() if r.frame % 3 != 1]  # frames without people write no records
    assert frame_duration(group_frames(recs)) == pytest.approx(DT)
    ntsc = build(30, {1: lambda f: ("scene", (0.5, 0.5))}, dt=1001 / 30000)  # times rounded to 0.1 ms
    a = analyze(ntsc)
    assert a.frame_duration_s == pytest.approx(1001 / 30000, abs=1e-4)
    assert a.people[0].visible_s == pytest.approx(30 * 1001 / 30000, abs=3e-3)
    one = build(1, {1: lambda f: ("out",)})
    assert frame_duration(group_frames(one)) == 0.0
    assert analyze(one, default_frame_duration_s=0.05).people[0].out_of_frame_s == pytest.approx(0.05)


def test_no_records_gives_an_empty_analysis():
    a = analyze([])
    assert a.people == () and a.mutual_gaze == () and a.joint_attention == () and a.frames == 0
    assert a.duration_s == 0.0
    assert a.to_json() == {"people": [], "mutual_gaze": [], "joint_attention": []}


def test_untracked_records_are_counted_not_attributed():
    recs = [GazeRecord(frame=0, time_s=0.0, track_id=None, gaze_xy_norm=(0.5, 0.5), in_frame=True,
                       looking_at=None, mutual=False)] + build(2, {1: lambda f: ("scene", (0.5, 0.5))})
    a = analyze(recs)
    assert a.untracked_records == 1 and [p.track_id for p in a.people] == [1]


def test_timelines_states_per_frame():
    a = analyze(classroom())
    t1, _, t3, _ = a.timelines
    assert t1.state[0] == STATE_PERSON and t1.target[0] == 2
    assert t1.state[20] == STATE_SCENE and t1.state[45] == STATE_OUT
    assert t3.state[50] == STATE_NOT_VISIBLE and t3.state[80] == STATE_PERSON and t3.target[80] == 4
    assert len(t1.state) == a.frames


def test_per_frame_relations():
    frame = group_frames(classroom())[0].records
    assert mutual_pairs(frame) == {(1, 2)}
    # #1 says mutual but #2 looks elsewhere: not mutual
    broken = [GazeRecord(frame=0, time_s=0.0, track_id=1, gaze_xy_norm=(0.2, 0.2), in_frame=True, looking_at=2,
                         mutual=True),
              GazeRecord(frame=0, time_s=0.0, track_id=2, gaze_xy_norm=(0.4, 0.2), in_frame=True, looking_at=3,
                         mutual=False)]
    assert mutual_pairs(broken) == set()
    # three points: 0-1 close, 1-2 close, 0-2 too far: complete linkage keeps one pair only
    pts = [(0.10, 0.5), (0.18, 0.5), (0.26, 0.5)]
    recs = [GazeRecord(frame=0, time_s=0.0, track_id=i, gaze_xy_norm=p, in_frame=True, looking_at=None,
                       mutual=False) for i, p in enumerate(pts)]
    groups = joint_groups(recs, radius=0.1)
    assert [g[0] for g in groups] == [(0, 1)]


def test_merge_runs_rules():
    times = [0.0, 0.1, 0.2, 0.5, 0.6, 1.5]
    assert merge_runs(times, frame_duration_s=0.1, max_gap_s=0.2, min_duration_s=0) == [
        (0.0, pytest.approx(0.7)), (1.5, pytest.approx(1.6))]
    assert merge_runs(times, frame_duration_s=0.1, max_gap_s=0.0, min_duration_s=0.25) == [(0.0, pytest.approx(0.3))]
    assert merge_runs([], frame_duration_s=0.1, max_gap_s=0.2, min_duration_s=0) == []


def test_running_totals_match_the_batch_analysis():
    frames = group_frames(classroom())
    batch = analyze(classroom())
    totals = GazeTotals()
    for fr in frames:
        totals.add(fr.records, batch.frame_duration_s)
    assert totals.people() == batch.people  # the same function, the same numbers
    assert totals.mutual_s(2, 1) == pytest.approx(4.8)  # 48 frames of mutual gaze
    assert totals.mutual_now == set()  # the last frame: nobody in mutual gaze
    totals.add(frames[0].records, 0.0)
    assert totals.mutual_now == {(1, 2)} and totals.mutual_s(1, 2) == pytest.approx(4.8)
    with pytest.raises(ValueError, match="dt_s"):
        totals.add(frames[0].records, -1.0)


def test_attention_density_peaks_where_people_look():
    d = attention_density(np.array([[0.25, 0.5]] * 5 + [[0.9, 0.1]]), width=40, height=20, sigma=1.0)
    assert d.shape == (20, 40) and d.max() == pytest.approx(1.0)
    assert np.unravel_index(d.argmax(), d.shape) == (10, 10)
    assert attention_density(np.zeros((0, 2))).max() == 0


@pytest.mark.parametrize("kw", [{"max_gap_s": -1}, {"min_duration_s": float("nan")}, {"joint_radius": -0.1}])
def test_bad_params_name_the_parameter(kw):
    with pytest.raises(InputError, match=next(iter(kw))):
        AnalysisParams(**kw)


def test_analysis_and_records_import_no_plotting_and_no_torch():
    import subprocess
    import sys

    code = ("import sys, gazecam.analysis, gazecam.records; "
            "print(sorted(m for m in ('matplotlib', 'torch', 'PyQt6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _reference_complete_linkage(points: np.ndarray, radius: float) -> list[list[int]]:
    """The definition, brute force: merge the closest pair of clusters (farthest members), first pair on ties."""
    clusters = [[i] for i in range(len(points))]
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    while len(clusters) > 1:
        best, pair = np.inf, None
        for i in range(len(clusters)):
            for j in range(i + 1, len(clusters)):
                d = float(dist[np.ix_(clusters[i], clusters[j])].max())
                if d < best:
                    best, pair = d, (i, j)
        if pair is None or best > radius + 1e-9:
            break
        i, j = pair
        clusters[i] = sorted(clusters[i] + clusters[j])
        del clusters[j]
    return clusters


@pytest.mark.parametrize("seed", range(6))
def test_complete_linkage_matches_its_definition(seed):
    from gazecam.analysis import _complete_linkage

    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 40))
    pts = np.round(rng.uniform(0, 1, (k, 2)) * 8) / 8 if seed % 2 else rng.uniform(0, 1, (k, 2))  # ties when odd
    for radius in (0.0, 0.1, 0.3, 2.0):
        assert _complete_linkage(pts, radius) == _reference_complete_linkage(pts, radius)


def test_timelines_are_sparse_and_match_the_dense_view():
    a = analyze(classroom())
    t3 = a.timelines[2]
    assert len(t3.index) == 60 and len(t3.state) == a.frames == 100  # #3 is gone for 4 s
    assert (t3.state[t3.index] == t3.states).all() and (np.delete(t3.state, t3.index) == STATE_NOT_VISIBLE).all()
