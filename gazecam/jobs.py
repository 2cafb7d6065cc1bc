"""One video, start to finish: :func:`process_source` is the per-video loop every consumer shares.

``gazecam process`` (and many-video runs) call it with a model loaded once (:func:`gazecam.loading.load_model`)::

    model = load_model(ModelSpec(name="gazelle_dinov2_vitb14_inout"))
    report = process_source("clip.mp4", model=model, options=ProcessOptions(stride=2),
                            video_path=Path("out.mp4"), records_path=Path("out.jsonl"))

It opens the source, builds the head detector (or reads known boxes), tracker, gaze stage and renderer,
runs the :class:`~gazecam.pipeline.Pipeline`, writes the annotated clip (:class:`~gazecam.sinks.ClipWriter`:
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .capture import Capture, CaptureStats, SourceInfo
from .errors import InputError
from .outputs import Named, check_outputs
from .outputs import check_output_path as _check_writable
from .types import GazeResult

if TYPE_CHECKING:  # pragma: no cover
    from .backends import GazeBackend

__all__ = ["ProcessOptions", "ProcessReport", "process_source", "check_output_path", "check_job_outputs",
           "source_file", "HEATMAP_MODES"]

log = logging.getLogger(__name__)

HEATMAP_MODES = ("combined", "per-person", "none")


@dataclass(frozen=True, kw_only=True)
class ProcessOptions:
    """How a video is processed (everything but the model and the outputs)."""

    detector: str = "auto"  # auto | pose | face | a YOLO model file (.pt/.onnx)
    detector_class: str | int | None = None  # head class of a multi-class YOLO model
    detector_conf: float = 0.25
    heads_path: Path | None = None  # known head boxes (see gazecam.records.FileHeads) instead of a detector
    stride: int | str = 1  # scene encoder every N-th frame, or "auto" (when the scene changed; see gazecam.gaze)
    max_stride: int = 15  # stride="auto": encoder at least every N frames (gazecam.gaze.DEFAULT_MAX_STRIDE)
    scene_threshold: float = 0.2  # stride="auto": share of the picture that must change (DEFAULT_SCENE_THRESHOLD)
    smooth: bool = True
    inout_threshold: float = 0.5
    heatmap: str = "combined"  # combined | per-person | none
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.stride != "auto" and (isinstance(self.stride, bool) or not isinstance(self.stride, int)
                                      or self.stride < 1):
            raise InputError(f"stride={self.stride!r}: expected a whole number >= 1 or 'auto'")
        if isinstance(self.max_stride, bool) or not isinstance(self.max_stride, int) or self.max_stride < 1:
            raise InputError(f"max_stride={self.max_stride!r}: expected a whole number >= 1")
        if self.max_frames is not None and (isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int)
                                            or self.max_frames < 1):
            raise InputError(f"max_frames={self.max_frames!r}: expected a whole number >= 1 or None")
        for name in ("detector_conf", "inout_threshold", "scene_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name}={value!r}: expected a number between 0 and 1")
        if self.heatmap not in HEATMAP_MODES:
            raise InputError(f"heatmap={self.heatmap!r}: expected one of {', '.join(HEATMAP_MODES)}")
        if self.heads_path is not None:
            object.__setattr__(self, "heads_path", Path(self.heads_path))
            if (self.detector or "auto").lower() != "auto":
                raise InputError(f"heads_path={str(self.heads_path)!r} and detector={self.detector!r}: give either "
                                 "known boxes or a detector, not both")
        else:
            _check_detector(self.detector)

    def result_key(self) -> dict[str, object]:
        """The options that change results, JSON-able (for manifests of many-video runs)."""
        return {"detector": None if self.heads_path is not None else self.detector,
                "detector_class": self.detector_class, "detector_conf": self.detector_conf,
                "heads_path": None if self.heads_path is None else str(self.heads_path),
                "stride": self.stride, **({"max_stride": self.max_stride, "scene_threshold": self.scene_threshold}
                                          if self.stride == "auto" else {}),
                "smooth": self.smooth, "inout_threshold": self.inout_threshold,
                "heatmap": self.heatmap, "max_frames": self.max_frames}


def _check_detector(spec: str | None) -> None:
    """A detector that is neither a known name nor an existing file fails here, before any model loads."""
    from .detect import DETECTOR_ALIASES, DETECTOR_NAMES

    names = DETECTOR_NAMES
    spec = (spec or "auto").strip()
    if spec.lower() in names or spec.lower() in DETECTOR_ALIASES or Path(spec).expanduser().is_file():
        return
    what = "does not exist" if not Path(spec).expanduser().exists() else "is not a file"
    raise InputError(f"detector={spec!r}: expected {', '.join(names)} or a YOLO model file (.pt/.onnx); "
                     f"{spec} {what}")


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
    last_index: int = -1  # source index of the last frame processed (-1: none)
    heads_zero_area: int = 0  # known head boxes (heads_path) of zero area, skipped
    heads_outside: int = 0  # known head boxes entirely outside their frame, skipped
    heads_after_end: int = 0  # known head boxes for frames after the last frame processed, unused


def source_file(info: SourceInfo) -> Path | None:
    """The file a source reads (a video or one image), or None (folders, cameras, streams)."""
    if info.kind in ("video", "images"):
        path = Path(info.uri)
        if path.is_file():
            return path
    return None


def check_output_path(path: Path, *, parameter: str, input_path: Path | None = None) -> None:
    """Fail now (``InputError`` naming ``parameter``) if ``path`` cannot be written or is ``input_path``.

    See :func:`gazecam.outputs.check_output_path` (the folder is really written to) and
    :func:`gazecam.outputs.check_outputs` (the same file by any link).
    """
    _check_writable(path, parameter=parameter)
    if input_path is not None:
        check_outputs([Named(parameter, Path(path))], [Named("source", Path(input_path))])


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
    for out in outputs:
        _check_writable(out.path, parameter=out.parameter)
    inputs = []
    source = source_path(info)
    if source is not None:
        inputs.append(Named("source", source))
    if options.heads_path is not None:
        inputs.append(Named("heads_path", Path(options.heads_path)))
    check_outputs(outputs, inputs)


def process_source(source: str | int | Path | Capture, *, model: "GazeBackend", options: ProcessOptions,
                   video_path: Path | None = None, records_path: Path | None = None,
                   records_format: str | None = None, on_frame: Callable[[GazeResult], None] | None = None,
                   stop: threading.Event | None = None, notify: Callable[[str], None] | None = None
                   ) -> ProcessReport:
    """Process one source: annotated clip at ``video_path`` and/or records at ``records_path``.

    ``source``: anything :class:`~gazecam.capture.Capture` opens, or an open ``Capture`` (closed here).
    ``on_frame``: called with every result after it was written (progress).  ``stop``: when set, the loop
    ends after the current frame and the outputs are finalised.  ``notify``: user-facing notes (default:
    the log).  Raises ``InputError`` for bad input (e.g. no frame could be decoded; nothing is then left).
    """
    from .detect import make_detector
    from .gaze import GazeStage
    from .pipeline import Pipeline
    from .records import FileHeads, RecordsMeta
    from .render import GazeRenderer, weights_banner_text
    from .sinks import ClipWriter, RecordsSink
    from .track import HeadTracker

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

        track_buffer = max(1, round(info.fps or 30))
        if heads_file is not None:
            detector = heads_file
            tracker = None if heads_file.has_track_ids else HeadTracker(track_buffer=track_buffer)
        else:
            device = getattr(model, "device", None)
            detector = make_detector(options.detector, device=None if device is None else str(device),
                                     class_name_or_id=options.detector_class, conf=options.detector_conf,
                                     notify=say)
            tracker = HeadTracker(track_buffer=track_buffer, high_thresh=options.detector_conf,
                                  new_track_thresh=options.detector_conf)
        gaze = GazeStage(model=model, smooth=options.smooth, inout_threshold=options.inout_threshold,
                         stride=options.stride, max_stride=options.max_stride,
                         scene_threshold=options.scene_threshold)
        pipe = stack.enter_context(Pipeline(capture, detector=detector, tracker=tracker, gaze_stage=gaze,
                                            max_frames=options.max_frames))
        renderer = GazeRenderer(heatmaps=options.heatmap != "none",
                                heatmap_mode="per_person" if options.heatmap == "per-person" else "combined",
                                banner=weights_banner_text(released=model.released, note=model.note))

        # sinks last: nothing is written before everything is ready
        clip = (stack.enter_context(ClipWriter(video_path, width=info.width, height=info.height, fps=info.fps,
                                               audio_from=info.uri if info.has_audio else None,
                                               fill_gaps=not info.live, start_index=0))
                if video_path is not None else None)
        meta = RecordsMeta(source=info.uri, model=model.name, released=model.released, weights_note=model.note,
                           width=info.width, height=info.height, fps=info.fps)  # for gazecam report's header
        records = (stack.enter_context(RecordsSink(records_path, format=records_format, meta=meta))  # type: ignore[arg-type]
                   if records_path is not None else None)
        last_seen = [-1]
        for result in pipe:
            last_seen[0] = max(last_seen[0], result.frame.index)
            t0 = time.perf_counter()
            image = renderer.render(result) if clip is not None else None
            render_ms = (time.perf_counter() - t0) * 1e3 if clip is not None else float("nan")
            t0 = time.perf_counter()
            if clip is not None:
                clip.write(image, index=result.frame.index)
            if records is not None:
                records.write(result)
            pipe.record_times(render_ms=render_ms, write_ms=(time.perf_counter() - t0) * 1e3)
            if on_frame is not None:
                on_frame(result)
            if stop is not None and stop.is_set():
                pipe.stop()
        interrupted = stop is not None and stop.is_set()
        if pipe.stats.frames == 0 and not interrupted:
            raise InputError(f"no frame could be read from {info.uri} (0 frames decoded); nothing was written")
        last_index = last_seen[0]
    # outputs closed here: the clip is finalised, the records flushed
    st = pipe.stats
    return ProcessReport(source=info.uri, video_path=video_path, records_path=records_path, frames=st.frames,
                         people_frames=st.people_frames, frames_with_people=st.frames_with_people,
                         encodes=st.encodes, frames_repeated=clip.frames_repeated if clip is not None else 0,
                         frames_letterboxed=clip.frames_letterboxed if clip is not None else 0, wall_s=st.wall_s,
                         interrupted=interrupted, capture=pipe.capture_stats, stage_ms=st.totals.mean_ms(),
                         last_index=last_index,
                         heads_zero_area=heads_file.zero_area if heads_file is not None else 0,
                         heads_outside=heads_file.outside if heads_file is not None else 0,
                         heads_after_end=heads_file.boxes_after(last_index) if heads_file is not None else 0)
