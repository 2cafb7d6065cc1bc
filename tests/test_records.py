"""gazecam's records format: rows from a GazeResult, reading back (JSONL/CSV), the sidecar, head files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gazecam.errors import InputError
from gazecam.records import (CSV_COLUMNS, RECORD_FIELDS, FileHeads, GazeRecord, RecordsError, RecordsMeta,
                             meta_path, read_meta, read_records, record_rows, records_from_result)
from gazecam.sinks import RecordsSink
from gazecam.types import Frame, GazeResult, HeadBoxes


def _frame(h: int = 120, w: int = 160, index: int = 0) -> Frame:
    return Frame(image=np.zeros((h, w, 3), np.uint8), index=index, timestamp_s=index / 10)


def make_result(index: int, n: int, *, inout: bool = True) -> GazeResult:
    frame = Frame(image=np.zeros((100, 200, 3), np.uint8), index=index, timestamp_s=index / 30)
    xyxy = np.array([[10.123, 20.456, 50.789, 70.001], [100, 10, 140, 60], [0, 0, 10, 10]], np.float32)[:n]
    heads = HeadBoxes(xyxy=xyxy, image_size=(100, 200), track_ids=np.array([3, 7, -1])[:n])
    heatmaps = np.zeros((n, 64, 64), np.float32)
    for i in range(n):
        heatmaps[i, 10 + i, 20 + i] = 0.5 + 0.1 * i
    return GazeResult(
        frame=frame, heads=heads, heatmaps=heatmaps,
        points_norm=np.array([[0.6, 0.3], [0.1, 0.25], [0.5, 0.5]], np.float32)[:n],
        inout=np.array([0.91234, 0.2, 0.5], np.float32)[:n] if inout else None,
        in_frame=np.array([True, False, True])[:n], looking_at=np.array([7, 3, -1])[:n],
        mutual=np.array([True, True, False])[:n],
    )


def _row(**over: object) -> dict[str, object]:
    row: dict[str, object] = {"frame": 0, "time": 0.0, "track_id": 1, "head_xyxy": [0, 0, 10, 10],
                              "head_xyxy_norm": [0, 0, 0.1, 0.1], "gaze_xy": [5, 5], "gaze_xy_norm": [0.5, 0.5],
                              "peak": 0.5, "inout": 0.9, "in_frame": True, "looking_at": None, "mutual": False}
    row.update(over)
    return row


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- format and round trip -----------------------------------------------------------------------------
def test_rows_have_the_record_fields_and_csv_columns_flatten_them():
    rows = record_rows(make_result(0, 3))
    assert [tuple(r) for r in rows] == [RECORD_FIELDS] * 3
    assert CSV_COLUMNS[:3] == ("frame", "time", "track_id") and CSV_COLUMNS[-3:] == ("mutual", "fresh", "aoi")
    assert len(CSV_COLUMNS) == 22
    assert record_rows(make_result(0, 0)) == []


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_written_records_read_back_as_the_same_typed_records(tmp_path, suffix):
    path = tmp_path / f"rec{suffix}"
    results = [make_result(0, 3), make_result(1, 0), make_result(2, 2, inout=False)]
    with RecordsSink(path) as sink:
        for r in results:
            sink.write(r)
    back = read_records(path)
    expected = [rec for r in results for rec in records_from_result(r)]
    assert back == expected
    first = back[0]
    assert isinstance(first, GazeRecord)
    assert (first.frame, first.track_id, first.looking_at, first.mutual, first.in_frame) == (0, 3, 7, True, True)
    assert first.time_s == 0.0 and first.gaze_xy_norm == pytest.approx((0.6, 0.3))
    assert first.fresh is True  # the scene encoder ran on that frame
    assert back[2].track_id is None and back[3].inout is None
    assert back[3].time_s == pytest.approx(2 / 30, abs=1e-4)


def test_sidecar_meta_is_written_beside_the_records_and_read_back(tmp_path):
    path = tmp_path / "rec.jsonl"
    meta = RecordsMeta(source="talk.mp4", model="gazelle_dinov2_vits14_inout", released=False,
                       weights_note="random (untrained) weights", width=640, height=360, fps=20.0)
    with RecordsSink(path, meta=meta) as sink:
        sink.write(make_result(0, 1))
    assert meta_path(path) == tmp_path / "rec.jsonl.meta.json" and meta_path(path).is_file()
    assert read_meta(path) == meta
    assert meta.gazecam_version  # filled in by default
    assert read_meta(tmp_path / "other.jsonl") is None
    meta_path(path).write_text("{broken")
    with pytest.raises(RecordsError, match="sidecar"):
        read_meta(path)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temp file left


# -- reading: bad input ----------------------------------------------------------------------------------
def test_empty_file_has_no_records(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    (tmp_path / "e.csv").write_text(",".join(CSV_COLUMNS) + "\n")
    assert read_records(tmp_path / "e.jsonl") == [] and read_records(tmp_path / "e.csv") == []


@pytest.mark.parametrize("lines, match", [
    (['{"frame": 0'], r"line 1: not valid JSON"),
    ([json.dumps(_row()), "[1, 2]"], r"line 2: expected a JSON object"),
    ([json.dumps(_row()), json.dumps(_row(frame=1, time=0.1, in_frame="yes"))], r"line 2: 'in_frame' must be true or false"),
    ([json.dumps(_row(track_id=-3))], r"line 1: 'track_id' must be >= 0"),
    ([json.dumps(_row(gaze_xy_norm=[1]))], r"line 1: 'gaze_xy_norm' must be a list of 2 numbers"),
    ([json.dumps(_row(time=None))], r"line 1: 'time' must be a finite number"),
])
def test_malformed_lines_name_file_and_line(tmp_path, lines, match):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordsError, match=match) as e:
        read_records(path)
    assert str(path) in str(e.value)


def test_missing_fields_of_older_records_are_named(tmp_path):
    row = _row()
    del row["mutual"]
    path = _write_jsonl(tmp_path / "old.jsonl", [row])
    with pytest.raises(RecordsError, match=r"old.jsonl, line 1: missing field 'mutual' .*older gazecam"):
        read_records(path)
    row = _row()
    del row["peak"], row["gaze_xy"]  # not needed for the analysis: read as None
    rec = read_records(_write_jsonl(tmp_path / "ok.jsonl", [row]))[0]
    assert rec.peak is None and rec.gaze_xy is None
    csv_path = tmp_path / "old.csv"
    cols = [c for c in CSV_COLUMNS if c not in ("gaze_x_norm", "gaze_y_norm")]
    csv_path.write_text(",".join(cols) + "\n")
    with pytest.raises(RecordsError, match=r"line 1: missing field 'gaze_xy_norm' \(CSV columns gaze_x_norm, "):
        read_records(csv_path)


def test_csv_row_with_the_wrong_number_of_cells(tmp_path):
    path = tmp_path / "bad.csv"
    with RecordsSink(path) as sink:
        sink.write(make_result(0, 1))
    path.write_text(path.read_text() + "1,0.03,3\n")
    with pytest.raises(RecordsError, match=r"bad.csv, line 3: expected 22 columns, got 3"):
        read_records(path)


def test_records_of_several_videos_in_one_file_are_an_error(tmp_path):
    rows = [_row(frame=0, time=0.0), _row(frame=1, time=0.1), _row(frame=0, time=0.0)]
    with pytest.raises(RecordsError, match=r"line 3: frame 0 comes after frame 1.*several videos"):
        read_records(_write_jsonl(tmp_path / "mixed.jsonl", rows))
    rows = [_row(frame=0, time=0.0), _row(frame=0, time=0.0)]
    with pytest.raises(RecordsError, match=r"line 2: track_id 1 appears twice in frame 0"):
        read_records(_write_jsonl(tmp_path / "dup.jsonl", rows))
    rows = [_row(frame=0, time=0.0), _row(frame=0, time=0.5, track_id=2)]
    with pytest.raises(RecordsError, match=r"line 2: frame 0 has time 0.5 here"):
        read_records(_write_jsonl(tmp_path / "time.jsonl", rows))


def test_missing_records_file(tmp_path):
    with pytest.raises(RecordsError, match="does not exist"):
        read_records(tmp_path / "nope.jsonl")
    with pytest.raises(RecordsError, match="is a directory"):
        read_records(tmp_path)
    assert issubclass(RecordsError, InputError)


# -- head files -------------------------------------------------------------------------------------
def test_jsonl_heads_pixels_and_normalised_with_clipping(tmp_path):
    p = tmp_path / "heads.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"frame": 0, "xyxy": [10, 10, 50, 50]},
        {"frame": 0, "xyxy_norm": [0.5, 0.5, 0.75, 1.0], "confidence": 0.7},
        {"frame": 2, "xyxy": [-20, 100, 30, 200]},  # at the border: clipped
        {"frame": 3, "xyxy": [500, 500, 600, 600]},  # entirely outside: dropped
    ]) + "\n\n")
    fh = FileHeads(p)
    assert not fh.has_track_ids and fh.frames == [0, 2, 3]
    h0 = fh.detect(_frame(index=0))
    np.testing.assert_allclose(h0.xyxy, [[10, 10, 50, 50], [80, 60, 120, 120]])
    np.testing.assert_allclose(h0.confidence, [1.0, 0.7])
    assert h0.track_ids.tolist() == [-1, -1]
    assert len(fh.detect(_frame(index=1))) == 0
    np.testing.assert_allclose(fh.detect(_frame(index=2)).xyxy, [[0, 100, 30, 120]])
    assert len(fh.detect(_frame(index=3))) == 0


def test_json_and_csv_heads_with_track_ids(tmp_path):
    pj = tmp_path / "heads.json"
    pj.write_text(json.dumps({"heads": [{"frame": 1, "xyxy": [1, 2, 3, 4], "track_id": 7}]}))
    fj = FileHeads(pj)
    assert fj.has_track_ids
    assert fj.detect(_frame(index=1)).track_ids.tolist() == [7]
    pc = tmp_path / "heads.csv"
    pc.write_text("frame,x1_norm,y1_norm,x2_norm,y2_norm,track_id\n0,0.1,0.1,0.2,0.3,4\n0,0.5,0.5,0.6,0.6,5\n")
    fc = FileHeads(pc)
    h = fc.detect(_frame(index=0))
    np.testing.assert_allclose(h.xyxy[0], [16, 12, 32, 36], rtol=1e-5)
    assert h.track_ids.tolist() == [4, 5]


def test_gazecam_records_are_accepted_as_head_files(tmp_path):
    p = tmp_path / "rec.jsonl"
    p.write_text(json.dumps({"frame": 0, "time": 0.0, "track_id": 3, "head_xyxy": [1, 1, 9, 9],
                             "head_xyxy_norm": [0.0, 0.0, 0.1, 0.1]}) + "\n")
    with pytest.raises(InputError, match=rf"heads file {p}, line 1: the pixel box .* and the normalised box .* "
                                         "disagree"):
        FileHeads(p)  # both pixel and normalised boxes, and no frame size makes them the same box
    p.write_text(json.dumps({"frame": 0, "time": 0.0, "track_id": 3, "head_xyxy": [1, 1, 9, 9]}) + "\n")
    assert FileHeads(p).detect(_frame()).track_ids.tolist() == [3]


@pytest.mark.parametrize("name, text, match", [
    ("a.jsonl", '{"frame": 0, "xyxy": [1, 2, 3, 4]}\n{"frame": 1, "xyxy": [1, 2, 3]}\n', r"line 2: 'xyxy' must be"),
    ("a.jsonl", '{"frame": 0, "xyxy": [1, 2, 3, 4]}\nnot json\n', r"line 2: not valid JSON"),
    ("a.jsonl", '{"xyxy": [1, 2, 3, 4]}\n', r"line 1: missing 'frame'"),
    ("a.jsonl", '{"frame": -1, "xyxy": [1, 2, 3, 4]}\n', r"line 1: 'frame' must be >= 0"),
    ("a.jsonl", '{"frame": 0, "xyxy": [1, 2, 3, 4], "track_id": 1e30}\n', r"line 1: 'track_id' must be a 64-bit"),
    ("a.csv", "frame,x1,y1,x2,y2\n99999999999999999999,1,2,3,4\n", r"line 2: 'frame' must be a 64-bit"),
    ("a.jsonl", '{"frame": 0, "xyxy": [5, 2, 3, 4]}\n', r"line 1: inverted box"),
    ("a.jsonl", '{"frame": 0, "xyxy": [1, 2, "x", 4]}\n', r"line 1: box values must be numbers"),
    ("a.jsonl", '{"frame": 0, "xyxy": [1, 2, 3, 4], "track_id": 1}\n{"frame": 1, "xyxy": [1, 2, 3, 4]}\n',
     r"track_id for some boxes"),
    ("a.json", '[{"frame": 0, "xyxy": [1, 2, 3, 4]}, 5]', r"record 1: expected an object"),
    ("a.json", '{"frame": 0', r"line 1: not valid JSON"),
    ("a.csv", "frame,a,b\n0,1,2\n", r"line 1: CSV header needs"),
    ("a.csv", "frame,x1,y1,x2,y2\n0,1,2,3,4\n1,1,2,zz,4\n", r"line 3: box values must be numbers"),
    ("a.txt", "", r"expected \.json, \.jsonl or \.csv"),
])
def test_malformed_head_files_name_file_and_line(tmp_path, name, text, match):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        FileHeads(p)
    assert str(p) in str(e.value)


def test_missing_head_file():
    with pytest.raises(InputError, match="does not exist"):
        FileHeads("/nonexistent/heads.jsonl")


@pytest.mark.parametrize("suffix, text, where", [
    (".jsonl", '{"frame": 0, "xyxy": [1, 2, 3, 4]}\n{"frame": 1, "xyxy": [-1e39, 20, 1e39, 50]}\n', "line 2"),
    (".csv", "frame,x1,y1,x2,y2\n0,1,2,3,4\n1,0,0,5e38,9\n", "line 3"),
])
def test_file_heads_beyond_float32_are_refused_with_file_and_line(tmp_path, suffix, text, where):
    p = tmp_path / f"heads{suffix}"
    p.write_text(text)
    with pytest.raises(InputError, match=rf"heads file {p}, {where}: box values must be within ±3\.4e\+38 \(32-bit"):
        FileHeads(p)


def test_file_heads_skips_zero_area_and_counts_boxes_outside_and_after_the_end(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"frame": 0, "xyxy": [5, 5, 5, 9]}\n{"frame": 0, "xyxy": [1, 1, 9, 9]}\n'
                 '{"frame": 1, "xyxy": [200, 200, 300, 300]}\n{"frame": 4, "xyxy": [1, 1, 9, 9]}\n')
    fh = FileHeads(p)
    assert fh.zero_area == 1 and fh.num_boxes == 3
    frame = lambda i: Frame(image=np.zeros((50, 60, 3), np.uint8), index=i, timestamp_s=i / 25)  # noqa: E731
    assert len(fh.detect(frame(0))) == 1 and len(fh.detect(frame(1))) == 0 and fh.outside == 1
    assert fh.boxes_after(1) == 1 and fh.boxes_after(4) == 0


# -- issue 18 case 10: ids beyond 64-bit integers ----------------------------------------------------------
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
@pytest.mark.parametrize("field", ["track_id", "looking_at"])
def test_ids_outside_int64_name_file_line_and_field(tmp_path, suffix, field):
    path = tmp_path / f"rec{suffix}"
    with RecordsSink(path) as sink:
        sink.write(make_result(0, 2))
        sink.write(make_result(1, 2))
    lines = path.read_text().splitlines()
    if suffix == ".jsonl":
        row = json.loads(lines[2])
        row[field] = 1e30
        lines[2] = json.dumps(row)
        where = "line 3"
    else:
        cells = lines[2].split(",")
        cells[CSV_COLUMNS.index(field)] = "1e30"
        lines[2] = ",".join(cells)
        where = "line 3"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordsError, match=rf"records {path}, {where}: '{field}' must be a 64-bit integer") as e:
        read_records(path)
    assert "\n" not in str(e.value)
    row = _row(**{field: 2**63})  # one past the largest int64, as an exact JSON integer
    with pytest.raises(RecordsError, match=rf"line 1: '{field}' must be a 64-bit integer"):
        read_records(_write_jsonl(tmp_path / "big.jsonl", [row]))
    ok = _row(track_id=2**63 - 1, looking_at=None)
    assert read_records(_write_jsonl(tmp_path / "max.jsonl", [ok]))[0].track_id == 2**63 - 1


def test_unparseable_huge_integers_and_deep_nesting_are_one_line_errors(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps(_row()) + "\n" + '{"frame": ' + "9" * 5000 + "}\n")
    with pytest.raises(RecordsError, match=rf"records {p}, line 2: not a records line"):
        read_records(p)
    p.write_text("[" * 100000 + "]" * 100000 + "\n")
    with pytest.raises(RecordsError, match=rf"records {p}, line 1"):
        read_records(p)


# -- issue 18 cases 1 and 11: sidecar values ------------------------------------------------------------------
@pytest.mark.parametrize("text, field", [
    ('"height": -576', "height"), ('"height": 1e7', "height"), ('"width": 1, "height": 10000', "height"),
    ('"width": NaN', "width"), ('"height": Infinity', "height"), ('"width": 640.5', "width"),
    ('"width": "640"', "width"), ('"fps": NaN', "fps"), ('"fps": -30', "fps"), ('"fps": 1e300', "fps"),
])
def test_impossible_sidecar_values_name_the_sidecar_and_field(tmp_path, text, field):
    path = tmp_path / "rec.jsonl"
    _write_jsonl(path, [_row()])
    good = {"source": "a.mp4", "model": "m", "released": True, "width": 1024, "height": 576, "fps": 25.0}
    for key in ("width", "height", "fps"):
        if f'"{key}"' in text:
            del good[key]
    meta_path(path).write_text(json.dumps(good)[:-1] + ", " + text + "}")
    with pytest.raises(RecordsError, match=rf"records sidecar {meta_path(path)}: '{field}'") as e:
        read_meta(path)
    assert "\n" not in str(e.value)


def test_sane_sidecar_values_and_nulls_read_back(tmp_path):
    path = tmp_path / "rec.jsonl"
    meta_path(path).write_text(json.dumps({"source": "a", "model": "m", "released": False, "width": 3840,
                                           "height": 1080, "fps": 29.97}))
    meta = read_meta(path)
    assert meta is not None and (meta.width, meta.height, meta.fps) == (3840, 1080, 29.97)
    meta_path(path).write_text(json.dumps({"source": "a", "model": "m", "released": False, "width": None,
                                           "height": None, "fps": None}))
    meta = read_meta(path)
    assert meta is not None and (meta.width, meta.height, meta.fps) == (None, None, None)
    meta_path(path).write_text("{" + '"source": "' + "x" * (2 << 20) + '"}')
    with pytest.raises(RecordsError, match="bytes; a gazecam sidecar is a few hundred bytes"):
        read_meta(path)


# -- issue 18 case 9: gazecam's own records (JSONL and CSV) as --heads ------------------------------------------
def _own_records(path: Path, *, meta: RecordsMeta | None = None) -> Path:
    with RecordsSink(path, meta=meta) as sink:
        for i in range(3):
            sink.write(make_result(i, 2))  # 200x100 frames, ids 3 and 7, both box forms in every record
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_own_records_are_heads_with_the_pixel_box(tmp_path, suffix):
    path = _own_records(tmp_path / f"rec{suffix}")
    heads = FileHeads(path)
    assert heads.frames == [0, 1, 2] and heads.has_track_ids
    frame = Frame(image=np.zeros((100, 200, 3), np.uint8), index=1, timestamp_s=0.1)
    got = heads.detect(frame)
    assert got.track_ids.tolist() == [3, 7]
    np.testing.assert_allclose(got.xyxy, [[10.12, 20.46, 50.79, 70.0], [100, 10, 140, 60]], atol=1e-4)
    meta = RecordsMeta(source="a.mp4", model="m", released=True, width=200, height=100, fps=30.0)
    assert FileHeads(_own_records(tmp_path / f"with_meta{suffix}", meta=meta)).num_boxes == 6


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_own_records_whose_two_boxes_disagree_are_refused_with_file_and_line(tmp_path, suffix):
    path = _own_records(tmp_path / f"rec{suffix}")
    lines = path.read_text().splitlines()
    n = 3 if suffix == ".jsonl" else 4  # the second record of frame 1
    if suffix == ".jsonl":
        row = json.loads(lines[n - 1])
        row["head_xyxy_norm"][0] += 0.01  # 2 pixels off on a 200 pixel wide frame
        lines[n - 1] = json.dumps(row)
    else:
        cells = lines[n - 1].split(",")
        i = CSV_COLUMNS.index("head_x1_norm")
        cells[i] = str(float(cells[i]) + 0.01)
        lines[n - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"heads file {path}, line {n}: the pixel box .* disagree") as e:
        FileHeads(path)
    assert "\n" not in str(e.value)


def test_own_records_made_on_frames_of_another_size_are_refused(tmp_path):
    meta = RecordsMeta(source="a.mp4", model="m", released=True, width=400, height=200, fps=30.0)
    path = _own_records(tmp_path / "rec.jsonl", meta=meta)  # boxes agree with 200x100, the sidecar says 400x200
    with pytest.raises(InputError, match=rf"heads file {path}, line 1: .*disagree \(the records' sidecar says "
                                         r"400x200 pixels\)"):
        FileHeads(path)
    heads = FileHeads(_own_records(tmp_path / "plain.jsonl"))  # no sidecar: checked on the frames read
    frame = Frame(image=np.zeros((200, 400, 3), np.uint8), index=0, timestamp_s=0.0)
    with pytest.raises(InputError, match=r"plain.jsonl, line 1: .*disagree \(frame 0 is 400x200 pixels\)"):
        heads.detect(frame)


def test_a_sidecar_written_with_an_unknown_size_reads_back(tmp_path):
    path = tmp_path / "rec.jsonl"
    with RecordsSink(path, meta=RecordsMeta(source="cam", model="m", released=True, width=0, height=0,
                                            fps=float("nan"))) as sink:
        sink.write(make_result(0, 1))
    meta = read_meta(path)
    assert meta is not None and (meta.width, meta.height, meta.fps) == (None, None, None)
