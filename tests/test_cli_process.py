"""`gazecam process` end to end: outputs, warnings, every bad input of issue 3, Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fakes import Child, FullDisk
from PIL import Image

import gazecam.commands.process as process_cmd
import gazecam.sinks.video as sinks_mod
from gazecam.cli import main
from gazecam.sinks import RECORD_FIELDS

REPO = Path(__file__).resolve().parents[1]
H, W = 120, 160


# -- helpers ----------------------------------------------------------------------------------------
def make_video(path: Path, *, n: int = 12, fps: int = 10, width: int = W, height: int = H, audio: bool = True,
               options: dict[str, str] | None = None) -> Path:
    """n frames of a moving gradient, optional 440 Hz AAC track as long as the video."""
    with av.open(str(path), mode="w", options=options or {}) as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.time_base = Fraction(1, fps)
        a = c.add_stream("aac", rate=44100, layout="mono") if audio else None
        sent = 0
        for i in range(n):
            img = np.zeros((height, width, 3), np.uint8)
            img[..., 0] = (np.arange(width) * 255 // width)[None, :]
            img[..., 1] = 12 * i % 256
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in v.encode(f):
                c.mux(p)
            if a is not None:
                until = int(round((i + 1) / fps * 44100))
                while sent < until:
                    k = min(1024, until - sent)
                    pcm = (0.3 * np.sin(2 * np.pi * 440 * np.arange(sent, sent + k) / 44100)).astype(np.float32)
                    af = av.AudioFrame.from_ndarray(pcm[None], format="fltp", layout="mono")
                    af.sample_rate, af.pts, af.time_base = 44100, sent, Fraction(1, 44100)
                    for p in a.encode(af):
                        c.mux(p)
                    sent += k
        for s in (v, a):
            if s is not None:
                for p in s.encode(None):
                    c.mux(p)
    return path


def write_heads(path: Path, n: int, *, with_border_person: bool = True, width: int = W) -> Path:
    """A person moving right (no track ids: the tracker assigns them) and one half outside the left border."""
    rows = []
    for i in range(n):
        rows.append({"frame": i, "xyxy": [20 + 4 * i, 20, 50 + 4 * i, 50]})
        if with_border_person:
            rows.append({"frame": i, "xyxy": [-15, 60, 20, 95]})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def video_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        return {"frames": frames, "fps": v.average_rate, "width": v.codec_context.width,
                "height": v.codec_context.height, "audio": len(c.streams.audio) > 0}


@pytest.fixture()
def model_args(golden_dir: Path) -> list[str]:
    return ["--backbone", "dinov2_vits14", "--backbone-weights", str(golden_dir / "dinov2_vits14_random.pth"),
            "--gaze-weights", str(golden_dir / "gazelle_vits14_inout_random.pt"), "--device", "cpu"]


@pytest.fixture()
def fast_model(monkeypatch, golden_model_inout):
    """Reuse the session's golden model instead of loading it again for every command."""
    monkeypatch.setattr(process_cmd, "load_model", lambda args: golden_model_inout)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(["process", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1, err
    return lines[0]


# -- must show ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_end_to_end_video_records_audio_and_stable_ids(tmp_path, capsys, model_args):
    video = make_video(tmp_path / "in.mp4", n=8, fps=10)
    heads = write_heads(tmp_path / "heads.jsonl", 8)
    out, rec = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    code, err = run_cli([str(video), "-o", str(out), "--records", str(rec), "--heads", str(heads), "--stride", "2",
                         *model_args], capsys)
    assert code == 0, err
    src, dst = video_info(video), video_info(out)
    assert dst["frames"] == src["frames"] == 8
    assert dst["fps"] == src["fps"] == 10
    assert (dst["width"], dst["height"]) == (W, H)
    assert dst["audio"] and src["audio"]
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert len(lines) == 16  # one line per detected person per frame
    assert all(set(RECORD_FIELDS) <= set(ln) for ln in lines)
    assert sorted({ln["frame"] for ln in lines}) == list(range(8))
    ids_moving = {ln["track_id"] for ln in lines if ln["head_xyxy"][0] > 0}
    ids_border = {ln["track_id"] for ln in lines if ln["head_xyxy"][0] == 0}
    assert len(ids_moving) == 1 and len(ids_border) == 1 and ids_moving != ids_border and None not in ids_moving
    for ln in lines:  # heads at the border are clipped to the frame
        x0, y0, x1, y1 = ln["head_xyxy"]
        assert 0 <= x0 <= x1 <= W and 0 <= y0 <= y1 <= H
        assert isinstance(ln["in_frame"], bool) and isinstance(ln["inout"], float)
    assert "UNTRAINED" in err  # golden random weights: warned
    assert "done: 8 frame(s)" in err and "16 person-frame(s)" in err and "ms/frame" in err


def test_records_only_csv_with_stride(tmp_path, capsys, model_args, fast_model):
    video = make_video(tmp_path / "in.mp4", n=6, audio=False)
    heads = write_heads(tmp_path / "heads.jsonl", 6, with_border_person=False)
    rec = tmp_path / "out.csv"
    code, err = run_cli([str(video), "--records", str(rec), "--heads", str(heads), "--stride", "3", "--no-smooth",
                         *model_args], capsys)
    assert code == 0, err
    rows = rec.read_text().splitlines()
    assert rows[0].startswith("frame,time,track_id") and len(rows) == 7
    assert "encoder ran 2 time(s)" in err


def test_fallback_detector_warns_and_zero_people_are_reported(tmp_path, capsys, model_args, fast_model):
    video = make_video(tmp_path / "in.mp4", n=3, audio=False)  # a gradient: no faces
    out = tmp_path / "out.mp4"
    code, err = run_cli([str(video), "-o", str(out), "--detector", "face", "--heatmap", "per-person",
                         *model_args], capsys)
    assert code == 0, err
    assert "FALLBACK" in err and "no people were detected" in err
    assert video_info(out)["frames"] == 3


def test_quiet_prints_no_summary(tmp_path, capsys, model_args, fast_model):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    code, err = run_cli([str(video), "-o", str(tmp_path / "o.mp4"), "--heads",
                         str(write_heads(tmp_path / "h.jsonl", 2)), "--quiet", "--heatmap", "none", "--stride", "2", *model_args],
                        capsys)
    assert code == 0 and "done:" not in err


# -- bad input: one-line errors ---------------------------------------------------------------------
def test_missing_input(tmp_path, capsys, model_args):
    code, err = run_cli([str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4"), *model_args], capsys)
    assert code == 1 and "input not found" in error_line(err)


def test_not_a_video(tmp_path, capsys, model_args):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello\n" * 100)
    code, err = run_cli([str(bad), "-o", str(tmp_path / "o.mp4"), *model_args], capsys)
    assert code == 1 and "not a video" in error_line(err)
    assert not (tmp_path / "o.mp4").exists()


def test_zero_frames(tmp_path, capsys, model_args):
    path = tmp_path / "zero.mp4"
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()
    code, err = run_cli([str(path), "-o", str(tmp_path / "o.mp4"), *model_args], capsys)
    assert code == 1 and "frame" in error_line(err)
    assert not (tmp_path / "o.mp4").exists()


def test_truncated_file_without_index_is_an_error(tmp_path, capsys, model_args):
    video = make_video(tmp_path / "in.mp4", n=12)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:3000])
    code, err = run_cli([str(cut), "-o", str(tmp_path / "o.mp4"), *model_args], capsys)
    assert code == 1 and "truncated" in error_line(err)


def test_truncated_file_with_index_is_processed_and_reported(tmp_path, capsys, model_args, fast_model):
    video = make_video(tmp_path / "in.mp4", n=30, audio=False, options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[: video.stat().st_size * 6 // 10])
    out = tmp_path / "o.mp4"
    code, err = run_cli([str(cut), "-o", str(out), "--heads", str(write_heads(tmp_path / "h.jsonl", 30)),
                         "--stride", "10", *model_args], capsys)
    assert code == 0, err
    assert "looks truncated" in err and "missing (truncated input)" in err
    assert 0 < video_info(out)["frames"] < 30


def test_corrupt_frames_in_the_middle_are_counted_and_filled(tmp_path, capsys, model_args, fast_model):
    video = make_video(tmp_path / "in.mp4", n=20, audio=False)
    with av.open(str(video)) as c:
        spans = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(video.read_bytes())
    rng = np.random.default_rng(0)
    for k in (5, 6, 12):
        pos, size = spans[k]
        data[pos:pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    out, rec = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    code, err = run_cli([str(bad), "-o", str(out), "--records", str(rec), "--heads",
                         str(write_heads(tmp_path / "h.jsonl", 20, with_border_person=False)), "--stride", "10",
                         *model_args], capsys)
    assert code == 0, err
    assert "corrupt frame(s) skipped" in err
    assert video_info(out)["frames"] == 20  # skipped frames filled: same length, audio stays in sync
    frames = [json.loads(ln)["frame"] for ln in rec.read_text().splitlines()]
    assert 0 < len(frames) < 20 and frames == sorted(frames)


def test_gray_rgba_and_odd_sized_images(tmp_path, capsys, model_args, fast_model):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.full((359, 641), 128, np.uint8), mode="L").save(folder / "f1.png")
    Image.fromarray(np.full((359, 641, 4), 200, np.uint8)).save(folder / "f2.png")
    heads = tmp_path / "h.csv"
    heads.write_text("frame,x1_norm,y1_norm,x2_norm,y2_norm\n0,0.1,0.1,0.3,0.4\n1,0.9,0.9,1.2,1.3\n")
    out, rec = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    code, err = run_cli([str(folder), "-o", str(out), "--records", str(rec), "--heads", str(heads), "--stride", "2",
                         *model_args], capsys)
    assert code == 0, err
    info = video_info(out)
    assert (info["width"], info["height"], info["frames"]) == (641, 359, 2)
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == [0, 1]
    assert lines[1]["head_xyxy"][2] <= 641 and lines[1]["head_xyxy"][3] <= 359  # clipped at the border


@pytest.mark.slow
def test_folder_of_images_of_different_sizes_is_letterboxed_to_the_first(tmp_path, capsys, model_args, fast_model):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(folder / "a1.png")
    Image.fromarray(np.full((60, 160, 3), 200, np.uint8)).save(folder / "a2.png")  # wider aspect: bars above/below
    Image.fromarray(np.full((300, 100, 3), 200, np.uint8)).save(folder / "a3.jpg")
    heads = tmp_path / "h.jsonl"
    heads.write_text("".join(f'{{"frame": {i}, "xyxy_norm": [0.1, 0.1, 0.3, 0.4]}}\n' for i in range(3)))
    out, rec = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    code, err = run_cli([str(folder), "-o", str(out), "--records", str(rec), "--heads", str(heads),
                         "--heatmap", "none", *model_args], capsys)
    assert code == 0, err
    assert sum("letterboxed" in ln and "warning" in ln for ln in err.splitlines()) == 1  # warned once
    assert "2 of another size letterboxed" in err
    info = video_info(out)
    assert (info["width"], info["height"], info["frames"]) == (160, 120, 3)
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert frames[1][5, 80].max() < 40 and frames[1][60, 150].min() > 150  # black bar on top, picture in the middle
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert [ln["frame"] for ln in lines] == [0, 1, 2]
    assert lines[2]["head_xyxy"] == [10.0, 30.0, 30.0, 120.0]  # records keep the image's own pixels


def test_4k_frame(tmp_path, capsys, model_args, fast_model):
    img = tmp_path / "big.png"
    Image.fromarray(np.full((2160, 3840, 3), 60, np.uint8)).save(img)
    heads = tmp_path / "h.jsonl"
    heads.write_text('{"frame": 0, "xyxy_norm": [0.4, 0.1, 0.5, 0.3]}\n')
    out = tmp_path / "o.mp4"
    code, err = run_cli([str(img), "-o", str(out), "--heads", str(heads), *model_args], capsys)
    assert code == 0, err
    info = video_info(out)
    assert (info["width"], info["height"], info["frames"]) == (3840, 2160, 1)


@pytest.mark.parametrize("make_out, match", [
    (lambda d: d / "missing-dir" / "o.mp4", "does not exist"),
    (lambda d: d, "is a directory"),
])
def test_unwritable_output(tmp_path, capsys, model_args, make_out, match):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    code, err = run_cli([str(video), "-o", str(make_out(tmp_path)), *model_args], capsys)
    assert code == 1 and match in error_line(err)


def test_output_that_cannot_be_created_fails_before_the_model_load(tmp_path, capsys, model_args, monkeypatch):
    """os.access is no proof (root, read-only mounts, /proc): the output is really opened first."""
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    monkeypatch.setattr(process_cmd, "load_model", lambda args: pytest.fail("model loaded before the output check"))
    real_open = os.open

    def refusing_open(path, *a, **k):  # the output's temporary file cannot be created in that folder
        if str(path).endswith("o.partial.mp4"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", refusing_open)
    code, err = run_cli([str(video), "-o", str(tmp_path / "o.mp4"), *model_args], capsys)
    assert code == 1 and "Read-only file system" in error_line(err)
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("existing", [None, b"old"])
def test_output_check_leaves_no_probe_file_and_keeps_an_existing_file(tmp_path, capsys, model_args, existing):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    out = tmp_path / "o.mp4"
    if existing is not None:
        out.write_bytes(existing)
    code, err = run_cli([str(video), "-o", str(out), "--records", str(tmp_path / "missing" / "r.jsonl"),
                         *model_args], capsys)  # -o is probed, then --records fails
    assert code == 1 and "does not exist" in error_line(err)
    assert (out.read_bytes() if out.exists() else None) == existing


def test_output_is_the_input(tmp_path, capsys, model_args):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    before = video.read_bytes()
    code, err = run_cli([str(video), "-o", str(video), *model_args], capsys)
    assert code == 1 and "is the input" in error_line(err)
    assert video.read_bytes() == before


def test_disk_full(tmp_path, capsys, model_args, fast_model, monkeypatch):
    monkeypatch.setattr(sinks_mod, "_open_output_file", lambda path: (path.touch(), FullDisk(3000))[1])
    video = make_video(tmp_path / "in.mp4", n=12, audio=False)
    out = tmp_path / "o.mp4"
    code, err = run_cli([str(video), "-o", str(out), "--heads", str(write_heads(tmp_path / "h.jsonl", 12)),
                         "--stride", "12", *model_args], capsys)
    assert code == 1 and "disk is full" in error_line(err)
    assert not out.exists()  # never a silently cut file
    assert sorted(os.listdir(tmp_path)) == ["h.jsonl", "in.mp4"]  # and no temporary file left behind


@pytest.mark.parametrize("extra, match", [
    ([], "nothing to write"),
    (["-o", "OUT", "--heads", "H", "--detector", "face"], "not both"),
    (["-o", "OUT", "--heads", "BADHEADS"], r"line 1: 'xyxy' must be"),
    (["-o", "OUT", "--detector", "missing.pt"], "does not exist"),
])
def test_option_errors(tmp_path, capsys, model_args, extra, match):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    (tmp_path / "bad.jsonl").write_text('{"frame": 0, "xyxy": [1, 2]}\n')
    sub = {"OUT": str(tmp_path / "o.mp4"), "H": str(tmp_path / "h.jsonl"), "BADHEADS": str(tmp_path / "bad.jsonl"),
           "missing.pt": str(tmp_path / "missing.pt")}
    code, err = run_cli([str(video), *[sub.get(a, a) for a in extra], *model_args], capsys)
    assert code == 1 and len(error_line(err)) > 0
    assert __import__("re").search(match, err)


def test_bad_option_values_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["process", "in.mp4", "-o", "o.mp4", "--stride", "0"])
    assert e.value.code == 2 and "--stride" in capsys.readouterr().err


# -- Ctrl-C, SIGTERM --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sigint", ["default", "ignore"])  # "ignore": started by `nohup` or `cmd &` in a script
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_leave_a_playable_clip_and_complete_records(tmp_path, model_args, sig, code, sigint):
    video = make_video(tmp_path / "in.mp4", n=200, fps=20)
    heads = write_heads(tmp_path / "heads.jsonl", 200, with_border_person=False)
    out, rec = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    with Child([sys.executable, "-m", "gazecam", "process", str(video), "-o", str(out), "--records", str(rec),
                "--heads", str(heads), "--stride", "4", *model_args], sigint=sigint, cwd=REPO, timeout_s=300) as child:
        deadline = time.monotonic() + 120
        partial = tmp_path / "out.partial.jsonl"  # the records until they are complete
        while time.monotonic() < deadline and child.proc.poll() is None:
            if partial.exists() and len(partial.read_text().splitlines()) >= 3:
                break
            time.sleep(0.1)
        assert child.proc.poll() is None, child.stderr
        child.send_signal(sig)
        returncode, _, err = child.finish(timeout_s=60)
    assert returncode == code, err
    assert f"interrupted by {signal.Signals(sig).name} after" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["heads.jsonl", "in.mp4", "out.jsonl", "out.jsonl.meta.json", "out.mp4"]
    lines = [json.loads(ln) for ln in rec.read_text().splitlines()]  # every line is valid JSON
    assert 3 <= len(lines) < 200
    assert [ln["frame"] for ln in lines] == list(range(len(lines)))
    info = video_info(out)
    assert info["frames"] == len(lines) and info["audio"]  # the clip is playable up to the last frame


# -- nothing lost, clearer and earlier (issue 12) ----------------------------------------------------------
@pytest.fixture()
def no_model_load(monkeypatch):
    """Fail the test if the command gets as far as loading the model."""
    monkeypatch.setattr(process_cmd, "load_model", lambda args: pytest.fail("the model was loaded before the check"))


@pytest.fixture()
def counting_model(monkeypatch):
    """A model that costs nothing (a heatmap peak at the centre): for runs over many frames."""
    from fakes import CountingModel

    monkeypatch.setattr(process_cmd, "load_model", lambda args: CountingModel())


def test_outputs_that_are_inputs_are_refused_before_the_model_loads(tmp_path, capsys, model_args, no_model_load):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    heads = write_heads(tmp_path / "h.jsonl", 2)
    os.link(video, tmp_path / "link.mp4")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((H, W, 3), 50 * i, np.uint8)).save(folder / f"img{i}.png")
    kept = {p: p.read_bytes() for p in (video, heads, folder / "img1.png")}
    cases = [
        ([str(video), "-o", str(tmp_path / "link.mp4")], r"-o .*link.mp4 is the input file source=.*\(by a link\)"),
        ([str(folder), "-o", str(folder / "img1.png")], "is one of the images of the input folder"),
        ([str(folder), "-o", str(folder / "out.png")], "would be read as one of its images"),
        ([str(video), "--records", str(heads), "--heads", str(heads)], r"--records .*h.jsonl is the input file --heads"),
        ([str(video), "-o", str(tmp_path / "same"), "--records", str(tmp_path / "same")], "name the same file"),
    ]
    for args, match in cases:
        code, err = run_cli([*args, *model_args], capsys)
        assert code == 1 and __import__("re").search(match, error_line(err)), (args, err)
    assert all(p.read_bytes() == data for p, data in kept.items())
    assert sorted(os.listdir(folder)) == ["img0.png", "img1.png"]


def test_a_device_output_is_never_deleted(tmp_path, capsys, model_args, counting_model):
    import stat

    if os.geteuid() != 0:
        pytest.skip("making a device node (mknod) needs root (tests/test_outputs.py covers fifos)")
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is
    except PermissionError as e:
        pytest.skip(f"mknod is not permitted here ({e})")
    video = make_video(tmp_path / "in.mp4", n=12, audio=False)
    code, err = run_cli([str(video), "-o", str(full), "--heads", str(write_heads(tmp_path / "h.jsonl", 12)),
                         *model_args], capsys)
    assert code == 1 and "disk is full" in error_line(err) and "left as it is" in error_line(err)
    assert stat.S_ISCHR(os.stat(full).st_mode)


@pytest.mark.parametrize("extra, match", [
    (["--detector", "banana"], r"--detector banana: expected .* banana does not exist"),
    (["--heads", "nothere.jsonl"], "nothere.jsonl does not exist"),
    (["--heads", "HUGE"], r"heads file .*huge.jsonl, line 2: box values must be within"),
    (["-o", "/nonexistent-folder/o.mp4"], "folder /nonexistent-folder does not exist"),
])
def test_option_errors_come_before_the_model_load(tmp_path, capsys, model_args, no_model_load, extra, match):
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    (tmp_path / "huge.jsonl").write_text('{"frame": 0, "xyxy": [1, 2, 3, 4]}\n'
                                         '{"frame": 1, "xyxy": [-1e39, 20, 1e39, 50]}\n')
    extra = [str(tmp_path / "huge.jsonl") if a == "HUGE" else a for a in extra]
    out = [] if "-o" in extra else ["-o", str(tmp_path / "o.mp4")]
    code, err = run_cli([str(video), *out, *extra, *model_args], capsys)
    assert code == 1 and __import__("re").search(match, error_line(err)), err


def test_gazecam_home_that_is_a_file_is_named(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("GAZECAM_HOME", str(home))
    video = make_video(tmp_path / "in.mp4", n=2, audio=False)
    code, err = run_cli([str(video), "-o", str(tmp_path / "o.mp4"), "--device", "cpu"], capsys)
    line = error_line(err)
    assert code == 1 and f"GAZECAM_HOME={home} is a file, not a folder" in line and "unexpected" not in line


def test_skips_are_named_in_the_summary(tmp_path, capsys, model_args, counting_model):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2, 3, 4):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (H, W, 3), np.uint8)).save(folder / f"img{i}.png")
    truncated = folder / "img3.png"  # a cut PNG (a text file would make an earlier-imported ultralytics log noise)
    truncated.write_bytes(truncated.read_bytes()[:200])
    heads = tmp_path / "h.jsonl"
    heads.write_text("".join([*(f'{{"frame": {i}, "xyxy": [10, 10, 40, 40]}}\n' for i in range(4)),
                              '{"frame": 1, "xyxy": [10, 10, 10, 40]}\n',  # zero width
                              '{"frame": 3, "xyxy": [900, 900, 990, 990]}\n',  # outside the 160 x 120 frame
                              '{"frame": 7, "xyxy": [10, 10, 40, 40]}\n{"frame": 8, "xyxy": [1, 1, 9, 9]}\n']))
    code, err = run_cli([str(folder), "-o", str(tmp_path / "o.mp4"), "--heads", str(heads), *model_args], capsys)
    assert code == 0, err
    skipped = next(ln for ln in err.splitlines() if "skipped:" in ln)
    assert "1 unreadable image(s) skipped: img3.png" in skipped
    assert "1 video frame(s) repeat the previous picture" in skipped  # the gap is filled, and said so
    assert "1 --heads box(es) of zero area" in skipped
    assert "1 --heads box(es) entirely outside the frame" in skipped
    assert "2 --heads box(es) for frames after the last frame processed (3)" in skipped
    assert video_info(tmp_path / "o.mp4")["frames"] == 4


# -- AVIs with packed B-frames (Debian's opencv-doc examples) ------------------------------------------
def megamind() -> Path:
    path = Path("/usr/share/doc/opencv-doc/examples/data/Megamind_bugy.avi")
    if not path.is_file():
        pytest.skip(f"{path} not found: install Debian's opencv-doc package (scripts/test.sh does, as root)")
    return path


def test_real_avi_with_packed_b_frames_first_frame_and_one_frame_clip(tmp_path, capsys, model_args, counting_model):
    heads = tmp_path / "h.jsonl"
    heads.write_text('{"frame": 0, "xyxy": [300, 100, 400, 200]}\n')
    out, rec = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    code, err = run_cli([str(megamind()), "-o", str(out), "--records", str(rec), "--heads", str(heads),
                         "--max-frames", "1", *model_args], capsys)
    assert code == 0, err
    assert video_info(out)["frames"] == 1
    rows = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert [(r["frame"], r["time"], r["head_xyxy"]) for r in rows] == [(0, 0.0, [300.0, 100.0, 400.0, 200.0])]


@pytest.mark.slow
def test_real_avi_with_packed_b_frames_keeps_every_frame_once(tmp_path, capsys, model_args, counting_model):
    heads = tmp_path / "h.jsonl"
    heads.write_text("".join(f'{{"frame": {i}, "xyxy": [300, 100, 400, 200]}}\n' for i in range(270)))
    out, rec = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    code, err = run_cli([str(megamind()), "-o", str(out), "--records", str(rec), "--heads", str(heads),
                         "--heatmap", "none", *model_args], capsys)
    assert code == 0, err
    assert "done: 270 frame(s)" in err and "video:   " in err and "(270 frame(s))" in err
    assert "skipped: none" in err  # and that is true: nothing repeated, nothing dropped
    assert video_info(out)["frames"] == 270
    rows = [json.loads(ln) for ln in rec.read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(270))
    assert all(b["time"] >= a["time"] for a, b in zip(rows, rows[1:]))


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_own_records_are_accepted_as_heads(tmp_path, capsys, model_args, fast_model, suffix):
    """Issue 18 case 9: records with both head_xyxy and head_xyxy_norm (as gazecam writes them) are --heads;
    a file whose two boxes disagree is refused in one line naming the file and line."""
    video = make_video(tmp_path / "in.mp4", n=4, audio=False)
    first = tmp_path / f"first{suffix}"
    code, err = run_cli([str(video), "--records", str(first), "--heads", str(write_heads(tmp_path / "h.jsonl", 4)),
                         "--no-smooth", *model_args], capsys)
    assert code == 0, err
    second = tmp_path / "second.jsonl"
    code, err = run_cli([str(video), "--records", str(second), "--heads", str(first), "--no-smooth", *model_args],
                        capsys)
    assert code == 0, err
    from gazecam.records import read_records

    boxes = lambda p: [(r.frame, r.track_id, r.head_xyxy) for r in read_records(p)]  # noqa: E731
    assert boxes(second) == boxes(first) and len(boxes(first)) == 8  # the same heads, the same ids
    lines = first.read_text().splitlines()
    if suffix == ".jsonl":
        row = json.loads(lines[2])
        row["head_xyxy_norm"] = [v + 0.05 for v in row["head_xyxy_norm"]]  # 8 pixels off on 160x120
        lines[2] = json.dumps(row)
        where = "line 3"
    else:
        cells = lines[2].split(",")
        cells[3] = str(float(cells[3]) + 8)  # head_x1
        lines[2] = ",".join(cells)
        where = "line 3"
    first.write_text("\n".join(lines) + "\n")
    code, err = run_cli([str(video), "--records", str(tmp_path / "third.jsonl"), "--heads", str(first),
                         *model_args], capsys)
    assert code == 1
    assert f"heads file {first}, {where}: the pixel box" in error_line(err) and "disagree" in error_line(err)


def test_an_error_in_a_stage_thread_is_one_line(tmp_path, capsys, model_args, monkeypatch):
    """The gaze model fails in its own thread (overlapped stages): one error line, no traceback."""
    from fakes import CountingModel

    class Failing(CountingModel):
        def encode(self, image):
            if self.encodes == 2:
                raise RuntimeError("the accelerator went away")
            return super().encode(image)

    monkeypatch.setattr(process_cmd, "load_model", lambda args: Failing())
    video = make_video(tmp_path / "in.mp4", n=12, audio=False)
    code, err = run_cli([str(video), "-o", str(tmp_path / "o.mp4"), "--records", str(tmp_path / "o.jsonl"),
                         "--heads", str(write_heads(tmp_path / "h.jsonl", 12)), *model_args], capsys)
    assert code == 1
    assert "gaze model (counting) failed on frame 2: RuntimeError: the accelerator went away" in error_line(err)
