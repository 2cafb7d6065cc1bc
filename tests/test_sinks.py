"""gazecam.sinks: H.264 video with audio (sizes, fps, odd sizes, failures, interrupts) and JSONL/CSV records."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fakes import Child, FullDisk

from gazecam.sinks import video as sinks_mod  # the module that opens the file
from gazecam.capture import Capture
from gazecam.sinks import CSV_COLUMNS, RECORD_FIELDS, RecordsSink, SinkError, VideoSink, fps_fraction
from gazecam.types import Frame, GazeResult, HeadBoxes

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- media helpers


def make_source(path: Path, *, n: int = 20, width: int = 64, height: int = 48, fps: Fraction = Fraction(25),
                audio_codec: str | None = "aac", audio_seconds: float | None = None, pix_fmt: str = "yuv420p",
                audio_rate: int = 44100, audio_start_s: float = 0.0) -> Path:
    """A test video with a 440 Hz sine track (``audio_seconds`` long, default: as long as the video)
    starting ``audio_start_s`` after the first video frame."""
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.time_base = 1 / fps
        fmt = "s16" if audio_codec and audio_codec.startswith("pcm") else "fltp"
        audio = container.add_stream(audio_codec, rate=audio_rate, layout="mono") if audio_codec else None
        for i in range(n):
            image = np.zeros((height, width, 3), np.uint8)
            image[:, : width // 2] = (30 + 5 * i) % 256
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, 1 / fps
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:  # written after the video: the muxer interleaves
            total = int(round((audio_seconds if audio_seconds is not None else n / float(fps)) * audio_rate))
            t = np.arange(total) / audio_rate
            pcm = 0.3 * np.sin(2 * np.pi * 440 * t)
            pcm = (pcm * 32767).astype(np.int16) if fmt == "s16" else pcm.astype(np.float32)
            for start in range(0, total, 1024):
                chunk = pcm[None, start:start + 1024]  # (1, k)
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt, layout="mono")
                aframe.sample_rate, aframe.time_base = audio_rate, Fraction(1, audio_rate)
                aframe.pts = start + int(round(audio_start_s * audio_rate))
                for packet in audio.encode(aframe):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


def probe(path: Path) -> dict[str, object]:
    """Decode everything: frame count, size, fps, pixel format, audio codec/duration/dominant frequency."""
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        out: dict[str, object] = {
            "width": v.width, "height": v.height, "fps": v.average_rate, "pix_fmt": v.codec_context.pix_fmt,
            "codec": v.codec_context.name, "audio": None,
        }
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(v)]
        out["frames"] = len(frames)
        out["images"] = frames
        out["video_s"] = len(frames) / float(v.average_rate)
    with av.open(str(path)) as container:
        if container.streams.audio:
            a = container.streams.audio[0]
            pcm = np.concatenate([f.to_ndarray().reshape(f.samples, -1)[:, 0] if f.format.is_packed
                                  else f.to_ndarray()[0] for f in container.decode(a)])
            rate = a.codec_context.sample_rate
            spectrum = np.abs(np.fft.rfft(pcm[: rate // 2]))
            out["audio"] = {"codec": a.codec_context.name, "seconds": len(pcm) / rate,
                            "peak_hz": float(np.argmax(spectrum) * rate / (2 * (len(spectrum) - 1)))}
    return out


def copy_through(src: Path, dst: Path, **sink_kwargs) -> VideoSink:
    with Capture(src) as cap:
        with VideoSink(dst, width=cap.info.width, height=cap.info.height, fps=cap.info.fps,
                       audio_from=src, **sink_kwargs) as sink:
            for frame in cap:
                sink.write(frame.image)
    return sink


# --------------------------------------------------------------------------- VideoSink


def test_video_keeps_size_fps_frames_and_audio(tmp_path: Path) -> None:
    src = make_source(tmp_path / "in.mp4", n=30, width=96, height=64, fps=Fraction(30000, 1001))
    sink = copy_through(src, tmp_path / "out.mp4")
    assert sink.frames_written == 30 and sink.has_audio and sink.pixel_format == "yuv420p"
    out = probe(tmp_path / "out.mp4")
    assert (out["width"], out["height"], out["frames"], out["codec"], out["pix_fmt"]) == (96, 64, 30, "h264", "yuv420p")
    assert out["fps"] == Fraction(30000, 1001)
    audio = out["audio"]
    assert audio is not None and audio["codec"] == "aac"
    assert audio["peak_hz"] == pytest.approx(440, abs=5)  # the input's tone, not silence
    assert abs(audio["seconds"] - out["video_s"]) < 0.05  # in sync, cut to the video (within one AAC packet)
    images = out["images"]
    assert float(images[10][:, :16].mean()) == pytest.approx(30 + 5 * 10, abs=4)  # content and order kept


@pytest.mark.parametrize("odd_size, coded, pix_fmt", [("keep", (641, 359), "yuv444p"), ("pad", (642, 360), "yuv420p")])
def test_odd_size(tmp_path: Path, odd_size: str, coded: tuple[int, int], pix_fmt: str) -> None:
    src = make_source(tmp_path / "in.mp4", n=8, width=641, height=359, pix_fmt="yuv444p", audio_codec=None)
    sink = copy_through(src, tmp_path / "out.mp4", odd_size=odd_size)
    assert sink.coded_size == coded and sink.pixel_format == pix_fmt and not sink.has_audio
    out = probe(tmp_path / "out.mp4")
    assert (out["width"], out["height"], out["frames"], out["pix_fmt"]) == (*coded, 8, pix_fmt)
    first = out["images"][0]
    assert float(first[:359, :300].mean()) == pytest.approx(30, abs=4)  # left half kept at the left
    assert "audio" not in out or out["audio"] is None


def test_4k_frames(tmp_path: Path) -> None:
    src = make_source(tmp_path / "in.mp4", n=2, width=3840, height=2160, audio_codec=None)
    sink = copy_through(src, tmp_path / "out.mp4")
    out = probe(tmp_path / "out.mp4")
    assert (out["width"], out["height"], out["frames"]) == (3840, 2160, 2) == (3840, 2160, sink.frames_written)


def test_pcm_audio_is_transcoded_and_cut_to_video(tmp_path: Path) -> None:
    src = make_source(tmp_path / "in.mov", n=25, audio_codec="pcm_s16le", audio_seconds=1.6, audio_rate=22050)
    sink = copy_through(src, tmp_path / "out.mp4")
    assert sink.has_audio
    out = probe(tmp_path / "out.mp4")
    audio = out["audio"]
    assert out["frames"] == 25 and audio is not None and audio["codec"] == "aac"
    assert audio["peak_hz"] == pytest.approx(440, abs=5)
    assert audio["seconds"] == pytest.approx(1.0, abs=0.05)  # 1.6 s of input audio cut to the 1.0 s video


def _decoded_timeline(path: Path) -> tuple[np.ndarray, int]:
    """(samples,) first channel of the output audio placed on the output timeline, and its rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [(int(round(frame.time * rate)), frame.to_ndarray()[0]) for frame in container.decode(stream)]
    total = max(s + len(c) for s, c in chunks)
    pcm = np.zeros(total, np.float32)
    for s, c in chunks:
        if s >= 0:
            pcm[s: s + len(c)] = c[: total - s]
    return pcm, rate


@pytest.mark.parametrize("codec, suffix", [("aac", ".mp4"), ("pcm_s16le", ".mov")])
def test_audio_offset_is_kept(tmp_path: Path, codec: str, suffix: str) -> None:
    """Audio that starts 0.4 s after the first video frame still starts 0.4 s in (copied and transcoded)."""
    src = make_source(tmp_path / f"in{suffix}", n=25, audio_codec=codec, audio_seconds=0.6, audio_start_s=0.4)
    copy_through(src, tmp_path / "out.mp4")
    pcm, rate = _decoded_timeline(tmp_path / "out.mp4")
    loud = np.flatnonzero(np.abs(pcm) > 0.1)
    assert loud[0] / rate == pytest.approx(0.4, abs=0.03)
    assert len(pcm) / rate == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("codec, suffix", [("aac", ".mp4"), ("pcm_s16le", ".mov")])
def test_recording_that_starts_mid_file_keeps_audio_in_sync(tmp_path: Path, codec: str, suffix: str) -> None:
    """audio_start_s: the output starts at source time 1.0 s, the tone starts at 1.3 s -> 0.3 s into the output."""
    src = make_source(tmp_path / f"in{suffix}", n=50, audio_codec=codec, audio_seconds=0.7, audio_start_s=1.3)
    with Capture(src) as cap:
        with VideoSink(tmp_path / "out.mp4", width=64, height=48, fps=cap.info.fps, audio_from=src,
                       audio_start_s=1.0) as sink:
            for frame in cap:
                if frame.timestamp_s >= 1.0 - 1e-6:
                    sink.write(frame.image)
    assert sink.frames_written == 25
    pcm, rate = _decoded_timeline(tmp_path / "out.mp4")
    loud = np.flatnonzero(np.abs(pcm) > 0.1)
    assert loud[0] / rate == pytest.approx(0.3, abs=0.03)
    assert len(pcm) / rate == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="audio_start_s"):
        VideoSink(tmp_path / "x.mp4", width=64, height=48, fps=25, audio_start_s=-1)


def test_fps_fraction() -> None:
    assert fps_fraction(30000 / 1001) == Fraction(30000, 1001)
    assert fps_fraction(24000 / 1001) == Fraction(24000, 1001)
    assert fps_fraction(25.0) == 25 and fps_fraction(12.5) == Fraction(25, 2)
    assert fps_fraction(Fraction(60000, 1001)) == Fraction(60000, 1001)
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError):
            fps_fraction(bad)


def test_unwritable_output(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="does not exist; create it first"):
        VideoSink(tmp_path / "missing" / "out.mp4", width=64, height=48, fps=25)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(SinkError, match="is not a directory"):
        VideoSink(blocker / "out.mp4", width=64, height=48, fps=25)
    with pytest.raises(SinkError, match="is a directory"):
        VideoSink(tmp_path, width=64, height=48, fps=25)


def test_unwritable_output_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied (simulated: tests may run as root, who may write anywhere)."""
    def deny(path: Path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(sinks_mod, "_open_output_file", deny)
    with pytest.raises(SinkError, match="Permission denied; check the path and its permissions"):
        VideoSink(tmp_path / "out.mp4", width=64, height=48, fps=25)


def noise(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_disk_full_fake_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sinks_mod, "_open_output_file", lambda path: (path.touch(), FullDisk(20_000))[1])
    rng = np.random.default_rng(0)
    path = tmp_path / "out.mp4"
    with pytest.raises(SinkError, match=r"the disk is full: writing video .* stopped after \d+ frame\(s\)") as info:
        with VideoSink(path, width=128, height=96, fps=25) as sink:
            for _ in range(200):
                sink.write(noise(rng))
    assert 0 < sink.frames_written < 200
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert not path.exists()  # the unusable partial file was removed, and the message says so
    assert "incomplete file was removed" in str(info.value)


def test_disk_full_during_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the encoder is flushed / the index written at close."""
    budget = {"bytes": 10**9}

    class Shrinking(FullDisk):
        def write(self, data) -> int:
            self.capacity = budget["bytes"]
            return super().write(data)

    monkeypatch.setattr(sinks_mod, "_open_output_file", lambda path: Shrinking(10**9))
    sink = VideoSink(tmp_path / "out.mp4", width=64, height=48, fps=25)
    sink.write(np.zeros((48, 64, 3), np.uint8))
    budget["bytes"] = 0
    with pytest.raises(SinkError, match="disk is full"):
        sink.close()
    sink.close()  # idempotent after the failure


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if sys.platform != "linux":
        pytest.skip("tmpfs disk-full check needs Linux (the fake-file test covers disk full everywhere)")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'}); "
                    "the fake-file test covers disk full")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_disk_full_real_tmpfs(tiny_tmpfs: Path) -> None:
    rng = np.random.default_rng(1)
    path = tiny_tmpfs / "out.mp4"
    with pytest.raises(SinkError, match=r"the disk is full: .* stopped after \d+ frame\(s\)"):
        with VideoSink(path, width=160, height=120, fps=25, crf=10) as sink:
            for _ in range(500):
                sink.write(noise(rng, 120, 160))
    assert 0 < sink.frames_written < 500
    assert not path.exists()


def test_interrupt_inside_with_block_leaves_playable_file(tmp_path: Path) -> None:
    src = make_source(tmp_path / "in.mp4", n=40)
    path = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        with Capture(src) as cap, VideoSink(path, width=64, height=48, fps=cap.info.fps, audio_from=src) as sink:
            for frame in cap:
                sink.write(frame.image)
                if frame.index == 14:
                    raise KeyboardInterrupt
    out = probe(path)
    assert out["frames"] == 15 == sink.frames_written
    assert out["audio"] is not None and abs(out["audio"]["seconds"] - 15 / 25) < 0.05


def test_sigint_in_a_real_process(tmp_path: Path) -> None:
    """SIGINT a writer process mid-run: the clip plays and the records are valid JSON up to the last frame."""
    video, records = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from gazecam.sinks import VideoSink, RecordsSink
        from gazecam.types import Frame, GazeResult, HeadBoxes
        def result(i):
            frame = Frame(image=np.zeros((48, 64, 3), np.uint8), index=i, timestamp_s=i / 25)
            heads = HeadBoxes(xyxy=np.array([[4, 4, 20, 20]], np.float32), image_size=(48, 64), track_ids=[1])
            return GazeResult(frame=frame, heads=heads, heatmaps=np.zeros((1, 64, 64), np.float32),
                              points_norm=np.array([[0.5, 0.5]], np.float32), inout=None,
                              in_frame=np.array([True]), looking_at=np.array([-1]), mutual=np.array([False]))
        try:
            with VideoSink({str(video)!r}, width=64, height=48, fps=25) as sink, RecordsSink({str(records)!r}) as rec:
                i = 0
                while True:
                    sink.write(np.full((48, 64, 3), i % 256, np.uint8))
                    rec.write(result(i))
                    i += 1
                    if i == 10:
                        print("ready", flush=True)
        except KeyboardInterrupt:
            print("frames", sink.frames_written, flush=True)
            sys.exit(130)
    """)
    # SIGINT set explicitly in the child (a run started with `nohup ... &` inherits it ignored); killed on failure
    with Child([sys.executable, "-c", script], sigint="default", cwd=REPO, timeout_s=120) as child:
        assert child.read_line(timeout_s=60) == "ready"
        child.send_signal(signal.SIGINT)
        code, rest, err = child.finish(timeout_s=60)
    assert code == 130, err
    written = int(rest.split()[-1])
    assert written >= 10
    assert probe(video)["frames"] == written
    lines = records.read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line is complete JSON
    assert [r["frame"] for r in rows] == list(range(len(rows)))
    assert written - 1 <= len(rows) <= written  # the interrupt may fall between the two writes


@pytest.mark.parametrize("width, height", [(64, 48), (65, 47)])
def test_colours_survive_encoding(tmp_path: Path, width: int, height: int) -> None:
    """RGB -> BT.709 YUV (tagged in the stream) -> RGB keeps saturated colours (4:2:0 and 4:4:4)."""
    colours = np.array([[200, 30, 60], [20, 180, 40], [30, 60, 220], [250, 250, 250]], np.uint8)
    image = np.zeros((height, width, 3), np.uint8)
    for k, colour in enumerate(colours):
        image[:, k * width // 4: (k + 1) * width // 4] = colour
    with VideoSink(tmp_path / "c.mp4", width=width, height=height, fps=25, crf=1) as sink:
        for _ in range(3):
            sink.write(image)
    with av.open(str(tmp_path / "c.mp4")) as container:
        cc = container.streams.video[0].codec_context
        assert (int(cc.colorspace), int(cc.color_primaries), int(cc.color_trc)) == (1, 1, 1)  # BT.709 tags
        decoded = next(iter(container.decode(video=0))).to_ndarray(format="rgb24")
    for k, colour in enumerate(colours):
        centre = decoded[height // 2, k * width // 4 + width // 8].astype(int)
        assert np.abs(centre - colour.astype(int)).max() <= 6, (k, centre, colour)


def test_zero_frames_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with VideoSink(path, width=64, height=48, fps=25) as sink:
        pass
    assert sink.frames_written == 0 and not path.exists()


def test_write_checks_and_closed_sink(tmp_path: Path) -> None:
    sink = VideoSink(tmp_path / "out.mp4", width=64, height=48, fps=25)
    with pytest.raises(ValueError, match="frame is 65 x 48 but the video is 64 x 48"):
        sink.write(np.zeros((48, 65, 3), np.uint8))
    with pytest.raises(ValueError, match="H x W x 3 uint8 RGB"):
        sink.write(np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match="H x W x 3 uint8 RGB"):
        sink.write(np.zeros((48, 64, 3), np.float32))
    sink.write(np.zeros((48, 64, 3), np.uint8))
    sink.close()
    sink.close()
    with pytest.raises(SinkError, match="already closed"):
        sink.write(np.zeros((48, 64, 3), np.uint8))
    assert probe(tmp_path / "out.mp4")["frames"] == 1


def test_audio_from_without_audio_and_unreadable(tmp_path: Path) -> None:
    src = make_source(tmp_path / "silent.mp4", n=5, audio_codec=None)
    sink = copy_through(src, tmp_path / "out.mp4")
    assert not sink.has_audio and probe(tmp_path / "out.mp4")["audio"] is None
    text = tmp_path / "notes.mp4"
    text.write_text("no media here")
    with pytest.raises(SinkError, match="cannot read the audio of"):
        VideoSink(tmp_path / "out2.mp4", width=64, height=48, fps=25, audio_from=text)
    assert not (tmp_path / "out2.mp4").exists()


# --------------------------------------------------------------------------- RecordsSink


def make_result(index: int, n: int, *, inout: bool = True, width: int = 200, height: int = 100) -> GazeResult:
    frame = Frame(image=np.zeros((height, width, 3), np.uint8), index=index, timestamp_s=index / 30)
    xyxy = np.array([[10.123, 20.456, 50.789, 70.001], [100, 10, 140, 60], [0, 0, 10, 10]], np.float32)[:n]
    heads = HeadBoxes(xyxy=xyxy, image_size=(height, width), track_ids=np.array([3, 7, -1])[:n])
    heatmaps = np.zeros((n, 64, 64), np.float32)
    for i in range(n):
        heatmaps[i, 10 + i, 20 + i] = 0.5 + 0.1 * i
    return GazeResult(
        frame=frame, heads=heads, heatmaps=heatmaps,
        points_norm=np.array([[0.6, 0.3], [0.1, 0.25], [0.5, 0.5]], np.float32)[:n],
        inout=np.array([0.91234, 0.2, 0.5], np.float32)[:n] if inout else None,
        in_frame=np.array([True, False, True])[:n], looking_at=np.array([7, -1, -1])[:n],
        mutual=np.array([False, False, False])[:n],
    )


def test_records_jsonl_fields_and_values(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with RecordsSink(path) as rec:
        assert rec.format == "jsonl"
        rec.write(make_result(0, 2))
        rec.write(make_result(1, 0))  # nobody: no line
        rec.write(make_result(2, 3, inout=False))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 5 == rec.lines_written and rec.frames_written == 3
    assert all(tuple(r) == RECORD_FIELDS for r in rows)
    first = rows[0]
    assert first["frame"] == 0 and first["time"] == 0.0 and first["track_id"] == 3
    assert first["head_xyxy"] == [10.12, 20.46, 50.79, 70.0]
    assert first["head_xyxy_norm"] == pytest.approx([10.123 / 200, 20.456 / 100, 50.789 / 200, 70.001 / 100], abs=1e-5)
    assert first["gaze_xy"] == pytest.approx([120.0, 30.0], abs=0.01)
    assert first["gaze_xy_norm"] == pytest.approx([0.6, 0.3], abs=1e-5)
    assert first["peak"] == 0.5 and first["inout"] == pytest.approx(0.9123, abs=1e-4)
    assert first["in_frame"] is True and first["looking_at"] == 7 and first["mutual"] is False
    assert first["fresh"] is True  # the scene encoder ran on this frame
    assert rows[1]["looking_at"] is None and rows[1]["in_frame"] is False
    assert [r["frame"] for r in rows[2:]] == [2, 2, 2]
    assert all(r["inout"] is None for r in rows[2:])  # model without in/out head
    assert rows[4]["track_id"] is None  # untracked head
    assert rows[2]["time"] == pytest.approx(2 / 30, abs=1e-4)


def test_records_are_flushed_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    rec = RecordsSink(path)
    rec.write(make_result(0, 2))
    partial = rec.write_path  # out.partial.jsonl until the records are complete
    assert partial == tmp_path / "out.partial.jsonl" and not path.exists()
    assert len(partial.read_text().splitlines()) == 2  # visible to another reader before close
    rec.write(make_result(1, 1))
    assert len(partial.read_text().splitlines()) == 3
    rec.close()
    assert len(path.read_text().splitlines()) == 3 and not partial.exists()
    rec.close()
    with pytest.raises(SinkError, match="already closed"):
        rec.write(make_result(2, 1))


def test_records_csv(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with RecordsSink(path) as rec:
        assert rec.format == "csv"
        rec.write(make_result(0, 2))
        assert len(rec.write_path.read_text().splitlines()) == 3  # header + 2 rows, flushed
        rec.write(make_result(1, 0))
        rec.write(make_result(2, 1, inout=False))
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [dict(zip(header, r)) for r in reader]
    assert tuple(header) == CSV_COLUMNS
    assert len(rows) == 3
    assert rows[0]["head_x1"] == "10.12" and float(rows[0]["head_y2_norm"]) == pytest.approx(0.70001)
    assert float(rows[0]["gaze_x"]) == pytest.approx(120.0) and rows[0]["gaze_y_norm"] == "0.3"
    assert rows[0]["in_frame"] == "true" and rows[0]["looking_at"] == "7" and rows[0]["mutual"] == "false"
    assert rows[0]["fresh"] == "true"
    assert rows[1]["looking_at"] == "" and rows[1]["track_id"] == "7"
    assert rows[2]["frame"] == "2" and rows[2]["inout"] == ""


def test_records_format_override_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "records.txt"
    result = make_result(0, 1)
    result.heatmaps[0] = np.nan  # a broken score is written as null, never as invalid JSON
    with RecordsSink(path, format="jsonl") as rec:
        rec.write(result)
    row = json.loads(path.read_text())
    assert row["peak"] is None
    with pytest.raises(ValueError, match="'jsonl' or 'csv'"):
        RecordsSink(tmp_path / "x.json", format="xml")  # type: ignore[arg-type]


def test_records_unwritable_and_disk_full(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="does not exist"):
        RecordsSink(tmp_path / "nope" / "out.jsonl")
    rec = RecordsSink(tmp_path / "out.jsonl")
    rec.write(make_result(0, 2))

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    rec._file = Full()  # the disk fills up between two frames
    with pytest.raises(SinkError, match=r"the disk is full: records .* hold 2 complete line\(s\) from 1 frame"):
        rec.write(make_result(1, 1))
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_sinks_do_not_import_torch() -> None:
    code = "import sys, gazecam.sinks, gazecam.capture, gazecam.imageio; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "False", result.stderr


# --------------------------------------------------------------------------- never lose a file, survive a kill


def test_outputs_appear_only_when_complete_and_failures_leave_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, width=64, height=48, fps=25)
    sink.write(np.zeros((48, 64, 3), np.uint8))
    assert sink.write_path == tmp_path / "out.partial.mp4" and not path.exists()
    sink.close()
    assert probe(path)["frames"] == 1 and sorted(os.listdir(tmp_path)) == ["out.mp4"]

    monkeypatch.setattr(sinks_mod, "_open_output_file", lambda p: FullDisk(20_000))
    with pytest.raises(SinkError, match="disk is full"):
        with VideoSink(path, width=128, height=96, fps=25) as sink:
            for _ in range(200):
                sink.write(noise(np.random.default_rng(0)))
    assert probe(path)["frames"] == 1  # the earlier clip at that path is untouched
    assert sorted(os.listdir(tmp_path)) == ["out.mp4"]  # and the failed run's temporary file is gone


def _char_device(folder: Path, name: str, major: int, minor: int) -> Path:
    if os.geteuid() != 0:
        pytest.skip("making a device node (mknod) needs root")
    path = folder / name
    try:
        os.mknod(path, 0o666 | __import__("stat").S_IFCHR, os.makedev(major, minor))
    except PermissionError as e:
        pytest.skip(f"mknod is not permitted here ({e})")
    return path


def test_a_full_device_is_never_deleted(tmp_path: Path) -> None:
    """-o /dev/full: the write fails, and the device node stays (it used to be unlinked)."""
    import stat

    full = _char_device(tmp_path, "full", 1, 7)
    with pytest.raises(SinkError, match=r"disk is full: .* is not a regular file and was left as it is"):
        with VideoSink(full, width=128, height=96, fps=25) as sink:
            for _ in range(100):
                sink.write(noise(np.random.default_rng(0)))
    assert stat.S_ISCHR(os.stat(full).st_mode)
    with pytest.raises(SinkError, match="disk is full"):
        with RecordsSink(full) as rec:
            for i in range(2000):
                rec.write(make_result(i, 3))
    assert stat.S_ISCHR(os.stat(full).st_mode) and os.listdir(tmp_path) == ["full"]


def test_a_null_device_and_a_fifo_take_the_clip(tmp_path: Path) -> None:
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = bytearray()

    def read() -> None:
        with open(fifo, "rb") as f:
            while chunk := f.read(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with VideoSink(fifo, width=64, height=48, fps=25) as sink:  # fragmented mp4 needs no seeking back
        for i in range(30):
            sink.write(np.full((48, 64, 3), 8 * i, np.uint8))
    reader.join(30)
    (tmp_path / "piped.mp4").write_bytes(bytes(received))
    assert probe(tmp_path / "piped.mp4")["frames"] == 30 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    null = _char_device(tmp_path, "null", 1, 3)
    with VideoSink(null, width=64, height=48, fps=25) as sink:
        sink.write(np.zeros((48, 64, 3), np.uint8))
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_the_clip_is_fragmented_seekable_and_keeps_its_audio(tmp_path: Path) -> None:
    src = make_source(tmp_path / "in.mp4", n=150, fps=Fraction(25))
    out = tmp_path / "out.mp4"
    sink = copy_through(src, out)
    data = out.read_bytes()
    assert data.count(b"moof") >= 12 and b"mfra" in data  # fragments of <= 0.5 s, and their index at the end
    info = probe(out)
    assert info["frames"] == sink.frames_written == 150
    assert info["audio"] is not None and abs(info["audio"]["seconds"] - 6.0) < 0.05
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        first = next(c.decode(v))
        assert first.pts * first.time_base == 0  # video and audio both start at 0 (edit list kept)
        for target_s in (2.5, 4.1):
            c.seek(int(target_s / v.time_base), stream=v)
            frame = next(c.decode(v))
            shown = float(frame.pts * frame.time_base)
            assert frame.key_frame and target_s - 2.0 <= shown <= target_s  # a keyframe at least every 2 s
            assert float(frame.to_ndarray(format="rgb24")[:, :16].mean()) == pytest.approx(
                (30 + 5 * round(shown * 25)) % 256, abs=4)


def test_a_killed_writer_leaves_a_playable_partial_clip(tmp_path: Path) -> None:
    """SIGKILL (or a power cut): no handler runs; the .partial.mp4 plays up to its last complete fragment."""
    out = tmp_path / "clip.mp4"
    script = textwrap.dedent(f"""
        import numpy as np
        from gazecam.sinks import VideoSink
        sink = VideoSink({str(out)!r}, width=64, height=48, fps=10)
        for i in range(100000):
            sink.write(np.full((48, 64, 3), (7 * i) % 256, np.uint8))
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:  # read here, line by line (not by a thread): the kill follows frame 60 as closely as possible
        assert proc.stdout is not None
        for line in proc.stdout:
            if int(line) >= 60:  # 6 s of video written; the encoder holds back its lookahead (~10-15 frames)
                break
    finally:
        proc.kill()  # also when anything above failed: never left running
        proc.wait(timeout=60)
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["clip.partial.mp4"]
    salvaged = probe(tmp_path / "clip.partial.mp4")
    assert 40 <= salvaged["frames"] <= 61  # fragments of 0.5 s: at most the encoder's delay + 5 frames lost
    first = salvaged["images"][0]
    assert float(first.mean()) == pytest.approx(0, abs=4)  # from the very first frame on


def test_records_on_a_full_disk_keep_their_complete_lines(tiny_tmpfs: Path) -> None:
    path = tiny_tmpfs / "out.jsonl"
    with pytest.raises(SinkError, match=r"the disk is full: records .* hold (\d+) complete line\(s\)") as info:
        with RecordsSink(path) as rec:
            for i in range(100000):
                rec.write(make_result(i, 3))
    kept = int(__import__("re").search(r"hold (\d+) complete", str(info.value)).group(1))
    lines = path.read_text().splitlines()
    assert len(lines) == kept > 0 and all(json.loads(line) for line in lines)
    assert path.read_text().endswith("\n") and os.listdir(tiny_tmpfs) == ["out.jsonl"]


def test_records_of_a_run_that_failed_before_its_first_frame_leave_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("earlier run\n")
    with pytest.raises(RuntimeError):
        with RecordsSink(path):
            raise RuntimeError("no frame could be read")
    assert path.read_text() == "earlier run\n" and os.listdir(tmp_path) == ["out.jsonl"]
    with pytest.raises(RuntimeError):
        with RecordsSink(path) as rec:
            rec.write(make_result(0, 1))
            raise RuntimeError("failed mid-way")
    assert len(path.read_text().splitlines()) == 1  # what was written up to the failure is kept
