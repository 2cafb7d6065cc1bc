"""The video pipeline: capture -> head detection -> tracking -> gaze -> :class:`~gazecam.types.GazeResult`.

Threads: :class:`~gazecam.capture.Capture` reads the source in its own thread (files: every frame through a
bounded queue; live sources: newest frame wins).  Detection, tracking and the gaze model run in the thread
that iterates the pipeline - one thread owns the models.  Rendering and writing are the consumer's job
(``gazecam process``, the GUI), which also fills ``timings.render`` / ``timings.write``.

    with Pipeline("clip.mp4", detector=det, tracker=HeadTracker(), gaze_stage=GazeStage(model=m)) as pipe:
        for result in pipe:          # GazeResult per frame, in order
            ...
        pipe.stats                   # frames, people-frames, per-stage time totals, capture counters

Live control (e.g. a GUI worker): change ``pipe.gaze_stage.smooth / smooth_alpha / inout_threshold /
stride`` between frames; :meth:`Pipeline.stop` (thread-safe) ends the iteration after the current frame;
:meth:`Pipeline.close` releases the source.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import TracebackType

from .capture import Capture, CaptureStats, SourceInfo
from .detect import HeadDetector
from .errors import GazecamError
from .gaze import GazeStage
from .track import HeadTracker
from .types import GazeResult, StageTimes

__all__ = ["Pipeline", "PipelineStats", "StageTotals", "run"]


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
class PipelineStats:
    """Counters of one pipeline run; ``totals`` includes the render/write times the consumer fills in."""

    frames: int = 0  # results produced
    people_frames: int = 0  # heads summed over frames (one record line each)
    frames_with_people: int = 0
    encodes: int = 0  # encoder runs (< frames with --stride or on frames without people)
    totals: StageTotals = field(default_factory=StageTotals)
    wall_s: float = 0.0


class Pipeline:
    """Iterate to get one :class:`GazeResult` per captured frame.

    ``source``: anything :class:`~gazecam.capture.Capture` opens, or an open ``Capture``.  The source is
    opened here (bad input fails now, :attr:`info` is known before the first frame).  ``tracker=None``
    keeps the detector's ids (e.g. ``--heads`` files with track ids).  ``max_frames`` stops early.
    """

    def __init__(self, source: str | int | Path | Capture, *, detector: HeadDetector, gaze_stage: GazeStage,
                 tracker: HeadTracker | None = None, max_frames: int | None = None, live: bool | None = None,
                 queue_size: int = 8) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.detector = detector
        self.tracker = tracker
        self.gaze_stage = gaze_stage
        self.max_frames = max_frames
        self.capture = source if isinstance(source, Capture) else Capture(source, live=live, queue_size=queue_size)
        self.stats = PipelineStats()
        self._stop = threading.Event()
        self._started = False

    @property
    def info(self) -> SourceInfo:
        return self.capture.info

    @property
    def capture_stats(self) -> CaptureStats:
        return self.capture.stats

    def stop(self) -> None:
        """Ask the iteration to end after the current frame (callable from any thread)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def __iter__(self) -> Iterator[GazeResult]:
        if self._started:
            raise RuntimeError("a Pipeline can be iterated once; create a new one for another pass")
        self._started = True
        t_start = time.perf_counter()
        frames = iter(self.capture)
        try:
            while not self._stop.is_set():
                if self.max_frames is not None and self.stats.frames >= self.max_frames:
                    break
                timings = StageTimes()
                t0 = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                timings.capture = (time.perf_counter() - t0) * 1e3  # waiting for the reader thread
                t0 = time.perf_counter()
                try:
                    heads = self.detector.detect(frame)
                    if self.tracker is not None:
                        heads = self.tracker.update(heads)
                except GazecamError:
                    raise
                except Exception as e:
                    raise GazecamError(f"head detection ({self.detector.name}) failed on frame {frame.index}: "
                                       f"{type(e).__name__}: {e}") from e
                timings.detect = (time.perf_counter() - t0) * 1e3
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
                st.wall_s = time.perf_counter() - t_start
                yield result
                st.totals.add(timings)  # after the consumer filled in render/write
        finally:
            self.stats.wall_s = time.perf_counter() - t_start

    def close(self) -> None:
        """Release the source and stop its reader thread (idempotent)."""
        self._stop.set()
        self.capture.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def run(source: str | int | Path | Capture, *, detector: HeadDetector, gaze_stage: GazeStage,
        tracker: HeadTracker | None = None, max_frames: int | None = None) -> Iterator[GazeResult]:
    """Generator form of :class:`Pipeline`: yields results, closes the source when done or closed."""
    with Pipeline(source, detector=detector, gaze_stage=gaze_stage, tracker=tracker, max_frames=max_frames) as p:
        yield from p
