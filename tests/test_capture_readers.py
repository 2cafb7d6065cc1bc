"""gazecam.capture's seekable readers (open_file): frame numbers from real timestamps, exact seeks and steps.

The reference everywhere is :class:`~gazecam.capture.Capture` reading the file from the start: a seek
must give the very frame (pixels, index, timestamp) Capture delivers under that number.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from fakes import VFR_TIMES_MS, corrupt_packets, make_video, same_frame, shown_at
from PIL import Image

from gazecam.capture import Capture, CaptureError, SeekableReader, open_file
from gazecam.errors import InputError
from gazecam.types import Frame

# A damaged file where the decoder silently loses a frame also reads as "truncated" (Capture's own
# accounting, tests/test_capture.py); not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::gazecam.capture.CaptureWarning")


def reference_numbers(times_s: list[float], fps: float) -> list[int]:
    """The documented rule, written out: round(t * fps), at least one more than the frame before."""
    out: list[int] = []
    for t in times_s:
        out.append(max(int(round(t * fps)), out[-1] + 1 if out else 0))
    return out


def read_all(path: Path, **kwargs) -> tuple[dict[int, Frame], Capture]:
    with Capture(path, **kwargs) as cap:
        frames = {f.index: f for f in cap}
    return frames, cap


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_vfr_frames_are_numbered_from_their_timestamps(tmp_path, suffix):
    path = make_video(tmp_path / f"vfr{suffix}", times_ms=VFR_TIMES_MS, gop=5)
    frames, cap = read_all(path)
    times = [t / 1000 for t in VFR_TIMES_MS]
    assert [f.timestamp_s for f in frames.values()] == pytest.approx(times, abs=1e-9)
    expected = reference_numbers(times, cap.info.fps)
    assert list(frames) == expected
    assert any(round(t * cap.info.fps) < i for t, i in zip(times, expected))  # a burst: numbers pushed on


def test_undecodable_vfr_frames_keep_their_numbers(tmp_path):
    """A frame that does not decode still takes its number: the others keep the numbers of the intact file."""
    path = make_video(tmp_path / "vfr.mp4", times_ms=VFR_TIMES_MS, gop=5)
    intact, cap = read_all(path)
    number_at = {round(f.timestamp_s, 6): f.index for f in intact.values()}
    bad = corrupt_packets(path, tmp_path / "bad.mp4", (2, 3, 11))
    damaged, cap = read_all(bad)
    assert cap.stats.frames_corrupt >= 1 and len(damaged) < len(intact)
    assert all(number_at[round(f.timestamp_s, 6)] == f.index for f in damaged.values())


def _cut(path: Path, out: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``path``'s bytes (index first: the frames before the cut stay readable)."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def _clips(tmp: Path) -> dict[str, Path]:
    cfr = make_video(tmp / "cfr.mp4", n=40, gop=6, audio=False)
    vfr = make_video(tmp / "vfr.mp4", times_ms=VFR_TIMES_MS, gop=4)
    return {
        "cfr": cfr,
        "cfr-one-keyframe": make_video(tmp / "long-gop.mp4", n=30, audio=False),
        "vfr-mp4": vfr,
        "vfr-mkv": make_video(tmp / "vfr.mkv", times_ms=VFR_TIMES_MS, gop=4),
        "cfr-corrupt": corrupt_packets(cfr, tmp / "cfr-bad.mp4", (5, 6, 13, 25)),
        "vfr-corrupt": corrupt_packets(vfr, tmp / "vfr-bad.mp4", (2, 6, 9)),
        "truncated": _cut(make_video(tmp / "whole.mp4", n=40, gop=6, container_options={"movflags": "faststart"}),
                          tmp / "cut.mp4", 0.6),
        "no-timestamps": make_video(tmp / "raw.h264", n=20, audio=False, gop=5),
        "avi-reordered": make_video(tmp / "bframes.avi", n=20, audio=False, gop=5),
    }


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    return _clips(tmp_path_factory.mktemp("seek"))


CLIPS = ["cfr", "cfr-one-keyframe", "vfr-mp4", "vfr-mkv", "cfr-corrupt", "vfr-corrupt", "truncated",
         "no-timestamps", "avi-reordered"]


@pytest.mark.parametrize("name", CLIPS)
def test_reading_gives_what_capture_gives(clips, name):
    ref, _ = read_all(clips[name])
    reader = open_file(clips[name])
    try:
        got = []
        while (f := reader.read()) is not None:
            got.append(f)
    finally:
        reader.close()
    assert [f.index for f in got] == list(ref)
    assert all(same_frame(f, ref[f.index]) for f in got)


@pytest.mark.parametrize("name", CLIPS)
def test_seek_and_step_give_the_frames_capture_numbers_so(clips, name):
    ref, _ = read_all(clips[name])
    indices = list(ref)
    rng = random.Random(name)
    # random jumps first (cold seeks into later keyframe intervals), then every number in order
    targets = [*rng.sample(range(indices[-1] + 1), min(15, indices[-1] + 1)), *range(-1, indices[-1] + 3)]
    reader = open_file(clips[name])
    try:
        assert isinstance(reader, SeekableReader)
        for target in targets:
            frame = reader.seek(target)
            assert same_frame(frame, ref[shown_at(indices, target)]), (name, target, frame.index)
            nxt = reader.read()
            later = [i for i in indices if i > frame.index]
            assert (nxt is None and not later) or same_frame(nxt, ref[later[0]]), (name, target)
            back = reader.step(-1)  # the frame numbered before the one read last
            before = nxt.index if nxt is not None else frame.index
            assert same_frame(back, ref[shown_at(indices, before - 1)]), (name, target)
            assert reader.step(1).index == (before if nxt is not None else later[0] if later else before)
    finally:
        reader.close()


@pytest.mark.parametrize("name", ["cfr", "vfr-mkv", "cfr-corrupt"])
def test_seek_by_time_gives_the_frame_on_screen(clips, name):
    ref, _ = read_all(clips[name])
    times = sorted(f.timestamp_s for f in ref.values())
    by_time = {f.timestamp_s: f for f in ref.values()}
    reader = open_file(clips[name])
    try:
        for t in [0.0, *times, *(a + (b - a) / 2 for a, b in zip(times, times[1:])), times[-1] + 5]:
            on_screen = max((s for s in times if s <= t + 1e-9), default=times[0])
            assert same_frame(reader.seek(time_s=t), by_time[on_screen]), (name, t)
    finally:
        reader.close()


def test_last_index_is_the_last_frame_number(clips):
    for name in ("cfr", "vfr-mp4", "vfr-corrupt", "avi-reordered"):
        ref, _ = read_all(clips[name])
        reader = open_file(clips[name])
        try:
            assert reader.last_index == max(ref) or name == "vfr-corrupt" and reader.last_index >= max(ref)
        finally:
            reader.close()


def test_too_many_undecodable_frames_in_a_row_stop_a_seek(tmp_path):
    path = make_video(tmp_path / "v.mp4", n=20, audio=False)
    bad = corrupt_packets(path, tmp_path / "bad.mp4", tuple(range(3, 12)))
    reader = open_file(bad, max_corrupt_run=2)
    try:
        with pytest.raises(CaptureError, match="more than 2 consecutive undecodable frames"):
            reader.seek(15)
    finally:
        reader.close()


def test_image_folder_is_seekable_like_capture_reads_it(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (1, 2, 3, 5, 10):
        Image.fromarray(np.full((9, 11, 3), 20 * i, np.uint8)).save(folder / f"f{i}.png")
    (folder / "f4.png").write_text("broken")  # natural order f1 f2 f3 f4 f5 f10: a gap at index 3
    ref, cap = read_all(folder, image_fps=10)
    assert list(ref) == [0, 1, 2, 4, 5]
    reader = open_file(folder, image_fps=10)
    try:
        assert reader.last_index == 5 and reader.info == cap.info
        for target in range(-1, 8):
            assert same_frame(reader.seek(target), ref[shown_at(list(ref), target)])
        assert same_frame(reader.seek(time_s=0.35), ref[2])  # the image on screen from 0.2 s (f4 is missing)
        assert same_frame(reader.step(1), ref[4]) and same_frame(reader.step(-1), ref[2])
    finally:
        reader.close()
    assert reader.corrupt == 1  # counted once, however often it was passed


def test_open_file_refuses_cameras_and_streams(tmp_path):
    for source in ("0", "/dev/video0", "rtsp://cam/live"):
        with pytest.raises(InputError, match="camera or a stream"):
            open_file(source)
    with pytest.raises(InputError, match="input not found"):
        open_file(tmp_path / "nope.mp4")
