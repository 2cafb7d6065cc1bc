"""process_source: the one per-video loop (outputs, report, progress, stop, bad input) and ProcessOptions."""

from __future__ import annotations

import json
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fakes import CountingModel

from gazecam.capture import Capture
from gazecam.errors import InputError
from gazecam.gaze import GazeOptions
from gazecam.jobs import ProcessOptions, ProcessReport, process_source
from gazecam.outputs import check_output_path

H, W = 96, 128


def make_video(path: Path, n: int = 8, fps: int = 10) -> Path:
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.time_base = Fraction(1, fps)
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.full((H, W, 3), 25 * i % 255, np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path


def heads(path: Path, n: int) -> Path:
    path.write_text("".join(f'{{"frame": {i}, "xyxy": [10, 10, 40, 40]}}\n' for i in range(n) if i != 3))
    return path


def frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_video_and_records_with_report_and_progress(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=8)
    model, seen = CountingModel(), []
    options = ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 8), gaze=GazeOptions(stride=2))
    report = process_source(video, model=model, options=options, video_path=tmp_path / "o.mp4",
                            records_path=tmp_path / "o.csv", on_frame=lambda r: seen.append(r.frame.index))
    assert isinstance(report, ProcessReport)
    assert seen == list(range(8))
    assert (report.frames, report.people_frames, report.frames_with_people) == (8, 7, 7)
    assert report.encodes == model.encodes == 4 and not report.interrupted
    assert (report.frames_repeated, report.frames_letterboxed) == (0, 0)
    assert report.source == str(video) and report.capture.frames_read == 8
    assert {"detect", "encode", "render", "write"} <= set(report.stage_ms)
    assert frames_in(tmp_path / "o.mp4") == 8
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[0].startswith("frame,") and len(rows) == 8


def test_stop_finishes_cleanly_with_complete_outputs(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=30)
    stop = threading.Event()

    def on_frame(result) -> None:
        if result.frame.index == 4:
            stop.set()

    report = process_source(video, model=CountingModel(), options=ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 30)),
                            video_path=tmp_path / "o.mp4", records_path=tmp_path / "o.jsonl", on_frame=on_frame,
                            stop=stop)
    assert report.interrupted and report.frames == 5
    assert frames_in(tmp_path / "o.mp4") == 5
    lines = [json.loads(ln) for ln in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == [0, 1, 2, 4]  # frame 3 has nobody


def test_an_open_capture_is_used_and_closed(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=3)
    capture = Capture(video)
    report = process_source(capture, model=CountingModel(), options=ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 3),
                                                                                   max_frames=2),
                            records_path=tmp_path / "o.jsonl")
    assert report.frames == 2 and report.video_path is None and capture._closed


def test_bad_outputs_and_inputs_are_input_errors(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=2)
    opts = ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 2))
    with pytest.raises(InputError, match="nothing to write"):
        process_source(video, model=CountingModel(), options=opts)
    before = video.read_bytes()
    with pytest.raises(InputError, match=r"video_path=.* is the input file"):
        process_source(video, model=CountingModel(), options=opts, video_path=video)
    assert video.read_bytes() == before
    with pytest.raises(InputError, match="name the same file"):
        process_source(video, model=CountingModel(), options=opts, video_path=tmp_path / "o.mp4",
                       records_path=tmp_path / "o.mp4")
    with pytest.raises(InputError, match="input not found"):
        process_source(tmp_path / "nope.mp4", model=CountingModel(), options=opts, video_path=tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


def test_check_output_path_names_the_parameter(tmp_path):
    with pytest.raises(InputError, match=r"records_path=.*does not exist"):
        check_output_path(tmp_path / "missing" / "r.jsonl", parameter="records_path")
    with pytest.raises(InputError, match=r"video_path=.*is a directory"):
        check_output_path(tmp_path, parameter="video_path")
    existing = tmp_path / "keep.mp4"
    existing.write_bytes(b"old")
    check_output_path(existing, parameter="video_path")
    check_output_path(tmp_path / "new.mp4", parameter="video_path")
    assert existing.read_bytes() == b"old" and not (tmp_path / "new.mp4").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"stride": 0}, "stride=0"),
    ({"max_frames": 0}, "max_frames=0"),
    ({"detector_conf": 1.5}, "detector_conf=1.5"),
    ({"inout_threshold": -0.1}, "inout_threshold=-0.1"),
    ({"heatmap": "rainbow"}, "heatmap='rainbow'"),
    ({"heads_path": Path("h.jsonl"), "detector": "pose"}, "not both"),
])
def test_options_are_validated(kwargs, match):
    gaze = {k: kwargs.pop(k) for k in ("stride", "inout_threshold") if k in kwargs}  # GazeOptions fields
    with pytest.raises(InputError, match=match):
        ProcessOptions(**kwargs, gaze=GazeOptions(**gaze))


def test_result_key_is_json_and_tells_options_apart():
    a, b = ProcessOptions(), ProcessOptions(gaze=GazeOptions(stride=2))
    assert json.loads(json.dumps(a.result_key())) == a.result_key()
    assert a.result_key() != b.result_key()
    assert ProcessOptions(heads_path="h.jsonl").result_key()["heads_path"] == "h.jsonl"


# -- outputs against inputs, skips named (issue 12) ------------------------------------------------------
def test_every_output_is_checked_against_every_input(tmp_path):
    import os

    from PIL import Image

    video = make_video(tmp_path / "in.mp4", n=2)
    h = heads(tmp_path / "h.jsonl", 2)
    opts = ProcessOptions(heads_path=h)
    link = tmp_path / "link.mp4"
    os.link(video, link)
    kept = {p: p.read_bytes() for p in (video, h)}
    with pytest.raises(InputError, match=r"video_path=.*link.mp4' is the input file source=.*\(by a link\)"):
        process_source(video, model=CountingModel(), options=opts, video_path=link)
    with pytest.raises(InputError, match=r"records_path=.* is the input file heads_path="):
        process_source(video, model=CountingModel(), options=opts, records_path=h)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((H, W, 3), 40 * i, np.uint8)).save(folder / f"f{i}.png")
    kept[folder / "f1.png"] = (folder / "f1.png").read_bytes()
    with pytest.raises(InputError, match="is one of the images of the input folder"):
        process_source(folder, model=CountingModel(), options=opts, video_path=folder / "f1.png")
    with pytest.raises(InputError, match="would be read as one of its images"):
        process_source(folder, model=CountingModel(), options=opts, records_path=folder / "f9.png")
    assert all(p.read_bytes() == data for p, data in kept.items())
    assert sorted(os.listdir(folder)) == ["f0.png", "f1.png"]
    report = process_source(folder, model=CountingModel(), options=opts, video_path=folder / "annotated.mp4")
    assert report.frames == 2 and frames_in(folder / "annotated.mp4") == 2  # an mp4 next to the images is fine


def test_skipped_heads_are_counted(tmp_path):
    video = make_video(tmp_path / "in.mp4", n=5)
    h = tmp_path / "h.jsonl"
    h.write_text("".join([
        '{"frame": 0, "xyxy": [10, 10, 40, 40]}\n',
        '{"frame": 1, "xyxy": [10, 10, 10, 40]}\n',  # zero width
        '{"frame": 2, "xyxy": [500, 500, 600, 600]}\n',  # outside the 128 x 96 frame
        '{"frame": 2, "xyxy_norm": [0.1, 0.1, 1e36, 0.5]}\n',  # huge but clipped: kept
        '{"frame": 7, "xyxy": [10, 10, 40, 40]}\n', '{"frame": 9, "xyxy": [10, 10, 40, 40]}\n',  # after the end
    ]))
    report = process_source(video, model=CountingModel(), options=ProcessOptions(heads_path=h),
                            records_path=tmp_path / "r.jsonl")
    assert report.last_index == 4 and report.people_frames == 2
    assert (report.heads_zero_area, report.heads_outside, report.heads_after_end) == (1, 1, 2)
    cut = process_source(video, model=CountingModel(), options=ProcessOptions(heads_path=h, max_frames=2),
                         records_path=tmp_path / "r.jsonl")
    assert cut.last_index == 1 and cut.heads_after_end == 4  # frames 2, 2, 7, 9 were not reached


def test_unreadable_images_are_named(tmp_path):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("a1.png", "a3.png"):
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / name)
    (folder / "a2.png").write_text("not a picture")
    report = process_source(folder, model=CountingModel(), options=ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 3)),
                            video_path=tmp_path / "o.mp4")
    assert report.capture.frames_corrupt == 1 and report.capture.skipped_files == ("a2.png",)
    assert report.frames == 2 and report.frames_repeated == 1 and frames_in(tmp_path / "o.mp4") == 3


def test_a_detector_that_does_not_exist_fails_in_the_options(tmp_path):
    with pytest.raises(InputError, match=r"detector='banana': expected .*auto.* or a YOLO model file .* banana does "
                                         "not exist"):
        ProcessOptions(detector="banana")
    model = tmp_path / "heads.pt"
    model.write_bytes(b"")
    assert ProcessOptions(detector=str(model)).detector == str(model)  # files are checked when loaded
    assert ProcessOptions(detector="Pose").detector == "Pose"


def test_records_times_never_go_back_on_an_avi_with_b_frames(tmp_path):
    """A generated MPEG-4 AVI with B-frames (made-up timestamps, out of order): every frame once, in order."""
    from fakes import make_video as make_clip

    clip = make_clip(tmp_path / "b.avi", n=24, codec="mpeg4", audio=False, gop=12, codec_options={"bf": "2"})
    h = tmp_path / "h.jsonl"
    h.write_text("".join(f'{{"frame": {i}, "xyxy": [4, 4, 20, 20]}}\n' for i in range(24)))
    report = process_source(clip, model=CountingModel(), options=ProcessOptions(heads_path=h),
                            video_path=tmp_path / "o.mp4", records_path=tmp_path / "o.jsonl")
    rows = [json.loads(ln) for ln in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(24))
    assert all(b["time"] > a["time"] for a, b in zip(rows, rows[1:]))
    assert report.frames_repeated == 0 and frames_in(tmp_path / "o.mp4") == 24


# -- overlapped stages (issue 19 item 3) -------------------------------------------------------------------
@pytest.fixture()
def dump_threads_if_stuck():
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(300, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("stride", [1, "auto"])
def test_overlapped_stages_write_the_same_records_and_clip_as_one_step_after_the_other(tmp_path, stride, monkeypatch,
                                                                                        dump_threads_if_stuck):
    """Offline detector (searches every 3rd frame, optical flow in between), tracker, gaze with smoothing and
    a model whose output depends on the pixels: each stage keeps its state in its own thread."""
    from fakes import ImageModel, make_walkers_video

    video = make_walkers_video(tmp_path / "walk.mp4", n=24, width=320, height=180)
    import gazecam.sinks.clip as clip_module

    options = ProcessOptions(detector="offline", gaze=GazeOptions(stride=stride))
    out, pictures = {}, {False: [], True: []}  # what goes into the clip (x264 itself varies a little run to run)
    write = clip_module.ClipWriter.write
    for overlap in (False, True):
        model = ImageModel()
        monkeypatch.setattr(clip_module.ClipWriter, "write", lambda self, image, index=None, _o=overlap: (
            pictures[_o].append((index, image.copy())), write(self, image, index=index))[1])
        report = process_source(video, model=model, options=options, video_path=tmp_path / f"o{overlap}.mp4",
                                records_path=tmp_path / f"o{overlap}.jsonl", overlap=overlap)
        out[overlap] = (report, (tmp_path / f"o{overlap}.jsonl").read_text(), model.thread_ids)
    (seq, seq_lines, seq_threads), (ovl, ovl_lines, ovl_threads) = out[False], out[True]
    assert seq_lines == ovl_lines and seq.people_frames >= 24  # the walkers were found: records are not empty
    assert (ovl.frames, ovl.people_frames, ovl.encodes) == (seq.frames, seq.people_frames, seq.encodes) == \
        (24, len(seq_lines.splitlines()), seq.encodes)
    assert seq_threads == {threading.get_ident()} and len(ovl_threads) == 1 and ovl_threads != seq_threads
    assert set(ovl.thread_ms) == {"detect", "gaze", "render", "write"}
    assert [i for i, _ in pictures[True]] == [i for i, _ in pictures[False]] == list(range(24))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(pictures[False], pictures[True]))
    assert frames_in(tmp_path / "oTrue.mp4") == frames_in(tmp_path / "oFalse.mp4") == 24


def test_an_error_in_the_gaze_thread_reaches_the_caller_and_the_outputs_hold_the_frames_before_it(
        tmp_path, dump_threads_if_stuck):
    from gazecam.errors import GazecamError

    class Failing(CountingModel):
        def encode(self, image):
            if self.encodes == 5:  # frame 6 (frame 3 has nobody: no encode)
                raise RuntimeError("out of memory")
            return super().encode(image)

    video = make_video(tmp_path / "in.mp4", n=20)
    with pytest.raises(GazecamError, match=r"gaze model \(counting\) failed on frame 6: RuntimeError: out of memory"):
        process_source(video, model=Failing(), options=ProcessOptions(heads_path=heads(tmp_path / "h.jsonl", 20),
                                                                      gaze=GazeOptions(smooth=False)),
                       video_path=tmp_path / "o.mp4", records_path=tmp_path / "o.jsonl")
    assert not [t for t in threading.enumerate() if t.name.startswith("gazecam-stage:")]
    lines = [json.loads(ln) for ln in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == [0, 1, 2, 4, 5]  # frame 3 has nobody; frame 6 failed
    assert frames_in(tmp_path / "o.mp4") == 6
