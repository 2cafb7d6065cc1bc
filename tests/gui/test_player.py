"""Files as the GUI plays them: :func:`gazecam.gui.sources.open_source` gives gazecam.capture's seekable reader."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fakes import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, frame_index_of, make_clip
from PIL import Image

from gazecam.errors import InputError
from gazecam.gui.sources import SourceSpec, open_source


def open_file(path):
    return open_source(SourceSpec("file", str(path)))


def test_reads_every_frame_in_order(clip):
    p = open_file(clip)
    try:
        assert (p.info.width, p.info.height, p.info.fps, p.info.frame_count) == (*CLIP_SIZE, CLIP_FPS, CLIP_FRAMES)
        assert p.info.has_audio and p.info.uri == str(clip) and not p.info.live and p.seekable
        assert p.last_index == CLIP_FRAMES - 1
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
    p = open_file(clip)
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
        if target > 0:
            back = p.step(-1)  # from target + 1 (or the end) back one frame
            assert back.index == (target if nxt is not None else target - 1)
            assert frame_index_of(back.image) == back.index
    finally:
        p.close()


def test_seek_past_the_end_clamps_and_by_time(clip):
    p = open_file(clip)
    try:
        assert p.seek(10_000).index == CLIP_FRAMES - 1
        assert p.seek(-5).index == 0
        f = p.seek(time_s=1.0 + 0.5 / CLIP_FPS)  # between frames 24 and 25: the one on screen
        assert f.index == CLIP_FPS and frame_index_of(f.image) == CLIP_FPS
    finally:
        p.close()


def test_silent_clip_has_no_audio(tmp_path):
    p = open_file(make_clip(tmp_path / "silent.mp4", frames=3, audio=False))
    try:
        assert not p.info.has_audio and p.info.frame_count == 3
    finally:
        p.close()


def test_image_folder_plays_and_seeks(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(np.full((30, 40, 3), 40 * i, np.uint8)).save(folder / f"img{i + 1}.png")
    (folder / "img3.png").write_text("not a png")  # unreadable: skipped, a gap at index 2
    p = open_file(folder)
    try:
        assert (p.info.kind, p.info.frame_count, p.last_index, p.info.fps) == ("images", 5, 4, 25.0)
        got = []
        while (f := p.read()) is not None:
            got.append((f.index, int(f.image[0, 0, 0]), f.timestamp_s))
        assert got == [(0, 0, 0.0), (1, 40, 0.04), (3, 120, 0.12), (4, 160, 0.16)]
        assert p.seek(2).index == 1  # the unreadable image: the one before it stays on screen
        assert p.read().index == 3
        assert p.seek(4).index == 4 and p.step(-1).index == 3
    finally:
        p.close()


@pytest.mark.parametrize("kind", ["missing", "empty folder", "garbage", "empty"])
def test_bad_files_raise_clear_errors(tmp_path, kind):
    path = tmp_path / "x.mp4"
    if kind == "empty folder":
        path = tmp_path / "nothing"
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(b"\x00\x01not a video" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    with pytest.raises(InputError) as e:
        open_file(path)
    assert str(path) in str(e.value)
