"""`gazecam report` end to end on generated records: HTML/JSON/CSV outputs, batches, every bad input of issue 11."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scenes import build, classroom, to_row, write_jsonl

from gazecam.analysis import AnalysisParams
from gazecam.cli import main
from gazecam.errors import InputError
from gazecam.records import RecordsMeta, write_meta
from gazecam.report import CSV_TABLES, build_report, check_outputs
from gazecam.sinks import VideoSink


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["report", *map(str, argv)])
    return code, capsys.readouterr().err


def _untrained() -> RecordsMeta:
    return RecordsMeta(source="class.mp4", model="gazelle_vits14_inout_random", released=False,
                       weights_note="random (untrained) weights", width=640, height=360, fps=10.0)


# -- one video -------------------------------------------------------------------------------------------
def test_report_of_one_video_writes_html_json_and_csv(tmp_path, capsys):
    rec = write_jsonl(tmp_path / "class.jsonl", classroom())
    write_meta(rec, _untrained())
    code, err = _run(capsys, rec, "-o", tmp_path / "r.html", "--json", tmp_path / "r.json",
                     "--csv-dir", tmp_path / "tables")
    assert code == 0, err
    assert "4 people, 2 mutual gaze and 2 joint attention episode(s)" in err
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data) == {"people", "mutual_gaze", "joint_attention"}
    assert data["mutual_gaze"] == [
        {"track_ids": [1, 2], "start_s": 0.0, "end_s": 4.0, "duration_s": 4.0},
        {"track_ids": [1, 2], "start_s": 5.0, "end_s": 6.0, "duration_s": 1.0}]
    assert [(j["track_ids"], j["start_s"], j["end_s"], j["target"]["kind"]) for j in data["joint_attention"]] == [
        ([1, 2], 6.0, 8.0, "point"), ([2, 3], 8.0, 10.0, "person")]
    assert data["people"][0] == {"track_id": 1, "visible_s": 10.0, "looking_at_s": {"2": 4.8}, "scene_s": 4.2,
                                 "out_of_frame_s": 1.0}
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # matrix, timeline, density, thumbnails: embedded
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<script" not in html  # no network
    assert "UNTRAINED WEIGHTS" in html and "gazelle_vits14_inout_random" in html
    assert "4.80 s" in html and "48 %" in html  # #1 -> #2
    with open(tmp_path / "tables" / "people.csv", newline="") as f:
        people = list(csv.DictReader(f))
    assert [(p["track_id"], p["visible_s"], p["out_of_frame_s"]) for p in people][:2] == [
        ("1", "10.0", "1.0"), ("2", "10.0", "0.0")]
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == sorted(CSV_TABLES)
    assert not list(tmp_path.rglob("*.tmp"))


def test_csv_records_and_episode_options(tmp_path, capsys):
    rows = [to_row(r) for r in classroom()]
    path = tmp_path / "class.csv"
    from gazecam.records import csv_row
    from gazecam.records.format import CSV_COLUMNS

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        w.writerows(csv_row(r) for r in rows)
    code, err = _run(capsys, path, "--json", tmp_path / "r.json", "--max-gap", "0.1", "--min-duration", "1.5")
    assert code == 0, err
    data = json.loads((tmp_path / "r.json").read_text())
    # the 0.2 s gap splits 0-4 s; the 1.0 s episode at 5-6 s is shorter than 1.5 s
    assert [(m["start_s"], m["end_s"]) for m in data["mutual_gaze"]] == [(0.0, 2.0), (2.2, 4.0)]
    code, err = _run(capsys, path, "--json", tmp_path / "r2.json", "--joint-radius", "0.02")
    assert [j["target"]["kind"] for j in json.loads((tmp_path / "r2.json").read_text())["joint_attention"]] == ["person"]


def test_report_shows_released_or_unknown_weights(tmp_path):
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    from gazecam.report.html import render_html

    assert "Unknown weights" in render_html(build_report([rec]))
    write_meta(rec, RecordsMeta(source="a.mp4", model="gazelle_dinov2_vitb14_inout", released=True))
    html = render_html(build_report([rec]))
    assert "Released weights: gazelle_dinov2_vitb14_inout" in html and "UNTRAINED" not in html


def test_video_frame_is_the_background(tmp_path):
    video = tmp_path / "v.mp4"
    with VideoSink(video, width=64, height=36, fps=10) as sink:
        for _ in range(3):
            sink.write(np.full((36, 64, 3), (30, 160, 90), np.uint8))
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    report = build_report([rec], video=video)
    bg = report.sections[0].background
    assert bg is not None and bg.shape == (36, 64, 3)
    assert np.abs(bg.astype(int) - (30, 160, 90)).max() <= 6
    with pytest.raises(InputError, match="does not exist"):
        build_report([rec], video=tmp_path / "none.mp4")


# -- a batch output folder ---------------------------------------------------------------------------------
def _batch(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    write_jsonl(out / "a.jsonl", classroom())
    write_jsonl(out / "sub" / "a.jsonl", build(20, {7: lambda f: ("scene", (0.5, 0.5))}))
    lines = [
        {"input": "/data/a.mp4", "status": "failed", "video": None, "records": None, "error": "killed"},
        {"input": "/data/a.mp4", "status": "done", "video": str(out / "a.mp4"), "records": "a.jsonl",
         "error": None, "model": "gazelle_dinov2_vitb14_inout"},
        {"input": "/data/sub/a.mp4", "status": "done", "video": None, "records": str(out / "sub" / "a.jsonl"),
         "error": None},
        {"input": "/data/bad.mp4", "status": "failed", "video": None, "records": None,
         "error": "bad.mp4: not a video (no video stream)"},
    ]
    (out / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"input": "/data/torn')
    return out


def test_batch_folder_one_section_per_done_video_plus_totals(tmp_path, capsys):
    out = _batch(tmp_path)
    code, err = _run(capsys, out, "-o", tmp_path / "b.html", "--json", tmp_path / "b.json")
    assert code == 0, err
    assert "skipped /data/bad.mp4: failed: bad.mp4: not a video" in err
    data = json.loads((tmp_path / "b.json").read_text())
    assert sorted({p["video"] for p in data["people"]}) == ["a.mp4", "sub/a.mp4"]  # equal names disambiguated
    assert [(p["video"], p["track_id"], p["visible_s"]) for p in data["people"]][-1] == ("sub/a.mp4", 7, 2.0)
    html = (tmp_path / "b.html").read_text()
    assert "All videos" in html and "Not in this report" in html and "bad.mp4: not a video" in html
    report = build_report([out / "manifest.jsonl"])  # the manifest itself works the same
    assert report.totals.videos == 2 and report.totals.people == 5
    assert report.totals.visible_s == pytest.approx(36.0 + 2.0)
    assert report.totals.mutual_episodes == 2 and report.totals.mutual_s == pytest.approx(5.0)


# -- bad input -----------------------------------------------------------------------------------------------
def test_empty_records_give_a_report_saying_no_one_was_seen(tmp_path, capsys):
    (tmp_path / "e.jsonl").write_text("")
    code, err = _run(capsys, tmp_path / "e.jsonl", "-o", tmp_path / "e.html", "--json", tmp_path / "e.json")
    assert code == 0, err
    assert "no one was seen" in err
    assert "No one was seen in these records" in (tmp_path / "e.html").read_text()
    assert json.loads((tmp_path / "e.json").read_text()) == {"people": [], "mutual_gaze": [], "joint_attention": []}


@pytest.mark.parametrize("mutate, match", [
    (lambda lines: lines[:5] + ["{oops"] + lines[5:], r"bad.jsonl, line 6: not valid JSON"),
    (lambda lines: lines + lines[:4], r"bad.jsonl, line 361: frame 0 comes after frame 99.*several videos"),
    (lambda lines: [re.sub(r', "mutual": (true|false)', "", ln) for ln in lines],
     r"bad.jsonl, line 1: missing field 'mutual'"),
])
def test_bad_records_are_one_line_errors(tmp_path, capsys, mutate, match):
    lines = write_jsonl(tmp_path / "x.jsonl", classroom()).read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(mutate(lines)) + "\n")
    code, err = _run(capsys, bad, "-o", tmp_path / "r.html")
    assert code == 1
    assert re.search(match, err) and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_outputs_never_overwrite_inputs(tmp_path, capsys):
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    before = rec.read_bytes()
    code, err = _run(capsys, rec, "--json", rec)
    assert code == 1 and "is the input file" in err and rec.read_bytes() == before
    (tmp_path / "link.json").symlink_to(rec)
    code, err = _run(capsys, rec, "--json", tmp_path / "link.json")
    assert code == 1 and "is the input file" in err and rec.read_bytes() == before
    code, err = _run(capsys, rec, "-o", tmp_path / "same", "--json", tmp_path / "same")
    assert code == 1 and "name the same file" in err
    code, err = _run(capsys, rec, rec, "-o", tmp_path / "r.html")
    assert code == 1 and "given twice" in err
    with pytest.raises(InputError, match="does not exist"):
        check_outputs([tmp_path / "nope" / "r.html"], [rec])


@pytest.mark.parametrize("args, match", [
    ([], r"nothing to write"),
    (["-o", "{tmp}/r.html", "--video", "{tmp}/none.mp4"], r"--video .*no such file"),
])
def test_command_usage_errors(tmp_path, capsys, args, match):
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    code, err = _run(capsys, rec, *[a.format(tmp=tmp_path) for a in args])
    assert code == 1 and re.search(match, err)


def test_missing_inputs_and_plain_folders(tmp_path, capsys):
    code, err = _run(capsys, tmp_path / "none.jsonl", "-o", tmp_path / "r.html")
    assert code == 1 and "does not exist" in err
    code, err = _run(capsys, tmp_path, "-o", tmp_path / "r.html")
    assert code == 1 and "folder without a gazecam batch manifest.jsonl" in err
    with pytest.raises(SystemExit):
        main(["report", str(tmp_path / "x.jsonl"), "--max-gap", "-1"])
    assert "expected seconds >= 0" in capsys.readouterr().err


def test_params_reach_the_analysis(tmp_path):
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    report = build_report([rec], params=AnalysisParams(max_gap_s=1.0))
    assert [(e.start_s, round(e.end_s, 6)) for e in report.sections[0].analysis.mutual_gaze] == [(0.0, 6.0)]


def test_video_with_several_videos_is_an_error_in_flag_words(tmp_path, capsys):
    out = _batch(tmp_path)
    video = tmp_path / "v.mp4"
    with VideoSink(video, width=32, height=18, fps=10) as sink:
        sink.write(np.zeros((18, 32, 3), np.uint8))
    code, err = _run(capsys, out, "--video", video, "-o", tmp_path / "b.html")
    assert code == 1 and "--video" in err and "gives the background of one video, but the report has 2" in err
    assert not (tmp_path / "b.html").exists()


# -- issue 18 cases 1, 10, 11: impossible sidecar values and ids -------------------------------------------------
@pytest.mark.parametrize("sizes, field", [
    ({"width": 1024, "height": -576}, "height"), ({"width": 1, "height": 1e7}, "height"),
    ({"width": float("nan"), "height": 576}, "width"), ({"width": 1024, "height": float("inf")}, "height"),
])
def test_impossible_sidecar_sizes_are_one_line_errors(tmp_path, capsys, sizes, field):
    rec = write_jsonl(tmp_path / "a.jsonl", classroom())
    meta = {"source": "a.mp4", "model": "m", "released": True, "fps": 10.0, **sizes}
    (tmp_path / "a.jsonl.meta.json").write_text(json.dumps(meta))  # NaN / Infinity as Python's json writes them
    code, err = _run(capsys, rec, "-o", tmp_path / "r.html")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"records sidecar {tmp_path / 'a.jsonl.meta.json'}: '{field}'" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("field", ["track_id", "looking_at"])
def test_ids_beyond_int64_are_one_line_errors(tmp_path, capsys, field):
    lines = write_jsonl(tmp_path / "a.jsonl", classroom()).read_text().splitlines()
    row = json.loads(lines[6])
    row[field] = 1e30
    lines[6] = json.dumps(row)
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    code, err = _run(capsys, tmp_path / "a.jsonl", "-o", tmp_path / "r.html")
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"records {tmp_path / 'a.jsonl'}, line 7: '{field}' must be a 64-bit integer" in err


@pytest.mark.parametrize("aspect", [1e7, 1e-7, 16.0, 1 / 16])
def test_figure_sizes_are_bounded_whatever_the_frame_shape(aspect):
    from PIL import Image

    from gazecam.analysis import analyze
    from gazecam.report.figures import density_png, thumbnails_png

    a = analyze(classroom())
    for png in (density_png(a, aspect=aspect), thumbnails_png(a, aspect=aspect),
                density_png(a, background=np.zeros((min(20000, max(1, round(100 * aspect))),
                                                    min(20000, max(1, round(100 / aspect))), 3), np.uint8))):
        w, h = Image.open(io.BytesIO(png)).size
        assert w * h <= 4000 * 4000 and max(w, h) <= 8000, (w, h)


# -- issue 18 case 12: hundreds of track ids -----------------------------------------------------------------------
def test_many_people_bounded_figures_and_everyone_in_the_tables(tmp_path, capsys):
    """60 people in 3 frames: the figures draw the 24 seen longest (12 thumbnails), at bounded sizes;
    every person is in the HTML people table, the JSON and the CSV."""
    from PIL import Image

    n = 60
    people = {t: (lambda f, t=t: ("person", t + 1) if t % 3 == 0 else ("scene", (0.02 * (t % 40), 0.5)))
              for t in range(1, n + 1)}
    rec = write_jsonl(tmp_path / "crowd.jsonl", build(3, people))
    code, err = _run(capsys, rec, "-o", tmp_path / "r.html", "--json", tmp_path / "r.json", "--csv-dir",
                     tmp_path / "tables")
    assert code == 0, err
    assert f"{n} people" in err
    html = (tmp_path / "r.html").read_text()
    assert "Only the 24 people seen longest are drawn" in html and "The per-person density maps show the 12 people seen longest." in html
    pngs = [base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]
    assert len(pngs) == 4
    for png in pngs:
        w, h = Image.open(io.BytesIO(png)).size
        assert w <= 1200 and h <= 2000, (w, h)
    people_table = html.split("<h3>People</h3>")[1].split("</table>")[0]
    assert people_table.count("<tr>") == n + 1
    assert len(json.loads((tmp_path / "r.json").read_text())["people"]) == n
    assert len((tmp_path / "tables" / "people.csv").read_text().splitlines()) == n + 1
    report = build_report([rec])
    from gazecam.report.figures import shown_people

    shown = shown_people(report.sections[0].analysis)
    assert len(shown) == 24 and [p.track_id for p in shown] == sorted(p.track_id for p in shown)


def test_a_batch_video_with_an_impossible_sidecar_is_a_named_skip(tmp_path, capsys):
    out = _batch(tmp_path)
    (out / "sub" / "a.jsonl.meta.json").write_text('{"source": "a.mp4", "model": "m", "released": true, '
                                                   '"width": NaN, "height": 576}')
    code, err = _run(capsys, out, "--json", tmp_path / "b.json")
    assert code == 0, err
    assert f"skipped /data/sub/a.mp4: records sidecar {out / 'sub' / 'a.jsonl.meta.json'}: 'width'" in err
    assert [p["track_id"] for p in json.loads((tmp_path / "b.json").read_text())["people"]] == [1, 2, 3, 4]  # a.mp4
