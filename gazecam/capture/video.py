"""Video files decoded with PyAV: every frame in presentation order, and exact seeks for players.

Frame numbering (the same for :class:`~gazecam.capture.Capture` and for a seeking player): a
frame's time is its real presentation timestamp minus the stream's start; its index is
``round(time * fps)``, raised to ``previous index + 1`` where a variable frame rate makes two
frames round to the same number.  "Previous" counts every video packet of the file, also one that
does not decode (it keeps its number: a gap), so a frame's number depends only on the packet
timestamps of the file.  That is what lets :meth:`VideoFileReader.seek` number frames exactly as
reading from the start does: it reads the packet timestamps once (demuxing, no decoding), seeks to
a keyframe before the target and decodes forward to it.

Frames are handed out in presentation order: one a damaged stream makes the decoder output after a
later frame is skipped and counted as undecodable (its number was passed).  Files whose timestamps
are missing, or follow decode order although frames are reordered, are numbered in the decoder's
output order (frame ``i`` at ``i / fps`` seconds) and seek by reading from the start.  So are AVI
files whose codec reorders frames: AVI stores no presentation times, and what the demuxer makes up
for them is wrong for B-frames (DivX/Xvid "packed B-frames" give a first frame at 1, frames out of
order, numbers skipped).  AVI files without reordering keep their timestamps, so a dropped-frame
chunk still leaves a gap.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from gazecam.errors import InputError
from gazecam.imageio import to_rgb
from gazecam.types import Frame

from .sources import CaptureError, SourceInfo

__all__ = ["VideoFileReader", "FrameNumbers"]

_PEEK_PACKETS = 16  # packets looked at on opening to tell presentation timestamps from decode-order ones
_SEEK_BACK_S = 1.0  # first step back when a keyframe seek lands after the target (doubles on each retry)
_UNBUILT = object()


class FrameNumbers:
    """Frame indices from presentation timestamps (``pts`` in ``time_base`` units), in presentation order.

    :meth:`saw_packet` is told every video packet's pts as it is demuxed; :meth:`number` numbers a
    decoded frame.  Packets passed by a frame without having become one (undecodable) keep their
    numbers, so the result is a function of the file's packet timestamps alone.
    """

    def __init__(self, *, fps: float, time_base: Fraction, origin_pts: int | None) -> None:
        self.fps = fps
        self.time_base = time_base
        self.origin_pts = origin_pts  # None: the first numbered frame's pts
        self.last_index = -1
        self.last_pts: int | None = None
        self._unseen: list[int] = []  # heap: pts of demuxed packets no frame has passed yet

    def time_s(self, pts: int) -> float:
        origin = pts if self.origin_pts is None else self.origin_pts
        return float((pts - origin) * self.time_base)

    def saw_packet(self, pts: int) -> None:
        if self.last_pts is None or pts > self.last_pts:
            heapq.heappush(self._unseen, pts)

    def number(self, pts: int) -> int:
        """The index of the frame with presentation timestamp ``pts``."""
        if self.origin_pts is None:
            self.origin_pts = pts
        while self._unseen and self._unseen[0] <= pts:
            q = heapq.heappop(self._unseen)
            if self.origin_pts <= q < pts and (self.last_pts is None or q > self.last_pts):
                self._advance(q)  # a packet that never became a frame: its number is a gap
        return self._advance(pts)

    def seed(self, *, index: int, pts: int | None) -> None:
        """Continue after the frame ``index`` (at ``pts``), e.g. after a seek."""
        self.last_index = index
        if pts is not None:
            self.last_pts = pts
        self._unseen.clear()

    def _advance(self, pts: int) -> int:
        index = max(int(round(self.time_s(pts) * self.fps)), self.last_index + 1)
        self.last_index = index
        self.last_pts = pts if self.last_pts is None else max(self.last_pts, pts)
        return index


@dataclass(frozen=True)
class _Timeline:
    """Every frame of the file as numbered by :class:`FrameNumbers` (from its packets' timestamps)."""

    pts: list[int]  # sorted, unique
    indices: list[int]  # strictly increasing, one per pts
    times_s: list[float]
    by_pts: dict[int, int]

    def at_index(self, index: int) -> int:
        """Position of the last frame numbered <= ``index`` (the first frame when there is none)."""
        return max(bisect.bisect_right(self.indices, index) - 1, 0)

    def at_time(self, time_s: float) -> int:
        """Position of the frame shown at ``time_s`` (the last one starting at or before it)."""
        return max(bisect.bisect_right(self.times_s, time_s + 1e-9) - 1, 0)


class VideoFileReader:
    """A video file decoded with PyAV: :meth:`read` gives every frame in presentation order.

    Opening decodes the first frame (so a bad file fails here, as :class:`InputError`).  Undecodable
    frames are skipped and counted in :attr:`corrupt`; more than ``max_corrupt_run`` in a row raise
    :class:`CaptureError`.  :meth:`seek` and :meth:`step` give random access for players.
    """

    can_reconnect = False
    seekable = True

    def __init__(self, path: Path, *, live: bool = False, max_corrupt_run: int = 50) -> None:
        import av

        self._av = av
        self._path = Path(path)
        self._uri = str(path)
        self._max_corrupt_run = max_corrupt_run
        self.corrupt = 0  # undecodable frames skipped so far
        self.end_reason: str | None = None  # demuxer error that ended the stream early
        self.position = -1  # index of the frame read() or seek() returned last
        self._timeline: _Timeline | None | object = _UNBUILT
        self._current: Frame | None = None
        self._next: Frame | None = None  # a frame already decoded, returned by the next read()
        self._container, self._stream = self._open_container()
        try:
            stream = self._stream
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate and float(rate) > 0 else 25.0
            duration_s = _video_duration_s(self._container, stream)
            frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
            self.exact_count = frames is not None  # the header counts frames (mp4); else estimated from duration
            self._estimate = frames if frames is not None else (
                int(round(duration_s * fps)) if duration_s is not None else None)
            self._fps = fps
            self._time_base: Fraction | None = stream.time_base
            self._origin_pts: int | None = stream.start_time  # None: the first frame's pts (set below)
            self._restart_numbering()
            self._use_pts = self._time_base is not None and self._pts_follow_presentation()
            first = self._next_frame()
            if first is None:
                what = f" ({self.corrupt} undecodable)" if self.corrupt else ""
                raise InputError(f"{path} contains no decodable video frames{what}; expected a non-empty video")
            self._next = self._convert(first)
            self._origin_pts = self._numbers.origin_pts
            image = self._next.image
            self.info = SourceInfo(
                uri=self._uri, kind="video", width=int(image.shape[1]), height=int(image.shape[0]), fps=fps,
                frame_count=frames, has_audio=bool(self._container.streams.audio), live=live,
                duration_s=duration_s,
            )
        except BaseException:
            self._container.close()
            raise

    # -- opening

    def _open_container(self):
        av = self._av
        path = self._path
        try:
            container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.error.FileNotFoundError as exc:
            raise InputError(f"video file not found: {path}") from exc
        except av.error.PermissionError as exc:
            raise InputError(f"cannot read {path}: permission denied") from exc
        except av.error.EOFError as exc:
            raise InputError(f"{path} ended before any video frame: the file is empty or truncated") from exc
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read {path}: not a video file or the file is corrupt/truncated ({_ffmpeg_reason(exc)})"
            ) from exc
        try:
            if not container.streams:
                raise InputError(f"{path} contains no video frames (no media streams); expected a non-empty video")
            if not container.streams.video:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
                raise InputError(f"{path} has no video stream (streams found: {kinds}); expected a video file")
        except BaseException:
            container.close()
            raise
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container, stream

    def _pts_follow_presentation(self) -> bool:
        """False when the packets' "pts" are missing or rise in decode order although frames are reordered."""
        peeked, error, rest = [], None, self._packets
        try:
            for packet in rest:
                peeked.append(packet)
                if len(peeked) >= _PEEK_PACKETS:
                    break
        except (self._av.FFmpegError, OSError) as exc:  # a damaged file: _next_frame() meets the error later
            error = exc

        def replay():  # the packets as if never looked at
            yield from peeked
            if error is not None:
                raise error
            for packet in rest:  # not "yield from": an exhausted Cython generator would leak StopIteration
                yield packet

        self._packets = replay()
        stamps = [p.pts for p in peeked if p.size]
        if any(t is None for t in stamps):
            return False
        reordered = bool(getattr(self._stream.codec_context, "has_b_frames", 0))
        if reordered and _stores_no_presentation_times(self._container):
            return False  # made-up timestamps of reordered frames (AVI B-frames): trust the decoder's order
        return not reordered or len(stamps) < 2 or any(b < a for a, b in zip(stamps, stamps[1:]))

    def _restart_numbering(self) -> None:
        """Decoding state of a freshly opened file (or right after a container seek)."""
        self._packets = self._container.demux(self._stream)
        self._pending: deque = deque()  # decoded frames not handed out yet
        self._last_out_pts: int | None = None  # of the last frame _next_frame() gave (presentation order)
        self._eof = False
        self._corrupt_run = 0
        self._count = 0  # index of the next frame when timestamps are missing
        self._numbers = FrameNumbers(fps=self._fps, time_base=self._time_base or Fraction(1),
                                     origin_pts=self._origin_pts)

    def _reopen(self) -> None:
        """Start over as a fresh open does (same decoder state, same numbering)."""
        self._container.close()
        self._container, self._stream = self._open_container()
        self.end_reason = None
        self._next = None
        self._current = None
        self.position = -1
        self._restart_numbering()

    # -- decoding

    def _next_frame(self):
        av = self._av
        while True:
            if self._pending:
                frame = self._pending.popleft()
                if self._use_pts and frame.pts is not None:
                    if self._last_out_pts is not None and frame.pts <= self._last_out_pts:
                        self.corrupt += 1  # out after a later frame (damaged stream): its number was passed
                        continue
                    self._last_out_pts = frame.pts
                return frame
            if self._eof:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                self._eof = True
                continue
            except (av.FFmpegError, OSError) as exc:  # the demuxer gave up (truncated / corrupt container)
                self.end_reason = _ffmpeg_reason(exc)
                self._eof = True
                try:
                    self._pending.extend(self._stream.decode(None))  # flush what the decoder holds
                except (av.FFmpegError, ValueError):
                    pass
                continue
            if self._use_pts and packet.pts is not None and packet.size and not packet.is_discard:
                self._numbers.saw_packet(packet.pts)
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                self.corrupt += 1
                self._count += 1  # the lost frame keeps its index (a gap)
                self._corrupt_run += 1
                if self._corrupt_run > self._max_corrupt_run:
                    raise CaptureError(
                        f"{self._uri}: more than {self._max_corrupt_run} consecutive undecodable "
                        f"frames (last error: {_ffmpeg_reason(exc)}); the file is too damaged to read"
                    ) from exc
                continue
            if frames:
                self._corrupt_run = 0
            self._pending.extend(frames)

    def _convert(self, av_frame) -> Frame:
        image = to_rgb(av_frame.to_ndarray(format="rgb24"))  # any pix_fmt (gray, yuva, 10-bit) -> (H, W, 3)
        pts = av_frame.pts
        numbers = self._numbers
        if pts is None or not self._use_pts:
            index = max(self._count, numbers.last_index + 1)
            timestamp_s = index / self._fps
            numbers.seed(index=index, pts=None)
        else:
            timeline = self._timeline if isinstance(self._timeline, _Timeline) else None
            if timeline is not None and pts in timeline.by_pts:
                index = timeline.by_pts[pts]
                numbers.seed(index=index, pts=pts)
            else:
                index = numbers.number(pts)
            timestamp_s = numbers.time_s(pts)
        self._count = index + 1
        return Frame(image=image, index=index, timestamp_s=timestamp_s, source=self._uri)

    def _hand_out(self, frame: Frame) -> Frame:
        self.position = frame.index
        self._current = frame
        return frame

    # -- reading

    def read(self) -> Frame | None:
        """The next frame in presentation order, or None at the end of the file."""
        if self._next is not None:
            frame, self._next = self._next, None
            return self._hand_out(frame)
        av_frame = self._next_frame()
        return None if av_frame is None else self._hand_out(self._convert(av_frame))

    def step(self, delta: int = 1) -> Frame | None:
        """``delta`` frames on from the last frame handed out (``1`` = :meth:`read`; ``-1`` = the one before)."""
        if delta == 1 or self.position < 0:
            return self.read()
        return self.seek(max(self.position + int(delta), 0))

    def seek(self, index: int | None = None, *, time_s: float | None = None) -> Frame | None:
        """Go to frame ``index`` (or to the frame shown at ``time_s``), return it; :meth:`read` goes on after it.

        Returns the last decodable frame numbered ``<= index`` (the first frame when there is none,
        the last one past the end), numbered and timestamped exactly as reading from the start
        does.  Files without timestamps are read from the start up to the frame.
        """
        if (index is None) == (time_s is None):
            raise TypeError("seek() takes a frame index or time_s=, not both or neither")
        timeline = self._get_timeline()
        if timeline is None:
            return self._seek_by_reading(index, time_s)
        k = timeline.at_index(int(index)) if index is not None else timeline.at_time(float(time_s))
        return self._seek_pts(timeline, timeline.pts[k])

    @property
    def last_index(self) -> int:
        """Index of the file's last frame (exact when the file has timestamps, else from the header)."""
        timeline = self._get_timeline()
        if timeline is not None:
            return timeline.indices[-1]
        return max((self._estimate or 0) - 1, self.position, 0)

    def _get_timeline(self) -> _Timeline | None:
        """The numbers of every frame, from one demuxing pass (built on first use); None without timestamps."""
        if self._timeline is _UNBUILT:
            self._timeline = self._build_timeline()
        return self._timeline  # type: ignore[return-value]

    def _build_timeline(self) -> _Timeline | None:
        av = self._av
        if not self._use_pts:
            return None
        found: set[int] = set()
        container, stream = self._open_container()  # a second one: the reading position stays
        try:
            for packet in container.demux(stream):
                if not packet.size:
                    continue  # the end-of-stream flush
                if packet.pts is None:
                    return None  # no timestamps: seeks read from the start
                if not packet.is_discard:
                    found.add(packet.pts)
        except (av.FFmpegError, OSError):
            pass  # a damaged tail: the frames before it, as a reader from the start gets them
        finally:
            container.close()
        origin = self._origin_pts
        pts = sorted(p for p in found if origin is None or p >= origin)
        if not pts:
            return None
        numbers = FrameNumbers(fps=self._fps, time_base=self._time_base, origin_pts=origin)
        indices = [numbers.number(p) for p in pts]
        return _Timeline(pts=pts, indices=indices, times_s=[numbers.time_s(p) for p in pts],
                         by_pts=dict(zip(pts, indices)))

    def _seek_pts(self, timeline: _Timeline, target: int) -> Frame | None:
        back = 0
        step = max(1, int(_SEEK_BACK_S / self._time_base)) if self._time_base else 1
        while True:
            from_start = target - back <= timeline.pts[0]
            if from_start:
                self._reopen()
            else:
                self._container.seek(target - back, stream=self._stream, backward=True, any_frame=False)
                self._next = None
                self._restart_numbering()
            best = None
            while True:
                av_frame = self._next_frame()
                if av_frame is None:  # the end: the last decodable frame before the target
                    if best is not None or from_start:
                        return None if best is None else self._hand_out(self._convert(best))
                    break
                if av_frame.pts is None:
                    continue
                if av_frame.pts < target:
                    best = av_frame
                    continue
                if av_frame.pts == target:
                    return self._hand_out(self._convert(av_frame))
                if best is None and not from_start:
                    break  # the seek landed after the target (keyframes indexed by decode time): further back
                if best is None:  # nothing before the target decodes: the first frame after it
                    return self._hand_out(self._convert(av_frame))
                self._pending.appendleft(av_frame)  # the target did not decode: the frame before it;
                self._last_out_pts = best.pts  # read() goes on with the one after
                return self._hand_out(self._convert(best))
            back = step if back == 0 else back * 2

    def _seek_by_reading(self, index: int | None, time_s: float | None) -> Frame | None:
        def past(frame: Frame) -> bool:
            return frame.index > index if index is not None else frame.timestamp_s > time_s + 1e-9

        current = self._current
        if current is None or past(current):
            self._reopen()
            current = self.read()
            if current is None or past(current):
                return current  # nothing before the target: the first frame
        while (frame := self.read()) is not None:
            if past(frame):
                self._next = frame
                break
            current = frame
        return self._hand_out(current)

    # -- the rest of the reader interface

    def reopen(self) -> bool:
        return False

    def expected_frames(self) -> int | None:
        return self._estimate

    def close(self) -> None:
        self._container.close()


def _stores_no_presentation_times(container) -> bool:
    """Containers that store no presentation timestamps (AVI: one chunk per frame in decode order)."""
    names = set((getattr(container.format, "name", "") or "").split(","))
    return "avi" in names


def _video_duration_s(container, stream) -> float | None:
    """Duration of the video stream itself (not of a longer audio track), None when unknown."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")  # Matroska: "00:00:01.000000000"
    if tag:
        match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", tag.strip())
        if match:
            h, m, sec = match.groups()
            return int(h) * 3600 + int(m) * 60 + float(sec)
    if container.duration is not None and len(container.streams) == 1:
        return container.duration / 1_000_000  # AV_TIME_BASE; only the video stream, so it is the video's
    return None


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(";")[0].strip() or type(exc).__name__
