"""The batch driver: decide what to (re)do, hand inputs to an executor as its slots free up, write the manifest.

    inputs = collect_inputs(["videos/"]).inputs
    executor = InlineExecutor(factory)    # or ProcessExecutor(factory, workers=2), RayExecutor(factory, ...)
    summary = run_batch(inputs, outdir=Path("out"), executor=executor, identity=..., result_key=...)

:func:`run_batch` starts the executor (the models load) only when something is to do, so re-running a
finished batch loads no model, and closes it at the end.  Resume: an input whose last manifest line is ``done`` with the
same input size/mtime, options, model and output paths, and whose outputs still exist, is skipped
untouched; everything else is (re)done, also an input named by a manifest line that had to be ignored
(torn by a crash, foreign): such lines are reported through :meth:`BatchListener.manifest_problem`.
``force=True`` redoes everything.  An output file that exists but was never written by this batch (no
manifest line names it) is not replaced unless ``force=True``; an output that is the same file as an input
(``os.path.samefile``) never is; every output goes through :func:`gazecam.outputs.check_before_writing`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import InputError
from ..outputs import Inputs, Named, check_before_writing
from .executors import Executor, VideoFinished, VideoProgress, VideoStarted
from .inputs import BatchInput, input_signature, probe_frames
from .manifest import Manifest, ManifestEntry, ModelIdentity, jsonable
from .plan import BatchTask, RecordsFormat, plan_tasks
from .task import TaskOutcome

__all__ = ["run_batch", "BatchListener", "BatchSummary"]

POLL_S = 0.2


@dataclass(frozen=True, kw_only=True)
class BatchSummary:
    """What one run of a batch did (input keys = absolute input paths)."""

    manifest_path: Path
    done: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (input, one-line error)
    skipped: tuple[str, ...] = ()  # already done by an earlier run
    interrupted: tuple[str, ...] = ()  # stopped midway (outputs discarded): redone by the next run
    not_started: tuple[str, ...] = ()  # left when the batch was stopped
    excluded: tuple[str, ...] = ()  # inputs that are outputs of this batch (never processed)
    manifest_problems: tuple[str, ...] = ()  # manifest lines ignored (one line each: file, line number, input)
    frames: int = 0
    wall_s: float = 0.0
    workers: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.not_started


class BatchListener:
    """Progress callbacks of :func:`run_batch` (all called from the caller's thread); default: nothing."""

    def batch_started(self, *, todo: Sequence[BatchTask], skipped: int, failed_early: int, workers: str) -> None:
        """Before the first video (``workers`` describes where jobs run)."""

    def manifest_problem(self, *, message: str) -> None:
        """A manifest line was ignored (``message``: the file, the line number, the input that is redone)."""

    def workers_starting(self, *, workers: str) -> None:
        """Models are loading in the workers."""

    def workers_ready(self, *, workers: str) -> None:
        """Every worker has its model (``workers``: where they run, e.g. the Ray nodes)."""

    def video_started(self, *, slot: int, task: BatchTask) -> None:
        """``task`` began on ``slot``."""

    def video_progress(self, *, slot: int, task: BatchTask, frames: int) -> None:
        """``frames`` of ``task`` are done."""

    def video_finished(self, *, slot: int | None, task: BatchTask, outcome: TaskOutcome) -> None:
        """``task`` ended (slot None: it failed before reaching a worker)."""

    def stopping(self) -> None:
        """A stop was requested; running videos are being discarded."""

    def batch_finished(self, summary: BatchSummary) -> None:
        """After the last video."""


@dataclass
class _State:
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    frames: int = 0


def _inputs(inputs: Sequence[BatchInput]) -> Inputs:
    """The batch's inputs for the output check (a folder of images: its images and any new image in it)."""
    return Inputs([Named("input", item.path) for item in inputs])


def _real(path: str | Path) -> str:
    return os.path.realpath(path)


def _skip_reason(last: ManifestEntry | None, task: BatchTask, sig: tuple[int, int], identity: ModelIdentity,
                 options: object, manifest: Manifest) -> str | None:
    """None when ``task`` is done and still valid (skip it), else why it is (re)done."""
    if last is None:
        return "new"
    if last.status != "done":
        return "failed before"
    if (last.input_size, last.input_mtime_ns) != sig:
        return "input changed"
    if last.model != identity.name or jsonable(last.weights_sha256) != jsonable(dict(identity.weights_sha256)):
        return "other model"
    if jsonable(last.options) != options:
        return "other options"
    had = tuple(_real(manifest.resolve(p)) if p else None for p in (last.video, last.records))
    if had != tuple(_real(p) if p else None for p in (task.video_path, task.records_path)):
        return "other outputs"
    if not all(p.is_file() for p in task.outputs):
        return "outputs missing"
    if task.marker.exists():
        return "outputs replaced by a run that did not record them"
    return None


def run_batch(inputs: Sequence[BatchInput], *, outdir: str | Path, executor: Executor, identity: ModelIdentity,
              result_key: Mapping[str, object], video: bool = True, records_format: RecordsFormat | None = "jsonl",
              force: bool = False, stop: threading.Event | None = None,
              listener: BatchListener | None = None) -> BatchSummary:
    """Process ``inputs`` into ``outdir`` on ``executor``; see the module docstring.

    ``result_key``: the options that change results (``ProcessOptions.result_key()`` plus anything else
    that does), recorded per input and compared on resume.  ``stop``: set it (e.g. from a signal handler)
    to stop after the current frame of each running video; those videos are discarded and redone next run.
    Raises :class:`InputError` when the output folder cannot be used, :class:`WorkerError` when the
    workers cannot start; a bad input never raises (it is recorded as failed).
    """
    t0 = time.monotonic()
    listener = listener or BatchListener()
    stop = stop or threading.Event()
    outdir = Path(os.path.abspath(os.path.expanduser(str(outdir))))
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"output folder {outdir} is a file; expected a folder (it is created when missing)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder {outdir}: {e.strerror or e}") from e
    options = jsonable(dict(result_key))
    with Manifest.open(outdir) as manifest:
        problems = tuple(manifest.problems())
        for message in problems:
            listener.manifest_problem(message=message)
        tasks = plan_tasks(inputs, outdir=outdir, video=video, records_format=records_format)
        ours = manifest.recorded_outputs()
        redo = manifest.redo_inputs()  # named by an ignored line: the outputs planned for them are ours too
        ours |= {_real(p) for t in tasks if t.key in redo or t.marker.exists() for p in (*t.outputs, *t.sidecars)}
        planned = {_real(p) for t in tasks for p in t.outputs}
        excluded = tuple(t.key for t in tasks if _real(t.key) in ours or _real(t.key) in planned)
        tasks = [t for t in tasks if t.key not in excluded]
        read = _inputs([t.input for t in tasks])  # looked at once for every output
        states = manifest.last_states()
        state = _State()
        skipped: list[str] = []
        todo: list[BatchTask] = []
        sigs: dict[str, tuple[int | None, int | None]] = {}

        def record(task: BatchTask, outcome: TaskOutcome, slot: int | None) -> None:
            size, mtime = sigs.get(task.key, (None, None))
            entry = ManifestEntry(
                input=task.key, status="done" if outcome.status == "done" else "failed",
                video=manifest.relative(task.video_path) if task.video_path else None,
                records=manifest.relative(task.records_path) if task.records_path else None,
                frames=outcome.frames, people_frames=outcome.people_frames, seconds=outcome.seconds,
                error=outcome.error if outcome.status != "done" else None, input_size=size, input_mtime_ns=mtime,
                model=identity.name, weights_sha256=dict(identity.weights_sha256), options=options,
                node=outcome.node, worker=outcome.worker, warnings=list(outcome.warnings))
            manifest.append(entry)  # InputError (disk full): the commit marker stays, the next run redoes it
            if outcome.status == "done":
                with contextlib.suppress(OSError):
                    task.marker.unlink(missing_ok=True)  # the line names the outputs now
                state.done.append(task.key)
                state.frames += outcome.frames
            else:
                state.failed.append((task.key, outcome.error or "failed"))
            listener.video_finished(slot=slot, task=task, outcome=outcome)

        early: list[tuple[BatchTask, TaskOutcome]] = []
        for task in tasks:
            try:
                sig = input_signature(task.input)
            except OSError as e:
                early.append((task, TaskOutcome(key=task.key, status="failed",
                                                error=f"cannot read input {task.key}: {e.strerror or e}")))
                continue
            sigs[task.key] = sig
            reason = None if force else _skip_reason(states.get(task.key), task, sig, identity, options, manifest)
            if reason is None and not force:
                skipped.append(task.key)
                continue
            problem = _output_problem(task, inputs=read, ours=ours, force=force)
            if problem:
                early.append((task, TaskOutcome(key=task.key, status="failed", error=problem)))
                continue
            todo.append(replace(task, frames_estimate=probe_frames(task.input)))

        listener.batch_started(todo=todo, skipped=len(skipped), failed_early=len(early),
                               workers=executor.describe())
        for task, outcome in early:
            record(task, outcome, None)
        by_key = {t.key: t for t in todo}
        pending = list(reversed(todo))  # pop() from the end = input order
        running: dict[int, BatchTask] = {}
        stopping = False
        if todo and not stop.is_set():
            executor.limit_slots(len(todo))
            listener.workers_starting(workers=executor.describe())
            executor.start()  # the models load only when something is to do
            listener.workers_ready(workers=executor.describe())
            try:
                while pending or running:
                    if stop.is_set() and not stopping:
                        stopping = True
                        executor.request_stop()
                        listener.stopping()
                    if not stopping:
                        for slot in executor.idle_slots():
                            if not pending:
                                break
                            task = pending.pop()
                            running[slot] = task
                            executor.submit(slot, task)
                    if stopping and not running:
                        break
                    for ev in executor.poll(POLL_S):
                        if isinstance(ev, VideoStarted):
                            listener.video_started(slot=ev.slot, task=by_key[ev.key])
                        elif isinstance(ev, VideoProgress):
                            listener.video_progress(slot=ev.slot, task=by_key[ev.key], frames=ev.frames)
                        elif isinstance(ev, VideoFinished):
                            task = running.pop(ev.slot, None) or by_key[ev.outcome.key]
                            if ev.outcome.status == "interrupted":
                                state.interrupted.append(task.key)
                                listener.video_finished(slot=ev.slot, task=task, outcome=ev.outcome)
                            else:
                                record(task, ev.outcome, ev.slot)
            finally:
                executor.close()
        summary = BatchSummary(
            manifest_path=manifest.path, done=tuple(state.done), failed=tuple(state.failed),
            skipped=tuple(skipped), interrupted=tuple(state.interrupted),
            not_started=tuple(t.key for t in reversed(pending)), excluded=excluded, frames=state.frames,
            manifest_problems=problems,
            wall_s=time.monotonic() - t0, workers=executor.describe())
    listener.batch_finished(summary)
    return summary


def _output_problem(task: BatchTask, *, inputs: Inputs, ours: set[str], force: bool) -> str | None:
    """Why ``task``'s outputs must not be written, or None.

    :func:`gazecam.outputs.check_before_writing` (writable, not an input, not another output; an output in a
    mirrored sub-folder the worker has yet to create is checked against the inputs only), plus batch's own
    rules: an existing output must be a regular file, and one this batch wrote (a manifest line names it)
    unless ``force``.
    """
    owner = {side: task.records_path for side in task.sidecars}  # a sidecar belongs to its records
    named = [Named(parameter, out) for parameter, out in (("video_path", task.video_path),
                                                           ("records_path", task.records_path),
                                                           *(("records_meta", side) for side in task.sidecars))
             if out is not None]
    existing = []
    for out in named:
        try:
            st = os.stat(out.path)
        except FileNotFoundError:
            continue
        except OSError as e:
            return f"cannot check the output {out.path}: {e.strerror or e}"
        if not stat.S_ISREG(st.st_mode):
            return f"the output {out.path} exists and is not a regular file; move it away"
        existing.append(out.path)
    try:
        inputs.check(named)
    except InputError as e:
        return f"{e} (the same file; a batch never writes over an input)"
    try:
        check_before_writing([out for out in named if out.path.parent.is_dir()], inputs)
    except InputError as e:
        return str(e)
    for out in existing:
        if _real(owner.get(out, out)) not in ours and not force:
            return (f"the output {out} exists but was not written by this batch (no manifest line names it); "
                    "move it away, or redo everything with force=True")
    return None
