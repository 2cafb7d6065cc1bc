"""Dataset readers on small generated files in each layout, including malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gazecam.research.eval.datasets import (
    DatasetError,
    load_dataset,
    load_rgb,
    read_gazefollow_annotations,
    read_gazefollow_preprocessed,
    read_jsonl,
    read_vat_annotations,
    read_vat_preprocessed,
)


def _image(path: Path, w: int, h: int, value: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


# -- GazeFollow published --------------------------------------------------------------------
def _gf_line(path, idx, eye, gaze, box, inout=None, meta="x"):
    cols = [path, idx, 1, 2, 30, 40, eye[0], eye[1], gaze[0], gaze[1], *box]
    if inout is not None:
        cols.append(inout)
    return ",".join(str(c) for c in cols + ["src", meta])


@pytest.fixture
def gazefollow_dir(tmp_path):
    root = tmp_path / "gazefollow_extended"
    _image(root / "train/0/a.png", 40, 20)
    _image(root / "train/0/b.png", 30, 30)
    _image(root / "test2/0/c.png", 50, 25)
    train = [
        _gf_line("train/0/b.png", 0, (0.5, 0.5), (0.1, 0.2), (1, 2, 10, 12), 1),
        _gf_line("train/0/a.png", 1, (0.2, 0.3), (0.7, 0.8), (12, 4, 2, 50), 1),  # inverted x, y beyond image
        _gf_line("train/0/a.png", 2, (0.6, 0.3), (-1, -1), (20, 1, 30, 9), 0),
        _gf_line("train/0/a.png", 3, (0.6, 0.3), (0.4, 0.4), (20, 1, 30, 9), -1),  # unknown in/out: dropped
    ]
    (root / "train_annotations_release.txt").write_text("\n".join(train) + "\n")
    test = [
        _gf_line("test2/0/c.png", 0, (0.7, 0.2), (0.1, 0.1), (30, 2, 40, 10)),
        _gf_line("test2/0/c.png", 0, (0.3, 0.2), (0.5, 0.6), (5, 2, 15, 10)),
        _gf_line("test2/0/c.png", 0, (0.7, 0.2), (0.2, 0.3), (30, 2, 40, 10)),
        _gf_line("test2/0/c.png", 0, (0.3, 0.2), (-1, -1), (5, 2, 15, 10)),
    ]
    (root / "test_annotations_release.txt").write_text("\n".join(test) + "\n")
    return root


def test_gazefollow_published_train(gazefollow_dir):
    ds = read_gazefollow_annotations(gazefollow_dir / "train_annotations_release.txt")
    assert ds.kind == "gazefollow"
    assert [im.path.name for im in ds.images] == ["a.png", "b.png"]  # sorted by path, as pandas groupby
    a = ds.images[0]
    assert len(a.heads) == 2  # the inout == -1 row is dropped
    h0, h1 = a.heads
    assert h0.inout == 1 and h0.gaze_x_norm == (0.7,) and h0.gaze_y_norm == (0.8,)
    # inverted box swapped, then clamped to the 40x20 image
    assert h0.box_norm(40, 20) == (2 / 40, 4 / 20, 12 / 40, 20 / 20)
    assert h1.inout == 0 and h1.gaze_point_norm is None
    assert h0.where.endswith("train_annotations_release.txt:2")


def test_gazefollow_published_test_groups_annotators(gazefollow_dir):
    ds = load_dataset("gazefollow", gazefollow_dir, split="test")
    assert len(ds.images) == 1
    heads = ds.images[0].heads
    assert len(heads) == 2  # grouped by (image, eye_x); ordered by eye_x
    assert heads[0].gaze_x_norm == (0.5, -1.0) and heads[0].gaze_y_norm == (0.6, -1.0)
    assert heads[1].gaze_x_norm == (0.1, 0.2) and heads[1].gaze_y_norm == (0.1, 0.3)
    assert heads[1].box_norm(50, 25) == (30 / 50, 2 / 25, 40 / 50, 10 / 25)
    assert all(h.inout == 1 for h in heads)


@pytest.mark.parametrize("line, message", [
    ("train/0/a.png,0,1,2,3", "expected at least 15 comma-separated columns"),
    (_gf_line("train/0/a.png", 0, (0.5, "abc"), (0.1, 0.2), (1, 2, 3, 4), 1), "column 'eye_y' should be a number"),
    (_gf_line("train/0/a.png", 0, (0.5, 0.5), (0.1, 0.2), (1, 2, 3, 4), 7), "column 'inout' should be -1, 0 or 1"),
    (_gf_line("train/0/a.png", 0, (0.5, 0.5), ("nan", 0.2), (1, 2, 3, 4), 1), "not finite"),
])
def test_gazefollow_malformed_line_names_file_and_line(tmp_path, line, message):
    good = _gf_line("train/0/a.png", 0, (0.5, 0.5), (0.1, 0.2), (1, 2, 3, 4), 1)
    f = tmp_path / "train_annotations_release.txt"
    f.write_text(f"{good}\n\n{good}\n{line}\n")
    with pytest.raises(DatasetError, match=message) as e:
        read_gazefollow_annotations(f)
    assert f"{f}:4:" in str(e.value)


def test_gazefollow_inconsistent_boxes_for_one_person(tmp_path):
    f = tmp_path / "test_annotations_release.txt"
    f.write_text(_gf_line("c.png", 0, (0.7, 0.2), (0.1, 0.1), (30, 2, 40, 10)) + "\n"
                 + _gf_line("c.png", 0, (0.7, 0.2), (0.1, 0.1), (31, 2, 40, 10)) + "\n")
    with pytest.raises(DatasetError, match=r"test_annotations_release.txt:2: head box"):
        read_gazefollow_annotations(f)


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="annotation file not found"):
        read_gazefollow_annotations(tmp_path / "nope.txt")
    with pytest.raises(DatasetError, match="no GazeFollow annotations for split 'test'"):
        load_dataset("gazefollow", tmp_path)
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset("vat", tmp_path / "missing")
    with pytest.raises(DatasetError, match="image not found"):
        load_rgb(tmp_path / "none.png")


def test_jsonl_data_read_with_another_format_says_so(tmp_path):
    (tmp_path / "train.jsonl").write_text("{}\n")
    for kind in ("gazefollow", "vat"):
        with pytest.raises(DatasetError, match="holds train.jsonl: read it with the jsonl format"):
            load_dataset(kind, tmp_path, split="train")
        with pytest.raises(DatasetError, match="is a file; a .jsonl file is read with the jsonl format"):
            load_dataset(kind, tmp_path / "train.jsonl", split="train")


# -- GazeFollow / VAT preprocessed JSON (official data_prep output) ---------------------------
def test_gazefollow_preprocessed_json(tmp_path):
    frames = [{"path": "test2/c.png", "width": 50, "height": 25, "num_heads": 1, "crop_region": [0, 0, 1, 1],
               "heads": [{"bbox": [5, 2, 15, 10], "bbox_norm": [0.1, 0.08, 0.3, 0.4], "gazex": [25.0, -50.0],
                          "gazey": [15.0, -25.0], "gazex_norm": [0.5, -1], "gazey_norm": [0.6, -1], "inout": 1,
                          "num_annot": 2, "head_id": 0}]},
              {"path": "train/a.png", "width": 40, "height": 20,
               # official train JSON: bbox_norm[3] is xmax/height (a typo); the reader recomputes from bbox
               "heads": [{"bbox": [2, 4, 12, 20], "bbox_norm": [0.05, 0.2, 0.3, 0.6], "gazex_norm": [0.7],
                          "gazey_norm": [0.8], "inout": 1}]}]
    (tmp_path / "test_preprocessed.json").write_text(json.dumps(frames))
    ds = load_dataset("gazefollow", tmp_path, split="test")
    assert ds.source.name == "test_preprocessed.json" and len(ds.images) == 2
    h = ds.images[0].heads[0]
    assert h.box_norm(1, 1) == (5 / 50, 2 / 25, 15 / 50, 10 / 25)
    assert h.gaze_x_norm == (0.5, -1.0)
    assert ds.images[1].heads[0].box_norm(1, 1) == (2 / 40, 4 / 20, 12 / 40, 20 / 20)
    assert ds.images[0].path == tmp_path / "test2/c.png"


def test_vat_preprocessed_json_and_frame_step(tmp_path):
    seq = {"path": "images/s/c", "width": 64, "height": 32, "frames": [
        {"path": f"images/s/c/{i:05d}.jpg", "heads": [
            {"bbox": [8, 4, 16, 12], "bbox_norm": [0.125, 0.125, 0.25, 0.375], "gazex": [32], "gazey": [16],
             "gazex_norm": [0.5], "gazey_norm": [0.5], "inout": 1},
            {"bbox": [40, 4, 48, 12], "bbox_norm": [0.625, 0.125, 0.75, 0.375], "gazex": [-1], "gazey": [-1],
             "gazex_norm": [-1 / 64], "gazey_norm": [-1 / 32], "inout": 0}]} for i in range(5)]}
    (tmp_path / "test_preprocessed.json").write_text(json.dumps([seq]))
    ds = load_dataset("vat", tmp_path)
    assert ds.kind == "vat" and len(ds.images) == 5 and ds.num_heads == 10
    assert [h.inout for h in ds.images[0].heads] == [1, 0]
    assert ds.images[0].heads[0].box_norm(1, 1) == (0.125, 0.125, 0.25, 0.375)
    assert len(read_vat_preprocessed(tmp_path / "test_preprocessed.json", frame_step=2).images) == 3
    # a GazeFollow file given as VAT is named as such
    (tmp_path / "x.json").write_text(json.dumps([{"path": "a.png", "heads": []}]))
    with pytest.raises(DatasetError, match="looks like a GazeFollow file"):
        read_vat_preprocessed(tmp_path / "x.json")
    (tmp_path / "bad.json").write_text('[{"path": "a.png",\n "heads": [}]')
    with pytest.raises(DatasetError, match=r"bad.json:2: invalid JSON"):
        read_gazefollow_preprocessed(tmp_path / "bad.json")
    (tmp_path / "nokey.json").write_text(json.dumps([{"path": "a.png", "heads": [{"bbox_norm": [0, 0, 1, 1]}]}]))
    with pytest.raises(DatasetError, match=r"nokey.json: frame 0 head 0: head is missing the key 'gazex_norm'"):
        read_gazefollow_preprocessed(tmp_path / "nokey.json")


# -- VideoAttentionTarget published -------------------------------------------------------------
@pytest.fixture
def vat_dir(tmp_path):
    root = tmp_path / "videoattentiontarget"
    for i in range(1, 4):
        _image(root / f"images/show/clip1/{i:05d}.jpg", 64, 32)
    ann = root / "annotations/test/show/clip1"
    ann.mkdir(parents=True)
    # person 1: xmin jumps at frame 2 -> the 11-frame moving average spreads it over all 3 frames
    (ann / "s01.txt").write_text("00001.jpg,0,4,16,12,32,16\n00002.jpg,11,4,16,12,-1,-1\n00003.jpg,0,4,16,12,-1,20\n")
    (ann / "s02.txt").write_text("00002.jpg,40,4,48,12,10,30\n")
    return root


def test_vat_published_layout(vat_dir):
    ds = load_dataset("vat", vat_dir)
    assert ds.kind == "vat"
    assert [im.path.name for im in ds.images] == ["00001.jpg", "00002.jpg", "00003.jpg"]
    assert [len(im.heads) for im in ds.images] == [1, 2, 1]
    f1, f2, f3 = ds.images
    assert f1.heads[0].box_norm(1, 1) == pytest.approx((1 / 64, 4 / 32, 16 / 64, 12 / 32))  # smoothed xmin = 1
    assert f1.heads[0].inout == 1 and f1.heads[0].gaze_x_norm == (0.5,) and f1.heads[0].gaze_y_norm == (0.5,)
    assert f2.heads[0].inout == 0  # -1 -1: out of frame
    assert f2.heads[1].gaze_x_norm == (10 / 64,) and f2.heads[1].box_norm(1, 1)[0] == pytest.approx(40 / 64)
    assert f3.heads[0].inout == 1 and f3.heads[0].gaze_x_norm == (0.0,)  # (-1, 20) -> (0, 20), as official
    raw = read_vat_annotations(vat_dir, smooth_boxes=False)
    assert raw.images[1].heads[0].box_norm(1, 1)[0] == 11 / 64


@pytest.mark.parametrize("line, message", [
    ("00004.jpg,1,2,3,4,5", "expected 7 comma-separated columns"),
    ("00004.jpg,1,2,x,4,5,6", "column 'xmax' should be a number"),
    ("00001.jpg,1,2,3,4,5,6", "annotated twice"),
])
def test_vat_malformed_lines(vat_dir, line, message):
    f = vat_dir / "annotations/test/show/clip1/s01.txt"
    f.write_text(f.read_text() + line + "\n")
    with pytest.raises(DatasetError, match=message) as e:
        load_dataset("vat", vat_dir, layout="published")
    assert f"{f}:4:" in str(e.value)


def test_vat_missing_images(vat_dir):
    import shutil

    shutil.rmtree(vat_dir / "images")
    with pytest.raises(DatasetError, match="no images for clip"):
        load_dataset("vat", vat_dir)


# -- JSONL -----------------------------------------------------------------------------------------
def test_jsonl(tmp_path):
    _image(tmp_path / "frames/a.png", 40, 20)
    lines = [
        {"image": "frames/a.png", "head_xyxy_norm": [0.1, 0.1, 0.3, 0.4], "gaze_xy_norm": [0.8, 0.5]},
        {"image": "frames/a.png", "head_xyxy": [20, 2, 30, 10], "gaze_xy_norm": None},
        {"image": "frames/b.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": [0, 1], "inout": 1},
    ]
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    ds = load_dataset("jsonl", tmp_path, split="train")
    assert ds.kind == "jsonl" and len(ds.images) == 2 and ds.num_heads == 3
    a = ds.images[0]
    assert a.path == tmp_path / "frames/a.png"
    assert a.heads[0].inout == 1 and a.heads[0].gaze_point_norm == (0.8, 0.5)
    assert a.heads[1].inout == 0 and a.heads[1].box_norm(40, 20) == (0.5, 0.1, 0.75, 0.5)
    assert read_jsonl(f).images[1].heads[0].where == f"{f}:3"


@pytest.mark.parametrize("record, message", [
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1]', "invalid JSON"),
    ('[1, 2]', "expected a JSON object"),
    ('{"head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": null}', "missing 'image'"),
    ('{"image": "a.png", "gaze_xy_norm": null}', "exactly one of 'head_xyxy_norm'"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1], "gaze_xy_norm": null}', "list of 4 numbers"),
    ('{"image": "a.png", "head_xyxy_norm": [0.5, 0, 0.1, 1], "gaze_xy_norm": null}', "inverted"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 2, 1], "gaze_xy_norm": null}', r"must lie in \[0, 1\]"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1]}', "missing 'gaze_xy_norm'"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": [1.5, 0]}', "must lie in"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": null, "inout": 1}', "'inout' is 1"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": [0.5, 0.5], "inout": 0}', "'inout' is 0"),
    ('{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": [0.5, 0.5], "inout": 2}', "0 or 1"),
])
def test_jsonl_malformed_lines(tmp_path, record, message):
    f = tmp_path / "own.jsonl"
    good = '{"image": "a.png", "head_xyxy_norm": [0, 0, 1, 1], "gaze_xy_norm": [0.5, 0.5]}'
    f.write_text(f"{good}\n{record}\n")
    with pytest.raises(DatasetError, match=message) as e:
        read_jsonl(f)
    assert f"{f}:2:" in str(e.value)


def test_limit_and_subset(gazefollow_dir):
    ds = load_dataset("gazefollow", gazefollow_dir, split="train")
    assert len(ds.limit(1).images) == 1 and ds.limit(None) is ds
    assert ds.subset([1]).images == (ds.images[1],)


def _jsonl_with_a_missing_image(tmp_path: Path) -> Path:
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    rec = {"head_xyxy_norm": [0.1, 0.1, 0.3, 0.3], "gaze_xy_norm": [0.5, 0.5]}
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"image": name, **rec}) + "\n" for name in ("a.png", "a.png", "gone.png",
                                                                                 "gone2.png")))
    return path


def test_missing_images_are_named_with_their_annotation_line(tmp_path):
    from gazecam.research.eval.datasets import DatasetError, read_jsonl

    dataset = read_jsonl(_jsonl_with_a_missing_image(tmp_path))
    with pytest.raises(DatasetError, match=r"test\.jsonl:3: image .*gone\.png not found; 1 more of the 3 images"):
        dataset.check_images()
    dataset.limit(1).check_images()  # only the images that will be used


def test_eval_reports_a_missing_image_before_loading_the_model(tmp_path, capsys, monkeypatch):
    import gazecam.commands.common as common
    from gazecam.cli import build_parser, main

    build_parser()  # every command module imported first: none keeps the stand-in below after the test
    monkeypatch.setattr(common, "load_model", lambda args: pytest.fail("the model was loaded before the check"))
    assert main(["eval", "jsonl", "--data", str(_jsonl_with_a_missing_image(tmp_path)), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "test.jsonl:3: image" in err and "gone.png not found" in err and "Traceback" not in err
