"""The annotated video: :class:`VideoSink` writes RGB frames to an H.264 mp4 with PyAV (OpenCV's wheel has no
H.264 encoder), same size and frame rate as the input, the input's audio kept in sync and cut to the video's length.

Closing always finalises the file (encoder flushed, trailer written), also after an exception or Ctrl-C inside
the ``with`` block, so an interrupted run leaves a playable clip of what was written.  The mp4 is fragmented (a
fragment at least every 0.5 s of video, a keyframe at least every 2 s, the index at the end), so even a process
killed outright leaves a clip playable up to its last complete fragment (less the ~10-15 frames the encoder holds).

Odd frame sizes: H.264 in 4:2:0 (``yuv420p``, what every player decodes) can only code even widths and heights.
By default (``odd_size="keep"``) an odd-sized video is encoded in 4:4:4 (``yuv444p``, H.264 High 4:4:4 profile),
which keeps the exact size and plays in ffmpeg/VLC/mpv-based players but not in most browsers, QuickTime or
hardware decoders; ``odd_size="pad"`` instead encodes 4:2:0 with the last column/row repeated (the output is
then one pixel wider/taller).

Colours: frames are converted from RGB with the BT.709 matrix, limited range, and the stream is tagged so
(primaries, transfer, matrix = BT.709), so players do not have to guess.

The clip is written to a temporary file next to it and renamed into place when complete
(:mod:`gazecam.outputs`); a failure removes only that temporary file, never a file the sink did not create.  A
destination that is a device or fifo (``/dev/null``) is written directly and never removed.  No torch import here.
"""

from __future__ import annotations

import math
from collections import deque
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import numpy as np

from gazecam.errors import SinkError
from gazecam.outputs import begin_output
from gazecam.outputs import is_disk_full as _is_disk_full

__all__ = ["VideoSink", "fps_fraction", "MP4_AUDIO_CODECS", "MP4_MUXER_OPTIONS", "KEYFRAME_INTERVAL_S"]

#: Audio codecs copied into the mp4 as they are; anything else is transcoded to AAC.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})

#: Fragmented mp4 (what survives a killed process): a fragment at every keyframe and at least every
#: FRAGMENT_S of video, the first one written with its edit list (delay_moov: video and audio both start
#: at 0), the random-access index (mfra) at the end.
FRAGMENT_S = 0.5
MP4_MUXER_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof+delay_moov",
                     "frag_duration": str(int(FRAGMENT_S * 1_000_000))}  # microseconds
#: Longest stretch between keyframes: the seek granularity of players.
KEYFRAME_INTERVAL_S = 2.0


def fps_fraction(fps: float | Fraction) -> Fraction:
    """Exact frame rate for a time base: 29.97002997 -> 30000/1001, 25.0 -> 25."""
    if isinstance(fps, Fraction):
        rate = fps
    else:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps)):
            raise ValueError(f"fps must be a finite number, got {fps!r}")
        rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return rate


def _open_output_file(path: Path) -> IO[bytes]:
    """Open the file the video is written to (a seam for tests that simulate a failing disk).

    Unbuffered: the muxer hands over whole fragments, which then reach the OS at once (a killed process
    loses nothing that was muxed).
    """
    return open(path, "wb", buffering=0)


class VideoSink:
    """Write RGB frames to an H.264 mp4 (``with VideoSink(...) as sink: sink.write(rgb)``).

    ``fps`` may be a float (converted with :func:`fps_fraction`) or a Fraction; the
    stream's time base is ``1 / fps`` and frame ``i`` gets timestamp ``i / fps``.
    ``audio_from``: a media file whose first audio stream is copied (codecs mp4
    accepts: remuxed; others: transcoded to AAC), aligned to the start of that
    file's video stream and cut to the written video's length; a file without
    audio just gives a silent video (``has_audio`` is then False).
    ``audio_start_s``: the source time (seconds from its first video frame, as in
    ``Frame.timestamp_s``) at which the written video starts, for recordings that
    begin mid-file.  ``odd_size``: see the module docstring.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float | Fraction,
        audio_from: str | Path | None = None,
        crf: int = 20,
        codec: str = "libx264",
        preset: str = "veryfast",
        odd_size: Literal["keep", "pad"] = "keep",
        audio_start_s: float = 0.0,
    ) -> None:
        import av

        self._av = av
        if width < 1 or height < 1:
            raise ValueError(f"VideoSink: width and height must be positive, got {width} x {height}")
        if not (math.isfinite(audio_start_s) and audio_start_s >= 0):
            raise ValueError(f"VideoSink: audio_start_s must be >= 0, got {audio_start_s}")
        if odd_size not in ("keep", "pad"):
            raise ValueError(f"VideoSink: odd_size must be 'keep' or 'pad', got {odd_size!r}")
        self.path = Path(path).expanduser()
        self.width, self.height = int(width), int(height)
        self.fps = fps_fraction(fps)
        self.frames_written = 0  # frames accepted; after close(): frames in the file
        self._next_pts = 0
        self._video_packets = 0  # H.264 packets muxed (one per frame)
        self.has_audio = False
        self._closed = False
        odd = self.width % 2 == 1 or self.height % 2 == 1
        self._pad = odd and odd_size == "pad"
        #: (width, height) in the file: the input size, or one pixel more per odd side with odd_size="pad"
        self.coded_size = ((self.width + self.width % 2, self.height + self.height % 2) if self._pad
                           else (self.width, self.height))
        self.pixel_format = "yuv444p" if odd and not self._pad else "yuv420p"
        self._output = begin_output(self.path, "video")
        #: where the clip is until close() (``NAME.partial.mp4``; the path itself for a device or fifo)
        self.write_path: Path = self._output.write_path
        try:
            self._file = _open_output_file(self._output.write_path)
        except OSError as exc:
            self._output.discard()
            raise SinkError(f"cannot write video {self.path}: {exc.strerror or exc}; "
                            "check the path and its permissions") from exc
        self._audio_in = None
        try:
            self._container = av.open(self._file, mode="w", format="mp4", options=dict(MP4_MUXER_OPTIONS))
            try:
                stream = self._container.add_stream(codec, rate=self.fps)
            except (av.FFmpegError, ValueError) as exc:
                raise SinkError(f"video codec {codec!r} is not available in this PyAV build: {exc}") from exc
            stream.width, stream.height = self.coded_size
            stream.pix_fmt = self.pixel_format
            self._time_base = 1 / self.fps  # the muxer may change stream.time_base (mp4: 1/30000)
            stream.time_base = self._time_base
            stream.codec_context.time_base = self._time_base
            cc = stream.codec_context  # tag BT.709, limited range: what write() converts to
            cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 1, 1, 1, 1
            if codec == "libx264":
                keyint = max(1, int(round(float(self.fps) * KEYFRAME_INTERVAL_S)))
                stream.options = {"crf": str(int(crf)), "preset": preset, "g": str(keyint)}
            self._stream = stream
            if audio_from is not None:
                self._open_audio(Path(audio_from).expanduser(), float(audio_start_s))
        except BaseException as exc:
            self._abort()
            self._output.discard()
            if _is_disk_full(exc):
                raise SinkError(f"cannot write video {self.path}: the disk is full") from exc
            raise

    # -- audio

    def _open_audio(self, source: Path, start_s: float) -> None:
        av = self._av
        try:
            audio_in = av.open(str(source), mode="r", metadata_errors="ignore")
        except (av.FFmpegError, OSError) as exc:
            raise SinkError(f"cannot read the audio of {source}: {exc}") from exc
        if not audio_in.streams.audio:
            audio_in.close()
            return
        self._audio_in = audio_in
        in_stream = audio_in.streams.audio[0]
        self._audio_src = in_stream
        # the video's start in the source is time 0 of the output (Capture timestamps do the same)
        origin = 0.0
        if audio_in.streams.video:
            v = audio_in.streams.video[0]
            if v.start_time is not None and v.time_base is not None:
                origin = float(v.start_time * v.time_base)
        self._audio_origin = origin + start_s  # source time that becomes output time 0
        if start_s > 0:  # a recording that starts mid-file: jump close to that point
            try:
                audio_in.seek(int(max(self._audio_origin - 1.0, 0) / in_stream.time_base), stream=in_stream,
                              backward=True)
            except (av.FFmpegError, OSError):
                audio_in.seek(0)  # not seekable: read from the start, early packets are skipped
        self._audio_copy = in_stream.codec_context.name in MP4_AUDIO_CODECS
        if self._audio_copy:
            self._audio_out = self._container.add_stream_from_template(in_stream)
        else:
            rate = in_stream.codec_context.sample_rate or 48000
            channels = in_stream.codec_context.channels
            layout = in_stream.codec_context.layout.name if channels <= 2 else "stereo"
            self._audio_out = self._container.add_stream("aac", rate=rate, layout=layout)
            self._audio_out.time_base = Fraction(1, rate)
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            self._audio_rate = rate
            self._audio_layout = layout
            self._audio_channels = 1 if layout == "mono" else 2
            self._audio_samples = 0  # samples sent to the encoder
            self._pcm: deque[np.ndarray] = deque()  # decoded (channels, samples) float32 not yet encoded
            self._pcm_next: int | None = None  # output sample position of the next decoded sample
        self._audio_packets = audio_in.demux(in_stream)
        self._audio_done = False
        self._audio_held = None  # a packet read past the current video time
        self.has_audio = True

    def _pump_audio(self, until_s: float) -> None:
        """Mux the source audio up to ``until_s`` seconds of output time.

        Copied packets are written whole (the audio may overrun the video by less than
        one packet, ~20 ms); transcoded audio is cut at the exact sample.
        """
        if self._audio_in is None:
            return
        av = self._av
        while not self._audio_done:
            packet = self._audio_held
            self._audio_held = None
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except (StopIteration, av.FFmpegError, OSError):
                    self._audio_done = True
                    break
            if packet.size == 0:  # end-of-stream marker: flush the decoder
                if not self._audio_copy:
                    self._decode_audio(packet)
                continue
            if packet.pts is None:
                if not self._audio_copy:
                    self._decode_audio(packet)
                continue  # a copied packet without a timestamp cannot be placed
            tb = packet.time_base
            start = float(packet.pts * tb) - self._audio_origin
            if start >= until_s:
                self._audio_held = packet
                break
            if not self._audio_copy:
                self._decode_audio(packet)
                continue
            if packet.duration and start + float(packet.duration * tb) < 0:
                continue  # before the video started (the packet ending at 0 is kept: encoder priming/preroll)
            shift = int(round(self._audio_origin / tb))
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self._audio_out
            self._container.mux(packet)
        if not self._audio_copy:
            self._encode_audio(int(round(until_s * self._audio_rate)))

    def _decode_audio(self, packet) -> None:
        """Decode + resample one packet into the pending PCM buffer (transcoding only)."""
        av = self._av
        try:
            frames = packet.decode()
        except (av.FFmpegError, ValueError):
            return  # an undecodable audio packet is skipped
        for frame in frames:
            if self._pcm_next is None:  # first samples: place them relative to the video start
                start = 0.0 if frame.pts is None else float(frame.pts * frame.time_base) - self._audio_origin
                self._pcm_next = int(round(start * self._audio_rate))
                if self._pcm_next > 0:  # audio starts after the video: lead with silence
                    self._pcm.append(np.zeros((self._audio_channels, self._pcm_next), np.float32))
                    self._pcm_next = 0
            for out in self._resampler.resample(frame):
                data = out.to_ndarray().reshape(self._audio_channels, -1)  # (channels, samples) planar
                if self._pcm_next < 0:  # before the video start: drop
                    drop = min(-self._pcm_next, data.shape[1])
                    data = data[:, drop:]
                    self._pcm_next += drop
                if data.shape[1]:
                    self._pcm.append(data)

    def _encode_audio(self, until_sample: int) -> None:
        """Encode pending PCM up to output sample ``until_sample``; keep the rest."""
        while self._pcm and self._audio_samples < until_sample:
            data = self._pcm.popleft()
            take = min(data.shape[1], until_sample - self._audio_samples)
            if take < data.shape[1]:
                self._pcm.appendleft(data[:, take:])
                data = data[:, :take]
            chunk = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(data, np.float32), format="fltp",
                                                     layout=self._audio_layout)
            chunk.sample_rate = self._audio_rate
            chunk.pts = self._audio_samples
            chunk.time_base = Fraction(1, self._audio_rate)
            self._audio_samples += take
            for out_packet in self._audio_out.encode(chunk):
                self._container.mux(out_packet)

    def _finish_audio(self, duration_s: float) -> None:
        if self._audio_in is None:
            return
        self._pump_audio(duration_s)
        if not self._audio_copy:
            self._pcm.clear()  # past the end of the video
            for packet in self._audio_out.encode(None):
                self._container.mux(packet)

    # -- video

    def write(self, image: np.ndarray) -> None:
        """Append one ``height x width x 3`` uint8 RGB frame."""
        if self._closed:
            raise SinkError(f"video {self.path} is already closed")
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"VideoSink.write: expected an H x W x 3 uint8 RGB image, got {got}")
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"VideoSink.write: frame is {image.shape[1]} x {image.shape[0]} but the video is "
                f"{self.width} x {self.height} (width x height); all frames must have the sink's size"
            )
        if self._pad:
            pad = ((0, self.coded_size[1] - self.height), (0, self.coded_size[0] - self.width), (0, 0))
            image = np.pad(image, pad, mode="edge")  # (H, W, 3) -> (H + 1?, W + 1?, 3)
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24").reformat(
            format=self.pixel_format, dst_colorspace="ITU709", dst_color_range="MPEG")  # matches the stream tags
        frame.pts = self._next_pts
        frame.time_base = self._time_base
        self._next_pts += 1  # before encoding: an interrupt can never make two frames share a timestamp
        try:
            self._mux_video(self._stream.encode(frame))
            self.frames_written = self._next_pts
            self._pump_audio(self._next_pts / self.fps)
        except BaseException as exc:
            self._fail(exc)
            raise

    def _mux_video(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)
            self._video_packets += 1

    def _fail(self, exc: BaseException) -> None:
        if not _is_disk_full(exc) and not isinstance(exc, (OSError, self._av.FFmpegError)):
            return  # e.g. KeyboardInterrupt: close() still finalises the file
        self._abort()
        self._output.discard()
        removed = (f"{self.path} is not a regular file and was left as it is" if self._output.direct
                   else "the incomplete file was removed")  # a device or fifo is never removed
        if _is_disk_full(exc):
            raise SinkError(
                f"the disk is full: writing video {self.path} stopped after {self.frames_written} frame(s); "
                f"{removed}; free some space or write elsewhere"
            ) from exc
        raise SinkError(f"writing video {self.path} failed after {self.frames_written} frame(s): {exc}; "
                        f"{removed}") from exc

    def _abort(self) -> None:
        """Release everything without finalising (the file is unusable anyway)."""
        self._closed = True
        for closer in (getattr(self, "_container", None), self._audio_in, getattr(self, "_file", None)):
            if closer is None:
                continue
            try:
                closer.close()
            except Exception:  # noqa: BLE001 - already failing; the caller gets the real error
                pass

    def close(self) -> None:
        """Flush the encoder, append the audio and write the trailer (idempotent)."""
        if self._closed:
            return
        if self._next_pts == 0:
            self._abort()  # an mp4 without frames is not a video: leave nothing behind
            self._output.discard()
            return
        try:
            self._mux_video(self._stream.encode(None))
            # exact count of what the file holds, even if an interrupt hit write() mid-way
            self.frames_written = self._video_packets
            self._finish_audio(self._next_pts / self.fps)
            self._container.close()
            self._file.close()
            self._output.commit()
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            self._closed = True
            if self._audio_in is not None:
                self._audio_in.close()

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
