"""gazecam.aoi: the AOI file (validation with one-line errors naming file and item) and the labeller."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gazecam.aoi import AOI, AOIFileError, AOISet, load_aois, parse_aois, save_aois


def _write(tmp_path: Path, doc: object, name: str = "aois.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def test_load_all_forms_and_label_smallest_containing(tmp_path):
    p = _write(tmp_path, {"aois": [
        {"name": "wall", "xyxy_norm": [0.0, 0.0, 1.0, 0.5]},
        {"name": "screen", "xyxy_norm": [0.1, 0.1, 0.4, 0.4]},  # inside wall: smaller wins
        {"name": "door", "polygon_norm": [[0.6, 0.6], [0.9, 0.6], [0.75, 0.95]]},
        {"name": "toy", "xyxy": [20, 180, 60, 200], "start_s": 1.0, "end_s": 2.0},
    ]})
    raw = load_aois(p)
    assert raw.names == ("wall", "screen", "door", "toy") and raw.has_pixels
    with pytest.raises(AOIFileError, match=r"aois\[3\] 'toy' is in pixels"):
        raw.label(np.array([[0.5, 0.5]]), 0.0)
    aois = load_aois(p, frame_size=(200, 200))  # toy -> [0.1, 0.9, 0.3, 1.0]
    pts = np.array([[0.2, 0.2], [0.8, 0.2], [0.75, 0.7], [0.2, 0.95], [0.2, 0.95], [0.5, 0.8],
                    [0.2, 0.2], [1.5, 0.2], [np.nan, 0.1]])
    times = np.array([0, 0, 0, 1.5, 2.0, 0, 0, 0, 0])
    in_frame = np.array([True] * 6 + [False, True, True])
    assert aois.label(pts, times, in_frame) == ["screen", "wall", "door", "toy", None, None, None, None, None]
    idx = aois.label_index(pts, times, in_frame)
    assert idx.dtype == np.int64 and idx.tolist() == [1, 0, 2, 3, -1, -1, -1, -1, -1]


def test_concave_polygon_contains():
    # an L shape: the notch (0.75, 0.25) is outside
    ell = AOI(name="L", vertices=((0, 0), (0.5, 0), (0.5, 0.5), (1, 0.5), (1, 1), (0, 1)))
    assert ell.contains(np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75]])).tolist() == [True, False, True]
    assert ell.area == pytest.approx(0.75)


def test_save_round_trip(tmp_path):
    aois = AOISet(aois=(AOI.box(name="screen", xyxy_norm=(0.1, 0.2, 0.3, 0.4)),
                        AOI(name="door", vertices=((0.6, 0.6), (0.9, 0.6), (0.75, 0.95)), end_s=3.0)))
    out = save_aois(aois, tmp_path / "saved.json")
    back = load_aois(out)
    assert back.names == ("screen", "door")
    assert back.aois[0].xyxy == pytest.approx((0.1, 0.2, 0.3, 0.4)) and back.aois[0].rect
    assert back.aois[1].vertices == aois.aois[1].vertices and back.aois[1].end_s == 3.0
    assert not list(tmp_path.glob("*.partial*"))


@pytest.mark.parametrize("doc, match", [
    ("{not json", r"not valid JSON \(line 1 column 2"),
    ([1, 2], r"expected a JSON object"),
    ({"aois": [{"name": "a", "xyxy_norm": [0.1, 0.1, 0.2, 0.2]}, {"name": "a", "xyxy_norm": [0.3, 0.3, 0.4, 0.4]}]},
     r"aois\[1\] 'a' repeats the name of aois\[0\]"),
    ({"aois": [{"name": "flat", "polygon_norm": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}]},
     r"aois\[0\] 'flat': 'polygon_norm' has zero area"),
    ({"aois": [{"name": "ok", "xyxy_norm": [0, 0, 1, 1]},
               {"name": "bow", "polygon_norm": [[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]}]},
     r"aois\[1\] 'bow': 'polygon_norm' intersects itself \(edge 0-1 meets edge 2-3\)"),
    ({"aois": [{"name": "thin", "xyxy_norm": [0.2, 0.1, 0.2, 0.5]}]}, r"aois\[0\] 'thin': 'xyxy_norm' .* zero area"),
    ({"aois": [{"name": "big", "xyxy_norm": [0.5, 0.5, 1.2, 0.9]}]}, r"aois\[0\] 'big' lies outside the frame"),
    ({"aois": [{"name": "both", "xyxy_norm": [0, 0, 1, 1], "xyxy": [0, 0, 5, 5]}]},
     r"aois\[0\] 'both': needs exactly one of"),
    ({"aois": [{"xyxy_norm": [0, 0, 1, 1]}]}, r"aois\[0\]: 'name' must be a non-empty string"),
    ({"aois": [{"name": "t", "xyxy_norm": [0, 0, 1, 1], "start_s": 3, "end_s": 2}]}, r"end_s 2 must be after"),
    ({"aois": [{"name": "k", "box": [0, 0, 1, 1]}]}, r"aois\[0\] 'k': unknown key\(s\) box"),
])
def test_bad_files_give_one_line_errors_naming_file_and_item(tmp_path, doc, match):
    p = _write(tmp_path, doc)
    with pytest.raises(AOIFileError, match=match) as info:
        load_aois(p)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(p))


def test_pixel_aoi_outside_the_frame_named(tmp_path):
    p = _write(tmp_path, {"aois": [{"name": "shelf", "polygon": [[10, 10], [700, 10], [300, 200]]}]})
    with pytest.raises(AOIFileError, match=r"aois\[0\] 'shelf' lies outside the frame .*640x480"):
        load_aois(p, frame_size=(640, 480))
    with pytest.raises(AOIFileError, match="AOI file not found"):
        load_aois(tmp_path / "missing.json")


def test_save_refuses_invalid_and_writes_nothing(tmp_path):
    bad = [AOI(name="bow", vertices=((0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)))]
    with pytest.raises(AOIFileError, match="intersects itself"):
        save_aois(bad, tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


def test_parse_accepts_empty_list():
    assert len(parse_aois({"aois": []})) == 0


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_aoi_field_round_trips_through_records(tmp_path, suffix):
    from gazecam.aoi import label_result
    from gazecam.records import read_records, records_from_result
    from gazecam.sinks import RecordsSink
    from gazecam.types import Frame, GazeResult, HeadBoxes

    aois = parse_aois({"aois": [{"name": "shelf, top", "xyxy_norm": [0.0, 0.0, 0.5, 0.5]},
                                {"name": "7", "xyxy_norm": [0.5, 0.5, 1.0, 1.0]}]})
    frame = Frame(image=np.zeros((100, 200, 3), np.uint8), index=0, timestamp_s=0.0)
    heads = HeadBoxes(xyxy=np.array([[0, 0, 10, 10]] * 3, np.float32), image_size=(100, 200),
                      track_ids=np.array([1, 2, 3]))
    result = label_result(aois, GazeResult(
        frame=frame, heads=heads, heatmaps=np.zeros((3, 64, 64), np.float32),
        points_norm=np.array([[0.2, 0.2], [0.7, 0.7], [0.2, 0.8]], np.float32), inout=None,
        in_frame=np.array([True, True, True]), looking_at=np.array([-1, -1, -1]), mutual=np.array([False] * 3)))
    assert result.aoi == ("shelf, top", "7", None)
    with RecordsSink(tmp_path / f"r{suffix}") as sink:
        sink.write(result)
    back = read_records(tmp_path / f"r{suffix}")
    assert [r.aoi for r in back] == ["shelf, top", "7", None] == [r.aoi for r in records_from_result(result)]


def test_aoi_set_pickles_for_worker_processes():
    import pickle

    aois = parse_aois({"aois": [{"name": "a", "polygon_norm": [[0.1, 0.1], [0.5, 0.1], [0.3, 0.4]], "end_s": 2}]})
    assert pickle.loads(pickle.dumps(aois)) == aois


def test_one_frame_and_many_points_label_alike():
    """label_index takes a plain-Python path for a frame's few heads and a numpy one for many points."""
    aois = parse_aois({"aois": [
        {"name": "wall", "xyxy_norm": [0, 0, 1, 0.6]},
        {"name": "L", "polygon_norm": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.3], [0.3, 0.3], [0.3, 0.5], [0.1, 0.5]]},
        {"name": "tri", "polygon_norm": [[0.6, 0.2], [0.9, 0.25], [0.7, 0.9]], "start_s": 1, "end_s": 2},
        {"name": "same", "xyxy_norm": [0.2, 0.7, 0.4, 0.9]}, {"name": "same2", "xyxy_norm": [0.2, 0.7, 0.4, 0.9]}]})
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.random((3000, 2)), [[0.2, 0.7], [0.4, 0.9], [0.5, 0.2], [0.1, 0.1]]])
    times = rng.random(len(pts)) * 3
    many = aois.label_index(pts, times)
    one_by_one = np.array([aois.label_index(pts[i:i + 1], times[i])[0] for i in range(len(pts))])
    assert (many == one_by_one).all()
    names = dict(enumerate(aois.names))
    assert {names.get(int(k)) for k in many} == {"wall", "L", "tri", "same", None}  # equal areas: the first
    assert [names.get(int(k)) for k in many[-4:]] == ["same", None, "wall", "L"]  # x0 <= x < x1, y0 <= y < y1
