"""AOIs while processing: each record's ``aoi`` (process_source with ProcessOptions.aois), and the rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import CountingModel
from test_jobs import heads, make_video

from gazecam.aoi import AOI, AOIFileError, AOISet, label_result, parse_aois
from gazecam.jobs import ProcessOptions, process_source
from gazecam.records import read_records
from gazecam.render import AOI_COLOR, AOI_LIT, AOIAnnotator, GazeRenderer
from gazecam.types import Frame, GazeResult, HeadBoxes


def test_process_labels_every_record_and_time_limited_aoi(tmp_path):
    """CountingModel looks at the frame centre; 'late' (pixels, smaller, from 0.5 s) wins over 'centre' then."""
    video = make_video(tmp_path / "in.mp4", n=8)  # 128 x 96, 10 fps
    aois = parse_aois({"aois": [{"name": "centre", "xyxy_norm": [0.3, 0.3, 0.7, 0.7]},
                                {"name": "late", "xyxy": [54, 38, 74, 58], "start_s": 0.5},
                                {"name": "corner", "xyxy_norm": [0, 0, 0.1, 0.1]}]}, source="a.json")
    options = ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 8), aois=aois)
    process_source(video, model=CountingModel(), options=options, video_path=tmp_path / "o.mp4",
                   records_path=tmp_path / "o.jsonl")
    recs = read_records(tmp_path / "o.jsonl")
    assert [(r.frame, r.aoi) for r in recs] == [(f, "centre" if f < 5 else "late") for f in range(8) if f != 3]
    rows = [json.loads(ln) for ln in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert list(rows[0])[-1] == "aoi"
    assert options.result_key()["aois"][1] == {"name": "late", "xyxy": [54.0, 38.0, 74.0, 58.0], "start_s": 0.5}
    assert "aois" not in ProcessOptions(heads_path=tmp_path / "h.jsonl").result_key()  # old manifests unchanged


def test_records_over_the_aoi_file_are_refused(tmp_path):
    from gazecam.aoi import load_aois
    from gazecam.errors import InputError

    video = make_video(tmp_path / "in.mp4", n=2)
    path = tmp_path / "aois.json"
    path.write_text('{"aois": [{"name": "a", "xyxy_norm": [0, 0, 0.5, 0.5]}]}')
    before = path.read_text()
    options = ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 2), aois=load_aois(path))
    with pytest.raises(InputError, match=r"records_path=.* is the input file aois="):
        process_source(video, model=CountingModel(), options=options, records_path=path)
    assert path.read_text() == before


def test_pixel_aoi_outside_the_video_fails_before_writing(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=2)
    aois = parse_aois({"aois": [{"name": "wide", "xyxy": [0, 0, 500, 50]}]}, source="a.json")
    with pytest.raises(AOIFileError, match=r"a.json: aois\[0\] 'wide' lies outside the frame .*128x96"):
        process_source(video, model=CountingModel(), options=ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 2),
                                                                             aois=aois),
                       video_path=tmp_path / "o.mp4", records_path=tmp_path / "o.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.jsonl", "in.mp4"]


def _result(points, t=1.0, in_frame=(True, True)) -> GazeResult:
    frame = Frame(image=np.full((180, 320, 3), 40, np.uint8), index=0, timestamp_s=t)
    heads = HeadBoxes(xyxy=np.array([[10, 10, 40, 40], [270, 10, 300, 40]], np.float32), image_size=(180, 320),
                      track_ids=np.array([1, 2]))
    return GazeResult(frame=frame, heads=heads, heatmaps=np.zeros((2, 64, 64), np.float32),
                      points_norm=np.array(points, np.float32), inout=None, in_frame=np.array(in_frame),
                      looking_at=np.array([-1, -1]), mutual=np.array([False, False]))


AOIS = AOISet(aois=(AOI.box(name="screen", xyxy_norm=(0.1, 0.4, 0.4, 0.9)),
                    AOI.box(name="door", xyxy_norm=(0.6, 0.4, 0.9, 0.9), end_s=2.0)))


def test_render_outlines_and_lights_the_aoi_looked_at():
    res = label_result(AOIS, _result([[0.25, 0.6], [0.5, 0.2]]))
    assert res.aoi == ("screen", None)
    img = AOIAnnotator(AOIS).annotate(res.frame.image.copy(), res)
    inside_screen, inside_door = img[140, 60], img[140, 240]  # away from labels and outlines
    assert tuple(inside_door) == (40, 40, 40) and tuple(inside_screen) != (40, 40, 40)  # only the looked-at is lit
    assert (img == AOI_LIT).all(axis=2).any() and (img == AOI_COLOR).all(axis=2).any()  # lit + plain outlines
    later = label_result(AOIS, _result([[0.25, 0.6], [0.7, 0.6]], t=2.5))  # door no longer valid: not drawn
    assert later.aoi == ("screen", None)
    img2 = AOIAnnotator(AOIS).annotate(later.frame.image.copy(), later)
    assert not (img2 == AOI_COLOR).all(axis=2).any()
    out = label_result(AOIS, _result([[0.25, 0.6], [0.7, 0.6]], in_frame=(False, True)))
    assert out.aoi == (None, "door")  # out-of-frame gaze is in no AOI


def test_renderer_without_aois_draws_what_it_drew_before():
    res = _result([[0.25, 0.6], [0.5, 0.2]])
    plain = GazeRenderer(heatmaps=False).render(res)
    with_aois = GazeRenderer(heatmaps=False, aois=AOIS).render(label_result(AOIS, res))
    off = GazeRenderer(heatmaps=False, aois=AOIS, show_aois=False).render(label_result(AOIS, res))
    assert (plain == off).all() and not (plain == with_aois).all()


@pytest.mark.parametrize("command", ["process", "batch", "live"])
def test_bad_aoi_file_is_one_line_before_any_work(tmp_path, capsys, command):
    from gazecam.cli import main

    video = make_video(tmp_path / "in.mp4", n=2)
    bad = tmp_path / "aois.json"
    bad.write_text('{"aois": [{"name": "door", "polygon_norm": [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]}]}')
    argv = {"process": ["process", str(video), "-o", str(tmp_path / "o.mp4"), "--records", str(tmp_path / "o.jsonl")],
            "batch": ["batch", str(video), "-o", str(tmp_path / "out")],
            "live": ["live", str(video)]}[command]
    code = main([*argv, "--aoi", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1
    assert f"{bad}: aois[0] 'door': 'polygon_norm' intersects itself" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aois.json", "in.mp4"]


@pytest.mark.slow
def test_batch_with_aoi_labels_records_in_worker_processes(tmp_path, golden_dir):
    from test_batch_cli import astronaut_clip, model_args

    from gazecam.cli import main

    for name in ("a", "b"):
        astronaut_clip(tmp_path / "in" / f"{name}.mp4", golden_dir)
    aoi = tmp_path / "aois.json"
    aoi.write_text(json.dumps({"aois": [{"name": "left", "xyxy_norm": [0, 0, 0.5, 1]},
                                        {"name": "right", "xyxy": [112, 0, 224, 224]}]}))  # pixels of 224x224
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), "--quiet", "--no-video", "--workers", "2",
                 "--aoi", str(aoi), "--inout-threshold", "0", *model_args(golden_dir)]) == 0
    rows = [json.loads(ln) for name in ("a", "b") for ln in (out / f"{name}.jsonl").read_text().splitlines()]
    assert rows and all("aoi" in r for r in rows)
    assert any(r["in_frame"] for r in rows) and any(r["aoi"] is not None for r in rows)  # (random weights: all in)
    for r in rows:  # the label follows the gaze point: left / right half, none when the gaze is out of frame
        x = r["gaze_xy_norm"][0]
        assert r["aoi"] == (None if not r["in_frame"] else "left" if x < 0.5 else "right"), r
    manifest = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert any("left" in json.dumps(e) for e in manifest)  # the AOIs are part of the results' key (resume)
