"""The video pipeline: capture -> head detection -> tracking -> gaze -> :class:`~gazecam.types.GazeResult`.

The per-frame step is a :class:`FrameProcessor` (shared with the GUI and the benchmark), assembled by
:func:`build_processor`.  :class:`Pipeline` is the one per-video loop: it owns the frame source
(:class:`~gazecam.capture.Capture` reads it in its own thread; files: every frame through a bounded queue;
live sources: newest frame wins), ``max_frames`` and the stop, and runs the processor's ``detect`` and
``gaze`` stages plus a consumer's own stages as a :class:`~gazecam.overlap.StageChain`: in the iterating
thread, or (``overlap=True``) each stage in its own thread on consecutive frames, one owner per model.
:func:`gazecam.jobs.process_source` appends render and write; the GUI calls the processor itself.

    processor = build_processor(model, ProcessOptions(gaze=GazeOptions(stride=2)), fps=30)
    with Pipeline("clip.mp4", processor=processor) as pipe:
        for result in pipe:          # GazeResult per frame, in order
            ...
        pipe.stats                   # frames, people-frames, per-stage time totals
        pipe.chain.busy              # busy time of each stage (thread)

Live control: replace ``pipe.processor.gaze_stage.options`` (a :class:`~gazecam.gaze.GazeOptions`) between
frames (``overlap=False``); :meth:`Pipeline.stop` (thread-safe) reads no more frames; :meth:`Pipeline.close`
releases the source.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .aoi import label_result
from .capture import Capture, CaptureStats, SourceInfo
from .detect import HeadDetector, make_detector
from .errors import GazecamError
from .gaze import GazeStage
from .overlap import Stage, StageChain
from .track import HeadTracker
from .types import Frame, GazeResult, HeadBoxes, StageTimes

if TYPE_CHECKING:  # pragma: no cover
    from .aoi import AOISet
    from .backends import GazeBackend
    from .options import ProcessOptions

__all__ = ["Pipeline", "FrameProcessor", "ProcessorStats", "StageTotals", "build_processor", "make_head_detector",
           "make_tracker"]


@dataclass
class StageTotals:
    """Sum and count of milliseconds per stage over the frames where the stage ran."""

    sums: StageTimes = field(default_factory=lambda: StageTimes(**{f.name: 0.0 for f in fields(StageTimes)}))
    counts: dict[str, int] = field(default_factory=lambda: {f.name: 0 for f in fields(StageTimes)})

    def add(self, t: StageTimes) -> None:
        for f in fields(StageTimes):
            v = getattr(t, f.name)
            if not math.isnan(v):
                setattr(self.sums, f.name, getattr(self.sums, f.name) + v)
                self.counts[f.name] += 1

    def mean_ms(self) -> dict[str, float]:
        """Mean milliseconds per stage over the frames where it ran (stages that never ran are left out)."""
        return {name: getattr(self.sums, name) / n for name, n in self.counts.items() if n}


@dataclass
class ProcessorStats:
    """Counters of a processor's frames; ``totals`` includes the render/write times the consumer records."""

    frames: int = 0  # results produced
    people_frames: int = 0  # heads summed over frames (one record line each)
    frames_with_people: int = 0
    encodes: int = 0  # encoder runs (< frames with --stride or on frames without people)
    totals: StageTotals = field(default_factory=StageTotals)
    wall_s: float = 0.0


class FrameProcessor:
    """The per-frame step every consumer shares: detect heads -> track them -> gaze, with stage timings.

    ``tracker=None`` keeps the detector's ids (e.g. known boxes with track ids).  Errors of a stage reach the
    caller as :class:`~gazecam.errors.GazecamError` naming the stage and the frame.  :attr:`stats` counts the
    frames and sums the stage times; a consumer that renders or writes adds its own times through
    :meth:`record_times` (the :class:`~gazecam.types.GazeResult` it got is never changed).  Owned by one thread.
    """

    def __init__(self, *, detector: HeadDetector, gaze_stage: GazeStage, tracker: HeadTracker | None = None) -> None:
        self.detector = detector
        self.tracker = tracker
        self.gaze_stage = gaze_stage
        self.stats = ProcessorStats()

    def step(self, frame: Frame, *, capture_ms: float = float("nan")) -> GazeResult:
        """Gaze for every head of ``frame``; ``capture_ms``: time spent getting it (for the totals)."""
        heads, timings = self.find_heads(frame, capture_ms=capture_ms)
        return self.gaze(frame, heads, timings)

    def find_heads(self, frame: Frame, *, capture_ms: float = float("nan")) -> tuple[HeadBoxes, StageTimes]:
        """The first half of :meth:`step`: detected (and tracked) heads of ``frame`` and the times so far.

        Detector and tracker state only: it may run in another thread than :meth:`gaze`, frames in order.
        """
        timings = StageTimes(capture=capture_ms)
        t0 = time.perf_counter()
        try:
            heads = self.detector.detect(frame)
            if self.tracker is not None:
                heads = self.tracker.update(heads)
        except GazecamError:
            raise
        except Exception as e:
            raise GazecamError(f"head detection ({getattr(self.detector, 'name', 'detector')}) failed on frame "
                               f"{frame.index}: {type(e).__name__}: {e}") from e
        timings.detect = (time.perf_counter() - t0) * 1e3
        return heads, timings

    def gaze(self, frame: Frame, heads: HeadBoxes, timings: StageTimes) -> GazeResult:
        """The second half of :meth:`step`: the gaze stage on the heads :meth:`find_heads` gave, counted in :attr:`stats`."""
        encodes = self.gaze_stage.encodes
        try:
            result = self.gaze_stage.process(frame, heads, timings)
        except GazecamError:
            raise
        except Exception as e:
            raise GazecamError(f"gaze model ({getattr(self.gaze_stage.model, 'name', 'model')}) failed on "
                               f"frame {frame.index}: {type(e).__name__}: {e}") from e
        st = self.stats
        st.frames += 1
        st.people_frames += len(result)
        st.frames_with_people += bool(len(result))
        st.encodes += self.gaze_stage.encodes - encodes
        st.totals.add(result.timings)
        return result

    def record_times(self, *, render_ms: float = float("nan"), write_ms: float = float("nan")) -> None:
        """Add the consumer's render / write milliseconds of one frame to :attr:`stats` (NaN = not done)."""
        self.stats.totals.add(StageTimes(render=render_ms, write=write_ms))

    def reset(self) -> None:
        """Forget tracks, smoothing state and cached features (e.g. after a seek or a new source)."""
        if self.tracker is not None:
            self.tracker.reset()
        self.gaze_stage.reset()


class Pipeline:
    """Iterate to get one :class:`GazeResult` per captured frame, in order (see the module docstring).

    ``source``: anything :class:`~gazecam.capture.Capture` opens, or an open ``Capture``.  The source is
    opened here (bad input fails now, :attr:`info` is known before the first frame).  Each frame goes through
    the stages ``detect`` (:meth:`FrameProcessor.find_heads`) and ``gaze`` (:meth:`FrameProcessor.gaze`, then
    the AOI each person looks at when ``aois`` are given) of ``processor`` (see :func:`build_processor`), then
    through ``stages``, a consumer's own steps taking what the previous one returned (``process_source``
    appends render and write); iterating yields what the last stage returns.  ``overlap=True``: every stage in
    its own thread on consecutive frames (:class:`~gazecam.overlap.StageChain`: the same outputs, bounded
    queues of 1 item for live sources, 4 for files); ``False``: one step after the other in the iterating
    thread.  ``max_frames`` stops early; ``stop``: the event :meth:`stop` sets (e.g. the one of
    :func:`gazecam.signals.stop_on_signals`; default: a new one); once set no frame is read any more.
    """

    def __init__(self, source: str | int | Path | Capture, *, processor: FrameProcessor,
                 max_frames: int | None = None, live: bool | None = None, queue_size: int = 8,
                 aois: "AOISet | None" = None, stages: Sequence[Stage] = (), overlap: bool = False,
                 stop: threading.Event | None = None) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.processor = processor
        self.max_frames = max_frames
        self.aois = aois
        self.capture = source if isinstance(source, Capture) else Capture(source, live=live, queue_size=queue_size)
        self._stop = stop if stop is not None else threading.Event()
        self.chain = StageChain(self._frames(), [Stage("detect", self._detect), Stage("gaze", self._gaze), *stages],
                                threaded=overlap,
                                queue_size=1 if self.info.live else 4)  # live: the newest frame stays fresh

    @property
    def stats(self) -> ProcessorStats:
        return self.processor.stats

    @property
    def info(self) -> SourceInfo:
        return self.capture.info

    @property
    def capture_stats(self) -> CaptureStats:
        return self.capture.stats

    def stop(self) -> None:
        """Read no more frames (callable from any thread); the frames in flight go through every stage."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.chain  # raises when iterated twice
        finally:
            self.stats.wall_s = self.chain.busy.wall_s

    def _frames(self) -> Iterator[tuple[Frame, float]]:
        """The frames of the source (at most ``max_frames``, none once stopped) with the ms spent waiting for each."""
        frames = iter(self.capture)
        n = 0
        while (self.max_frames is None or n < self.max_frames) and not self._stop.is_set():
            t0 = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                return
            n += 1
            yield frame, (time.perf_counter() - t0) * 1e3

    def _detect(self, item: tuple[Frame, float]) -> tuple[Frame, HeadBoxes, StageTimes]:
        frame, capture_ms = item
        return (frame, *self.processor.find_heads(frame, capture_ms=capture_ms))

    def _gaze(self, item: tuple[Frame, HeadBoxes, StageTimes]) -> GazeResult:
        return label_result(self.aois, self.processor.gaze(*item))  # the AOI looked at (None without AOIs)

    def close(self) -> None:
        """Release the source and stop its reader thread (idempotent)."""
        self.capture.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def make_head_detector(options: "ProcessOptions", *, device: str | None,
                       notify: Callable[[str], None] | None = None) -> HeadDetector:
    """The head detector ``options`` name, with their head class and confidence (not for ``heads_path``)."""
    return make_detector(options.detector, device=device, class_name_or_id=options.detector_class,
                         conf=options.detector_conf, notify=notify)


def make_tracker(options: "ProcessOptions", *, fps: float | None) -> HeadTracker:
    """The tracker for a source of ``fps`` frames/s (None: 30): a lost track is kept for one second.

    Detected boxes start and confirm tracks at the detector's confidence; known boxes (``heads_path``)
    keep the tracker's defaults.
    """
    buffer = max(1, round(fps or 30))
    if options.heads_path is not None:
        return HeadTracker(track_buffer=buffer)
    return HeadTracker(track_buffer=buffer, high_thresh=options.detector_conf, new_track_thresh=options.detector_conf)


def build_processor(model: "GazeBackend", options: "ProcessOptions", *, fps: float | None,
                    detector: HeadDetector | None = None, track: bool = True,
                    notify: Callable[[str], None] | None = None) -> FrameProcessor:
    """The one way to assemble the per-frame step: head boxes -> tracker -> gaze stage, as ``options`` say.

    Head boxes come from ``options.heads_path`` (:class:`~gazecam.records.FileHeads`; its own track ids,
    when it has them, replace the tracker) or from the detector (:func:`make_head_detector`).  ``detector``:
    one the caller already built from the same options (the GUI keeps one across model changes; ``process``
    reads the heads file before the source opens).  The tracker comes from :func:`make_tracker` (``fps`` of
    the source; ``track=False``: none, e.g. fixed benchmark boxes), the gaze stage from ``options.gaze``.
    ``notify``: user-facing notes of the detector (default: the log).
    """
    from .records import FileHeads

    heads: Any
    if options.heads_path is not None:
        heads = detector if isinstance(detector, FileHeads) else FileHeads(options.heads_path)
        tracker = None if heads.has_track_ids or not track else make_tracker(options, fps=fps)
    else:
        device = getattr(model, "device", None)
        heads = detector if detector is not None else make_head_detector(
            options, device=None if device is None else str(device), notify=notify)
        tracker = make_tracker(options, fps=fps) if track else None
        if tracker is not None and options.detect_every > 1:  # the tracker carries the heads between detections
            from .cadence import CadenceDetector

            heads, tracker = CadenceDetector(detector=heads, tracker=tracker, every=options.detect_every), None
    return FrameProcessor(detector=heads, tracker=tracker, gaze_stage=GazeStage(model=model, options=options.gaze))
