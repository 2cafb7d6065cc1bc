"""``gazecam process``: annotate a video (gaze arrows, heatmaps, head boxes) and/or write per-person records."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import InputError
from .common import add_model_arguments, load_model

if TYPE_CHECKING:  # pragma: no cover
    from ..pipeline import Pipeline

HELP = "annotate a video, image folder or camera with where everyone looks (+ per-person records)"

EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {v}")
    return v


def _unit_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {v}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT",
                        help="video file, image file, folder of images, camera index (0) or stream URL")
    parser.add_argument("-o", "--output", metavar="OUT.mp4", default=None,
                        help="annotated H.264 video (same size, frame rate and audio as the input; images of "
                             "a folder that differ in size from the first are letterboxed to its size)")
    parser.add_argument("--records", metavar="FILE", default=None,
                        help="per-person records, one line per person per frame: .jsonl (default) or .csv")
    add_model_arguments(parser)
    g = parser.add_argument_group("heads")
    g.add_argument("--detector", default=None, metavar="PATH|auto|pose|offline|face",
                   help="head detector: a YOLO head model (.pt/.onnx), pose (yolo11n-pose keypoints), offline "
                        "(OpenCV pedestrians + faces, no download), face (OpenCV face cascade only) or auto "
                        "(pose if available, else offline; default)")
    g.add_argument("--detector-class", default=None, metavar="NAME|ID",
                   help="head class of a YOLO model with several classes")
    g.add_argument("--detector-conf", type=_unit_float, default=0.25, metavar="C",
                   help="minimum detection confidence (default 0.25)")
    g.add_argument("--heads", default=None, metavar="FILE",
                   help="known head boxes per frame (.json/.jsonl/.csv; see gazecam.detect.FileHeads) "
                        "instead of a detector")
    g = parser.add_argument_group("gaze")
    g.add_argument("--stride", type=_positive_int, default=1, metavar="N",
                   help="run the scene encoder every N-th frame (detection/tracking run on every frame)")
    g.add_argument("--no-smooth", action="store_true", help="no temporal smoothing of gaze per person")
    g.add_argument("--inout-threshold", type=_unit_float, default=0.5, metavar="T",
                   help="in/out score below T = looking out of frame (default 0.5)")
    g = parser.add_argument_group("output")
    g.add_argument("--heatmap", choices=("combined", "per-person", "none"), default="combined",
                   help="heatmap overlay (default combined)")
    g.add_argument("--max-frames", type=_positive_int, default=None, metavar="N", help="stop after N frames")
    g.add_argument("--quiet", action="store_true", help="no progress bar and no summary (warnings/errors still shown)")


# -- helpers -------------------------------------------------------------------------------------------
class _Interrupt:
    """SIGINT sets a flag (the loop stops after the current frame); a second SIGINT raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def handler(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()


@contextmanager
def _sigint() -> Iterator[_Interrupt]:
    flag = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = signal.signal(signal.SIGINT, flag.handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, old)


class _TqdmLogHandler(logging.Handler):
    """gazecam log warnings as one line each, without breaking the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(f"gazecam process: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


@contextmanager
def _log_to_stderr() -> Iterator[None]:
    logger = logging.getLogger("gazecam")
    handler = _TqdmLogHandler(level=logging.WARNING)
    logger.addHandler(handler)
    propagate = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _warn(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"gazecam process: warning: {msg}", file=sys.stderr)


def _check_output(path: Path, what: str, input_path: Path | None) -> None:
    if input_path is not None and path.resolve() == input_path.resolve():
        raise InputError(f"{what} {path} is the input file; choose another output path")
    if path.is_dir():
        raise InputError(f"{what} {path} is a directory; expected a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{what}: cannot write {path} (permission denied); choose another path")
    # os.access says yes to root and knows nothing of read-only or pseudo file systems: try it, before the
    # slow model load (opening for append changes nothing in an existing file; a probe file is removed)
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as e:
        raise InputError(f"{what}: cannot write {path} ({e.strerror or e}); choose another path") from e
    if not existed:
        path.unlink(missing_ok=True)


# -- run -----------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from ..capture import CaptureWarning

    if not args.output and not args.records:
        raise InputError("nothing to write: give -o OUT.mp4 and/or --records OUT.jsonl")
    if args.heads and args.detector:
        raise InputError("give either --heads FILE (known boxes) or --detector, not both")
    with _log_to_stderr(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptureWarning)
        code = _run(args)
    problems = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    for p in problems:
        _warn(p)
    return code


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..detect import FileHeads, make_detector
    from ..gaze import GazeStage
    from ..imageio import letterbox
    from ..pipeline import Pipeline
    from ..render import GazeRenderer, untrained_banner_text
    from ..sinks import RecordsSink, VideoSink
    from ..track import HeadTracker

    with ExitStack() as stack:
        # 1. the source first: bad input fails before the slow model load
        heads_file = FileHeads(args.heads) if args.heads else None
        from ..capture import Capture

        capture = stack.enter_context(Capture(args.input))
        info = capture.info
        input_path = Path(args.input) if info.kind in ("video", "images") and Path(args.input).is_file() else None
        out = Path(args.output) if args.output else None
        rec = Path(args.records) if args.records else None
        if out is not None:
            _check_output(out, "-o", input_path)
        if rec is not None:
            _check_output(rec, "--records", input_path)
            if out is not None and rec.resolve() == out.resolve():
                raise InputError("-o and --records name the same file")

        # 2. models
        model = load_model(args)
        if not model.released:
            _warn(f"model {model.name} does not have the released weights ({model.note or 'untrained'}): "
                  "its gaze is meaningless; the video carries an UNTRAINED WEIGHTS banner")
        if heads_file is not None:
            detector = heads_file
            tracker = None if heads_file.has_track_ids else HeadTracker(track_buffer=max(1, round(info.fps or 30)))
        else:
            detector = make_detector(args.detector or "auto", device=str(model.device),
                                     class_name_or_id=args.detector_class, conf=args.detector_conf,
                                     notify=_warn)
            tracker = HeadTracker(track_buffer=max(1, round(info.fps or 30)), high_thresh=args.detector_conf,
                                  new_track_thresh=args.detector_conf)
        gaze = GazeStage(model=model, smooth=not args.no_smooth, inout_threshold=args.inout_threshold,
                         stride=args.stride)
        pipe: Pipeline = stack.enter_context(Pipeline(capture, detector=detector, tracker=tracker,
                                                      gaze_stage=gaze, max_frames=args.max_frames))
        renderer = GazeRenderer(heatmaps=args.heatmap != "none",
                                heatmap_mode="per_person" if args.heatmap == "per-person" else "combined",
                                banner=untrained_banner_text(released=model.released))  # the note goes to the warning

        # 3. sinks (created last: nothing is written before everything is ready)
        video = (stack.enter_context(VideoSink(out, width=info.width, height=info.height, fps=info.fps,
                                               audio_from=args.input if info.has_audio else None))
                 if out is not None else None)
        records = stack.enter_context(RecordsSink(rec)) if rec is not None else None

        total = info.frame_count
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = stack.enter_context(tqdm(total=total, unit="frame", desc="gazecam", disable=args.quiet,
                                       file=sys.stderr, dynamic_ncols=True, leave=False))
        flag = stack.enter_context(_sigint())
        written = repeated = letterboxed = 0
        last_index = -1
        last_image = None
        for result in pipe:
            t0 = time.perf_counter()
            image = renderer.render(result) if video is not None else None
            if image is not None and image.shape[:2] != (info.height, info.width):
                # a folder of images of different sizes: the video keeps the first image's size
                if not letterboxed:
                    _warn(f"{result.frame.source}: frame {result.frame.index} is {image.shape[1]}x{image.shape[0]}, "
                          f"the video is {info.width}x{info.height} (the first frame's size): frames of another "
                          "size are letterboxed in the video (records keep their own pixel coordinates)")
                image = letterbox(image, width=info.width, height=info.height)
                letterboxed += 1
            result.timings.render = (time.perf_counter() - t0) * 1e3 if video is not None else float("nan")
            t0 = time.perf_counter()
            if video is not None:
                # files: a frame skipped by the reader (corrupt) is filled with the previous picture so the
                # clip keeps its length and stays in sync with the audio
                gap = result.frame.index - last_index - 1 if not info.live else 0
                for _ in range(max(0, gap)):
                    video.write(last_image if last_image is not None else image)
                    repeated += 1
                video.write(image)
                last_image = image
            if records is not None:
                records.write(result)
            result.timings.write = (time.perf_counter() - t0) * 1e3
            written += 1
            last_index = result.frame.index
            bar.update(1)
            if flag.event.is_set():
                pipe.stop()
        interrupted = flag.event.is_set()
        if pipe.stats.frames == 0 and not interrupted:
            raise InputError(f"no frame could be read from {args.input} (0 frames decoded); nothing was written")
    # sinks closed here: the clip is finalised and the records flushed
    if not args.quiet or interrupted:
        _summary(pipe, out, rec, written, repeated, interrupted, gaze.encodes, letterboxed)
    if interrupted:
        print(f"gazecam process: interrupted after {written} frame(s); "
              + ", ".join(f"{p} is complete up to frame {last_index}" for p in (out, rec) if p is not None),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _summary(pipe: "Pipeline", out: Path | None, rec: Path | None, written: int, repeated: int,
             interrupted: bool, encodes: int, letterboxed: int = 0) -> None:
    st, cs = pipe.stats, pipe.capture_stats
    lines = [f"{'stopped' if interrupted else 'done'}: {written} frame(s) in {st.wall_s:.1f} s "
             f"({written / st.wall_s if st.wall_s > 0 else 0:.1f} fps), {st.people_frames} person-frame(s) in "
             f"{st.frames_with_people} frame(s) with people, encoder ran {encodes} time(s)"]
    if out is not None:
        lines.append(f"  video:   {out} ({written + repeated} frame(s)"
                     + (f", {letterboxed} of another size letterboxed" if letterboxed else "") + ")")
    if rec is not None:
        lines.append(f"  records: {rec} ({st.people_frames} line(s))")
    if st.frames_with_people == 0 and written:
        lines.append("  no people were detected in any frame")
    skips = []
    if cs.frames_corrupt:
        skips.append(f"{cs.frames_corrupt} corrupt frame(s) skipped"
                     + (f" ({repeated} filled with the previous frame in the video)" if repeated else ""))
    if cs.frames_dropped:
        skips.append(f"{cs.frames_dropped} stale live frame(s) dropped")
    if cs.frames_missing:
        skips.append(f"{cs.frames_missing} announced frame(s) missing (truncated input)")
    if cs.reconnects:
        skips.append(f"{cs.reconnects} reconnect(s)")
    lines.append("  skipped: " + ("; ".join(skips) if skips else "none"))
    means = st.totals.mean_ms()
    if means:
        lines.append("  ms/frame: " + ", ".join(f"{k} {v:.1f}" for k, v in means.items())
                     + " (encode includes preprocessing; means over the frames where each stage ran)")
    print("\n".join(lines), file=sys.stderr)
