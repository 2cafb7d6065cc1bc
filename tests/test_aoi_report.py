"""AOI metrics in `gazecam report`, and the ELAN / events exports, on generated records with a known gaze path.

Two people, two AOIs, 30 frames at 10 fps (dt = 0.1 s), records written *without* an ``aoi`` field (as before
AOIs existed): ``--aoi`` labels them from their gaze points.

* #1: scene (N) 0-2; looks at #2 3-4 (mutual); screen 5-14; scene 15-16; screen 17-19 (2-frame gap: one
  glance); door 20-24; out of frame 25-29 (gaze point inside the screen: not counted).
* #2: not seen 0-2; looks at #1 3-9; door 10-14; screen 15-19; not seen 20-22; screen 23-29 (0.3 s gap: a
  second glance).
* Joint attention: both on the screen point in 17-19.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest
from scenes import S, write_old_records

from gazecam.aoi import load_aois
from gazecam.cli import main


def _run(capsys, *argv: object) -> tuple[int, str]:
    code = main(["report", *map(str, argv)])
    return code, capsys.readouterr().err


EXPECTED = {  # person -> AOI -> (dwell s, glances, first glance s, mean glance s), worked out in the docstring
    1: {"screen": (1.3, 1, 0.5, 1.5), "door": (0.5, 1, 2.0, 0.5)},
    2: {"screen": (1.2, 2, 1.5, 0.6), "door": (0.5, 1, 1.0, 0.5)},
}


def test_dwell_glances_and_first_glance_are_exact(scene, tmp_path, capsys):
    from gazecam.report import build_report

    rec, aoi = scene
    report = build_report([rec], aois=load_aois(aoi))
    a = report.sections[0].aoi
    assert a is not None and a.names == ("screen", "door") and a.start_s == 0.0
    for p in a.people:
        for name, (dwell, glances, first, mean) in EXPECTED[p.track_id].items():
            assert p.dwell_s[name] == pytest.approx(dwell, abs=1e-9), (p.track_id, name)
            assert p.glances[name] == glances, (p.track_id, name)
            assert p.first_s[name] == pytest.approx(first, abs=1e-9), (p.track_id, name)
            assert p.mean_glance_s[name] == pytest.approx(mean, abs=1e-9), (p.track_id, name)
    assert [(g.track_id, g.aoi, round(g.start_s, 6), round(g.end_s, 6)) for g in a.glances] == [
        (1, "screen", 0.5, 2.0), (2, "door", 1.0, 1.5), (2, "screen", 1.5, 2.0), (1, "door", 2.0, 2.5),
        (2, "screen", 2.3, 3.0)]

    code, err = _run(capsys, rec, "--aoi", aoi, "--json", tmp_path / "r.json", "-o", tmp_path / "r.html",
                     "--max-gap", "0.25", "--csv-dir", tmp_path / "tables")
    assert code == 0, err
    with open(tmp_path / "tables" / "aoi.csv", newline="") as f:
        table = {(int(r["track_id"]), r["aoi"]): r for r in csv.DictReader(f)}
    for tid, per_aoi in EXPECTED.items():
        for name, (dwell, glances, first, mean) in per_aoi.items():
            r = table[(tid, name)]
            assert (float(r["dwell_s"]), int(r["glances"]), float(r["first_glance_s"]), float(r["mean_glance_s"])) \
                == (dwell, glances, first, mean)
    people = {p["track_id"]: p for p in json.loads((tmp_path / "r.json").read_text())["people"]}
    for tid, per_aoi in EXPECTED.items():
        assert people[tid]["aoi_s"] == {n: v[0] for n, v in per_aoi.items()}
        assert people[tid]["aoi_glances"] == {n: v[1] for n, v in per_aoi.items()}
        assert people[tid]["aoi_first_s"] == {n: v[2] for n, v in per_aoi.items()}
    html = (tmp_path / "r.html").read_text()
    assert "Areas of interest" in html and html.count("data:image/png;base64,") == 6  # + AOI picture, AOI timeline


def test_max_gap_splits_glances(scene, tmp_path, capsys):
    rec, aoi = scene
    code, err = _run(capsys, rec, "--aoi", aoi, "--json", tmp_path / "r.json", "--max-gap", "0.1")
    assert code == 0, err
    people = {p["track_id"]: p for p in json.loads((tmp_path / "r.json").read_text())["people"]}
    assert people[1]["aoi_glances"] == {"screen": 2, "door": 1}  # the 0.2 s gap now splits #1's screen glance


# (tier, start ms, end ms, value), worked out from the module docstring
EXPECTED_TIERS = {
    "#1 looks at": [(0, 300, "scene"), (300, 500, "#2"), (500, 1500, "AOI:screen"), (1500, 1700, "scene"),
                    (1700, 2000, "AOI:screen"), (2000, 2500, "AOI:door"), (2500, 3000, "out of frame")],
    "#2 looks at": [(300, 1000, "#1"), (1000, 1500, "AOI:door"), (1500, 2000, "AOI:screen"),
                    (2300, 3000, "AOI:screen")],
    "mutual gaze": [(300, 500, "#1 #2")],
    "joint attention": [(1700, 2000, "#1 #2 -> AOI:screen")],  # the shared point lies in the screen
}


def test_elan_export_reads_back_with_pympi_and_plain_xml(scene, tmp_path, capsys):
    import pympi.Elan as elan

    rec, aoi = scene
    eaf = tmp_path / "out" / "talk.eaf"
    eaf.parent.mkdir()
    code, err = _run(capsys, rec, "--aoi", aoi, "--elan", eaf)
    assert code == 0, err
    doc = elan.Eaf(str(eaf))
    assert set(doc.get_tier_names()) == set(EXPECTED_TIERS)
    for tier, expected in EXPECTED_TIERS.items():
        assert sorted(doc.get_annotation_data_for_tier(tier)) == expected, tier
    assert doc.media_descriptors[0]["RELATIVE_MEDIA_URL"] == "../talk.mp4"
    assert doc.media_descriptors[0]["MIME_TYPE"] == "video/mp4"

    root = ET.parse(eaf).getroot()  # a plain XML parser: EAF 3.0, time slots in ms, values from the vocabularies
    assert root.tag == "ANNOTATION_DOCUMENT" and root.get("VERSION") == "3.0" and root.get("FORMAT") == "3.0"
    slots = {ts.get("TIME_SLOT_ID"): int(ts.get("TIME_VALUE")) for ts in root.iter("TIME_SLOT")}
    types = {lt.get("LINGUISTIC_TYPE_ID"): lt.get("CONTROLLED_VOCABULARY_REF") for lt in root.iter("LINGUISTIC_TYPE")}
    vocab = {cv.get("CV_ID"): [v.text for v in cv.iter("CVE_VALUE")] for cv in root.iter("CONTROLLED_VOCABULARY")}
    assert vocab["gazecam-looks-at"] == ["#1", "#2", "AOI:screen", "AOI:door", "scene", "out of frame"]
    assert vocab["gazecam-mutual-gaze"] == ["#1 #2"] and vocab["gazecam-joint-attention"] == ["#1 #2 -> AOI:screen"]
    for tier in root.iter("TIER"):
        got = sorted((slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")],
                      a.find("ANNOTATION_VALUE").text) for a in tier.iter("ALIGNABLE_ANNOTATION"))
        assert got == EXPECTED_TIERS[tier.get("TIER_ID")]
        allowed = vocab[types[tier.get("LINGUISTIC_TYPE_REF")]]
        assert all(v in allowed for _, _, v in got)
    assert root.find("HEADER/MEDIA_DESCRIPTOR").get("MEDIA_URL") == (tmp_path / "talk.mp4").resolve().as_uri()
    ids = [int(a.get("ANNOTATION_ID")[1:]) for a in root.iter("ALIGNABLE_ANNOTATION")]
    assert len(set(ids)) == len(ids) == 13
    last = next(p for p in root.iter("PROPERTY") if p.get("NAME") == "lastUsedAnnotation")
    assert int(last.text) == max(ids)  # ELAN numbers new annotations after it
    assert not list(tmp_path.rglob("*.partial*"))


def test_events_tsv_reads_back(scene, tmp_path, capsys):
    rec, aoi = scene
    code, err = _run(capsys, rec, "--aoi", aoi, "--events", tmp_path / "events.tsv")
    assert code == 0, err
    with open(tmp_path / "events.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0]) == ["onset", "duration", "trial_type", "person", "target"]
    assert [float(r["onset"]) for r in rows] == sorted(float(r["onset"]) for r in rows)
    looks = sorted((r["person"], round(float(r["onset"]) * 1000), round((float(r["onset"]) + float(r["duration"]))
                                                                         * 1000), r["target"])
                   for r in rows if r["trial_type"] == "looks_at")
    expected = sorted((tier.split()[0], a, b, v) for tier, items in EXPECTED_TIERS.items() if "looks at" in tier
                      for a, b, v in items)
    assert looks == expected
    assert [(r["onset"], r["duration"], r["person"], r["target"]) for r in rows if r["trial_type"] == "mutual_gaze"] \
        == [("0.300", "0.200", "#1 #2", "n/a")]
    assert [(r["onset"], r["duration"], r["person"], r["target"]) for r in rows
            if r["trial_type"] == "joint_attention"] == [("1.700", "0.300", "#1 #2", "AOI:screen")]


@pytest.mark.parametrize("doc, match", [
    ({"aois": [{"name": "bow", "polygon_norm": [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]}]},
     r"aois\[0\] 'bow': 'polygon_norm' intersects itself"),
    ({"aois": [{"name": "flat", "polygon_norm": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}]},
     r"aois\[0\] 'flat': 'polygon_norm' has zero area"),
    ({"aois": [{"name": "wide", "xyxy": [0, 0, 700, 100]}]},
     r"aois\[0\] 'wide' lies outside the frame .*640x360"),  # pixels checked against the records' frame size
])
def test_bad_aoi_file_one_line_error_and_nothing_written(scene, tmp_path, capsys, doc, match):
    rec, _ = scene
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    outs = [tmp_path / "r.html", tmp_path / "r.json", tmp_path / "t.eaf", tmp_path / "e.tsv"]
    code, err = _run(capsys, rec, "--aoi", bad, "-o", outs[0], "--json", outs[1], "--elan", outs[2],
                     "--events", outs[3])
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]
    import re
    assert re.search(match, lines[0]), lines[0]
    assert not any(p.exists() for p in outs) and not list(tmp_path.glob("*.partial*"))


def test_export_over_an_input_is_refused(scene, tmp_path, capsys):
    rec, aoi = scene
    before = aoi.read_bytes()
    code, err = _run(capsys, rec, "--aoi", aoi, "--events", aoi)
    assert code != 0 and "input" in err and aoi.read_bytes() == before


def test_records_labelled_by_process_are_used_without_aoi_file(tmp_path, capsys):
    """Records that carry ``aoi`` (gazecam process --aoi) report their AOIs without the file (no outlines)."""
    from gazecam.report import build_report

    rec = write_old_records(tmp_path)
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]
    for row in lines:
        row["aoi"] = "screen" if row["in_frame"] and tuple(row["gaze_xy_norm"]) == S else None
    rec.write_text("".join(json.dumps(r) + "\n" for r in lines))
    report = build_report([rec])
    a = report.sections[0].aoi
    assert a is not None and a.names == ("screen",) and report.sections[0].aois is None
    assert {p.track_id: p.dwell_s["screen"] for p in a.people} == pytest.approx({1: 1.3, 2: 1.2})


def test_aoi_names_with_dollars_and_accents_draw(scene, tmp_path, capsys):
    """matplotlib would read "$...$" as maths; names are drawn as written."""
    rec, _ = scene
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"aois": [{"name": "$5 shelf $", "xyxy_norm": [0.15, 0.45, 0.45, 0.75]},
                                        {"name": "caf\u00e9 <door>", "xyxy_norm": [0.6, 0.45, 0.9, 0.75]}]}))
    code, err = _run(capsys, rec, "--aoi", odd, "-o", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "$5 shelf $" in html and "caf\u00e9 &lt;door&gt;" in html
