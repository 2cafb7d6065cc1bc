"""The worker side of one input: run the per-video job on temporary outputs, rename them when complete.

A *job* is what processes one clip (``process_source`` with a model loaded once, or a test double); a
*job factory* is a picklable callable that builds the job in the worker that will use it (loading the model
there, once).  :func:`run_task` wraps a job call with the batch's guarantees: the input is checked readable
(on shared storage), outputs go to hidden temporary names that are renamed (after ``fsync``) only when the
job finished the whole clip; a failed or interrupted clip leaves nothing behind.  No torch import here.
"""

from __future__ import annotations

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
from ..outputs import fsync_dir, partial_path
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
    cleanly, when ``stop`` is set (``interrupted=True``).  Bad input raises :class:`GazecamError`."""

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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


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
    temps: list[Path] = []
    finals: list[Path] = []
    sidecars: list[tuple[Path, Path]] = []  # (temporary, final): renamed when the job wrote them
    try:
        for final in task.outputs:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_path(final)
            tmp.unlink(missing_ok=True)  # a leftover of a killed run of this batch (the name is ours)
            partial_path(tmp).unlink(missing_ok=True)  # what the sink of a killed run was writing (ours too)
            temps.append(tmp)
            finals.append(final)
        if task.records_path is not None:
            tmp_side, final_side = meta_path(temp_path(task.records_path)), task.sidecars[0]
            tmp_side.unlink(missing_ok=True)
            sidecars.append((tmp_side, final_side))
            temps.append(tmp_side)  # discarded with the outputs
    except OSError as e:
        _discard(temps)
        return outcome("failed", error=f"cannot write the output folder{where}: {e.strerror or e} "
                                       f"({e.filename or task.outputs[0].parent}){shared}")
    tmp_video = temp_path(task.video_path) if task.video_path is not None else None
    tmp_records = temp_path(task.records_path) if task.records_path is not None else None
    try:
        with _collect_warnings() as logged:
            result = job(src, video_path=tmp_video, records_path=tmp_records, records_format=task.records_format,
                         stop=stop, on_frame=on_frame)
        if logged:
            result = replace(result, warnings=tuple(dict.fromkeys((*result.warnings, *logged))))
    except (KeyboardInterrupt, SystemExit):
        _discard(temps)
        raise
    except Exception as e:  # noqa: BLE001 - one bad input must not end the batch
        _discard(temps)
        return outcome("failed", error=one_line(e))
    if result.interrupted or stop.is_set():
        _discard(temps)
        return outcome("interrupted", frames=result.frames, people_frames=result.people_frames,
                       warnings=result.warnings)
    if result.frames == 0:
        _discard(temps)
        return outcome("failed", error=f"no frame could be read from {src} (0 frames decoded)",
                       warnings=result.warnings)
    renamed: list[Path] = []
    pairs = list(zip(temps, finals)) + [(t, f) for t, f in sidecars if t.exists()]
    try:
        for tmp, _ in pairs:
            if not tmp.exists():
                raise FileNotFoundError(f"the job wrote no {tmp.name}")
            _fsync(tmp)
        _write_marker(task.marker, finals)  # from here a crash leaves outputs the next run knows as its own
        for tmp, final in reversed(pairs):  # sidecar, records, video: the video last
            os.replace(tmp, final)
            renamed.append(final)
        for folder in {f.parent for f in finals}:
            fsync_dir(folder)
    except OSError as e:
        _discard(temps + renamed + [task.marker])  # all or nothing: a lone video without its records is not a result
        return outcome("failed", error=f"cannot finish the outputs{where}: {e.strerror or e}{shared}")
    return outcome("done", frames=result.frames, people_frames=result.people_frames, warnings=result.warnings)
