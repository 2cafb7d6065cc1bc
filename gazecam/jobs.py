"""One video, start to finish: :func:`process_source` is the per-video loop every consumer shares.

``gazecam process`` (and many-video runs) call it with a model loaded once (:func:`gazecam.loading.load_model`)::

    model = load_model(ModelSpec(name="gazelle_dinov2_vitb14_inout"))
    report = process_source("clip.mp4", model=model, options=ProcessOptions(stride=2),
                            video_path=Path("out.mp4"), records_path=Path("out.jsonl"))

It opens the source, builds the head detector (or reads known boxes), tracker, gaze stage and renderer,
runs the :class:`~gazecam.pipeline.Pipeline`, writes the annotated clip (:class:`~gazecam.sinks.ClipWriter`:
gaps filled, other sizes letterboxed) and the per-person records, and returns a :class:`ProcessReport`.
Outputs are complete and playable when it returns, also when ``stop`` was set or an exception ended it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .capture import Capture, CaptureStats, SourceInfo
from .errors import InputError
from .types import GazeResult

if TYPE_CHECKING:  # pragma: no cover
    from .backends import GazeBackend

__all__ = ["ProcessOptions", "ProcessReport", "process_source", "check_output_path", "source_file",
           "HEATMAP_MODES"]

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

    def result_key(self) -> dict[str, object]:
        """The options that change results, JSON-able (for manifests of many-video runs)."""
        return {"detector": None if self.heads_path is not None else self.detector,
                "detector_class": self.detector_class, "detector_conf": self.detector_conf,
                "heads_path": None if self.heads_path is None else str(self.heads_path),
                "stride": self.stride, **({"max_stride": self.max_stride, "scene_threshold": self.scene_threshold}
                                          if self.stride == "auto" else {}),
                "smooth": self.smooth, "inout_threshold": self.inout_threshold,
                "heatmap": self.heatmap, "max_frames": self.max_frames}


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


def source_file(info: SourceInfo) -> Path | None:
    """The file a source reads (a video or one image), or None (folders, cameras, streams)."""
    if info.kind in ("video", "images"):
        path = Path(info.uri)
        if path.is_file():
            return path
    return None


def check_output_path(path: Path, *, parameter: str, input_path: Path | None = None) -> None:
    """Fail now (``InputError`` naming ``parameter``) if ``path`` cannot be written or is the input file.

    The file is really opened (for appending: an existing file is unchanged; a probe file is removed), since
    permission bits say nothing of read-only or pseudo file systems.
    """
    label = f"{parameter}={str(path)!r}"
    if input_path is not None and path.exists() and os.path.samefile(path, input_path):
        raise InputError(f"{label} is the input file; choose another output path")
    if path.is_dir():
        raise InputError(f"{label} is a directory; expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{label}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{label}: cannot write {path} (permission denied); choose another path")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as e:
        raise InputError(f"{label}: cannot write {path} ({e.strerror or e}); choose another path") from e
    if not existed:
        path.unlink(missing_ok=True)


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
    from .render import GazeRenderer, untrained_banner_text
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
        input_path = source_file(info)
        if video_path is not None:
            check_output_path(video_path, parameter="video_path", input_path=input_path)
        if records_path is not None:
            check_output_path(records_path, parameter="records_path", input_path=input_path)
            if video_path is not None and records_path.resolve() == video_path.resolve():
                raise InputError(f"video_path and records_path name the same file {video_path}")

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
                                banner=untrained_banner_text(released=model.released))

        # sinks last: nothing is written before everything is ready
        clip = (stack.enter_context(ClipWriter(video_path, width=info.width, height=info.height, fps=info.fps,
                                               audio_from=info.uri if info.has_audio else None,
                                               fill_gaps=not info.live, start_index=0))
                if video_path is not None else None)
        meta = RecordsMeta(source=info.uri, model=model.name, released=model.released, weights_note=model.note,
                           width=info.width, height=info.height, fps=info.fps)  # for gazecam report's header
        records = (stack.enter_context(RecordsSink(records_path, format=records_format, meta=meta))  # type: ignore[arg-type]
                   if records_path is not None else None)
        for result in pipe:
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
    # outputs closed here: the clip is finalised, the records flushed
    st = pipe.stats
    return ProcessReport(source=info.uri, video_path=video_path, records_path=records_path, frames=st.frames,
                         people_frames=st.people_frames, frames_with_people=st.frames_with_people,
                         encodes=st.encodes, frames_repeated=clip.frames_repeated if clip is not None else 0,
                         frames_letterboxed=clip.frames_letterboxed if clip is not None else 0, wall_s=st.wall_s,
                         interrupted=interrupted, capture=pipe.capture_stats, stage_ms=st.totals.mean_ms())
