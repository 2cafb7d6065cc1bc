"""`gazecam agree` and `gazecam report --human`: a human coding (ELAN .eaf / events TSV) against gazecam's records.

The records are test_aoi_report's two people and two AOIs (30 frames, dt = 0.1 s); gazecam's labels per frame:

* #1: other 0-2, #2 3-4, screen 5-14, other 15-16, screen 17-19, door 20-24, other 25-29 (out of frame).
* #2: not seen 0-2, #1 3-9, door 10-14, screen 15-19, not seen 20-22, screen 23-29.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from scenes import write_old_records

from gazecam.cli import main
from gazecam.errors import InputError

GAZECAM_1 = ["other"] * 3 + ["#2"] * 2 + ["screen"] * 10 + ["other"] * 2 + ["screen"] * 3 + ["door"] * 5 + ["other"] * 5
GAZECAM_2 = [None] * 3 + ["#1"] * 7 + ["door"] * 5 + ["screen"] * 5 + [None] * 3 + ["screen"] * 7


def _run(capsys, *argv: object) -> tuple[int, str]:
    code = main([*map(str, argv)])
    return code, capsys.readouterr().err


def eaf(tiers: dict[str, list[tuple[int, int, str]]], *, media: str | None = "talk.mp4", slots: bool = True) -> str:
    """A hand-written EAF 3.0 document: ``tiers`` = {name: [(start ms, end ms, value)]}."""
    times, anns = [], []
    for name, items in tiers.items():
        body = []
        for a, b, value in items:
            i = len(times)
            times += [a, b]
            body.append(f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a{i}" TIME_SLOT_REF1="ts{i + 1}" '
                        f'TIME_SLOT_REF2="ts{i + 2}"><ANNOTATION_VALUE>{value}</ANNOTATION_VALUE>'
                        "</ALIGNABLE_ANNOTATION></ANNOTATION>")
        anns.append(f'<TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="{name}">{"".join(body)}</TIER>')
    order = "".join(f'<TIME_SLOT TIME_SLOT_ID="ts{i + 1}" TIME_VALUE="{t}"/>' for i, t in enumerate(times)) \
        if slots else ""
    header = f'<MEDIA_DESCRIPTOR MEDIA_URL="file:///videos/{media}" MIME_TYPE="video/mp4"/>' if media else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ANNOTATION_DOCUMENT AUTHOR="coder" DATE="2026-01-01T00:00:00Z" '
            'FORMAT="3.0" VERSION="3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">'
            f'<HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">{header}</HEADER><TIME_ORDER>{order}</TIME_ORDER>'
            + "".join(anns) + '<LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" '
            'TIME_ALIGNABLE="true"/></ANNOTATION_DOCUMENT>\n')


@pytest.mark.parametrize("kind", ["--elan", "--events"])
def test_gazecams_own_export_agrees_perfectly_without_mapping(scene, tmp_path, capsys, kind):
    rec, aoi = scene
    human = tmp_path / ("talk.eaf" if kind == "--elan" else "talk.tsv")
    code, err = _run(capsys, "report", rec, "--aoi", aoi, kind, human)
    assert code == 0, err
    code, err = _run(capsys, "agree", human, rec, "--aoi", aoi, "--json", tmp_path / "a.json", "-o", tmp_path / "a.html")
    assert code == 0, err
    out = json.loads((tmp_path / "a.json").read_text())
    assert out["pooled"]["agreement"] == 1.0 and out["pooled"]["kappa"] == 1.0
    assert out["pooled"]["frames"] == 30 + 24 and out["pooled"]["not_seen"] == 6  # #2 unseen in 0-2 and 20-22
    people = {p["track_id"]: p for p in out["people"]}
    assert set(people) == {1, 2} and all(p["agreement"] == 1.0 and p["kappa"] == 1.0 for p in people.values())
    c = people[1]["confusion"]
    assert c["labels"] == ["#2", "screen", "door", "other"]
    assert c["counts"] == [[2, 0, 0, 0], [0, 13, 0, 0], [0, 0, 5, 0], [0, 0, 0, 10]]
    assert all(e["precision"] == 1.0 and e["recall"] == 1.0 for e in out["events"].values())
    html = (tmp_path / "a.html").read_text()
    assert "Cohen's kappa" in html and html.count("data:image/png;base64,") == 1


# A hand-written coding of #1 (tier "Kid") and #2 (tier "Mum") with its own words; frames by midpoint (t + 0.05).
KID = [(0, 500, "mum"), (500, 1200, "toy"), (1200, 1500, "door"), (1700, 2000, "toy"), (2000, 2500, "door"),
       (2500, 2800, "looks away")]
MUM = [(300, 1000, "kid"), (1000, 1500, "door"), (1500, 2800, "toy")]
# frames 0-27 are in the coded span (0-2.8 s); 28-29 are not coded
HUMAN_1 = ["#2"] * 5 + ["screen"] * 7 + ["door"] * 3 + ["other"] * 2 + ["screen"] * 3 + ["door"] * 5 + ["looks away"] * 3
HUMAN_2 = [None] * 3 + ["#1"] * 7 + ["door"] * 5 + ["screen"] * 5 + [None] * 3 + ["screen"] * 5


def hand_kappa(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """(p_o, kappa) from the confusion counts: p_e = sum over categories of p_human(c) * p_gazecam(c)."""
    n = len(pairs)
    p_o = sum(h == g for h, g in pairs) / n
    hum, gaz = Counter(h for h, _ in pairs), Counter(g for _, g in pairs)
    p_e = sum(hum[c] * gaz[c] for c in set(hum) | set(gaz)) / n ** 2
    return p_o, (p_o - p_e) / (1 - p_e)


def test_hand_written_eaf_kappa_matches_a_hand_computation(scene, tmp_path, capsys):
    rec, aoi = scene
    human = tmp_path / "coder.eaf"
    human.write_text(eaf({"Kid": KID, "Mum": MUM, "notes": [(0, 3000, "warm-up")]}))
    code, err = _run(capsys, "agree", human, rec, "--aoi", aoi, "--person", "Kid=1", "--person", "Mum=2",
                     "--value", "mum=#2", "--value", "kid=#1", "--value", "toy=screen", "--json", tmp_path / "a.json")
    assert code == 0, err
    assert "'looks away' (3 frames)" in err  # a value gazecam has no category for is named
    out = json.loads((tmp_path / "a.json").read_text())
    pairs1 = list(zip(HUMAN_1, GAZECAM_1[:28]))
    pairs2 = [(h, g) for h, g in zip(HUMAN_2, GAZECAM_2[:28]) if g is not None]
    people = {p["track_id"]: p for p in out["people"]}
    p_o, kappa = hand_kappa(pairs1)
    assert people[1]["frames"] == 28 and people[1]["agreement"] == pytest.approx(p_o, abs=1e-6)
    assert people[1]["kappa"] == pytest.approx(kappa, abs=1e-6) and 0 < kappa < 1
    assert (people[1]["not_coded"], people[1]["not_seen"]) == (2, 0)
    assert (people[2]["frames"], people[2]["not_coded"], people[2]["not_seen"]) == (22, 2, 6)
    assert people[2]["agreement"] == 1.0 and people[2]["kappa"] == pytest.approx(1.0, abs=1e-9)
    p_o, kappa = hand_kappa(pairs1 + pairs2)
    assert out["pooled"]["frames"] == 50 and out["pooled"]["agreement"] == pytest.approx(p_o, abs=1e-6)
    assert out["pooled"]["kappa"] == pytest.approx(kappa, abs=1e-6)
    c = people[1]["confusion"]  # rows human, columns gazecam
    expected = Counter(pairs1)
    assert {(h, g): c["counts"][i][j] for i, h in enumerate(c["labels"]) for j, g in enumerate(c["labels"])
            if c["counts"][i][j]} == dict(expected)
    # events: #1's door 1.2-1.5 s has no gazecam door; everything else matches (worked out in KID / MUM)
    assert out["events"]["person"] == {"human": 2, "gazecam": 2, "matched_human": 2, "matched_gazecam": 2,
                                       "precision": 1.0, "recall": 1.0, "f1": 1.0}
    aoi_events = out["events"]["aoi"]
    assert (aoi_events["human"], aoi_events["gazecam"], aoi_events["matched_human"]) == (7, 6, 6)
    assert aoi_events["recall"] == pytest.approx(6 / 7, abs=1e-6) and aoi_events["precision"] == 1.0
    assert out["ignored_tiers"] == ["notes"]


def test_kappa_against_sklearn_and_by_hand_on_a_small_table():
    from gazecam.agreement import _scores

    human = ["a"] * 20 + ["b"] * 15 + ["a"] * 5 + ["b"] * 10  # a worked 2x2 table: 20 5 / 15 10 (n = 50)
    gaz = ["a"] * 20 + ["a"] * 15 + ["b"] * 5 + ["b"] * 10
    s = _scores(human, gaz, ["a", "b"], 0, 0)
    # p_o = 30/50 = 0.6; p_e = (25/50)(35/50) + (25/50)(15/50) = 0.35 + 0.15 = 0.5; kappa = 0.1 / 0.5 = 0.2
    assert s.agreement == pytest.approx(0.6) and s.kappa == pytest.approx(0.2, abs=1e-12)
    assert s.confusion.counts == ((20, 5), (15, 10))
    one = _scores(["a"] * 4, ["a"] * 4, ["a"], 0, 0)
    assert one.agreement == 1.0 and one.kappa is None  # one category throughout: kappa is undefined


def _bad_cases(tmp_path, rec, aoi):
    good = {"#1 looks at": [(0, 500, "#2"), (500, 1000, "AOI:screen")]}
    no_slots = tmp_path / "noslots.eaf"
    no_slots.write_text(eaf(good, slots=False))
    overlap = tmp_path / "overlap.eaf"
    overlap.write_text(eaf({"#1 looks at": [(0, 600, "#2"), (500, 1000, "AOI:screen")]}))
    fine = tmp_path / "fine.eaf"
    fine.write_text(eaf(good))
    other_video = tmp_path / "other.eaf"
    other_video.write_text(eaf(good, media="lecture.mp4"))
    return [
        ([no_slots, rec], str(no_slots), r"no time slots"),
        ([overlap, rec], str(overlap), r"tier '#1 looks at' has overlapping annotations '#2' \(0\.000-0\.600 s\)"),
        ([fine, rec, "--person", "Nobody=1"], str(fine), r"--person Nobody=1: .* has no tier 'Nobody'"),
        ([fine, rec, "--person", "#1 looks at=7"], str(rec), r"--person #1 looks at=7: .* no person #7"),
        ([fine, rec, "--value", "ghost=#2"], str(fine), r"--value ghost=#2: no annotation .* value 'ghost'"),
        ([fine, rec, "--aoi", aoi, "--value", "#2=shelf"], str(rec), r"--value #2=shelf: 'shelf' is no person or AOI"),
        ([other_video, rec], str(rec), r"records of talk\.mp4, but .*other\.eaf codes lecture\.mp4"),
    ]


def test_bad_input_one_line_error_naming_file_and_item_nothing_written(scene, tmp_path, capsys):
    rec, aoi = scene
    outs = [tmp_path / "a.html", tmp_path / "a.json"]
    for argv, file, pattern in _bad_cases(tmp_path, rec, aoi):
        code, err = _run(capsys, "agree", *argv, "-o", outs[0], "--json", outs[1])
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1, (argv, err)
        assert file in lines[0] and re.search(pattern, lines[0]), lines[0]
        assert "Traceback" not in err and not any(p.exists() for p in outs)
        assert not list(tmp_path.glob("*.partial*"))


def test_no_tier_names_a_person(scene, tmp_path, capsys):
    rec, _ = scene
    human = tmp_path / "coder.eaf"
    human.write_text(eaf({"Kid": KID}))
    code, err = _run(capsys, "agree", human, rec)
    assert code == 1 and "no tier names a person (tiers: 'Kid')" in err and "--person TIER=TRACK_ID" in err


def test_output_over_an_input_is_refused(scene, tmp_path, capsys):
    rec, aoi = scene
    human = tmp_path / "talk.tsv"
    assert _run(capsys, "report", rec, "--aoi", aoi, "--events", human)[0] == 0
    before = human.read_bytes()
    code, err = _run(capsys, "agree", human, rec, "--aoi", aoi, "--json", human)
    assert code == 1 and "input" in err and human.read_bytes() == before


def test_report_shows_the_human_timeline_under_gazecams(scene, tmp_path, capsys):
    rec, aoi = scene
    human = tmp_path / "coder.eaf"
    human.write_text(eaf({"Kid": KID, "Mum": MUM}))
    code, err = _run(capsys, "report", rec, "--aoi", aoi, "-o", tmp_path / "r.html", "--human", human,
                     "--person", "Kid=1", "--person", "Mum=2", "--value", "mum=#2", "--value", "kid=#1",
                     "--value", "toy=screen", "--json", tmp_path / "r.json")
    assert code == 0, err
    human_json = json.loads((tmp_path / "r.json").read_text())["human"]
    assert human_json["pooled"]["frames"] == 50 and [p["tier"] for p in human_json["people"]] == ["Kid", "Mum"]
    html = (tmp_path / "r.html").read_text()
    assert "Human coder" in html and "Kid" in html and html.count("data:image/png;base64,") == 7
    code, err = _run(capsys, "report", rec, "-o", tmp_path / "r2.html", "--human", human)
    assert code == 1 and "no tier names a person" in err and not (tmp_path / "r2.html").exists()


def test_eaf_without_schema_attribute_and_with_reference_tier_reads(tmp_path):
    """ELAN writes xsi:noNamespaceSchemaLocation, hand-made documents may not; a reference tier takes its
    parent's times."""
    from gazecam.coding_read import read_eaf

    text = eaf({"#1 looks at": [(0, 500, "#2"), (500, 1250, "AOI:screen")]}, media=None)
    text = text.replace('xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd"', "")
    text = text.replace("</ANNOTATION_DOCUMENT>", '<TIER LINGUISTIC_TYPE_REF="default-lt" PARENT_REF="#1 looks at" '
                        'TIER_ID="comment"><ANNOTATION><REF_ANNOTATION ANNOTATION_ID="r1" ANNOTATION_REF="a2">'
                        "<ANNOTATION_VALUE>sure</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION></TIER>"
                        "</ANNOTATION_DOCUMENT>")
    path = tmp_path / "hand.eaf"
    path.write_text(text)
    doc = read_eaf(path)
    assert doc.media == () and doc.tier_names == ("#1 looks at", "comment")
    assert [(a.start_s, a.end_s, a.value) for a in doc.tier("#1 looks at").annotations] == [
        (0.0, 0.5, "#2"), (0.5, 1.25, "AOI:screen")]
    assert [(a.start_s, a.end_s, a.value) for a in doc.tier("comment").annotations] == [(0.5, 1.25, "sure")]
    path.write_text("<ANNOTATION_DOCUMENT><TIER")
    with pytest.raises(InputError, match=r"hand\.eaf: not a readable ELAN document"):
        read_eaf(path)


def test_coding_past_the_records_counts_unseen_frames_and_no_overlap_is_an_error(scene, tmp_path, capsys):
    rec, _ = scene
    human = tmp_path / "long.tsv"
    human.write_text("onset\tduration\ttrial_type\tperson\ttarget\n0.5\t0.5\tlooks_at\t#2\t#1\n"
                     "1.0\t3.0\tlooks_at\t#2\tscene\n0.0\t1.0\tmutual_gaze\t#1 #2\tn/a\n")
    code, err = _run(capsys, "agree", human, rec, "--json", tmp_path / "a.json")
    assert code == 0, err
    (person,) = json.loads((tmp_path / "a.json").read_text())["people"]
    # coded 0.5-4.0 s: frames 5-39 by midpoint; #2 is seen in 5-19 and 23-29 (22 frames), not in 20-22 and
    # 30-39 (13: the coding goes on after the records end); seen in 3-4, before the coding (2 not coded)
    assert (person["track_id"], person["frames"], person["not_seen"], person["not_coded"]) == (2, 22, 13, 2)
    human.write_text("onset\tduration\tperson\ttarget\n10\t5\t#2\t#1\n")
    code, err = _run(capsys, "agree", human, rec, "--json", tmp_path / "b.json")
    assert code == 1 and "codes 10.00-15.00 s" in err and "records: 0.00-3.00 s" in err
    assert not (tmp_path / "b.json").exists()


def test_the_records_of_the_linked_video_are_picked(scene, tmp_path, capsys):
    rec, aoi = scene
    other = tmp_path / "lecture"
    other.mkdir()
    other_rec = write_old_records(other)  # the same gaze; its sidecar is rewritten to name lecture.mp4
    from gazecam.records import RecordsMeta, write_meta

    write_meta(other_rec, RecordsMeta(source=str(other / "lecture.mp4"), model="m", released=True, width=640,
                                      height=360, fps=10.0))
    human = tmp_path / "talk.eaf"
    assert _run(capsys, "report", rec, "--aoi", aoi, "--elan", human)[0] == 0
    code, err = _run(capsys, "agree", human, other_rec, rec, "--aoi", aoi, "--json", tmp_path / "a.json")
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text())["pooled"]["kappa"] == 1.0
    code, err = _run(capsys, "agree", human, other_rec, "--aoi", aoi)
    assert code == 1 and "records of lecture.mp4" in err and "codes talk.mp4" in err
