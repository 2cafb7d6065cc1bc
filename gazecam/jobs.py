"""One video, start to finish: :func:`process_source` is the per-video loop every consumer shares.

``gazecam process`` (and many-video runs) call it with a model loaded once (:func:`gazecam.loading.load_model`)::

    model = load_model(ModelSpec(name="gazelle_dinov2_vitb14_inout"))
    report = process_source("clip.mp4", model=model, options=ProcessOptions(gaze=GazeOptions(stride=2)),
                            video_path=Path("out.mp4"), records_path=Path("out.jsonl"))

It opens the source, builds the per-frame processor (:func:`gazecam.pipeline.build_processor`: head
detector or known boxes, tracker, gaze stage) and the renderer, and consumes a
:class:`~gazecam.pipeline.Pipeline` (the per-video loop: frames, ``max_frames``, stop, detect -> gaze) to
which it appends render -> write, the stages overlapped in threads on consecutive frames (the results of
one step after the other); it writes the annotated clip (:class:`~gazecam.sinks.ClipWriter`:
gaps filled, other sizes letterboxed) and the per-person records, and returns a :class:`ProcessReport`.
Outputs are complete and playable when it returns, also when ``stop`` was set or an exception ended it.
Before anything is read, every output is checked against every input (:func:`check_job_outputs`: the same
file by any link, an image of an input folder, the heads file) and for writability; outputs are written to
``NAME.partial.SUFFIX`` and renamed into place (:mod:`gazecam.outputs`).  ``stop`` is typically the event
of :func:`gazecam.signals.stop_on_signals` (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .capture import Capture, CaptureStats, SourceInfo
from .errors import InputError
from .options import HEATMAP_MODES, ProcessOptions
from .outputs import Named, check_before_writing
from .overlap import Stage
from .types import GazeResult

if TYPE_CHECKING:  # pragma: no cover
    from .backends import GazeBackend
    from .render import GazeRenderer
    from .sinks import ClipWriter, RecordsSink

__all__ = ["ProcessOptions", "ProcessReport", "process_source", "check_job_outputs", "HEATMAP_MODES"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ProcessReport:
    """What one :func:`process_source` call did."""

    source: str  # the source's uri (path, masked URL, "camera N")
    video_path: Path | None
    records_path: Path | None
    frames: int  # results produced (frames processed)
    people_frames: int  # heads summed over frames (= record lines)
    frames_with_people: int
    encodes: int  # scene-encoder runs
    frames_repeated: int  # clip frames repeated over skipped (corrupt) source frames
    frames_letterboxed: int  # clip frames of another size, letterboxed
    wall_s: float
    interrupted: bool  # ``stop`` was set before the source ended
    capture: CaptureStats
    stage_ms: dict[str, float]  # mean milliseconds per stage over the frames where it ran
    thread_ms: dict[str, float] = field(default_factory=dict)  # busy ms per frame of each stage thread (detect,
    # gaze, render, write): with overlap the slowest one bounds the frame rate
    last_index: int = -1  # source index of the last frame processed (-1: none)
    heads_zero_area: int = 0  # known head boxes (heads_path) of zero area, skipped
    heads_outside: int = 0  # known head boxes entirely outside their frame, skipped
    heads_after_end: int = 0  # known head boxes for frames after the last frame processed, unused


def source_path(info: SourceInfo) -> Path | None:
    """The file or folder a source reads (a video, one image, a folder of images), or None (cameras, streams)."""
    if info.kind in ("video", "images"):
        path = Path(info.uri)
        if path.exists():
            return path
    return None


def check_job_outputs(info: SourceInfo, *, options: ProcessOptions, video_path: Path | None = None,
                      records_path: Path | None = None) -> None:
    """Everything about a job's outputs that can be checked before the model runs (``InputError`` otherwise).

    Each output can be written (its folder exists and takes a new file), and no output is an input (the
    source file, an image of the source folder or one that would be read as one, the heads file) or the
    other output, by any link (``os.path.samefile``) or by resolved path.  Used by :func:`process_source`;
    call it yourself to fail before loading a model.
    """
    outputs = [Named(name, Path(p).expanduser()) for name, p in (("video_path", video_path),
                                                                 ("records_path", records_path)) if p is not None]
    inputs = []
    source = source_path(info)
    if source is not None:
        inputs.append(Named("source", source))
    if options.heads_path is not None:
        inputs.append(Named("heads_path", Path(options.heads_path)))
    if options.aois is not None and Path(options.aois.source).is_file():
        inputs.append(Named("aois", Path(options.aois.source)))  # the AOI file
    check_before_writing(outputs, inputs)


def process_source(source: str | int | Path | Capture, *, model: "GazeBackend", options: ProcessOptions,
                   video_path: Path | None = None, records_path: Path | None = None,
                   records_format: str | None = None, on_frame: Callable[[GazeResult], None] | None = None,
                   stop: threading.Event | None = None, notify: Callable[[str], None] | None = None,
                   overlap: bool = True) -> ProcessReport:
    """Process one source: annotated clip at ``video_path`` and/or records at ``records_path``.

    ``source``: anything :class:`~gazecam.capture.Capture` opens, or an open ``Capture`` (closed here).
    ``on_frame``: called with every result after it was written (progress; in the writing thread).  ``stop``: when set, the loop
    ends after the current frame and the outputs are finalised.  ``notify``: user-facing notes (default:
    the log).  ``overlap``: detection, gaze, rendering and writing run in their own threads on consecutive
    frames (:class:`~gazecam.overlap.StageChain`; the same results as ``overlap=False``, one step after the
    other in the caller's thread).  Raises ``InputError`` for bad input (e.g. no frame could be decoded; nothing is then left).
    """
    from .pipeline import Pipeline, build_processor
    from .records import FileHeads, RecordsMeta
    from .render import GazeRenderer, weights_banner_text
    from .sinks import ClipWriter, RecordsSink

    video_path = None if video_path is None else Path(video_path).expanduser()
    records_path = None if records_path is None else Path(records_path).expanduser()
    say = notify or log.warning
    with ExitStack() as stack:
        if isinstance(source, Capture):
            capture = source
            stack.callback(capture.close)
        if video_path is None and records_path is None:
            raise InputError("nothing to write: give video_path and/or records_path")
        heads_file = FileHeads(options.heads_path) if options.heads_path is not None else None
        if not isinstance(source, Capture):
            capture = stack.enter_context(Capture(source))
        info = capture.info
        check_job_outputs(info, options=options, video_path=video_path, records_path=records_path)
        aois = None if options.aois is None else options.aois.normalised((info.width, info.height))

        processor = build_processor(model, options, fps=info.fps, detector=heads_file, notify=say)
        renderer = GazeRenderer(heatmaps=options.heatmap != "none",
                                heatmap_mode="per_person" if options.heatmap == "per-person" else "combined",
                                banner=weights_banner_text(released=model.released, note=model.note),
                                aois=aois)

        # sinks last: nothing is written before everything is ready
        clip = (stack.enter_context(ClipWriter(video_path, width=info.width, height=info.height, fps=info.fps,
                                               audio_from=info.uri if info.has_audio else None,
                                               fill_gaps=not info.live, start_index=0))
                if video_path is not None else None)
        meta = RecordsMeta(source=info.uri, model=model.name, released=model.released, weights_note=model.note,
                           width=info.width, height=info.height, fps=info.fps)  # for gazecam report's header
        records = (stack.enter_context(RecordsSink(records_path, format=records_format, meta=meta))  # type: ignore[arg-type]
                   if records_path is not None else None)
        pipe = Pipeline(capture, processor=processor, max_frames=options.max_frames, aois=aois, overlap=overlap,
                        stages=_output_stages(renderer, clip, records, on_frame=on_frame, stop=stop), stop=stop)
        results = iter(pipe)
        stack.callback(results.close)  # stage threads end (joined) before the sinks close
        frames = people_frames = frames_with_people = 0
        last_index = -1
        for done in results:
            if done is None:
                continue  # read before the stop, not written
            result, render_ms, write_ms = done
            last_index = max(last_index, result.frame.index)
            frames, people_frames, frames_with_people = (frames + 1, people_frames + len(result),
                                                         frames_with_people + bool(len(result)))
            processor.record_times(render_ms=render_ms, write_ms=write_ms)
        st = processor.stats  # what was written (frames in flight at a stop were processed, not written)
        st.frames, st.people_frames, st.frames_with_people = frames, people_frames, frames_with_people
        interrupted = stop is not None and stop.is_set()
        if st.frames == 0 and not interrupted:
            raise InputError(f"no frame could be read from {info.uri} (0 frames decoded); nothing was written")
    # outputs closed here: the clip is finalised, the records flushed
    return ProcessReport(source=info.uri, video_path=video_path, records_path=records_path, frames=st.frames,
                         people_frames=st.people_frames, frames_with_people=st.frames_with_people,
                         encodes=st.encodes, frames_repeated=clip.frames_repeated if clip is not None else 0,
                         frames_letterboxed=clip.frames_letterboxed if clip is not None else 0, wall_s=st.wall_s,
                         interrupted=interrupted, capture=capture.stats, stage_ms=st.totals.mean_ms(),
                         thread_ms=pipe.chain.busy.ms_per_item(),
                         last_index=last_index,
                         heads_zero_area=heads_file.zero_area if heads_file is not None else 0,
                         heads_outside=heads_file.outside if heads_file is not None else 0,
                         heads_after_end=heads_file.boxes_after(last_index) if heads_file is not None else 0)


def _output_stages(renderer: "GazeRenderer", clip: "ClipWriter | None", records: "RecordsSink | None", *,
                   on_frame: Callable[[GazeResult], None] | None, stop: threading.Event | None) -> list[Stage]:
    """render -> write, after the pipeline's detect -> gaze: each owns its state (renderer, sinks), so running
    them in separate threads, frames in order, changes nothing.

    The writer calls ``on_frame`` after each frame it wrote and writes nothing once ``stop`` is set (frames
    still in flight then are dropped: the outputs end with the frame during which the stop came).
    """

    def render(result: GazeResult) -> "tuple[GazeResult, object, float]":
        if clip is None:
            return result, None, float("nan")
        t0 = time.perf_counter()
        image = renderer.render(result)
        return result, image, (time.perf_counter() - t0) * 1e3

    def write(item: tuple) -> tuple[GazeResult, float, float] | None:
        if stop is not None and stop.is_set():
            return None
        result, image, render_ms = item
        t0 = time.perf_counter()
        if clip is not None:
            clip.write(image, index=result.frame.index)
        if records is not None:
            records.write(result)
        write_ms = (time.perf_counter() - t0) * 1e3
        if on_frame is not None:
            on_frame(result)
        return result, render_ms, write_ms

    return [Stage("render", render), Stage("write", write)]
