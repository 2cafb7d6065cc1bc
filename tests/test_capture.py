"""gazecam.capture: files in order with backpressure, live latest-frame-wins, reconnect, errors, shutdown."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from fakes import corrupt_packets, frame_value, left_level, make_video

from gazecam.capture import Capture, CaptureError, CaptureWarning, parse_source
from gazecam.capture.sources import redact_url
from gazecam.errors import InputError


# --------------------------------------------------------------------------- files


def test_video_file_every_frame_in_order(tmp_path: Path) -> None:
    path = make_video(tmp_path / "odd.mp4", n=30, width=641, height=359, pix_fmt="yuv444p",
                      fps=Fraction(30000, 1001))
    with Capture(path) as cap:
        info = cap.info
        frames = list(cap)
        stats = cap.stats
    assert (info.kind, info.width, info.height, info.frame_count, info.live) == ("video", 641, 359, 30, False)
    assert info.fps == pytest.approx(30000 / 1001)
    assert info.has_audio
    assert [f.index for f in frames] == list(range(30))
    times = np.array([f.timestamp_s for f in frames])
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(times, np.arange(30) * 1001 / 30000, atol=1e-4)
    assert all(f.image.shape == (359, 641, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [round(left_level(f.image)) for f in frames] == pytest.approx([frame_value(i) for i in range(30)], abs=4)
    assert (stats.frames_read, stats.frames_dropped, stats.frames_corrupt, stats.frames_missing) == (30, 0, 0, 0)
    assert frames[0].source == str(path)


def test_gray_and_rgba_videos_become_rgb(tmp_path: Path) -> None:
    gray = make_video(tmp_path / "gray.mkv", codec="ffv1", pix_fmt="gray", gray=True, audio=False)
    rgba = make_video(tmp_path / "rgba.mov", codec="png", pix_fmt="rgba", rgba=True, audio=False, width=33, height=17)
    for path, size in ((gray, (48, 64)), (rgba, (17, 33))):
        with Capture(path) as cap:
            frames = list(cap)
        assert len(frames) == 12 and not cap.info.has_audio
        for i, f in enumerate(frames):
            assert f.image.shape == (*size, 3)
            assert np.array_equal(f.image[..., 0], f.image[..., 1])  # gray content, three equal channels
            assert left_level(f.image) == pytest.approx(frame_value(i), abs=1)


def test_backpressure_slow_consumer_gets_every_frame(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=40, audio=False)
    queue_size = 2
    seen = []
    with Capture(path, queue_size=queue_size) as cap:
        for frame in cap:
            # the reader may be at most queue_size frames (+ the one it holds) ahead: bounded buffering
            assert cap.stats.frames_read <= len(seen) + 1 + queue_size + 1
            seen.append(frame.index)
            time.sleep(0.005)
    assert seen == list(range(40))
    assert cap.stats.frames_dropped == 0


def test_image_file_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = ["f10.png", "f2.png", "f1.png", "f3.jpg"]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(folder / name)
    Image.fromarray(np.zeros((9, 11), np.uint8), mode="L").save(folder / "f4.png")  # gray
    Image.fromarray(np.zeros((9, 11, 4), np.uint8)).save(folder / "f5.png")  # RGBA
    (folder / "f6.png").write_text("broken")  # unreadable: skipped and counted
    (folder / "notes.txt").write_text("ignored")
    with _no_warning():
        with Capture(folder, image_fps=10) as cap:
            frames = list(cap)
    assert cap.info.kind == "images" and cap.info.frame_count == 7 and cap.info.fps == 10
    # natural order f1 f2 f3 f4 f5 f6 f10; the broken f6 leaves a gap at index 5
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 6]
    np.testing.assert_array_equal(frames[0].image, np.asarray(Image.open(folder / "f1.png")))
    np.testing.assert_array_equal(frames[5].image, np.asarray(Image.open(folder / "f10.png")))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.6])
    assert all(f.image.shape == (9, 11, 3) for f in frames)
    assert cap.stats.frames_corrupt == 1 and cap.stats.frames_read == 6
    assert cap.stats.skipped_files == ("f6.png",)  # named, for the run's summary

    with Capture(str(folder / "f2.png")) as cap:
        single = list(cap)
    assert len(single) == 1 and cap.info.frame_count == 1


class _no_warning:
    """Context manager failing if a CaptureWarning is emitted."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self._log = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        assert not [w for w in self._log if issubclass(w.category, CaptureWarning)]


def test_file_as_live_is_paced_and_accounted(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=10, fps=Fraction(100), audio=False)
    with Capture(path, live=True) as cap:
        frames = []
        for frame in cap:
            frames.append(frame)
            time.sleep(0.03)  # slower than the 100 fps source: stale frames are dropped
    stats = cap.stats
    assert cap.info.live
    assert stats.frames_read == 10
    assert len(frames) + stats.frames_dropped == 10
    assert stats.frames_dropped > 0
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[-1] == 9  # increasing, the newest frame always arrives


# --------------------------------------------------------------------------- live sources (fake OpenCV camera)


class FakeCamera:
    """Stands in for cv2.VideoCapture; frame n has gray level n % 256. Class attributes script failures."""

    opens = 0
    fail_open_after = 10**9  # opens beyond this fail
    drop_after: int | None = None  # first session stops delivering after this many frames
    raise_after: int | None = None
    read_delay_s = 0.001
    counter = 0

    def __init__(self, source, *args) -> None:
        type(self).opens += 1
        self._open = type(self).opens <= type(self).fail_open_after
        self._session = type(self).opens
        self._reads = 0

    @classmethod
    def reset(cls, **kwargs) -> None:
        cls.opens, cls.counter = 0, 0
        cls.fail_open_after, cls.drop_after, cls.raise_after, cls.read_delay_s = 10**9, None, None, 0.001
        for key, value in kwargs.items():
            setattr(cls, key, value)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self._open

    def set(self, prop, value) -> bool:
        return True

    def get(self, prop) -> float:
        import cv2

        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self):
        cls = type(self)
        time.sleep(cls.read_delay_s)
        if cls.raise_after is not None and self._reads >= cls.raise_after:
            raise RuntimeError("boom from the camera driver")
        if self._session == 1 and cls.drop_after is not None and self._reads >= cls.drop_after:
            return False, None
        self._reads += 1
        value = cls.counter % 256
        cls.counter += 1
        return True, np.full((6, 8, 3), value, np.uint8)  # BGR

    def release(self) -> None:
        self._open = False


@pytest.fixture
def fake_camera(monkeypatch: pytest.MonkeyPatch) -> type[FakeCamera]:
    import cv2

    FakeCamera.reset()
    monkeypatch.setattr(cv2, "VideoCapture", FakeCamera)
    return FakeCamera


def test_live_latest_frame_wins(fake_camera: type[FakeCamera]) -> None:
    delivered = []
    with Capture(0, reconnect_delay_s=0.01) as cap:
        assert (cap.info.kind, cap.info.live, cap.info.fps, cap.info.frame_count) == ("camera", True, 30.0, None)
        for frame in cap:
            delivered.append(frame)
            time.sleep(0.02)  # a slow consumer: the camera runs ahead
            if len(delivered) == 8:
                break
    stats = cap.stats
    indices = [f.index for f in delivered]
    assert indices == sorted(set(indices))
    assert stats.frames_dropped > 0 and np.any(np.diff(indices) > 1)  # gaps = dropped frames
    assert stats.frames_read >= len(delivered) + stats.frames_dropped
    for f in delivered:  # the image is the frame its index says
        assert int(f.image[0, 0, 0]) == f.index % 256
    times = [f.timestamp_s for f in delivered]
    assert times == sorted(times) and times[0] >= 0


def test_live_reconnects_after_drop(fake_camera: type[FakeCamera]) -> None:
    fake_camera.drop_after = 3
    fake_camera.read_delay_s = 0.002
    with Capture("0", reconnect_delay_s=0.01) as cap:
        frames = []
        for frame in cap:
            frames.append(frame)
            if len(frames) == 6:
                break
    assert cap.stats.reconnects == 1
    assert fake_camera.opens == 2
    assert [f.index for f in frames] == sorted({f.index for f in frames})


def test_live_gives_up_after_bounded_reconnects(fake_camera: type[FakeCamera]) -> None:
    fake_camera.drop_after, fake_camera.fail_open_after = 2, 1
    with Capture(0, reconnect_attempts=3, reconnect_delay_s=0.01) as cap:
        with pytest.raises(CaptureError, match="could not be reopened after 3 attempt"):
            for _ in cap:
                pass
    assert fake_camera.opens == 4
    assert cap.stats.reconnects == 0


def test_thread_exception_reaches_caller(fake_camera: type[FakeCamera]) -> None:
    fake_camera.raise_after = 2
    with Capture(0) as cap:
        with pytest.raises(CaptureError, match="boom from the camera driver") as info:
            for _ in cap:
                pass
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not cap.is_running


def test_missing_camera_message(fake_camera: type[FakeCamera]) -> None:
    fake_camera.fail_open_after = 0
    with pytest.raises(CaptureError, match=r"camera 3 could not be opened; available cameras: .*permission"):
        Capture(3)


def test_missing_camera_real_opencv() -> None:
    """The real OpenCV backend for an index no machine has: a clear error, no hang."""
    with pytest.raises(CaptureError, match="camera 97 could not be opened; available cameras"):
        Capture(97)


def test_unreachable_stream_message(fake_camera: type[FakeCamera]) -> None:
    fake_camera.fail_open_after = 0
    with pytest.raises(CaptureError, match=r"stream rtsp://user:\*\*\*@cam.local/live could not be opened"):
        Capture("rtsp://user:secret@cam.local/live")


# --------------------------------------------------------------------------- shutdown


def test_close_is_prompt_with_full_queue_and_idempotent(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=40, audio=False)
    cap = Capture(path, queue_size=1)
    deadline = time.monotonic() + 10
    while cap.stats.frames_read < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # let the reader fill the queue and block on it
    assert cap.is_running  # blocked on the full queue, not finished
    cap.close()
    assert not cap.is_running
    cap.close()  # idempotent
    assert list(cap) == []  # nothing after close
    assert cap.stats.frames_read < 40


def test_close_stops_live_capture(fake_camera: type[FakeCamera]) -> None:
    cap = Capture(0)
    first = next(iter(cap))
    assert first.index == 0
    cap.close()
    assert not cap.is_running
    cap.close()


def test_close_from_another_thread_ends_iteration(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=40, audio=False)
    cap = Capture(path, queue_size=2)
    got = []
    for frame in cap:
        got.append(frame.index)
        if len(got) == 3:
            threading.Thread(target=cap.close).start()
            time.sleep(0.3)
    assert got[:3] == [0, 1, 2] and len(got) < 40
    assert not cap.is_running


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        Capture(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is a text file, not a video\n" * 50)
    with pytest.raises(InputError, match="not a video file"):
        Capture(path)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        Capture(empty)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_zero_frames(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"zero{suffix}"
    with av.open(str(path), mode="w") as container:  # a header, a video track, no frame
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    assert path.stat().st_size > 0
    with pytest.raises(InputError, match="no video frames|ended before any video frame"):
        Capture(path)


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4096), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(InputError, match="has no video stream"):
        Capture(path)


def test_empty_folder_and_unreadable_single_image(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="contains no images"):
        Capture(tmp_path / "empty")
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    with pytest.raises(InputError, match="not an image"):
        Capture(bad)


def test_truncated_file_with_index_warns_and_counts(tmp_path: Path) -> None:
    path = make_video(tmp_path / "fast.mp4", n=60, width=96, height=64,
                      container_options={"movflags": "faststart"})  # index first: a cut leaves it readable
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.warns(CaptureWarning, match=r"looks truncated: it ended at .* announced frame\(s\) missing"):
        with Capture(cut) as cap:
            frames = list(cap)
    stats = cap.stats
    assert 0 < len(frames) < 60
    assert stats.frames_missing == 60 - len(frames) - stats.frames_corrupt
    assert stats.truncated_at_s == pytest.approx(frames[-1].timestamp_s)
    indices = [f.index for f in frames]
    assert indices[0] == 0 and indices == sorted(set(indices))  # frames needing the lost data may be gaps


def test_matroska_truncation_uses_the_video_duration(tmp_path: Path) -> None:
    """Audio longer than the video is no truncation; a cut Matroska file (no frame count) is one."""
    path = make_video(tmp_path / "v.mkv", n=25, audio_tail_s=0.6)
    with _no_warning():
        with Capture(path) as cap:
            assert len(list(cap)) == 25
    assert cap.info.duration_s == pytest.approx(1.0) and cap.stats.frames_missing == 0
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(CaptureWarning, match="looks truncated"):
        with Capture(cut) as cap:
            frames = list(cap)
    assert 0 < len(frames) < 25 and cap.stats.frames_missing > 0


def test_truncated_file_without_index_is_a_clear_error(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=30)  # default mp4: index (moov) at the end, cut away
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(InputError, match="corrupt/truncated"):
        Capture(cut)


def test_corrupt_frames_in_the_middle_are_skipped_and_counted(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=20, audio=False)
    bad = tmp_path / "bad.mp4"
    corrupt_packets(path, bad, (5, 6, 12))
    with _no_warning():
        with Capture(bad) as cap:
            frames = list(cap)
    stats = cap.stats
    assert stats.frames_corrupt >= 1
    assert len(frames) + stats.frames_corrupt == 20
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices)) and indices[0] == 0 and indices[-1] == 19
    assert len(set(range(20)) - set(indices)) == stats.frames_corrupt  # gaps where frames were lost


def test_too_many_consecutive_corrupt_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=20, audio=False)
    bad = tmp_path / "bad.mp4"
    corrupt_packets(path, bad, tuple(range(3, 12)))
    with Capture(bad, max_corrupt_run=2) as cap:
        with pytest.raises(CaptureError, match="more than 2 consecutive undecodable frames"):
            list(cap)


def test_bad_arguments(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", n=2, audio=False)
    with pytest.raises(ValueError, match="queue_size"):
        Capture(path, queue_size=0)
    with pytest.raises(TypeError, match="camera index or URL"):
        Capture(1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=">= 0"):
        Capture(-1)


def test_parse_source() -> None:
    assert parse_source("0") == 0
    assert parse_source(" 12 ") == 12
    assert parse_source("rtsp://user:pw@host:554/stream") == "rtsp://user:pw@host:554/stream"
    assert parse_source("https://example.org/live.m3u8") == "https://example.org/live.m3u8"
    assert parse_source("file:///data/clip.mp4") == "/data/clip.mp4"
    assert parse_source("clips/a.mp4") == "clips/a.mp4"
    assert parse_source("~/a.mp4") == str(Path("~/a.mp4").expanduser())
    assert parse_source("/dev/video2") == "/dev/video2"


def test_redact_masks_passwords() -> None:
    assert redact_url("rtsp://admin:hunter2@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    assert redact_url("http://host/x") == "http://host/x"


# -- AVIs whose timestamps are made up (B-frames): numbered in the decoder's order --------------------------
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def real_avi(name: str) -> Path:
    path = OPENCV_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found: install Debian's opencv-doc package (scripts/test.sh does, as root)")
    return path


def test_generated_avi_with_b_frames_starts_at_frame_0_in_order(tmp_path: Path) -> None:
    """MPEG-4 part 2 with B-frames in AVI: the demuxer's made-up timestamps start at 1 and come out of order."""
    path = make_video(tmp_path / "bframes.avi", n=30, codec="mpeg4", audio=False, gop=12,
                      codec_options={"bf": "2", "qscale": "2"})
    with av.open(str(path)) as c:  # the premise: packet timestamps out of order, the first one is 1
        stamps = [p.pts for p in c.demux(c.streams.video[0]) if p.size]
    assert stamps[0] == 1 and any(b < a for a, b in zip(stamps, stamps[1:]))
    with _no_warning(), Capture(path) as cap:
        frames = list(cap)
    assert [f.index for f in frames] == list(range(30))
    assert [f.timestamp_s for f in frames] == pytest.approx([i / 25 for i in range(30)])
    for i, f in enumerate(frames):  # each picture is nearer its own frame's level than its neighbours' (steps of 23)
        level = left_level(f.image)
        assert min((k for k in (i - 1, i, i + 1) if 0 <= k < 30), key=lambda k: abs(frame_value(k) - level)) == i
    assert cap.stats.frames_corrupt == 0


@pytest.mark.parametrize("name", ["Megamind_bugy.avi", "Megamind.avi"])
def test_real_avi_with_packed_b_frames(name: str) -> None:
    """Debian's opencv-doc examples: DivX-style packed B-frames, 270 frames, timestamps that lie."""
    with _no_warning(), Capture(real_avi(name)) as cap:
        frames = list(cap)
    assert cap.info.frame_count == 270
    assert [f.index for f in frames] == list(range(270))  # first frame 0, no gaps, nothing dropped
    times = [f.timestamp_s for f in frames]
    assert times[0] == 0 and all(b > a for a, b in zip(times, times[1:]))
    assert cap.stats.frames_corrupt == 0 and cap.stats.frames_missing == 0


def test_real_avi_frames_are_in_presentation_order() -> None:
    """Megamind_bugy.avi and Megamind.avi hold the same 270 pictures (two encodes): frame i of one matches frame i
    of the other better than frames i-3..i+3 do, nearly everywhere (frames out of order or numbered with a shift
    would match a neighbour; one still frame of the damaged "bugy" encode matches its neighbour equally)."""
    def images(name: str) -> list[np.ndarray]:
        with Capture(real_avi(name)) as cap:
            return [f.image[::4, ::4].astype(np.int16) for f in cap]

    a, b = images("Megamind_bugy.avi"), images("Megamind.avi")
    shifts = []
    for i in range(270):
        diff = {k: np.abs(a[i] - b[i + k]).mean() for k in range(-3, 4) if 0 <= i + k < 270}
        shifts.append(min(diff, key=diff.get))
    assert sum(k == 0 for k in shifts) >= 265, [(i, k) for i, k in enumerate(shifts) if k]


def test_real_avi_seeks_to_the_frames_capture_numbers() -> None:
    from gazecam.capture import open_file

    path = real_avi("Megamind_bugy.avi")
    with Capture(path) as cap:
        ref = {f.index: f for f in cap if f.index in (0, 99, 100, 269)}
    reader = open_file(path)
    try:
        for index in (100, 0, 269, 99):
            frame = reader.seek(index)
            assert frame.index == index and frame.timestamp_s == ref[index].timestamp_s
            np.testing.assert_array_equal(frame.image, ref[index].image)
    finally:
        reader.close()
