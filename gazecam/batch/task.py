"""The worker side of one input: run the per-video job on temporary outputs, rename them when complete.

A *job* is what processes one clip (``process_source`` with a model loaded once, or a test double); a
*job factory* is a picklable callable that builds the job in the worker that will use it (loading the model
there, once).  :func:`run_task` wraps a job call with the batch's guarantees: the input is checked readable
(on shared storage); the job writes its outputs through :mod:`gazecam.outputs` (the sinks), held
(:class:`~gazecam.outputs.HeldOutputs`): each under one hidden temporary name, flushed when its writer
closes it, and renamed together with the others only when the job finished the whole clip and the commit
marker is on disk; a failed or interrupted clip leaves nothing behind.  No torch import here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Literal, Protocol

from ..errors import log_to, one_line
from ..outputs import HeldOutputs, fsync_dir, partial_path
from ..records.meta import meta_path
from .plan import BatchTask, temp_path

__all__ = ["JobResult", "VideoJob", "JobFactory", "TaskOutcome", "run_task", "one_line"]

OutcomeStatus = Literal["done", "failed", "interrupted"]


@dataclass(frozen=True, kw_only=True)
class JobResult:
    """What a job reports for one clip."""

    frames: int  # frames processed
    people_frames: int  # person-frames written to the records
    interrupted: bool = False  # stopped before the end of the clip (the outputs are then discarded)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.frames < 0 or self.people_frames < 0:
            raise ValueError(f"JobResult: counts must be >= 0, got frames={self.frames}, "
                             f"people_frames={self.people_frames}")


class VideoJob(Protocol):
    """Process one clip into the given output paths; call ``on_frame`` after each frame; finish early,
    cleanly, when ``stop`` is set (``interrupted=True``).  Bad input raises :class:`GazecamError`.

    The outputs are written through :mod:`gazecam.outputs` (the sinks, ``atomic_output``): :func:`run_task`
    holds them under its temporary names and renames them itself."""

    def __call__(self, source: Path, *, video_path: Path | None, records_path: Path | None,
                 records_format: str | None, stop: threading.Event,
                 on_frame: Callable[[], None]) -> JobResult: ...


#: Builds the job in its worker (loads the model there); must be picklable for worker processes and Ray.
JobFactory = Callable[[], VideoJob]


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    """How one attempt at one input ended (sent back from the worker to the driver)."""

    key: str
    status: OutcomeStatus
    frames: int = 0
    people_frames: int = 0
    seconds: float = 0.0
    error: str | None = None  # one line, for "failed"
    node: str | None = None
    worker: str | None = None
    warnings: tuple[str, ...] = ()


@contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    """gazecam log warnings and :class:`~gazecam.capture.CaptureWarning` warnings raised while a job runs (a worker
    runs one job at a time); other Python warnings are shown as usual."""
    from ..capture import CaptureWarning

    messages: list[str] = []  # distinct, in order

    def collect(record: logging.LogRecord) -> None:
        if record.getMessage() not in messages:
            messages.append(record.getMessage())

    with log_to(collect, propagate=True), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptureWarning)
        yield messages
    for w in caught:
        if issubclass(w.category, CaptureWarning):
            if str(w.message) not in messages:
                messages.append(str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def worker_label() -> tuple[str, str]:
    """(host name, "pid N") of this process."""
    return socket.gethostname(), f"pid {os.getpid()}"


def _discard(paths: list[Path]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)


def _write_marker(marker: Path, finals: list[Path]) -> None:
    """The commit marker (the outputs' names, one per line), on disk before any rename."""
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        os.write(fd, "".join(f"{f.name}\n" for f in finals).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(marker.parent)


def run_task(job: VideoJob, task: BatchTask, *, stop: threading.Event, on_frame: Callable[[], None],
             node: str | None = None, worker: str | None = None, shared_storage_hint: bool = False) -> TaskOutcome:
    """Run ``job`` on ``task`` with temporary outputs; rename them into place when the clip is complete.

    Never raises for a problem of this input (it becomes a ``failed`` outcome with a one-line message);
    ``KeyboardInterrupt``/``SystemExit`` pass through after the temporary files are removed.
    """
    if node is None or worker is None:
        host, pid = worker_label()
        node, worker = node or host, worker or pid
    t0 = time.monotonic()

    def outcome(status: OutcomeStatus, **kw: object) -> TaskOutcome:
        return TaskOutcome(key=task.key, status=status, seconds=round(time.monotonic() - t0, 3), node=node,
                           worker=worker, **kw)  # type: ignore[arg-type]

    where = f" on {node}" if shared_storage_hint else ""
    shared = (" (the inputs and the output folder must be on storage every worker sees, at the same path)"
              if shared_storage_hint else "")
    src = task.input.path
    if not os.path.exists(src):
        return outcome("failed", error=f"input not found{where}: {src}{shared}")
    if not os.access(src, os.R_OK):
        return outcome("failed", error=f"cannot read input{where}: {src} (permission denied){shared}")
    finals = list(task.outputs)
    held = HeldOutputs({**{f: temp_path(f) for f in finals},
                        **{side: meta_path(temp_path(task.records_path)) for side in task.sidecars}})  # type: ignore[arg-type]
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
        held.discard()  # leftovers of a killed run of this batch (the hidden names are ours)
        for final in finals:  # what the sink of a killed run of an earlier gazecam was writing (ours too)
            partial_path(temp_path(final)).unlink(missing_ok=True)
    except OSError as e:
        return outcome("failed", error=f"cannot write the output folder{where}: {e.strerror or e} "
                                       f"({e.filename or task.outputs[0].parent}){shared}")
    try:
        # the job writes the final names through gazecam.outputs (the sinks): under the hidden names, held
        with _collect_warnings() as logged, held.writing():
            result = job(src, video_path=task.video_path, records_path=task.records_path,
                         records_format=task.records_format, stop=stop, on_frame=on_frame)
        if logged:
            result = replace(result, warnings=tuple(dict.fromkeys((*result.warnings, *logged))))
    except (KeyboardInterrupt, SystemExit):
        held.discard()
        raise
    except Exception as e:  # noqa: BLE001 - one bad input must not end the batch
        held.discard()
        return outcome("failed", error=one_line(e))
    if result.interrupted or stop.is_set():
        held.discard()
        return outcome("interrupted", frames=result.frames, people_frames=result.people_frames,
                       warnings=result.warnings)
    if result.frames == 0:
        held.discard()
        return outcome("failed", error=f"no frame could be read from {src} (0 frames decoded)",
                       warnings=result.warnings)
    try:
        for final in finals:
            if not held.ready(final):
                raise FileNotFoundError(f"the job wrote no {final.name}")
        _write_marker(task.marker, finals)  # from here a crash leaves outputs the next run knows as its own
        held.rename([*task.sidecars, *reversed(finals)])  # sidecar, records, video: the video last
    except OSError as e:
        held.discard()
        _discard([*held.renamed, task.marker])  # all or nothing: a lone video without its records is not a result
        return outcome("failed", error=f"cannot finish the outputs{where}: {e.strerror or e}{shared}")
    return outcome("done", frames=result.frames, people_frames=result.people_frames, warnings=result.warnings)
