"""Keep the sound of a file source in a recording that starts in the middle of the file.

:class:`gazecam.sinks.VideoSink` copies the audio of ``audio_from`` from the start of that file's video.
A GUI recording can start anywhere, so the audio is first cut (packets copied, no re-encoding) into a
temporary Matroska file whose time 0 is the recording's first frame, and that file feeds the sink.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cut_audio", "RecordingSink"]


def cut_audio(source: str | Path, start_s: float, dest: str | Path) -> bool:
    """Copy the first audio stream of ``source`` from ``start_s`` (seconds after its video starts) to ``dest``.

    Timestamps are shifted so that ``start_s`` becomes 0; packets that begin before it are left out (at
    most one packet, ~20 ms).  Returns False when ``source`` has no audio.
    """
    import av

    with av.open(str(source), metadata_errors="ignore") as inp:
        if not inp.streams.audio:
            return False
        a_in = inp.streams.audio[0]
        origin = 0.0  # the sink's convention: time 0 is the start of the video stream
        if inp.streams.video:
            v = inp.streams.video[0]
            if v.start_time is not None and v.time_base is not None:
                origin = float(v.start_time * v.time_base)
        tb = a_in.time_base
        if start_s > 1.0:  # jump close to the start point; demuxing from there is cheap
            inp.seek(int((origin + start_s - 1.0) / tb), stream=a_in, backward=True)
        with av.open(str(dest), "w", format="matroska") as out:
            a_out = out.add_stream_from_template(a_in)
            shift = int(round((origin + start_s) / tb))
            for packet in inp.demux(a_in):
                if packet.size == 0 or packet.pts is None or packet.pts < shift:
                    continue
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts = max(packet.dts - shift, 0)
                packet.stream = a_out
                out.mux(packet)
    return True


class RecordingSink:
    """A :class:`~gazecam.sinks.VideoSink` whose audio is cut from ``audio_start_s`` (temp file removed on close)."""

    def __init__(self, path: Path, *, width: int, height: int, fps: float, audio_from: str | None,
                 audio_start_s: float = 0.0) -> None:
        from ..sinks import VideoSink

        self._tmp: Path | None = None
        audio: str | Path | None = audio_from
        if audio_from is not None and audio_start_s > 0:
            self._tmp = Path(tempfile.mkdtemp(prefix="gazecam-audio-"))
            try:
                cut = self._tmp / "audio.mka"
                audio = cut if cut_audio(audio_from, audio_start_s, cut) else None
            except Exception:
                self._cleanup()
                raise
        try:
            self._sink = VideoSink(path, width=width, height=height, fps=fps, audio_from=audio)
        except BaseException:
            self._cleanup()
            raise

    @property
    def has_audio(self) -> bool:
        return bool(getattr(self._sink, "has_audio", False))

    def write(self, image: np.ndarray) -> None:
        self._sink.write(image)

    def __enter__(self) -> "RecordingSink":
        self._sink.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._sink.__exit__(*exc)
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
