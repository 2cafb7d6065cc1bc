"""The seekable file player (PyAV) the GUI uses for video files."""

from __future__ import annotations

import pytest
from gui_fakes import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, frame_index_of, make_clip

from gazecam.gui.player import FilePlayer, SourceError


def test_reads_every_frame_in_order(clip):
    p = FilePlayer(clip)
    try:
        assert (p.meta.width, p.meta.height, p.meta.fps, p.meta.frame_count) == (*CLIP_SIZE, CLIP_FPS, CLIP_FRAMES)
        assert p.meta.audio_path == str(clip) and not p.meta.live
        frames = []
        while (f := p.read()) is not None:
            frames.append(f)
        assert [f.index for f in frames] == list(range(CLIP_FRAMES))
        assert [frame_index_of(f.image) for f in frames] == list(range(CLIP_FRAMES))
        assert frames[10].timestamp_s == pytest.approx(10 / CLIP_FPS)
    finally:
        p.close()


@pytest.mark.parametrize("target", [0, 1, 11, 12, 13, 30, CLIP_FRAMES - 1])
def test_seek_is_frame_exact_and_reading_continues(clip, target):
    p = FilePlayer(clip)
    try:
        p.read()
        p.read()
        f = p.seek(target)
        assert f.index == target and frame_index_of(f.image) == target
        nxt = p.read()
        if target == CLIP_FRAMES - 1:
            assert nxt is None
        else:
            assert nxt.index == target + 1 and frame_index_of(nxt.image) == target + 1
    finally:
        p.close()


def test_seek_past_the_end_clamps(clip):
    p = FilePlayer(clip)
    try:
        assert p.seek(10_000).index == CLIP_FRAMES - 1
        assert p.seek(-5).index == 0
    finally:
        p.close()


def test_silent_clip_has_no_audio(tmp_path):
    p = FilePlayer(make_clip(tmp_path / "silent.mp4", frames=3, audio=False))
    try:
        assert p.meta.audio_path is None and p.meta.frame_count == 3
    finally:
        p.close()


@pytest.mark.parametrize("kind", ["missing", "folder", "garbage", "empty"])
def test_bad_files_raise_clear_errors(tmp_path, kind):
    path = tmp_path / "x.mp4"
    if kind == "folder":
        path = tmp_path
    elif kind == "garbage":
        path.write_bytes(b"\x00\x01not a video" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(SourceError) as e:
        FilePlayer(path)
    assert str(path) in str(e.value)
