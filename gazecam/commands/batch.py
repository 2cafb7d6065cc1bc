"""``gazecam batch``: many videos, resumable, on one machine or a Ray cluster (see README "Many videos")."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import InputError
from .common import add_model_arguments, flag_wording, model_spec
from .process import _positive_int, _unit_float

if TYPE_CHECKING:  # pragma: no cover
    from ..batch import BatchSummary, Executor, JobFactory

HELP = "process many videos (folders, globs, @list.txt) into mirrored outputs + a manifest; resumable; --ray"

EXIT_FAILED = 1
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {v}")
    return v


def _nonneg_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {v}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="video files, folders (searched recursively), glob patterns ('in/**/*.mp4', quoted) "
                             "or @LIST.txt (one path per line)")
    parser.add_argument("-o", "--output-dir", metavar="OUTDIR", required=True,
                        help="output folder: the inputs' relative paths mirrored (OUTDIR/sub/a.mp4 + a.jsonl) "
                             "and OUTDIR/manifest.jsonl")
    parser.add_argument("--image-folders", action="store_true",
                        help="a folder of images is one clip (OUTDIR/<folder>.mp4); by default images are ignored")
    parser.add_argument("--no-video", action="store_true", help="records only, no annotated videos")
    parser.add_argument("--records-format", choices=("jsonl", "csv", "none"), default="jsonl",
                        help="records beside each video (default jsonl; none: videos only)")
    parser.add_argument("--force", action="store_true",
                        help="redo every input, also those already done, replacing existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (failures still shown)")
    add_model_arguments(parser)
    g = parser.add_argument_group("heads and gaze (as in `gazecam process`)")
    g.add_argument("--detector", default=None, metavar="PATH|pose|face|auto",
                   help="head detector (default auto)")
    g.add_argument("--detector-class", default=None, metavar="NAME|ID", help="head class of a multi-class YOLO model")
    g.add_argument("--detector-conf", type=_unit_float, default=0.25, metavar="C",
                   help="minimum detection confidence (default 0.25)")
    g.add_argument("--stride", type=_positive_int, default=1, metavar="N", help="scene encoder every N-th frame")
    g.add_argument("--no-smooth", action="store_true", help="no temporal smoothing of gaze per person")
    g.add_argument("--inout-threshold", type=_unit_float, default=0.5, metavar="T",
                   help="in/out score below T = looking out of frame (default 0.5)")
    g.add_argument("--heatmap", choices=("combined", "per-person", "none"), default="combined",
                   help="heatmap overlay (default combined)")
    g.add_argument("--max-frames", type=_positive_int, default=None, metavar="N", help="at most N frames per input")
    g = parser.add_argument_group("workers")
    g.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="N local worker processes, each with its own model and 1/N of the CPUs (default 1: this "
                        "process); with --ray: the number of Ray actors")
    g.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray (pip install \"gazecam[ray]\"): no ADDRESS = start a local instance; "
                        "auto or HOST:PORT = join that cluster (inputs and OUTDIR on shared storage)")
    g.add_argument("--cpus-per-worker", type=_positive_float, default=None, metavar="N",
                   help="Ray: CPUs per actor (default 1 with GPUs, else up to 4)")
    g.add_argument("--gpus-per-worker", type=_nonneg_float, default=None, metavar="N",
                   help="Ray: GPUs per actor (default 1 when the cluster has GPUs, else 0)")


def _is_ray_address(text: str) -> bool:
    return text in ("local", "auto") or bool(re.fullmatch(r"(ray://)?[\w.\-\[\]:]+:\d+", text))


def _options(args: argparse.Namespace) -> Any:
    from ..jobs import ProcessOptions

    try:
        return ProcessOptions(detector=args.detector or "auto", detector_class=args.detector_class,
                              detector_conf=args.detector_conf, stride=args.stride, smooth=not args.no_smooth,
                              inout_threshold=args.inout_threshold, heatmap=args.heatmap, max_frames=args.max_frames)
    except ValueError as e:
        raise InputError(str(e)) from e


def _executor(args: argparse.Namespace, factory: "JobFactory", outdir: Path) -> "Executor":
    from ..batch import InlineExecutor, ProcessExecutor

    if args.ray is not None:
        from ..batch.ray_executor import RayExecutor

        local = args.ray == "local"
        local_cpus = None
        if local and args.workers and args.cpus_per_worker:
            local_cpus = max(1, int(args.workers * args.cpus_per_worker + 0.999))
        return RayExecutor(factory, outdir=outdir, address=None if local else args.ray, workers=args.workers,
                           cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker,
                           local_num_cpus=local_cpus)
    if args.cpus_per_worker is not None or args.gpus_per_worker is not None:
        raise InputError("--cpus-per-worker/--gpus-per-worker apply to --ray only (local workers share the CPUs "
                         "equally)")
    if args.workers and args.workers > 1:
        return ProcessExecutor(factory, workers=args.workers)
    return InlineExecutor(factory)


class _Signals:
    """SIGINT/SIGTERM: set ``stop`` (the batch finishes cleanly); a second one raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.signum: int | None = None

    def handler(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.signum = signum
        self.stop.set()


class _LogOnce(logging.Handler):
    """gazecam log warnings as one line above the bars, each distinct message once per batch."""

    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(level=logging.WARNING)
        self._write = write
        self._seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        msg = flag_wording(record.getMessage())
        if msg not in self._seen:
            self._seen.add(msg)
            self._write(f"gazecam batch: {record.levelname.lower()}: {msg}")


@contextmanager
def _log_once(write: Callable[[str], None]) -> Iterator[None]:
    logger = logging.getLogger("gazecam")
    handler = _LogOnce(write)
    logger.addHandler(handler)
    propagate = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@contextmanager
def _signals() -> Iterator[_Signals]:
    flag = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    old = {s: signal.signal(s, flag.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(args: argparse.Namespace) -> int:
    from ..batch import ProcessJobFactory, collect_inputs, model_identity, run_batch
    from ..batch.progress import TqdmProgress

    if args.ray is not None and args.ray != "local" and not _is_ray_address(args.ray):
        args.inputs.insert(0, args.ray)  # `--ray in/ ...`: the folder is an input, not an address
        args.ray = "local"
    if not args.inputs:
        raise InputError("no INPUT given: name video files, folders, glob patterns or @LIST.txt")
    records_format = None if args.records_format == "none" else args.records_format
    if args.no_video and records_format is None:
        raise InputError("nothing to write: --no-video with --records-format none")
    outdir = Path(os.path.abspath(os.path.expanduser(args.output_dir)))
    found = collect_inputs(args.inputs, image_folders=args.image_folders, exclude=[outdir])
    options = _options(args)  # bad option values fail before any model file is read
    spec = model_spec(args)
    identity = model_identity(spec)  # zoo files are downloaded here, once, before any worker starts
    factory = ProcessJobFactory(spec=spec, options=options)
    executor = _executor(args, factory, outdir)
    progress = TqdmProgress(quiet=args.quiet)
    if found.ignored_image_folders and not args.quiet:
        progress.write(f"gazecam batch: {len(found.ignored_image_folders)} folder(s) of images ignored "
                       f"(e.g. {found.ignored_image_folders[0]}); --image-folders makes each one clip")
    result_key = {**options.result_key(), "precision": spec.precision}
    with _signals() as sig, _log_once(progress.write):
        summary = run_batch(found.inputs, outdir=outdir, executor=executor, identity=identity,
                            result_key=result_key, video=not args.no_video, records_format=records_format,
                            force=args.force, stop=sig.stop, listener=progress)
    _print_summary(summary, quiet=args.quiet)
    if sig.signum is not None:
        return EXIT_SIGTERM if sig.signum == signal.SIGTERM else EXIT_SIGINT
    return EXIT_FAILED if summary.failed else 0


def _print_summary(s: "BatchSummary", *, quiet: bool) -> None:
    rate = f" ({s.frames / s.wall_s:.2f} frames/s)" if s.wall_s > 0 and s.frames else ""
    lines = []
    if not quiet or s.failed or s.interrupted:
        lines.append(f"gazecam batch: {len(s.done)} done, {len(s.failed)} failed, {len(s.skipped)} skipped "
                     f"(already done); {s.frames} frame(s) in {s.wall_s:.1f} s{rate}; {s.workers}")
        lines.append(f"  manifest: {s.manifest_path}")
    if s.excluded:
        lines.append(f"  {len(s.excluded)} input(s) are outputs of this batch and were not processed")
    if s.interrupted or s.not_started:
        lines.append(f"  stopped: {len(s.interrupted)} video(s) discarded midway, {len(s.not_started)} not started; "
                     "run the same command again to resume")
    if s.failed:
        lines.append(f"  failed ({len(s.failed)}):")
        lines.extend(f"    {key}: {error}" for key, error in s.failed)
    if lines:
        print("\n".join(lines), file=sys.stderr)
