"""gazecam.coding: target runs, non-overlapping ELAN tiers, the EAF and events writers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from scenes import build

from gazecam.analysis import analyze
from gazecam.coding import (Segment, coding_from, eaf_text, events_text, exclusive_segments, record_target,
                            target_runs, write_elan)


def test_overlapping_episodes_become_exclusive_segments():
    items = [(0.0, 1.0, "#1 #2"), (0.5, 1.5, "#3 #4"), (1.5, 2.0, "#3 #4"), (3.0, 3.5, "#1 #2")]
    assert exclusive_segments(items) == (
        Segment(start_s=0.0, end_s=0.5, value="#1 #2"), Segment(start_s=0.5, end_s=1.0, value="#1 #2; #3 #4"),
        Segment(start_s=1.0, end_s=2.0, value="#3 #4"), Segment(start_s=3.0, end_s=3.5, value="#1 #2"))
    assert exclusive_segments([]) == ()


def test_runs_end_on_a_change_or_a_missing_frame():
    # #1: at #2 in 0-3, out of frame 4-5, gone 6-7, scene 8-9 (dt 0.1)
    def p1(f):
        return ("person", 2) if f < 4 else ("out",) if f < 6 else None if f < 8 else ("scene", (0.5, 0.5))

    recs = build(10, {1: p1, 2: lambda f: ("scene", (0.9, 0.9))})
    assert record_target(recs[0]) == "#2"
    runs = [(r.target, round(r.start_s, 6), round(r.end_s, 6)) for r in target_runs(recs, frame_duration_s=0.1)
            if r.track_id == 1]
    assert runs == [("#2", 0.0, 0.4), ("out of frame", 0.4, 0.6), ("scene", 0.8, 1.0)]


def test_overlapping_pairs_in_elan_have_no_overlaps_and_events_keep_episodes(tmp_path):
    recs = build(10, {1: lambda f: ("person", 2), 2: lambda f: ("person", 1),
                      3: lambda f: ("person", 4) if f >= 5 else ("scene", (0.1, 0.9)), 4: lambda f: ("person", 3)})
    analysis = analyze(recs)
    coding = coding_from(recs, analysis)
    assert [s.value for s in coding.mutual_segments] == ["#1 #2", "#1 #2; #3 #4"]
    root = ET.fromstring(eaf_text(coding))
    assert root.find("HEADER/MEDIA_DESCRIPTOR") is None  # no video known: nothing linked
    slots = {ts.get("TIME_SLOT_ID"): int(ts.get("TIME_VALUE")) for ts in root.iter("TIME_SLOT")}
    for tier in root.iter("TIER"):
        spans = sorted((slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")])
                       for a in tier.iter("ALIGNABLE_ANNOTATION"))
        assert all(a < b for a, b in spans) and all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    rows = [ln.split("\t") for ln in events_text(coding).splitlines()[1:]]
    assert [(r[0], r[1], r[3]) for r in rows if r[2] == "mutual_gaze"] == [("0.000", "1.000", "#1 #2"),
                                                                          ("0.500", "0.500", "#3 #4")]


def test_a_run_shorter_than_a_millisecond_is_left_out_of_elan():
    recs = build(3, {1: lambda f: ("scene", (0.5, 0.5))}, dt=0.0004)
    coding = coding_from(recs, analyze(recs))
    root = ET.fromstring(eaf_text(coding))
    assert [a.find("ANNOTATION_VALUE").text for a in root.iter("ALIGNABLE_ANNOTATION")] == ["scene"]  # 0-1 ms
    assert events_text(coding).splitlines()[1] == "0.000\t0.001\tlooks_at\t#1\tscene"


def test_write_elan_replaces_nothing_on_failure(tmp_path, monkeypatch):
    recs = build(3, {1: lambda f: ("scene", (0.5, 0.5))})
    coding = coding_from(recs, analyze(recs))
    target = tmp_path / "keep.eaf"
    target.write_text("the user's own annotations")
    import gazecam.coding as mod

    def boom(*a, **k):
        raise RuntimeError("serialisation failed")

    monkeypatch.setattr(mod, "eaf_text", boom)
    with pytest.raises(RuntimeError):
        write_elan(coding, target)
    assert target.read_text() == "the user's own annotations" and sorted(tmp_path.iterdir()) == [target]
    monkeypatch.undo()
    write_elan(coding, target)
    assert ET.parse(target).getroot().get("VERSION") == "3.0" and not list(tmp_path.glob("*.partial*"))


def test_joint_target_names_the_aoi_of_the_shared_point():
    from gazecam.aoi import parse_aois

    recs = build(5, {1: lambda f: ("scene", (0.3, 0.6)), 2: lambda f: ("scene", (0.32, 0.62))})
    analysis = analyze(recs)
    aois = parse_aois({"aois": [{"name": "poster $5", "xyxy_norm": [0.2, 0.5, 0.4, 0.7]}]})
    assert coding_from(recs, analysis).joint_target(0) == "point"
    assert coding_from(recs, analysis, aois=aois).joint_target(0) == "AOI:poster $5"
