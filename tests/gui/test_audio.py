"""A GUI recording keeps the file's sound from the point where the recording starts."""

from __future__ import annotations

import av
import numpy as np
import pytest
from gui_fakes import make_clip


RATE = 16000


def ramp_clip(path, seconds: float = 2.0):
    """Video + audio whose loudness grows linearly with time (amplitude = t / seconds)."""
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        as_ = c.add_stream("aac", rate=RATE, layout="mono")
        for _ in range(int(seconds * 10)):
            for p in vs.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        n = int(seconds * RATE)
        t = np.arange(n) / RATE
        pcm = ((t / seconds) * np.sin(2 * np.pi * 500 * t)).astype(np.float32)[None]
        for s in range(0, n, 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, s:s + 1024]), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = RATE, s
            for p in as_.encode(fr):
                c.mux(p)
        for p in as_.encode(None):
            c.mux(p)
    return path


def first_rms(path, n: int = 1600) -> tuple[float, float]:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(a)])
    return float(np.sqrt(np.mean(pcm[:n] ** 2))), len(pcm) / a.sample_rate


def test_recording_started_mid_file_keeps_the_sound_from_there(tmp_path):
    """The GUI's recorder (ClipWriter with audio_start_s) starts the sound where the recording starts."""
    from gazecam.gui.recording import default_sink_factory

    src = ramp_clip(tmp_path / "ramp.mp4")
    out = tmp_path / "rec.mp4"
    sink = default_sink_factory(out, 64, 48, 10, str(src), audio_start_s=1.0)
    with sink:
        for _ in range(10):  # 1 s of video from t = 1 s
            sink.write(np.zeros((48, 64, 3), np.uint8))
    rms, duration = first_rms(out)
    # amplitude ~0.5 at t = 1 s -> RMS of a sine ~0.35 (the source starts silent)
    assert rms == pytest.approx(0.5 / np.sqrt(2), abs=0.06)
    assert duration == pytest.approx(1.0, abs=0.1)
    assert first_rms(src)[0] < 0.05


def test_recording_of_a_silent_file_has_no_audio(tmp_path):
    from gazecam.gui.recording import default_sink_factory

    silent = make_clip(tmp_path / "silent.mp4", frames=2, audio=False)
    with default_sink_factory(tmp_path / "out.mp4", 160, 120, 24, str(silent), audio_start_s=0.05) as sink:
        sink.write(np.zeros((120, 160, 3), np.uint8))
        assert not sink.has_audio
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert not c.streams.audio and sum(1 for _ in c.decode(video=0)) == 1  # fragmented mp4: counted by decoding
