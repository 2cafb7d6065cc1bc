"""ClipWriter: gap filling over skipped source indices and letterboxing of pictures of another size."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest

from gazecam.sinks import ClipWriter

H, W = 48, 64


def solid(value: int, h: int = H, w: int = W) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def decoded_means(path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.to_ndarray(format="rgb24").mean()) for f in c.decode(video=0)]


def levels(path) -> list[int]:
    """Each decoded frame's grey level rounded to the nearest multiple of 40 (H.264 is lossy)."""
    return [int(round(m / 40) * 40) for m in decoded_means(path)]


def test_gaps_repeat_the_previous_picture(tmp_path):
    out = tmp_path / "c.mp4"
    with ClipWriter(out, width=W, height=H, fps=10, start_index=0) as clip:
        clip.write(solid(40), index=0)
        clip.write(solid(80), index=1)
        clip.write(solid(160), index=4)  # 2 and 3 were skipped by the reader
    assert (clip.frames_written, clip.frames_repeated, clip.frames_letterboxed) == (5, 2, 0)
    assert levels(out) == [40, 80, 80, 80, 160]
    assert not clip.has_audio


def test_missing_first_frames_take_the_first_picture_with_start_index_0(tmp_path):
    out = tmp_path / "c.mp4"
    with ClipWriter(out, width=W, height=H, fps=10, start_index=0) as clip:
        clip.write(solid(120), index=2)
        clip.write(solid(200), index=3)
    assert clip.frames_repeated == 2 and levels(out) == [120, 120, 120, 200]


def test_without_start_index_the_clip_starts_at_the_first_frame_written(tmp_path):
    out = tmp_path / "c.mp4"
    with ClipWriter(out, width=W, height=H, fps=10) as clip:  # a recording that starts mid-file
        clip.write(solid(40), index=500)
        clip.write(solid(200), index=502)
    assert clip.frames_repeated == 1 and levels(out) == [40, 40, 200]


def test_no_filling_without_fill_gaps_or_index(tmp_path):
    out = tmp_path / "c.mp4"
    with ClipWriter(out, width=W, height=H, fps=10, fill_gaps=False, start_index=0) as clip:
        clip.write(solid(40), index=0)
        clip.write(solid(200), index=7)
        clip.write(solid(120))
    assert (clip.frames_written, clip.frames_repeated) == (3, 0)


def test_other_sizes_are_letterboxed_and_warned_once(tmp_path, caplog):
    out = tmp_path / "c.mp4"
    with caplog.at_level(logging.WARNING, logger="gazecam"):
        with ClipWriter(out, width=W, height=H, fps=10) as clip:
            clip.write(solid(200), index=0)
            clip.write(solid(200, h=H // 2, w=W), index=1)  # wider: bars above and below
            clip.write(solid(200, h=H * 2, w=W // 2), index=2)  # taller: bars left and right
    assert clip.frames_letterboxed == 2
    assert sum("letterboxed" in r.getMessage() for r in caplog.records) == 1
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert [f.shape for f in frames] == [(H, W, 3)] * 3
    assert frames[1][2, W // 2].max() < 40 and frames[1][H // 2, W // 2].min() > 150  # bar on top, picture inside
    assert frames[2][H // 2, 2].max() < 40 and frames[2][H // 2, W // 2].min() > 150  # bar left


def test_a_clip_without_frames_leaves_no_file_and_bad_start_index(tmp_path):
    out = tmp_path / "c.mp4"
    with ClipWriter(out, width=W, height=H, fps=10):
        pass
    assert not out.exists()
    with pytest.raises(ValueError, match="start_index"):
        ClipWriter(out, width=W, height=H, fps=10, start_index=-1)
    assert not out.exists()
