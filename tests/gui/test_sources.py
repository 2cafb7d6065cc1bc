"""What the user types as a source and how it is opened."""

from __future__ import annotations

import pytest

from gazecam.capture import CaptureError, SeekableReader
from gazecam.gui.sources import SourceSpec, list_cameras, open_source


@pytest.mark.parametrize("text,kind,value", [
    (None, "camera", "0"), ("", "camera", "0"), ("2", "camera", "2"), ("/dev/video1", "camera", "/dev/video1"),
    ("rtsp://cam.local/stream", "url", "rtsp://cam.local/stream"), ("http://x/y.m3u8", "url", "http://x/y.m3u8"),
    ("clip.mp4", "file", "clip.mp4"), ("file:///tmp/a.mp4", "file", "/tmp/a.mp4"),
])
def test_parse(text, kind, value):
    spec = SourceSpec.parse(text)
    assert (spec.kind, spec.value) == (kind, value)
    assert spec.live == (kind != "file")


def test_open_file_and_missing_camera(clip):
    src = open_source(SourceSpec("file", str(clip)))
    assert isinstance(src, SeekableReader) and src.seekable and src.info.kind == "video"
    src.close()
    with pytest.raises(CaptureError, match="Reconnect"):
        open_source(SourceSpec("camera", "/dev/video99"))


def test_list_cameras_returns_indices():
    assert all(c.isdigit() for c in list_cameras())
