"""``gazecam process``: annotate a video (gaze arrows, heatmaps, head boxes) and/or write per-person records."""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, log_to
from .aoi_args import add_aoi_argument, aois_from_args
from .common import add_detect_every_argument, add_model_arguments, flag_wording, gaze_options, load_model, number

if TYPE_CHECKING:  # pragma: no cover
    from ..jobs import ProcessReport
    from ..types import GazeResult

HELP = "annotate a video, image folder or camera with where everyone looks (+ per-person records)"

EXIT_INTERRUPTED = 130  # after SIGINT; after SIGTERM: 143 (128 + the signal's number)


_positive_int = number(int, "a whole number >= 1", low=1)
_stride = number(int, "a whole number >= 1 or auto", low=1, words=("auto",), echo_text=True)
_unit_float = number(float, "a number between 0 and 1", low=0.0, high=1.0)


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
    add_detect_every_argument(g)
    g.add_argument("--heads", default=None, metavar="FILE",
                   help="known head boxes per frame (.json/.jsonl/.csv; see gazecam.records.FileHeads) "
                        "instead of a detector")
    g = parser.add_argument_group("gaze")
    g.add_argument("--stride", type=_stride, default=1, metavar="N|auto",
                   help="run the scene encoder every N-th frame (detection/tracking run on every frame); auto: "
                        "when the scene changed since the last encode (cuts, pans; a static camera skips it) and "
                        "at least every --max-stride frames; heads that moved are decoded again")
    g.add_argument("--max-stride", type=_positive_int, default=15, metavar="N",
                   help="--stride auto: run the encoder at least every N frames (default 15)")
    g.add_argument("--scene-threshold", type=_unit_float, default=0.2, metavar="T",
                   help="--stride auto: encode when more than this share of a 64 px grey thumbnail changed "
                        "(by > 6%% brightness) since the last encode (default 0.2)")
    g.add_argument("--no-smooth", action="store_true", help="no temporal smoothing of gaze per person")
    g.add_argument("--inout-threshold", type=_unit_float, default=0.5, metavar="T",
                   help="in/out score below T = looking out of frame (default 0.5)")
    g = parser.add_argument_group("output")
    g.add_argument("--heatmap", choices=("combined", "per-person", "none"), default="combined",
                   help="heatmap overlay (default combined)")
    g.add_argument("--max-frames", type=_positive_int, default=None, metavar="N", help="stop after N frames")
    add_aoi_argument(g)
    g.add_argument("--quiet", action="store_true", help="no progress bar and no summary (warnings/errors still shown)")


# -- helpers -------------------------------------------------------------------------------------------
def _warn(msg: str, level: str = "warning") -> None:
    """One line above the progress bar (gazecam log warnings too: :func:`gazecam.errors.log_to`)."""
    from tqdm import tqdm

    tqdm.write(f"gazecam process: {level}: {flag_wording(msg)}", file=sys.stderr)


# -- run -----------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    from ..capture import CaptureWarning

    if not args.output and not args.records:
        raise InputError("nothing to write: give -o OUT.mp4 and/or --records OUT.jsonl")
    if args.heads and args.detector:
        raise InputError("give either --heads FILE (known boxes) or --detector, not both")
    to_bar = log_to(lambda r: _warn(r.getMessage(), r.levelname.lower()))  # log warnings above the bar
    with to_bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptureWarning)
        code = _run(args)
    problems = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    for p in problems:
        _warn(p)
    return code


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..capture import Capture
    from ..jobs import ProcessOptions, check_job_outputs, process_source
    from ..records import FileHeads
    from ..signals import signal_name, stop_on_signals
    from ..weights import is_unverified_note

    options = ProcessOptions(detector=args.detector or "auto", detector_class=args.detector_class,
                             detector_conf=args.detector_conf, detect_every=args.detect_every,
                             heads_path=Path(args.heads) if args.heads else None,
                             gaze=gaze_options(args), heatmap=args.heatmap, max_frames=args.max_frames,
                             aois=aois_from_args(args))
    out = Path(args.output) if args.output else None
    rec = Path(args.records) if args.records else None
    with ExitStack() as stack:
        # bad input and unwritable outputs fail before the slow model load
        if options.heads_path is not None:
            FileHeads(options.heads_path)
        capture = stack.enter_context(Capture(args.input))
        check_job_outputs(capture.info, options=options, video_path=out, records_path=rec)
        model = load_model(args)
        if not model.released and is_unverified_note(model.note):  # files placed in the cache by hand
            _warn(f"model {model.name}: {model.note}; the video carries an UNVERIFIED WEIGHTS banner")
        elif not model.released:
            _warn(f"model {model.name} does not have the released weights ({model.note or 'untrained'}): "
                  "its gaze is meaningless; the video carries an UNTRAINED WEIGHTS banner")

        info = capture.info  # fragmented mp4 (gazecam's own clips) announce no frame count: estimate it
        total = info.frame_count or (round(info.duration_s * info.fps) if info.duration_s and not info.live else None)
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = stack.enter_context(tqdm(total=total, unit="frame", desc="gazecam", disable=args.quiet,
                                       file=sys.stderr, dynamic_ncols=True, leave=False))
        stop = stack.enter_context(stop_on_signals())  # Ctrl-C and SIGTERM: finish the frame, finalise outputs

        def on_frame(result: "GazeResult") -> None:
            bar.update(1)

        report = process_source(capture, model=model, options=options, video_path=out, records_path=rec,
                                on_frame=on_frame, stop=stop, notify=_warn)
    if not args.quiet or report.interrupted:
        _summary(report)
    if report.interrupted:
        by = f" by {signal_name(stop.signum)}" if stop.signum is not None else ""
        kept = (", ".join(f"{p} is complete up to frame {report.last_index}" for p in (out, rec) if p is not None)
                if report.frames else "no frame was processed")
        print(f"gazecam process: interrupted{by} after {report.frames} frame(s); {kept}", file=sys.stderr)
        return stop.exit_code
    return 0


_NAMES_SHOWN = 5  # unreadable images named in the summary (the rest counted)


def _summary(report: "ProcessReport") -> None:
    cs, written, repeated = report.capture, report.frames, report.frames_repeated
    lines = [f"{'stopped' if report.interrupted else 'done'}: {written} frame(s) in {report.wall_s:.1f} s "
             f"({written / report.wall_s if report.wall_s > 0 else 0:.1f} fps), {report.people_frames} "
             f"person-frame(s) in {report.frames_with_people} frame(s) with people, encoder ran {report.encodes} "
             "time(s)"]
    if report.video_path is not None:
        lines.append(f"  video:   {report.video_path} ({written + repeated} frame(s)"
                     + (f", {report.frames_letterboxed} of another size letterboxed (records keep their own "
                        "pixel coordinates)" if report.frames_letterboxed else "") + ")")
    if report.records_path is not None:
        lines.append(f"  records: {report.records_path} ({report.people_frames} line(s))")
    if report.frames_with_people == 0 and written:
        lines.append("  no people were detected in any frame")
    skips = []
    if cs.frames_corrupt:
        names = ", ".join(cs.skipped_files[:_NAMES_SHOWN]) + (
            f", ... ({len(cs.skipped_files) - _NAMES_SHOWN} more)" if len(cs.skipped_files) > _NAMES_SHOWN else "")
        skips.append(f"{cs.frames_corrupt} {'unreadable image' if cs.skipped_files else 'corrupt frame'}(s) skipped"
                     + (f": {names}" if names else ""))
    skips += [f"{n} {what}" for n, what in (
        (repeated, "video frame(s) repeat the previous picture where the source numbering has gaps"),
        (cs.frames_dropped, "stale live frame(s) dropped"),
        (cs.frames_missing, "announced frame(s) missing (truncated input)"),
        (cs.reconnects, "reconnect(s)"),
        (report.heads_zero_area, "--heads box(es) of zero area"),
        (report.heads_outside, "--heads box(es) entirely outside the frame"),
        (report.heads_after_end, f"--heads box(es) for frames after the last frame processed ({report.last_index})"),
    ) if n]
    lines.append("  skipped: " + ("; ".join(skips) if skips else "none"))
    if report.stage_ms:
        lines.append("  ms/frame: " + ", ".join(f"{k} {v:.1f}" for k, v in report.stage_ms.items())
                     + " (encode includes preprocessing; means over the frames where each stage ran)")
    if report.thread_ms:
        slowest = max(report.thread_ms, key=report.thread_ms.__getitem__)
        lines.append("  busy ms/frame per stage thread: " + ", ".join(f"{k} {v:.1f}" for k, v in report.thread_ms.items())
                     + f" (they overlap: {slowest} bounds the frame rate)")
    print("\n".join(lines), file=sys.stderr)
