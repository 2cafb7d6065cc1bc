"""Cutting a file's sound at the recording's start (packet copy, no re-encoding)."""

from __future__ import annotations

import av
import numpy as np
import pytest
from gui_fakes import make_clip

from gazecam.gui.audio import RecordingSink, cut_audio

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


def test_cut_starts_at_the_requested_time(tmp_path):
    src = ramp_clip(tmp_path / "ramp.mp4")
    dest = tmp_path / "cut.mka"
    assert cut_audio(src, 1.0, dest)
    rms, duration = first_rms(dest)
    # amplitude ~0.5 at t = 1 s -> RMS of a sine ~0.35 (the uncut file starts silent)
    assert rms == pytest.approx(0.5 / np.sqrt(2), abs=0.06)
    assert duration == pytest.approx(1.0, abs=0.1)
    assert first_rms(src)[0] < 0.05


def test_no_audio_and_sink_cleanup(tmp_path):
    silent = make_clip(tmp_path / "silent.mp4", frames=2, audio=False)
    assert cut_audio(silent, 0.5, tmp_path / "x.mka") is False
    with RecordingSink(tmp_path / "out.mp4", width=160, height=120, fps=24, audio_from=str(silent),
                       audio_start_s=0.05) as sink:
        tmp = sink._tmp
        sink.write(np.zeros((120, 160, 3), np.uint8))
        assert not sink.has_audio
    assert tmp is not None and not tmp.exists()
